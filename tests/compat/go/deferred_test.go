// deferred_test.go owns the deferral tests: DeferredPublish/DeferredPublishAsync
// (DPUB) delivery no earlier than the delay, deferred_count in GET /stats, and
// an explicit msg.RequeueWithoutBackoff(1s) coming back no sooner than 1s.
package nsqcompat

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestDeferred(t *testing.T) {
	n := startNSQD(t)
	// the subtests share this nsqd; it is stopped after all of them finish
	t.Run("DeferredPublish", func(t *testing.T) {
		t.Parallel()
		testDeferredPublish(t, n)
	})
	t.Run("DeferredCountInStats", func(t *testing.T) {
		t.Parallel()
		testDeferredCountInStats(t, n)
	})
	t.Run("RequeueWithoutBackoffDelay", func(t *testing.T) {
		t.Parallel()
		testRequeueWithDelay(t, n)
	})
}

func testDeferredPublish(t *testing.T, n *nsqdProc) {
	const (
		topic     = "compat_deferred"
		channel   = "ch"
		prefix    = "def-"
		nSync     = 50 // ids [0, 50): DeferredPublish
		nAsync    = 50 // ids [50, 100): DeferredPublishAsync
		total     = nSync + nAsync
		delay     = 1500 * time.Millisecond
		tolerance = 100 * time.Millisecond
	)
	logs := newClientLog(t)
	recv := newReceivedSet(prefix, total)
	var (
		mu       sync.Mutex
		pubStart = make([]time.Time, total) // taken just before sending the DPUB
		firstRcv = make([]time.Time, total)
	)
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 50
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
		now := time.Now()
		id := recv.add(m.Body)
		if id >= 0 {
			mu.Lock()
			if firstRcv[id].IsZero() {
				firstRcv[id] = now
			}
			mu.Unlock()
		}
		return nil
	}), 4)
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	for i := 0; i < nSync; i++ {
		mu.Lock()
		pubStart[i] = time.Now()
		mu.Unlock()
		if err := bounded(t, "DeferredPublish", func() error { return producer.DeferredPublish(topic, delay, body(prefix, i)) }); err != nil {
			t.Fatalf("DeferredPublish #%d: %v", i, err)
		}
	}
	done := make(chan *nsq.ProducerTransaction, nAsync)
	for i := nSync; i < total; i++ {
		mu.Lock()
		pubStart[i] = time.Now()
		mu.Unlock()
		if err := producer.DeferredPublishAsync(topic, delay, body(prefix, i), done, i); err != nil {
			t.Fatalf("DeferredPublishAsync #%d: %v", i, err)
		}
	}
	timeout := time.After(20 * time.Second)
	for k := 0; k < nAsync; k++ {
		select {
		case tr := <-done:
			if tr.Error != nil {
				t.Fatalf("DeferredPublishAsync #%v: %v", tr.Args[0], tr.Error)
			}
		case <-timeout:
			t.Fatalf("only %d/%d DeferredPublishAsync transactions completed within 20s", k, nAsync)
		}
	}

	recv.waitAll(t, 20*time.Second)
	recv.check(t)
	mu.Lock()
	minLead := time.Duration(1 << 62)
	for i := 0; i < total; i++ {
		lead := firstRcv[i].Sub(pubStart[i])
		if lead < minLead {
			minLead = lead
		}
		if lead < delay-tolerance {
			t.Errorf("deferred message %d (delay %s) received only %s after its publish started", i, delay, lead)
		}
	}
	mu.Unlock()
	t.Logf("all %d deferred messages received; earliest arrived %s after its publish (delay %s)",
		total, minLead.Round(time.Millisecond), delay)

	tp, ch := n.waitChannelSettled(t, topic, channel)
	if tp.MessageCount != total || ch.MessageCount != total {
		t.Errorf("message_count topic=%d channel=%d, want %d", tp.MessageCount, ch.MessageCount, total)
	}
	if ch.RequeueCount != 0 {
		t.Errorf("channel requeue_count = %d, want 0 (deferral is not a requeue)", ch.RequeueCount)
	}
}

// testDeferredCountInStats publishes one message deferred far beyond the test
// duration into an existing channel and waits for /stats to report it as
// deferred (not queued, not in flight).
func testDeferredCountInStats(t *testing.T, n *nsqdProc) {
	const (
		topic   = "compat_deferred_stats"
		channel = "ch"
	)
	logs := newClientLog(t)
	n.httpPost(t, fmt.Sprintf("/topic/create?topic=%s", topic))
	n.httpPost(t, fmt.Sprintf("/channel/create?topic=%s&channel=%s", topic, channel))
	producer := newProducer(t, n, logs)
	if err := bounded(t, "DeferredPublish", func() error { return producer.DeferredPublish(topic, time.Minute, []byte("far-future")) }); err != nil {
		t.Fatalf("DeferredPublish: %v", err)
	}
	waitFor(t, 10*time.Second, "channel deferred_count 1", func() (bool, string) {
		tp, ch, err := n.topicChannel(topic, channel)
		if err != nil {
			return false, err.Error()
		}
		if tp == nil || ch == nil {
			return false, "topic or channel missing from /stats"
		}
		return tp.MessageCount == 1 && tp.Depth == 0 && ch.DeferredCount == 1 && ch.Depth == 0 && ch.InFlightCount == 0,
			fmt.Sprintf("topic message_count=%d depth=%d; channel deferred=%d depth=%d in_flight=%d",
				tp.MessageCount, tp.Depth, ch.DeferredCount, ch.Depth, ch.InFlightCount)
	})
}

func testRequeueWithDelay(t *testing.T, n *nsqdProc) {
	const (
		topic     = "compat_requeue_delay"
		channel   = "ch"
		delay     = time.Second
		tolerance = 50 * time.Millisecond
	)
	logs := newClientLog(t)
	var (
		mu       sync.Mutex
		attempts []uint16
		times    []time.Time
		finished = make(chan struct{})
	)
	cfg := nsq.NewConfig()
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		now := time.Now()
		m.DisableAutoResponse()
		mu.Lock()
		attempts = append(attempts, m.Attempts)
		times = append(times, now)
		first := len(attempts) == 1
		mu.Unlock()
		if first {
			m.RequeueWithoutBackoff(delay)
			return nil
		}
		m.Finish()
		select {
		case <-finished:
		default:
			close(finished)
		}
		return nil
	}))
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	if err := bounded(t, "Publish", func() error { return producer.Publish(topic, []byte("requeue-me")) }); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	select {
	case <-finished:
	case <-time.After(15 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("requeued message not redelivered within 15s (deliveries so far: attempts %v)", attempts)
	}
	_, ch := n.waitChannelSettled(t, topic, channel)

	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 {
		t.Fatalf("got %d deliveries (attempts %v), want exactly 2", len(attempts), attempts)
	}
	if attempts[0] != 1 || attempts[1] != 2 {
		t.Errorf("delivery attempts = %v, want [1 2]", attempts)
	}
	gap := times[1].Sub(times[0])
	t.Logf("REQ with %s delay: redelivered %s after the first delivery", delay, gap.Round(time.Millisecond))
	if gap < delay-tolerance {
		t.Errorf("message requeued with %s delay came back after only %s", delay, gap)
	}
	if ch.RequeueCount != 1 {
		t.Errorf("channel requeue_count = %d, want 1", ch.RequeueCount)
	}
	if ch.MessageCount != 1 {
		t.Errorf("channel message_count = %d, want 1", ch.MessageCount)
	}
}
