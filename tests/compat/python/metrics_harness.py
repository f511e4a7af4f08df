"""Shared by the /metrics tests: owns the `node` fixture's pair (an nsqlookupd and an nsqd
registered with it, both ours), the /metrics scrape parsed by prometheus_client's text
parser into {(sample name, labels): value}, and a minimal raw V2 consumer (SUB, RDY, FIN,
REQ over a plain socket) whose in-flight state is exact, unlike a library's.

/metrics is beyond Go NSQ (Go answers 404): these tests are for our daemons only and
are skipped when $NSQD_BIN is a Go build.
"""

import json
import socket
import struct
import subprocess
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cluster_harness import Daemon, lookupd_bin_from_env
from nsqd_harness import http_get

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def skip_if_reference(nsqd_bin):
    """Skip when nsqd says it was built with Go (`nsqd v1.3.0 (built w/go1.x)`)."""
    out = subprocess.run([nsqd_bin, "--version"], capture_output=True, timeout=10)
    if b"built w/go" in out.stdout + out.stderr:
        pytest.skip("/metrics is not served by Go nsqd (NSQD_BIN is a Go build)")


class Pair(object):
    def __init__(self, lookupd, nsqd):
        self.lookupd = lookupd
        self.nsqd = nsqd
        self.procs = [lookupd, nsqd]

    def stop(self):
        for d in reversed(self.procs):
            d.stop()


def start_pair(nsqd_bin, tmp_path, nsqd_args=()):
    path, _note, err = lookupd_bin_from_env()
    if err:
        pytest.fail(err, pytrace=False)
    lookupd = Daemon(path, "nsqlookupd", "127.0.0.1").start()
    data = tmp_path / "nsqd-data"
    data.mkdir()
    args = ["--data-path=%s" % data, "--lookupd-tcp-address=%s" % lookupd.tcp_address]
    try:
        nsqd = Daemon(nsqd_bin, "nsqd", "127.0.0.1", args + list(nsqd_args)).start()
    except Exception:
        lookupd.stop()
        raise
    return Pair(lookupd, nsqd)


def scrape(addr):
    """GET /metrics: (families by name, {(sample name, sorted label items): value})."""
    url = "http://%s/metrics" % addr
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        ctype = resp.headers.get("Content-Type")
        assert ctype == CONTENT_TYPE, "Content-Type %r" % ctype
        text = resp.read().decode("utf-8")
    families = {}
    samples = {}
    for fam in text_string_to_metric_families(text):
        assert fam.name not in families, "family %s appears twice" % fam.name
        families[fam.name] = fam
        assert fam.documentation, "family %s has no # HELP" % fam.name
        assert fam.type in ("counter", "gauge"), "family %s: # TYPE %s" % (fam.name, fam.type)
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, "sample %r twice" % (key,)
            samples[key] = s.value
    return families, samples


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no sample %s%r in /metrics; have %s" % (
        name, labels, sorted(k for k in samples if k[0] == name))
    return samples[key]


def get_json(addr, path):
    status, body = http_get(addr, path)
    assert status == 200, "GET %s -> %s %r" % (path, status, body)
    return json.loads(body.decode("utf-8"))


def post(addr, path, body=b""):
    req = urllib.request.Request("http://%s%s" % (addr, path), data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200, "POST %s -> %s" % (path, resp.status)
        return resp.read()


def wait_for(probe, timeout, what, poll=0.05):
    """Poll `probe()` until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class RawConsumer(object):
    """A V2 consumer on a plain blocking socket."""

    def __init__(self, tcp_address):
        host, port = tcp_address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(b"  V2")
        self.buf = b""

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("nsqd closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        size, ftype = struct.unpack(">ii", self._read_exact(8))
        return ftype, self._read_exact(size - 4)

    def command(self, line):
        self.sock.sendall(line.encode("ascii") + b"\n")

    def expect_ok(self):
        ftype, data = self.frame()
        assert (ftype, data) == (0, b"OK"), "want OK, got %r %r" % (ftype, data)

    def subscribe(self, topic, channel):
        self.command("SUB %s %s" % (topic, channel))
        self.expect_ok()

    def message_ids(self, n):
        """Read `n` messages (answering heartbeats); their ids."""
        ids = []
        while len(ids) < n:
            ftype, data = self.frame()
            if ftype == 0 and data == b"_heartbeat_":
                self.command("NOP")
                continue
            assert ftype == 2, "want a message frame, got %r %r" % (ftype, data)
            ids.append(data[10:26].decode("ascii"))
        return ids

    def close(self):
        try:
            self.command("CLS")
        finally:
            self.sock.close()
