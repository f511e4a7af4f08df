// pubsub_test.go owns the bulk publish/consume test: 10,000 unique messages
// via Publish, MultiPublish and PublishAsync (concurrently on one producer),
// consumed by one go-nsq consumer, then checked against GET /stats.
package nsqcompat

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

// receivedSet records message bodies of the form "<prefix><n>".
type receivedSet struct {
	mu     sync.Mutex
	prefix string
	total  int
	seen   map[int]int // n -> deliveries
	dups   int
	bad    []string
}

func newReceivedSet(prefix string, total int) *receivedSet {
	return &receivedSet{prefix: prefix, total: total, seen: make(map[int]int, total)}
}

// parse returns the id of a "<prefix><n>" body, or -1 if it is foreign.
func (r *receivedSet) parse(body []byte) int {
	s := string(body)
	if !strings.HasPrefix(s, r.prefix) {
		return -1
	}
	id, err := strconv.Atoi(strings.TrimPrefix(s, r.prefix))
	if err != nil || id < 0 || id >= r.total {
		return -1
	}
	return id
}

// add records one delivery and returns its id (-1 if the body is foreign).
func (r *receivedSet) add(body []byte) int {
	id := r.parse(body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if id < 0 {
		if len(r.bad) < 10 {
			r.bad = append(r.bad, string(body))
		}
		return -1
	}
	r.seen[id]++
	if r.seen[id] > 1 {
		r.dups++
	}
	return id
}

func (r *receivedSet) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *receivedSet) missing(max int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := 0; i < r.total && len(out) < max; i++ {
		if r.seen[i] == 0 {
			out = append(out, i)
		}
	}
	return out
}

func (r *receivedSet) waitAll(t *testing.T, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("all %d %q messages to be received", r.total, r.prefix), func() (bool, string) {
		u := r.unique()
		return u == r.total, fmt.Sprintf("%d/%d unique received, first missing: %v", u, r.total, r.missing(10))
	})
}

func (r *receivedSet) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		t.Errorf("received unexpected message bodies (first %d): %q", len(r.bad), r.bad)
	}
	if r.dups > 0 {
		t.Logf("NOTE: %d duplicate deliveries (allowed by at-least-once semantics)", r.dups)
	} else {
		t.Logf("no duplicate deliveries")
	}
}

func body(prefix string, n int) []byte { return []byte(prefix + strconv.Itoa(n)) }

func TestPublishConsume10k(t *testing.T) {
	const (
		topic   = "compat_pubsub"
		channel = "ch"
		prefix  = "msg-"
		nSync   = 1000 // ids [0, 1000): Publish
		nMulti  = 5000 // ids [1000, 6000): MultiPublish, batches of 50
		batch   = 50
		nAsync  = 4000 // ids [6000, 10000): PublishAsync
		total   = nSync + nMulti + nAsync
	)
	n := startNSQD(t)
	logs := newClientLog(t)
	start := time.Now()

	recv := newReceivedSet(prefix, total)
	cfg := nsq.NewConfig()
	cfg.MaxInFlight = 200
	consumer := newConsumer(t, topic, channel, cfg, logs)
	consumer.AddConcurrentHandlers(nsq.HandlerFunc(func(m *nsq.Message) error {
		recv.add(m.Body)
		return nil
	}), 8)
	connectConsumer(t, n, consumer, topic, channel)

	producer := newProducer(t, n, logs)
	var wg sync.WaitGroup
	errs := make(chan error, 16)

	wg.Add(1)
	go func() { // synchronous single publishes
		defer wg.Done()
		for i := 0; i < nSync; i++ {
			if err := producer.Publish(topic, body(prefix, i)); err != nil {
				errs <- fmt.Errorf("Publish #%d: %w", i, err)
				return
			}
		}
	}()

	wg.Add(1)
	go func() { // synchronous multi publishes
		defer wg.Done()
		for i := nSync; i < nSync+nMulti; i += batch {
			bodies := make([][]byte, 0, batch)
			for j := i; j < i+batch; j++ {
				bodies = append(bodies, body(prefix, j))
			}
			if err := producer.MultiPublish(topic, bodies); err != nil {
				errs <- fmt.Errorf("MultiPublish batch at %d: %w", i, err)
				return
			}
		}
	}()

	wg.Add(1)
	go func() { // pipelined async publishes
		defer wg.Done()
		done := make(chan *nsq.ProducerTransaction, nAsync)
		for i := nSync + nMulti; i < total; i++ {
			if err := producer.PublishAsync(topic, body(prefix, i), done, i); err != nil {
				errs <- fmt.Errorf("PublishAsync #%d: %w", i, err)
				return
			}
		}
		timeout := time.After(30 * time.Second)
		for k := 0; k < nAsync; k++ {
			select {
			case tr := <-done:
				if tr.Error != nil {
					errs <- fmt.Errorf("PublishAsync #%v: %w", tr.Args[0], tr.Error)
					return
				}
			case <-timeout:
				errs <- fmt.Errorf("only %d/%d PublishAsync transactions completed within 30s", k, nAsync)
				return
			}
		}
	}()

	pubDone := make(chan struct{})
	go func() { wg.Wait(); close(pubDone) }()
	select {
	case <-pubDone:
	case <-time.After(40 * time.Second):
		t.Fatalf("publishing did not finish within 40s")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("published %d messages in %s", total, time.Since(start).Round(time.Millisecond))

	// the producer's per-topic publish count as reported by nsqd
	doc, err := n.stats(topic)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	var pubs uint64
	for _, p := range doc.Producers {
		for _, pc := range p.PubCounts {
			if pc.Topic == topic {
				pubs += pc.Count
			}
		}
	}
	if pubs != total {
		t.Errorf("/stats producers pub_counts for %q sum to %d, want %d", topic, pubs, total)
	}

	recv.waitAll(t, 40*time.Second)
	t.Logf("received all %d messages %s after start", total, time.Since(start).Round(time.Millisecond))
	recv.check(t)

	tp, ch := n.waitChannelSettled(t, topic, channel)
	if err := stopConsumer(consumer); err != nil {
		t.Fatal(err)
	}

	if tp.MessageCount != total {
		t.Errorf("topic message_count = %d, want %d", tp.MessageCount, total)
	}
	if ch.MessageCount != total {
		t.Errorf("channel message_count = %d, want %d (channel existed before the first publish)", ch.MessageCount, total)
	}
	if ch.RequeueCount != 0 {
		t.Errorf("channel requeue_count = %d, want 0 (handler never failed)", ch.RequeueCount)
	}
	if ch.TimeoutCount != 0 {
		t.Logf("NOTE: channel timeout_count = %d (redeliveries after msg timeout)", ch.TimeoutCount)
	}
	st := consumer.Stats()
	t.Logf("go-nsq consumer stats: received=%d finished=%d requeued=%d", st.MessagesReceived, st.MessagesFinished, st.MessagesRequeued)
	if st.MessagesFinished < total {
		t.Errorf("go-nsq finished %d messages, want >= %d", st.MessagesFinished, total)
	}
}
