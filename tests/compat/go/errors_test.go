// errors_test.go owns the error-path test: nsqd started with
// --max-msg-size=1000 must reject oversized PUB/MPUB/DPUB with an
// E_BAD_MESSAGE error that go-nsq returns from the publish call, reject an
// out-of-range DPUB delay with E_INVALID, and keep serving new producers.
package nsqcompat

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestPublishErrors(t *testing.T) {
	const (
		topic   = "compat_errors"
		channel = "ch"
	)
	n := startNSQD(t, "--max-msg-size=1000")
	logs := newClientLog(t)
	big := bytes.Repeat([]byte("x"), 2000)

	// Each fatal protocol error closes the connection, so every failing
	// command gets a fresh producer.
	expectErr := func(what, code string, publish func(p *nsq.Producer) error) {
		t.Helper()
		p := newProducer(t, n, logs)
		err := bounded(t, what, func() error { return publish(p) })
		if err == nil {
			t.Errorf("%s: expected an error containing %s, got nil", what, code)
			return
		}
		if !strings.Contains(err.Error(), code) {
			t.Errorf("%s: error %q does not contain %s", what, err, code)
		}
		t.Logf("%s -> %v", what, err)
	}
	expectErr("Publish of 2000 bytes", "E_BAD_MESSAGE", func(p *nsq.Producer) error {
		return p.Publish(topic, big)
	})
	expectErr("MultiPublish with one 2000-byte message", "E_BAD_MESSAGE", func(p *nsq.Producer) error {
		return p.MultiPublish(topic, [][]byte{[]byte("small"), big})
	})
	expectErr("DeferredPublish of 2000 bytes", "E_BAD_MESSAGE", func(p *nsq.Producer) error {
		return p.DeferredPublish(topic, time.Second, big)
	})
	expectErr("DeferredPublish with a 2h delay (> --max-req-timeout 1h)", "E_INVALID", func(p *nsq.Producer) error {
		return p.DeferredPublish(topic, 2*time.Hour, []byte("too-late"))
	})
	if t.Failed() {
		t.FailNow()
	}

	// the server still works for a new producer, including a body of exactly
	// --max-msg-size bytes
	exact := bytes.Repeat([]byte("y"), 1000)
	p := newProducer(t, n, logs)
	if err := bounded(t, "Publish", func() error { return p.Publish(topic, []byte("after-error")) }); err != nil {
		t.Fatalf("Publish on a new producer after the errors: %v", err)
	}
	if err := bounded(t, "Publish", func() error { return p.Publish(topic, exact) }); err != nil {
		t.Fatalf("Publish of exactly 1000 bytes (= --max-msg-size): %v", err)
	}
	if err := bounded(t, "MultiPublish", func() error { return p.MultiPublish(topic, [][]byte{[]byte("mpub-1"), []byte("mpub-2")}) }); err != nil {
		t.Fatalf("MultiPublish on a new producer after the errors: %v", err)
	}

	// only the 4 accepted messages exist; the rejected MPUB stored nothing
	cfg := nsq.NewConfig()
	got := make(chan []byte, 16)
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		got <- append([]byte(nil), m.Body...)
		return nil
	}))
	connectConsumer(t, n, consumer, topic, channel)
	want := map[string]bool{"after-error": true, string(exact): true, "mpub-1": true, "mpub-2": true}
	timeout := time.After(15 * time.Second)
	for len(want) > 0 {
		select {
		case b := <-got:
			if !want[string(b)] {
				t.Fatalf("received unexpected message %.40q (len %d)", b, len(b))
			}
			delete(want, string(b))
		case <-timeout:
			t.Fatalf("timed out waiting for the accepted messages; %d still missing", len(want))
		}
	}
	tp, ch := n.waitChannelSettled(t, topic, channel)
	if tp.MessageCount != 4 || ch.MessageCount != 4 {
		t.Errorf("message_count topic=%d channel=%d, want 4 (rejected publishes must store nothing)", tp.MessageCount, ch.MessageCount)
	}
}
