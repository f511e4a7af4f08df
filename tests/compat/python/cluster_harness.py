"""Multi-daemon harness for the pynsq discovery tests: owns any daemon binary (nsqd or
nsqlookupd) on any loopback address, restarting an nsqd on the same ports and data dir,
a cluster of two nsqlookupd and several nsqd registered with both, the nsqlookupd HTTP
helpers (/lookup, /nodes), paced HTTP publishers that remember what nsqd acknowledged,
and a pynsq Reader that counts its lookupd polls and records where each message came
from. Single-nsqd tests keep using nsqd_harness.Nsqd.

Every wait here has a deadline; nothing sleeps a fixed time to wait for readiness.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import tornado.gen

import nsq
from nsqd_harness import Nsqd, WaitTimeout, http_get, run_until

REFERENCE_LOOKUPD = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)),
                 "..", "..", "reference", "bin", "nsqlookupd")
)


def lookupd_bin_from_env():
    """The nsqlookupd under test: $NSQLOOKUPD_BIN, else the nsqlookupd beside $NSQD_BIN
    (ours for target/debug/nsqd, the reference for tests/reference/bin/nsqd), else the Go
    reference. Returns (path, note or None, error or None)."""
    path = os.environ.get("NSQLOOKUPD_BIN")
    note = None
    if not path:
        nsqd = os.environ.get("NSQD_BIN")
        beside = os.path.join(os.path.dirname(nsqd), "nsqlookupd") if nsqd else None
        path = beside if beside and os.path.isfile(beside) else REFERENCE_LOOKUPD
        note = "NSQLOOKUPD_BIN is not set: using %s" % path
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        return None, note, ("nsqlookupd %r is not an executable file "
                            "(set NSQLOOKUPD_BIN, or `make reference`)" % path)
    return path, note, None


class Daemon(Nsqd):
    """A daemon whose listeners bind to `host` (ports 0 unless given); `args` are the
    remaining flags (e.g. --data-path for nsqd), kept for restart()."""

    def __init__(self, binary, label, host, args=(), tcp_port=0, http_port=0):
        super(Daemon, self).__init__(binary, None, ())
        self.label = label
        self.host = host
        self.extra = list(args)
        self.args = [
            binary,
            "--tcp-address=%s:%d" % (host, tcp_port),
            "--http-address=%s:%d" % (host, http_port),
        ] + self.extra

    def start(self):
        super(Daemon, self).start()
        for addr in (self.tcp_address, self.http_address):
            if addr.rsplit(":", 1)[0] != self.host:
                self.stop()
                raise AssertionError(
                    "%s announced %s, want %s:<port>" % (self.label, addr, self.host))
        return self

    def terminate(self):
        """SIGTERM and wait; the exit status must be 0."""
        self.stop()
        assert not self.killed, "%s did not exit within 10s of SIGTERM" % self.label
        assert self.exit_code == 0, "%s exited with %r after SIGTERM" % (self.label, self.exit_code)

    def restarted(self):
        """A new (not yet started) process of the same binary and flags, on the ports
        this one had."""
        return Daemon(self.binary, self.label + "'", self.host, self.extra,
                      tcp_port=self.tcp_port, http_port=self.http_port)

    @property
    def http_port(self):
        return int(self.http_address.rsplit(":", 1)[1])


class Cluster(object):
    """Two nsqlookupd on 127.0.0.1 and nsqd nodes on 127.0.0.2, .3, ..., each registered
    with both lookupds and broadcasting its own address. `procs` lists every process
    started (restarts included), for teardown and failure reports."""

    def __init__(self, nsqd_bin, lookupd_bin, tmp_path, nodes=3):
        self.nsqd_bin = nsqd_bin
        self.procs = []
        self.lookupds = []
        self.nodes = []
        for i in (1, 2):
            # nsqd queries /channels at the lookupd's broadcast address: an IP, so
            # nothing is resolved and nothing leaves the loopback.
            self.lookupds.append(self._start(Daemon(
                lookupd_bin, "nsqlookupd%d" % i, "127.0.0.1", ["--broadcast-address=127.0.0.1"])))
        for i in range(nodes):
            host = "127.0.0.%d" % (i + 2)
            data = tmp_path / ("nsqd-%s" % host)
            data.mkdir()
            args = ["--broadcast-address=%s" % host, "--data-path=%s" % data]
            args += ["--lookupd-tcp-address=%s" % l.tcp_address for l in self.lookupds]
            self.nodes.append(self._start(Daemon(nsqd_bin, "nsqd@%s" % host, host, args)))

    def _start(self, d):
        self.procs.append(d)
        return d.start()

    def restart(self, node):
        """Start a stopped node again on its ports and data dir; it replaces `node`."""
        new = self._start(node.restarted())
        assert (new.tcp_address, new.http_address) == (node.tcp_address, node.http_address), \
            "%s came back on %s/%s, want %s/%s" % (new.label, new.tcp_address, new.http_address,
                                                   node.tcp_address, node.http_address)
        self.nodes[self.nodes.index(node)] = new
        return new

    def lookupd_http(self):
        return [l.http_address for l in self.lookupds]

    def stop(self):
        """Stop everything; returns descriptions of processes that died on their own."""
        crashed = []
        for d in reversed(self.procs):
            if d.proc is None or d.exit_code is not None:
                continue  # never started, or stopped by the test
            d.stop()
            if d.exited_before_stop and d.ready:
                crashed.append("%s exited by itself during the test (code %r):\n%s"
                               % (d.label, d.exit_code, d.output(60)))
        return crashed


# -- nsqlookupd HTTP ------------------------------------------------------------
def lookup(addr, topic):
    """(sorted producer 'broadcast_address:tcp_port' list, channels); ([], []) on 404."""
    status, body = http_get(addr, "/lookup?topic=%s" % urllib.parse.quote(topic))
    if status == 404:
        return [], []
    assert status == 200, "GET %s/lookup?topic=%s -> %s %r" % (addr, topic, status, body)
    doc = json.loads(body.decode("utf-8"))
    producers = sorted("%s:%d" % (p["broadcast_address"], p["tcp_port"]) for p in doc["producers"])
    return producers, doc["channels"]


def post(addr, path):
    req = urllib.request.Request("http://%s%s" % (addr, path), data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200, "POST %s%s -> %s" % (addr, path, resp.status)


def mpub(addr, topic, bodies):
    """POST /mpub; returns True when nsqd acknowledged (200 OK)."""
    data = b"\n".join(b.encode("utf-8") for b in bodies)
    url = "http://%s/mpub?topic=%s" % (addr, topic)
    req = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status == 200 and resp.read() == b"OK"
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def tagged(node, phase, seq):
    """Message body naming the node it was published to: '<node>/<phase>/<seq>'."""
    return "%s/%s/%06d" % (node, phase, seq)


def publish_all(addr, topic, node, phase, n):
    bodies = [tagged(node, phase, i) for i in range(n)]
    for i in range(0, n, 100):
        assert mpub(addr, topic, bodies[i:i + 100]), "MPUB %s to %s failed" % (topic, addr)
    return bodies


class Publisher(threading.Thread):
    """Publishes batches of 10 numbered messages to one nsqd (HTTP /mpub) until halted
    or until a publish fails; `acked` holds what nsqd acknowledged."""

    def __init__(self, addr, topic, node, phase, pace=0.01):
        super(Publisher, self).__init__(daemon=True)
        self.addr, self.topic, self.node, self.phase, self.pace = addr, topic, node, phase, pace
        self.acked = []
        self.failed = False
        self._halt = threading.Event()

    def run(self):
        seq = 0
        while not self._halt.is_set():
            bodies = [tagged(self.node, self.phase, seq + i) for i in range(10)]
            seq += 10
            if not mpub(self.addr, self.topic, bodies):
                self.failed = True
                return
            self.acked.extend(bodies)
            self._halt.wait(self.pace)  # pacing only: a steady stream, not a flood

    def request_halt(self):
        self._halt.set()

    def halt(self):
        """Stop and wait; returns the acknowledged bodies."""
        self._halt.set()
        self.join(10)
        assert not self.is_alive(), "publisher to %s did not stop" % self.node
        return list(self.acked)


# -- consumer side ------------------------------------------------------------------
class Tally(object):
    """What one Reader received: first receipt time per body, receipts per node."""

    def __init__(self, addr_of):
        self.addr_of = addr_of  # node label -> nsqd tcp address it must arrive from
        self.first = {}
        self.by_node = {}
        self.dups = 0
        self.misroute = []

    def record(self, body, from_addr):
        node = body.split("/", 1)[0]
        want = self.addr_of.get(node)
        if want and from_addr and from_addr != want:
            self.misroute.append("%s came over %s, want %s" % (body, from_addr, want))
        if body in self.first:
            self.dups += 1
            return
        now = time.monotonic()
        self.first[body] = now
        self.by_node.setdefault(node, []).append(now)

    def missing(self, want):
        return [b for b in want if b not in self.first]

    def since(self, node, t0):
        """(first receipt time at or after t0 or None, count since t0) for node."""
        times = [t for t in self.by_node.get(node, []) if t >= t0]
        return (times[0] if times else None), len(times)

    def per_node(self):
        parts = ["%s=%d" % (n, len(v)) for n, v in sorted(self.by_node.items())]
        return "%s (total %d unique, %d duplicates)" % (" ".join(parts), len(self.first), self.dups)


class TrackingReader(nsq.Reader):
    """nsq.Reader that counts its completed lookupd queries and tags each message with the
    address of the connection it arrived on (pynsq's handler only gets the message)."""

    def __init__(self, *args, **kwargs):
        self.lookups = 0  # completed lookupd queries (answered, failed or 404)
        super(TrackingReader, self).__init__(*args, **kwargs)

    @tornado.gen.coroutine
    def query_lookupd(self):
        try:
            yield super(TrackingReader, self).query_lookupd()
        finally:
            self.lookups += 1

    def _on_message(self, conn, message, **kwargs):
        message.nsqd_address = conn.id
        return super(TrackingReader, self)._on_message(conn, message, **kwargs)


def tally_reader(tally, topic, channel, lookupd_http):
    def handler(message):
        tally.record(message.body.decode("utf-8"), getattr(message, "nsqd_address", None))
        return True

    return TrackingReader(
        topic=topic,
        channel=channel,
        message_handler=handler,
        lookupd_http_addresses=list(lookupd_http),
        lookupd_poll_interval=1,
        max_in_flight=100,
    )


def wait_io(io_loop, probe, timeout, what):
    """Run the IOLoop until probe() -> (ok, diagnostic) is true; probe runs in a thread
    (it may do blocking HTTP) so the Readers keep working meanwhile."""
    deadline = time.monotonic() + timeout
    box = {"diag": None}

    async def waiter():
        while True:
            try:
                ok, box["diag"] = await io_loop.run_in_executor(None, probe)
            except Exception as e:
                ok, box["diag"] = False, repr(e)
            if ok:
                return True
            if time.monotonic() >= deadline:
                return False
            await tornado.gen.sleep(0.05)

    if not io_loop.run_sync(waiter, timeout=timeout + 10):
        raise WaitTimeout("timed out after %.1fs waiting for %s: %s" % (timeout, what, box["diag"]))


def wait_lookup(io_loop, cluster, topic, want, timeout):
    """Wait until every lookupd's /lookup?topic lists exactly the producers `want`."""
    want = sorted(want)
    for l in cluster.lookupds:
        def probe(addr=l.http_address):
            got = lookup(addr, topic)[0]
            return got == want, "producers %s" % got

        wait_io(io_loop, probe, timeout, "%s /lookup?topic=%s to list %s" % (l.label, topic, want))


def wait_received(io_loop, tally, want, timeout, who):
    """Run the IOLoop until `tally` has every body in `want`; fails with what is missing."""
    try:
        run_until(io_loop, lambda: not tally.missing(want), timeout,
                  "%s to receive all %d messages" % (who, len(want)))
    except WaitTimeout as e:
        missing = tally.missing(want)
        raise WaitTimeout("%s: %d missing, e.g. %s; received %s"
                          % (e, len(missing), missing[:5], tally.per_node()))
    assert not tally.misroute, \
        "messages arrived over the wrong nsqd connection: %s" % tally.misroute[:5]
