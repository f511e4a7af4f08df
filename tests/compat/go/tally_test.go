// tally_test.go owns the bookkeeping of the discovery tests: message bodies
// that name the node they were published to, a go-nsq handler that records
// every receipt (per node, with time and the nsqd connection it came over),
// and paced publishers that remember which messages nsqd acknowledged.
package nsqcompat

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

// tagged is "<node label>/<phase>/<seq>"; the node label is the part before the
// first '/'.
func tagged(node, phase string, seq int) string {
	return fmt.Sprintf("%s/%s/%06d", node, phase, seq)
}

func bodyNode(b string) string {
	if i := strings.IndexByte(b, '/'); i > 0 {
		return b[:i]
	}
	return b
}

// tally records what one consumer received.
type tally struct {
	mu       sync.Mutex
	addrOf   map[string]string    // node label -> nsqd TCP address it must arrive from
	first    map[string]time.Time // body -> first receipt
	byNode   map[string][]time.Time
	dups     int
	misroute []string
}

func newTally(addrOf map[string]string) *tally {
	return &tally{addrOf: addrOf, first: map[string]time.Time{}, byNode: map[string][]time.Time{}}
}

// handler finishes every message after recording it.
func (ta *tally) handler() nsq.Handler {
	return nsq.HandlerFunc(func(m *nsq.Message) error {
		ta.record(string(m.Body), m.NSQDAddress)
		return nil
	})
}

func (ta *tally) record(b, from string) {
	now := time.Now()
	ta.mu.Lock()
	defer ta.mu.Unlock()
	node := bodyNode(b)
	if want, ok := ta.addrOf[node]; ok && from != "" && from != want {
		ta.misroute = append(ta.misroute, fmt.Sprintf("%s came over %s, want %s", b, from, want))
	}
	if _, ok := ta.first[b]; ok {
		ta.dups++
		return
	}
	ta.first[b] = now
	ta.byNode[node] = append(ta.byNode[node], now)
}

// missing returns how many of want were not received, and a few of them.
func (ta *tally) missing(want []string) (int, []string) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	var miss []string
	for _, b := range want {
		if _, ok := ta.first[b]; !ok {
			miss = append(miss, b)
		}
	}
	n := len(miss)
	if len(miss) > 5 {
		miss = miss[:5]
	}
	return n, miss
}

// has reports whether b was received.
func (ta *tally) has(b string) bool {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	_, ok := ta.first[b]
	return ok
}

// firstFromSince is the first time a message from node was received at or
// after since (zero if none yet), and how many were received since.
func (ta *tally) firstFromSince(node string, since time.Time) (time.Time, int) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	var first time.Time
	n := 0
	for _, at := range ta.byNode[node] {
		if !at.Before(since) {
			if n == 0 {
				first = at
			}
			n++
		}
	}
	return first, n
}

// perNode summarises unique messages per node, in label order.
func (ta *tally) perNode() string {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	var labels []string
	for l := range ta.byNode {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var parts []string
	total := 0
	for _, l := range labels {
		parts = append(parts, fmt.Sprintf("%s=%d", l, len(ta.byNode[l])))
		total += len(ta.byNode[l])
	}
	return fmt.Sprintf("%s (total %d unique, %d duplicates)", strings.Join(parts, " "), total, ta.dups)
}

// waitAll waits until every body in want was received, then checks routing.
func (ta *tally) waitAll(t *testing.T, who string, want []string, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%s to receive all %d messages", who, len(want)), func() (bool, string) {
		n, some := ta.missing(want)
		return n == 0, fmt.Sprintf("%d missing, e.g. %v; received %s", n, some, ta.perNode())
	})
	if err := ta.checkRouting(); err != nil {
		t.Fatalf("%s: %v", who, err)
	}
}

// checkRouting fails if a message came over another node's connection than
// the one it was published to (a consumer mixing up discovered addresses).
func (ta *tally) checkRouting() error {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(ta.misroute) > 0 {
		return fmt.Errorf("messages arrived over the wrong nsqd connection: %v", ta.misroute)
	}
	return nil
}

// receivedAt is when b was first received (zero if not yet).
func (ta *tally) receivedAt(b string) time.Time {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return ta.first[b]
}

// publisher publishes batches of numbered messages to one nsqd until stopped
// or until a publish fails, remembering what was acknowledged.
type publisher struct {
	node  string
	phase string
	p     *nsq.Producer

	mu    sync.Mutex
	acked []string
	err   error

	stop chan struct{}
	done chan struct{}
}

const publishBatch = 10

func startPublisher(p *nsq.Producer, topic, node, phase string, pace time.Duration) *publisher {
	pub := &publisher{node: node, phase: phase, p: p, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(pub.done)
		seq := 0
		for {
			select {
			case <-pub.stop:
				return
			default:
			}
			batch := make([][]byte, publishBatch)
			bodies := make([]string, publishBatch)
			for i := range batch {
				bodies[i] = tagged(node, phase, seq)
				batch[i] = []byte(bodies[i])
				seq++
			}
			err := p.MultiPublish(topic, batch)
			pub.mu.Lock()
			if err != nil {
				pub.err = err
				pub.mu.Unlock()
				return
			}
			pub.acked = append(pub.acked, bodies...)
			pub.mu.Unlock()
			time.Sleep(pace) // pacing only: a steady stream, not a flood
		}
	}()
	return pub
}

// halt stops the publisher (bounded) and returns what was acknowledged.
func (pub *publisher) halt(t *testing.T) []string {
	t.Helper()
	select {
	case <-pub.stop:
	default:
		close(pub.stop)
	}
	select {
	case <-pub.done:
	case <-time.After(callTimeout):
		t.Fatalf("publisher to %s did not stop within %s", pub.node, callTimeout)
	}
	return pub.ackedSoFar()
}

func (pub *publisher) ackedSoFar() []string {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	return append([]string(nil), pub.acked...)
}

func (pub *publisher) failure() error {
	pub.mu.Lock()
	defer pub.mu.Unlock()
	return pub.err
}

// publishAll synchronously publishes n messages (MPUB batches of 100) and
// returns their bodies.
func publishAll(t *testing.T, p *nsq.Producer, topic, node, phase string, n int) []string {
	t.Helper()
	var all []string
	for start := 0; start < n; start += 100 {
		var batch [][]byte
		for i := start; i < n && i < start+100; i++ {
			b := tagged(node, phase, i)
			all = append(all, b)
			batch = append(batch, []byte(b))
		}
		if err := bounded(t, "MultiPublish", func() error { return p.MultiPublish(topic, batch) }); err != nil {
			t.Fatalf("MultiPublish %s to %s: %v", topic, node, err)
		}
	}
	return all
}
