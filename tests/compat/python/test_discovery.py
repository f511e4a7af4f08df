"""Discovery through nsqlookupd with pynsq: three nsqd on 127.0.0.2-4, each registered with
two nsqlookupd, and a Reader that knows only the lookupds' HTTP addresses
(lookupd_http_addresses, 1 s poll). It must receive every node's messages, keep receiving
from the others while one node is down (SIGTERM mid-stream), rediscover that node when it
comes back on the same ports and data dir and drain its backlog, and find a topic that
appears on a node after the Reader started. Daemons: $NSQD_BIN, $NSQLOOKUPD_BIN (default:
the Go reference nsqlookupd).
"""

import time

import pytest

from cluster_harness import (
    Cluster,
    Publisher,
    Tally,
    lookupd_bin_from_env,
    publish_all,
    tally_reader,
    wait_lookup,
    wait_received,
)
from nsqd_harness import close_clients, find_channel, get_stats, run_until

# Failure bound for the cluster and the Reader to converge: far above the few lookupd
# polls (1 s each) it takes, and above pynsq's 10 s throttle of reconnects to one address.
EVENTUALLY = 30.0


@pytest.fixture
def cluster(nsqd_bin, tmp_path, request, capsys):
    path, note, err = lookupd_bin_from_env()
    if err:
        pytest.fail(err, pytrace=False)
    if note:
        with capsys.disabled():
            print("\n" + note)
    c = Cluster(nsqd_bin, path, tmp_path)
    request.node._nsqd_procs = c.procs  # stderr of every daemon attached on failure
    yield c
    crashed = c.stop()
    if crashed:
        pytest.fail("\n".join(crashed), pytrace=False)


def labelled(cluster):
    """Node labels n2, n3, n4 (last byte of the address), label -> node, label -> tcp."""
    labels = ["n" + n.host.rsplit(".", 1)[1] for n in cluster.nodes]
    node = dict(zip(labels, cluster.nodes))
    return labels, node, {l: n.tcp_address for l, n in node.items()}


def report(capsys, text):
    with capsys.disabled():
        print("\n" + text)


def test_node_loss_and_restart(cluster, io_loop, capsys):
    topic = "discovery"
    labels, node, addr_of = labelled(cluster)
    want = []
    for l in labels:
        want += publish_all(node[l].http_address, topic, l, "a", 100)
    wait_lookup(io_loop, cluster, topic, addr_of.values(), EVENTUALLY)

    tally = Tally(addr_of)
    reader = tally_reader(tally, topic, "py", cluster.lookupd_http())
    pubs = {}
    try:
        wait_received(io_loop, tally, want, EVENTUALLY, "pynsq Reader")
        before = tally.per_node()

        # A steady stream to every node.
        stream_at = time.monotonic()
        for l in labels:
            pubs[l] = Publisher(node[l].http_address, topic, l, "b")
            pubs[l].start()
        for l in labels:
            run_until(io_loop, lambda: tally.since(l, stream_at)[1] >= 50, EVENTUALLY,
                      "the stream from %s to reach the Reader" % l)

        # Lose n4 mid-stream: a burst it cannot have delivered yet, then SIGTERM while
        # its publisher is still going. Everything it acknowledged must come back.
        victim, vl = cluster.nodes[2], labels[2]
        survivors = labels[:2]
        burst = publish_all(victim.http_address, topic, vl, "burst", 2000)
        ch = find_channel(get_stats(victim.http_address, topic), topic, "py") or {}
        backlog = "depth %s, in flight %s" % (ch.get("depth"), ch.get("in_flight_count"))
        kill_at = time.monotonic()
        victim.terminate()
        v_acked = pubs[vl].halt()
        want += v_acked + burst

        # The lookupds drop it; the Reader polls them without finding it and keeps
        # receiving from the others.
        wait_lookup(io_loop, cluster, topic, [addr_of[l] for l in survivors], EVENTUALLY)
        polls = reader.lookups
        run_until(io_loop, lambda: reader.lookups >= polls + 2, EVENTUALLY,
                  "two lookupd polls while %s is down" % vl)
        for l in survivors:
            run_until(io_loop, lambda: tally.since(l, kill_at)[1] >= 50, EVENTUALLY,
                      "messages from %s while %s is down" % (l, vl))

        # Back on the same ports and data dir: rediscovered, backlog drained.
        restarted = cluster.restart(victim)
        ready_at = time.monotonic()
        wait_lookup(io_loop, cluster, topic, addr_of.values(), EVENTUALLY)
        run_until(io_loop, lambda: tally.since(vl, ready_at)[1] > 0, EVENTUALLY,
                  "the Reader to receive from the restarted %s" % vl)
        reconnect = tally.since(vl, ready_at)[0] - ready_at
        wait_received(io_loop, tally, want, EVENTUALLY, "pynsq Reader")
        drained = tally.since(vl, ready_at)[1]

        for l in survivors:
            acked = pubs[l].halt()
            assert not pubs[l].failed, "publishing to %s (never stopped) failed" % l
            want += acked
        wait_received(io_loop, tally, want, EVENTUALLY, "pynsq Reader")
        assert restarted.proc.poll() is None, "restarted %s exited" % vl
        report(capsys,
               "pynsq node loss (%s, SIGTERM with backlog %s; its publisher had %d acknowledged): "
               "before: %s; down for %.2fs; first message from the restarted node %.2fs after it "
               "was ready; %d of its messages received after the restart; per node: %s"
               % (vl, backlog, len(v_acked), before, ready_at - kill_at, reconnect, drained,
                  tally.per_node()))
    finally:
        for p in pubs.values():
            p.request_halt()
        close_clients(io_loop, reader)


def test_topic_created_later_is_discovered(cluster, io_loop, capsys):
    topic = "discovery_new"
    labels, node, addr_of = labelled(cluster)
    tally = Tally(addr_of)
    reader = tally_reader(tally, topic, "py", cluster.lookupd_http())
    try:
        # The Reader starts while no node has the topic (lookupd answers 404).
        run_until(io_loop, lambda: reader.lookups >= 1, EVENTUALLY,
                  "the Reader's first lookup to complete")
        assert not reader.conns, "connected to %s before the topic existed" % list(reader.conns)

        found = []
        want = []
        for l in (labels[1], labels[0]):
            want += publish_all(node[l].http_address, topic, l, "new", 1)
            published_at = time.monotonic()
            wait_received(io_loop, tally, want, EVENTUALLY, "pynsq Reader")
            found.append("%s after %.2fs" % (l, tally.first[want[-1]] - published_at))
        wait_lookup(io_loop, cluster, topic, [addr_of[l] for l in labels[:2]], EVENTUALLY)
        report(capsys, "pynsq new topic %s: found on %s" % (topic, ", ".join(found)))
    finally:
        close_clients(io_loop, reader)
