// requeue_test.go owns the requeue test: the handler fails the first attempt
// of every 10th message (go-nsq answers with REQ), and the test checks
// redelivery, Attempts and the channel's requeue_count in GET /stats.
package nsqcompat

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestRequeueOnHandlerError(t *testing.T) {
	const (
		topic   = "compat_requeue"
		channel = "ch"
		prefix  = "req-"
		total   = 1000
	)
	n := startNSQD(t)
	logs := newClientLog(t)

	recv := newReceivedSet(prefix, total)
	var (
		mu          sync.Mutex
		failedFirst = map[int]bool{}   // ids whose attempt 1 the handler failed
		okAttempts  = map[int]uint16{} // id -> Attempts of the successful delivery
		handlerErrs int64
	)
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 100
	cfg.DefaultRequeueDelay = 50 * time.Millisecond // REQ delay = 50ms * Attempts
	cfg.MaxRequeueDelay = time.Second
	cfg.MaxBackoffDuration = 0 // no consumer backoff (RDY 0 pauses) after failures
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
		id := recv.parse(m.Body)
		if id >= 0 && id%10 == 0 && m.Attempts == 1 {
			mu.Lock()
			failedFirst[id] = true
			mu.Unlock()
			atomic.AddInt64(&handlerErrs, 1)
			return fmt.Errorf("deliberate failure of %s attempt 1", m.Body)
		}
		if recv.add(m.Body) < 0 {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if _, ok := okAttempts[id]; !ok {
			okAttempts[id] = m.Attempts
		}
		return nil
	}), 4)
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	for i := 0; i < total; i += 100 {
		bodies := make([][]byte, 0, 100)
		for j := i; j < i+100; j++ {
			bodies = append(bodies, body(prefix, j))
		}
		if err := bounded(t, "MultiPublish", func() error { return producer.MultiPublish(topic, bodies) }); err != nil {
			t.Fatalf("MultiPublish at %d: %v", i, err)
		}
	}

	recv.waitAll(t, 30*time.Second)
	recv.check(t)
	_, ch := n.waitChannelSettled(t, topic, channel)
	if err := stopConsumer(consumer); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	wantFailed := total / 10
	if len(failedFirst) != wantFailed {
		t.Errorf("handler failed attempt 1 of %d distinct messages, want %d", len(failedFirst), wantFailed)
	}
	for id := range failedFirst {
		a, ok := okAttempts[id]
		if !ok {
			t.Errorf("requeued message %d never succeeded", id)
		} else if a < 2 {
			t.Errorf("requeued message %d came back with Attempts=%d, want >= 2", id, a)
		}
	}
	for id, a := range okAttempts {
		if id%10 != 0 && a != 1 {
			t.Logf("NOTE: message %d (never requeued) succeeded with Attempts=%d (redelivered after timeout?)", id, a)
		}
	}

	// Every handler error makes go-nsq send exactly one REQ (with
	// MaxBackoffDuration 0 it never requeues anything on its own), and
	// nsqd counts every successful REQ in requeue_count. A REQ only fails
	// if the message had already timed out (msg timeout 60s), which would
	// show up in timeout_count. So requeue_count must equal handler errors.
	errsSent := atomic.LoadInt64(&handlerErrs)
	st := consumer.Stats()
	t.Logf("handler errors=%d, go-nsq requeued=%d finished=%d; channel requeue_count=%d timeout_count=%d message_count=%d",
		errsSent, st.MessagesRequeued, st.MessagesFinished, ch.RequeueCount, ch.TimeoutCount, ch.MessageCount)
	if st.MessagesRequeued != uint64(errsSent) {
		t.Errorf("go-nsq sent %d REQs, expected one per handler error (%d)", st.MessagesRequeued, errsSent)
	}
	if ch.TimeoutCount == 0 && ch.RequeueCount != uint64(errsSent) {
		t.Errorf("channel requeue_count = %d, want %d (one per REQ)", ch.RequeueCount, errsSent)
	}
	if ch.RequeueCount > uint64(errsSent) {
		t.Errorf("channel requeue_count = %d exceeds the %d REQs sent", ch.RequeueCount, errsSent)
	}
	// requeues re-enter the channel without counting as new messages
	if ch.MessageCount != total {
		t.Errorf("channel message_count = %d, want %d (REQ must not count as a new message)", ch.MessageCount, total)
	}
}
