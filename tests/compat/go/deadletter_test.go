// deadletter_test.go owns nsqd's max attempts as go-nsq sees it (beyond Go nsqd,
// opt-in with --max-attempts): a consumer with MaxAttempts=0 (go-nsq never gives
// up itself) whose handler always fails gets each message exactly 3 times with
// --max-attempts=3, then a consumer of "<topic>.dead" gets every message once,
// with its ID, timestamp and Attempts 3; /stats counts them in dead_letter_count.
package nsqcompat

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestMaxAttemptsDeadLetter(t *testing.T) {
	const (
		topic   = "compat_dlq"
		channel = "ch"
		prefix  = "dlq-"
		total   = 50
		max     = 3
	)
	n := startNSQD(t, fmt.Sprintf("--max-attempts=%d", max))
	logs := newClientLog(t)

	type seen struct {
		attempts []uint16
		id       nsq.MessageID
		ts       int64
	}
	var mu sync.Mutex
	deliveries := map[string]*seen{}
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 10
	cfg.MaxAttempts = 0 // never give up client-side
	cfg.DefaultRequeueDelay = time.Millisecond
	cfg.MaxRequeueDelay = 10 * time.Millisecond
	cfg.MaxBackoffDuration = 0
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		mu.Lock()
		defer mu.Unlock()
		s := deliveries[string(m.Body)]
		if s == nil {
			s = &seen{id: m.ID, ts: m.Timestamp}
			deliveries[string(m.Body)] = s
		}
		s.attempts = append(s.attempts, m.Attempts)
		return errors.New("always fails")
	}))
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	bodies := make([][]byte, 0, total)
	for i := 0; i < total; i++ {
		bodies = append(bodies, body(prefix, i))
	}
	if err := bounded(t, "MultiPublish", func() error { return producer.MultiPublish(topic, bodies) }); err != nil {
		t.Fatalf("MultiPublish: %v", err)
	}

	var dead *uint64
	waitFor(t, 30*time.Second, "every message dead-lettered", func() (bool, string) {
		_, ch, err := n.topicChannel(topic, channel)
		if err != nil || ch == nil {
			return false, fmt.Sprintf("channel: %v", err)
		}
		dead = ch.DeadLetterCount
		return dead != nil && *dead == total && ch.Depth == 0 && ch.InFlightCount == 0 && ch.DeferredCount == 0,
			fmt.Sprintf("dead_letter_count=%v depth=%d in_flight=%d deferred=%d", dead, ch.Depth, ch.InFlightCount, ch.DeferredCount)
	})
	if err := stopConsumer(consumer); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, b := range bodies {
		s := deliveries[string(b)]
		if s == nil || fmt.Sprint(s.attempts) != "[1 2 3]" {
			t.Errorf("%s: deliveries %v, want attempts [1 2 3]", b, s)
		}
	}
	mu.Unlock()

	dlq := newReceivedSet(prefix, total)
	var dmu sync.Mutex
	deadMsgs := map[string]*nsq.Message{}
	dcfg := nsq.NewConfig()
	dcfg.MaxInFlight = 10
	dconsumer := newConsumer(t, topic+".dead", "drain", dcfg, logs)
	dconsumer.AddHandler(nsq.HandlerFunc(func(m *nsq.Message) error {
		dmu.Lock()
		deadMsgs[string(m.Body)] = m
		dmu.Unlock()
		dlq.add(m.Body)
		return nil
	}))
	connectConsumer(t, n, dconsumer, topic+".dead", "drain")
	dlq.waitAll(t, 20*time.Second)
	dlq.check(t)
	if err := stopConsumer(dconsumer); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	dmu.Lock()
	defer dmu.Unlock()
	for _, b := range bodies {
		m, s := deadMsgs[string(b)], deliveries[string(b)]
		if m == nil || s == nil {
			continue
		}
		if m.Attempts != max || m.ID != s.id || m.Timestamp != s.ts {
			t.Errorf("%s in the dead-letter topic: attempts %d id %s ts %d, want %d %s %d",
				b, m.Attempts, m.ID, m.Timestamp, max, s.id, s.ts)
		}
	}
}
