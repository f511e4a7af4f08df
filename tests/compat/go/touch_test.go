// touch_test.go owns the manual-response tests: with DisableAutoResponse a
// handler keeps messages alive past their msg timeout with msg.Touch() and
// then acknowledges them with msg.Finish() (nothing may be redelivered); and,
// as the control, an untouched message is redelivered after its msg timeout,
// after which a stale FIN (E_FIN_FAILED) must leave the connection usable.
package nsqcompat

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

func TestTouchAndTimeout(t *testing.T) {
	n := startNSQD(t)
	// the subtests share this nsqd; it is stopped after both finish
	t.Run("TouchThenFinish", func(t *testing.T) {
		t.Parallel()
		testTouchThenFinish(t, n)
	})
	t.Run("TimeoutWithoutTouch", func(t *testing.T) {
		t.Parallel()
		testTimeoutWithoutTouch(t, n)
	})
}

func testTouchThenFinish(t *testing.T, n *nsqdProc) {
	const (
		topic      = "compat_touch"
		channel    = "ch"
		prefix     = "touch-"
		total      = 10
		msgTimeout = 2 * time.Second        // negotiated via IDENTIFY msg_timeout
		step       = 800 * time.Millisecond // handler work between TOUCHes
		steps      = 3                      // 2.4s in total: > msgTimeout
		// If the handler's own gaps stay below this, TOUCH must have kept the
		// message alive (leaves 800ms for delivery and TOUCH transit).
		safeGap = msgTimeout - 800*time.Millisecond
	)
	logs := newClientLog(t)
	recv := newReceivedSet(prefix, total)
	var (
		mu       sync.Mutex
		attempts = map[int][]uint16{}
		maxGap   time.Duration
		handled  int
	)
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = total
	cfg.MsgTimeout = msgTimeout
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
		m.DisableAutoResponse()
		last := time.Now()
		id := recv.add(m.Body)
		gap := time.Duration(0)
		for i := 0; i < steps; i++ {
			time.Sleep(step)
			now := time.Now()
			if d := now.Sub(last); d > gap {
				gap = d
			}
			last = now
			if i < steps-1 {
				m.Touch()
			}
		}
		m.Finish()
		mu.Lock()
		defer mu.Unlock()
		if id >= 0 {
			attempts[id] = append(attempts[id], m.Attempts)
		}
		if gap > maxGap {
			maxGap = gap
		}
		handled++
		return nil
	}), total)
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	bodies := make([][]byte, 0, total)
	for i := 0; i < total; i++ {
		bodies = append(bodies, body(prefix, i))
	}
	start := time.Now()
	if err := bounded(t, "MultiPublish", func() error { return producer.MultiPublish(topic, bodies) }); err != nil {
		t.Fatalf("MultiPublish: %v", err)
	}
	recv.waitAll(t, 20*time.Second)

	// FIN is sent asynchronously: wait until nsqd has counted every FIN on the
	// (still connected) client and nothing is left in flight.
	var ch *channelStats
	waitFor(t, 20*time.Second, fmt.Sprintf("client finish_count %d and channel in_flight 0", total), func() (bool, string) {
		_, c, err := n.topicChannel(topic, channel)
		if err != nil {
			return false, err.Error()
		}
		if c == nil {
			return false, "channel missing from /stats"
		}
		ch = c
		var fin uint64
		for _, cl := range c.Clients {
			fin += cl.FinishCount
		}
		return fin >= total && c.InFlightCount == 0 && c.Depth == 0,
			fmt.Sprintf("clients finish_count=%d channel in_flight=%d depth=%d timeout_count=%d",
				fin, c.InFlightCount, c.Depth, c.TimeoutCount)
	})
	t.Logf("all %d messages touched and finished %s after publish", total, time.Since(start).Round(time.Millisecond))

	mu.Lock()
	defer mu.Unlock()
	recv.check(t)
	t.Logf("largest gap between handler TOUCH/FIN calls: %s", maxGap.Round(time.Millisecond))
	if maxGap >= safeGap {
		t.Logf("NOTE: handler gaps reached %s (>= %s) on this loaded machine; a timeout was legitimately possible, so redelivery is not asserted", maxGap, safeGap)
	} else {
		for id, a := range attempts {
			if len(a) != 1 || a[0] != 1 {
				t.Errorf("message %d delivered with attempts %v, want exactly one delivery (TOUCH should prevent the %s timeout)", id, a, msgTimeout)
			}
		}
		if ch.TimeoutCount != 0 {
			t.Errorf("channel timeout_count = %d, want 0 (every message was touched)", ch.TimeoutCount)
		}
		var fin uint64
		for _, cl := range ch.Clients {
			fin += cl.FinishCount
		}
		if fin != total {
			t.Errorf("clients finish_count = %d, want %d", fin, total)
		}
	}
	if ch.RequeueCount != 0 {
		t.Errorf("channel requeue_count = %d, want 0", ch.RequeueCount)
	}
	if ch.MessageCount != total {
		t.Errorf("channel message_count = %d, want %d", ch.MessageCount, total)
	}
	if len(ch.Clients) != 1 {
		t.Errorf("channel lists %d clients, want 1", len(ch.Clients))
	} else if ua := ch.Clients[0].UserAgent; ua != "go-nsq/"+nsq.VERSION {
		t.Errorf("client user_agent = %q, want %q (from IDENTIFY)", ua, "go-nsq/"+nsq.VERSION)
	}
}

func testTimeoutWithoutTouch(t *testing.T, n *nsqdProc) {
	const (
		topic      = "compat_timeout"
		channel    = "ch"
		msgTimeout = time.Second // the smallest msg_timeout nsqd accepts
	)
	logs := newClientLog(t)
	var (
		mu           sync.Mutex
		deliveries   []uint16 // Attempts of each "hold-me" delivery
		gotSecond    = make(chan struct{})
		staleFinSent = make(chan struct{})
		after        = make(chan uint16, 1)
	)
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 2
	cfg.MsgTimeout = msgTimeout
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
		m.DisableAutoResponse()
		if string(m.Body) == "after-stale-fin" {
			m.Finish()
			after <- m.Attempts
			return nil
		}
		mu.Lock()
		deliveries = append(deliveries, m.Attempts)
		k := len(deliveries)
		mu.Unlock()
		switch k {
		case 1:
			// hold the first delivery without TOUCH until nsqd has timed it
			// out and redelivered it, then send the now stale FIN
			select {
			case <-gotSecond:
			case <-time.After(30 * time.Second):
			}
			m.Finish()
			close(staleFinSent)
		case 2:
			m.Finish()
			close(gotSecond)
		default:
			m.Finish()
		}
		return nil
	}), 2)
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	start := time.Now()
	if err := bounded(t, "Publish", func() error { return producer.Publish(topic, []byte("hold-me")) }); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	select {
	case <-gotSecond:
	case <-time.After(30 * time.Second):
		t.Fatalf("message held without TOUCH past its %s msg timeout was not redelivered within 30s", msgTimeout)
	}
	t.Logf("untouched message redelivered %s after publish (msg timeout %s)", time.Since(start).Round(time.Millisecond), msgTimeout)
	select {
	case <-staleFinSent:
	case <-time.After(10 * time.Second):
		t.Fatalf("stale FIN was not sent")
	}

	// The stale FIN gets a non-fatal E_FIN_FAILED; the same connection must
	// still deliver new messages.
	if err := bounded(t, "Publish", func() error { return producer.Publish(topic, []byte("after-stale-fin")) }); err != nil {
		t.Fatalf("Publish after stale FIN: %v", err)
	}
	select {
	case a := <-after:
		if a != 1 {
			t.Errorf("message after stale FIN delivered with Attempts=%d, want 1", a)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("consumer connection stopped delivering after a stale FIN (E_FIN_FAILED must not be fatal)")
	}
	_, ch := n.waitChannelSettled(t, topic, channel)
	// go-nsq logs error frames it receives as "protocol error - <data>"
	waitFor(t, 10*time.Second, "go-nsq to log the E_FIN_FAILED error frame for the stale FIN", func() (bool, string) {
		return logs.contains("protocol error - E_FIN_FAILED"), "not in go-nsq log yet"
	})

	mu.Lock()
	defer mu.Unlock()
	if len(deliveries) < 2 || deliveries[0] != 1 || deliveries[1] != 2 {
		t.Errorf("hold-me deliveries had attempts %v, want [1 2]", deliveries)
	}
	if ch.TimeoutCount < 1 {
		t.Errorf("channel timeout_count = %d, want >= 1", ch.TimeoutCount)
	}
	if ch.MessageCount != 2 {
		t.Errorf("channel message_count = %d, want 2 (a timeout redelivery is not a new message)", ch.MessageCount)
	}
	if ch.ClientCount != 1 {
		t.Errorf("channel client_count = %d, want 1 (the consumer must still be connected)", ch.ClientCount)
	}
}
