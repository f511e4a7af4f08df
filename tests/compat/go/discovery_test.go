// discovery_test.go proves discovery through nsqlookupd with go-nsq: three
// nsqd on 127.0.0.2-4, each registered with two nsqlookupd, and consumers that
// know only the lookupds' HTTP addresses. Covered: every node's messages
// arrive; losing a node mid-stream (SIGTERM) and bringing it back on the same
// ports and data dir (consumers rediscover it and drain its backlog); a topic
// that appears later on one node, then on others (channel pre-creation from
// lookupd); tombstoning a node for a topic.
// Daemons: $NSQD_BIN and $NSQLOOKUPD_BIN (default: the Go reference).
package nsqcompat

import (
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
)

// pollInterval is the consumers' lookupd poll interval (go-nsq default 60s).
const pollInterval = time.Second

// eventually bounds every wait for the cluster to converge: a failure bound,
// far above the few poll intervals convergence takes.
const eventually = 30 * time.Second

func lookupConsumer(t *testing.T, c *cluster, topic, channel string, ta *tally, logs *clientLog) *nsq.Consumer {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.LookupdPollInterval = pollInterval
	cfg.MaxInFlight = 100
	cons := newConsumer(t, topic, channel, cfg, logs)
	cons.AddHandler(ta.handler())
	if err := bounded(t, "ConnectToNSQLookupds", func() error { return cons.ConnectToNSQLookupds(c.lookupdHTTP()) }); err != nil {
		t.Fatalf("ConnectToNSQLookupds(%v): %v", c.lookupdHTTP(), err)
	}
	return cons
}

// labels names the nodes after the last byte of their address: n2, n3, n4.
func labels(c *cluster) ([]string, map[string]*daemon, map[string]string) {
	var ls []string
	byLabel := map[string]*daemon{}
	addrOf := map[string]string{}
	for _, n := range c.nodes {
		l := "n" + n.host[strings.LastIndexByte(n.host, '.')+1:]
		ls = append(ls, l)
		byLabel[l] = n
		addrOf[l] = n.TCPAddr
	}
	return ls, byLabel, addrOf
}

func TestDiscoveryNodeLoss(t *testing.T) {
	const topic = "discovery"
	c := startCluster(t, 3)
	ls, node, addrOf := labels(c)
	logs := newClientLog(t)
	prod := map[string]*nsq.Producer{}
	var want []string
	for _, l := range ls {
		prod[l] = newProducer(t, node[l].nsqdProc, logs)
		want = append(want, publishAll(t, prod[l], topic, l, "a", 100)...)
	}
	c.waitLookup(t, topic, nodeTCP(c.nodes...))

	ta := newTally(addrOf)
	consumerLog := newClientLog(t)
	lookupConsumer(t, c, topic, "go", ta, consumerLog)
	ta.waitAll(t, "go-nsq consumer", want, eventually)
	t.Logf("before the node loss: %s", ta.perNode())

	// A steady stream to every node.
	streamAt := time.Now()
	pubs := map[string]*publisher{}
	for _, l := range ls {
		pubs[l] = startPublisher(prod[l], topic, l, "b", 10*time.Millisecond)
	}
	for _, l := range ls {
		waitFor(t, eventually, "stream from "+l+" to reach the consumer", func() (bool, string) {
			_, n := ta.firstFromSince(l, streamAt)
			return n >= 50, fmt.Sprintf("%d received from %s since the stream started; %s", n, l, ta.perNode())
		})
	}

	// Lose n4 mid-stream: a burst it cannot have delivered yet, then SIGTERM while
	// its publisher is still going. Everything it acknowledged must come back.
	victim, vl := c.nodes[2], ls[2]
	survivors := []string{ls[0], ls[1]}
	burst := publishAll(t, prod[vl], topic, vl, "burst", 2000)
	backlog := "unknown"
	if _, ch, err := victim.topicChannel(topic, "go"); err == nil && ch != nil {
		backlog = fmt.Sprintf("depth %d, in flight %d", ch.Depth, ch.InFlightCount)
	}
	killAt := time.Now()
	victim.signal(t, syscall.SIGTERM)
	vAcked := pubs[vl].halt(t)
	t.Logf("%s stopped (SIGTERM) with backlog %s; its publisher: %d acknowledged, ended with %v",
		vl, backlog, len(vAcked), pubs[vl].failure())
	want = append(append(want, vAcked...), burst...)

	// The lookupds drop it; the consumer polls them without finding it and keeps
	// receiving from the others.
	c.waitLookup(t, topic, nodeTCP(node[survivors[0]], node[survivors[1]]))
	polls := consumerLog.count("querying nsqlookupd")
	waitFor(t, eventually, "two lookupd polls while "+vl+" is down", func() (bool, string) {
		n := consumerLog.count("querying nsqlookupd")
		return n >= polls+2, fmt.Sprintf("%d polls since the lookupds dropped %s", n-polls, vl)
	})
	for _, l := range survivors {
		waitFor(t, eventually, "messages from "+l+" while "+vl+" is down", func() (bool, string) {
			_, n := ta.firstFromSince(l, killAt)
			return n >= 50, fmt.Sprintf("%d received from %s since the kill; %s", n, l, ta.perNode())
		})
	}
	if err := ta.checkRouting(); err != nil {
		t.Fatal(err)
	}

	// Back on the same ports and data dir: rediscovered, backlog drained.
	restarted := victim.restart(t)
	readyAt := time.Now()
	c.waitLookup(t, topic, nodeTCP(c.nodes...))
	var reconnect time.Duration
	waitFor(t, eventually, "the consumer to receive from the restarted "+vl, func() (bool, string) {
		first, n := ta.firstFromSince(vl, readyAt)
		reconnect = first.Sub(readyAt)
		return n > 0, "nothing yet; " + ta.perNode()
	})
	ta.waitAll(t, "go-nsq consumer", want, eventually)
	_, drained := ta.firstFromSince(vl, readyAt)

	for _, l := range survivors {
		acked := pubs[l].halt(t)
		if err := pubs[l].failure(); err != nil {
			t.Fatalf("publishing to %s (never stopped) failed: %v", l, err)
		}
		want = append(want, acked...)
	}
	ta.waitAll(t, "go-nsq consumer", want, eventually)
	restarted.waitChannelSettled(t, topic, "go")
	t.Logf("node loss (%s, SIGTERM): down for %s; first message from the restarted node %s after it was ready; "+
		"%d of its messages received after the restart; per node: %s",
		vl, readyAt.Sub(killAt).Round(time.Millisecond), reconnect.Round(time.Millisecond), drained, ta.perNode())
}

func TestDiscoveryNewTopic(t *testing.T) {
	const topic = "discovery_new"
	c := startCluster(t, 3)
	ls, node, addrOf := labels(c)
	logs := newClientLog(t)

	// The consumer starts while no node has the topic (lookupd answers 404).
	ta := newTally(addrOf)
	consumerLog := newClientLog(t)
	lookupConsumer(t, c, topic, "go", ta, consumerLog)
	// go-nsq's first query is synchronous in ConnectToNSQLookupds.
	if !consumerLog.contains("TOPIC_NOT_FOUND") {
		t.Fatalf("the consumer's first lookup did not get 404 TOPIC_NOT_FOUND")
	}

	// It appears on one node and is found by a later poll.
	first := ls[1]
	b := publishAll(t, newProducer(t, node[first].nsqdProc, logs), topic, first, "new", 1)
	publishedAt := time.Now()
	ta.waitAll(t, "go-nsq consumer", b, eventually)
	t.Logf("topic %s created on %s found by the consumer %s after the publish",
		topic, first, ta.receivedAt(b[0]).Sub(publishedAt).Round(time.Millisecond))

	// A channel nobody consumes, known to the lookupds through the first node.
	postOK(t, node[first].HTTPAddr, "/channel/create?topic="+topic+"&channel=archive")
	for _, l := range c.lookupds {
		waitFor(t, eventually, l.label+" to know channels go and archive of "+topic, func() (bool, string) {
			_, doc, err := lookupProducers(l.HTTPAddr, topic)
			if err != nil || doc == nil {
				return false, fmt.Sprintf("lookup: %v", err)
			}
			got := strings.Join(doc.Channels, ",")
			return strings.Contains(","+got+",", ",go,") && strings.Contains(","+got+",", ",archive,"), "channels " + got
		})
	}

	// The topic then appears on the other nodes: each creates the cluster's channels
	// before delivering, so the message also lands in "archive".
	want := b
	for _, l := range []string{ls[0], ls[2]} {
		m := publishAll(t, newProducer(t, node[l].nsqdProc, logs), topic, l, "new", 1)
		want = append(want, m...)
		waitFor(t, eventually, l+" to pre-create channel archive holding the message", func() (bool, string) {
			_, ch, err := node[l].topicChannel(topic, "archive")
			if err != nil || ch == nil {
				return false, fmt.Sprintf("channel archive missing (err %v)", err)
			}
			return ch.Depth == 1 && ch.MessageCount == 1, fmt.Sprintf("archive depth %d message_count %d", ch.Depth, ch.MessageCount)
		})
	}
	c.waitLookup(t, topic, nodeTCP(c.nodes...))
	ta.waitAll(t, "go-nsq consumer", want, eventually)
	t.Logf("new topic: %s", ta.perNode())
}

func TestDiscoveryTombstone(t *testing.T) {
	const topic = "discovery_tomb"
	c := startCluster(t, 3)
	ls, node, addrOf := labels(c)
	logs := newClientLog(t)
	prod := map[string]*nsq.Producer{}
	var wantA []string
	for _, l := range ls {
		prod[l] = newProducer(t, node[l].nsqdProc, logs)
		wantA = append(wantA, publishAll(t, prod[l], topic, l, "a", 10)...)
	}
	c.waitLookup(t, topic, nodeTCP(c.nodes...))

	// An existing consumer on every node.
	taOld := newTally(addrOf)
	lookupConsumer(t, c, topic, "old", taOld, newClientLog(t))
	taOld.waitAll(t, "existing consumer", wantA, eventually)
	for _, n := range c.nodes {
		waitClients(t, n, topic, "old", 1)
	}

	// Tombstone n4 for the topic on both lookupds.
	victim, vl := c.nodes[2], ls[2]
	live := []*daemon{c.nodes[0], c.nodes[1]}
	for _, l := range c.lookupds {
		postOK(t, l.HTTPAddr, "/topic/tombstone?topic="+topic+"&node="+url.QueryEscape(victim.HTTPAddr))
		got, _, err := lookupProducers(l.HTTPAddr, topic)
		if err != nil || strings.Join(got, ",") != strings.Join(nodeTCP(live...), ",") {
			t.Fatalf("%s /lookup after the tombstone: %v (err %v), want %v", l.label, got, err, nodeTCP(live...))
		}
		topics, listed, err := nodeTopics(l.HTTPAddr, victim.TCPAddr)
		if err != nil || !listed || !topics[topic] {
			t.Fatalf("%s /nodes after the tombstone: listed %v, topics/tombstones %v (err %v); want %s tombstoned",
				l.label, listed, topics, err, topic)
		}
	}

	// A new consumer connects to the other nodes only, however often it polls.
	taNew := newTally(addrOf)
	newLog := newClientLog(t)
	fresh := lookupConsumer(t, c, topic, "new", taNew, newLog)
	for _, n := range live {
		waitClients(t, n, topic, "new", 1)
	}
	polls := newLog.count("querying nsqlookupd")
	waitFor(t, eventually, "three more lookupd polls by the new consumer", func() (bool, string) {
		n := newLog.count("querying nsqlookupd")
		return n >= polls+3, fmt.Sprintf("%d polls so far", n)
	})
	if n, err := victim.clientCount(topic, "new"); err != nil || n != 0 {
		t.Fatalf("tombstoned %s has %d clients on %s/new (err %v), want 0", vl, n, topic, err)
	}
	if n := fresh.Stats().Connections; n != len(live) {
		t.Fatalf("new consumer has %d connections, want %d", n, len(live))
	}
	t.Logf("%s tombstoned: the new consumer connected to the other %d nodes only", vl, len(live))

	// The existing consumer keeps draining the tombstoned node; the new one gets the rest.
	wantA = append(wantA, publishAll(t, prod[vl], topic, vl, "after-tombstone", 20)...)
	var wantNew []string
	for _, l := range ls[:2] {
		m := publishAll(t, prod[l], topic, l, "after-tombstone", 10)
		wantA = append(wantA, m...)
		wantNew = append(wantNew, m...)
	}
	taOld.waitAll(t, "existing consumer", wantA, eventually)
	taNew.waitAll(t, "new consumer", wantNew, eventually)

	// Deleting the topic on n4 unregisters it: the lookupds drop that producer...
	postOK(t, victim.HTTPAddr, "/topic/delete?topic="+topic)
	for _, l := range c.lookupds {
		waitFor(t, eventually, l.label+" /nodes to drop "+topic+" from "+vl, func() (bool, string) {
			topics, listed, err := nodeTopics(l.HTTPAddr, victim.TCPAddr)
			if err != nil {
				return false, err.Error()
			}
			_, has := topics[topic]
			return listed && !has, fmt.Sprintf("listed %v topics %v", listed, topics)
		})
	}
	c.waitLookup(t, topic, nodeTCP(live...))
	t.Logf("topic deleted on %s: unregistered from both lookupds", vl)

	// ...so when n4 creates the topic again it is a fresh, untombstoned producer that
	// both consumers discover (its channels pre-created from the lookupds).
	again := publishAll(t, prod[vl], topic, vl, "again", 1)
	c.waitLookup(t, topic, nodeTCP(c.nodes...))
	t.Logf("topic created again on %s: listed again by both lookupds", vl)
	taOld.waitAll(t, "existing consumer", append(wantA, again...), eventually)
	taNew.waitAll(t, "new consumer", append(wantNew, again...), eventually)
	t.Logf("tombstone: existing consumer %s; new consumer %s", taOld.perNode(), taNew.perNode())
}

// waitClients waits until n has exactly want clients on topic/channel.
func waitClients(t *testing.T, n *daemon, topic, channel string, want int) {
	t.Helper()
	waitFor(t, eventually, fmt.Sprintf("%s to have %d client(s) on %s/%s", n.label, want, topic, channel), func() (bool, string) {
		got, err := n.clientCount(topic, channel)
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("%d clients", got)
	})
}
