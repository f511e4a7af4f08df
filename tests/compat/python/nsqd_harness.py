"""Harness for the pynsq compatibility suite: owns starting/stopping an nsqd process
(from $NSQD_BIN, real bound addresses read from its stderr log), the HTTP helpers
(/ping, /stats) and the bounded tornado IOLoop helpers shared by the tests.

Every wait here has a deadline; nothing sleeps a fixed time to wait for readiness.
"""

import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import tornado.gen

import nsq

START_DEADLINE = 20.0  # seconds to see both "listening on" log lines
PING_DEADLINE = 10.0  # seconds for GET /ping to answer 200 "OK"
STOP_DEADLINE = 10.0  # seconds to exit after SIGTERM before we SIGKILL

# Go nsqd logs e.g. "[nsqd] 2024/01/01 00:00:00.000000 INFO: TCP: listening on 127.0.0.1:4150"
_TCP_RE = re.compile(r"(?<![A-Za-z])TCP: listening on (\S+):(\d+)")
_HTTP_RE = re.compile(r"(?<![A-Za-z])HTTP: listening on (\S+):(\d+)")


class NsqdError(Exception):
    pass


def _host(h):
    return h[1:-1] if h.startswith("[") and h.endswith("]") else h


class Nsqd(object):
    """One nsqd child process listening on ephemeral 127.0.0.1 ports."""

    def __init__(self, binary, data_path, extra_args=()):
        self.binary = binary
        self.data_path = data_path
        self.args = [
            binary,
            "--tcp-address=127.0.0.1:0",
            "--http-address=127.0.0.1:0",
            "--data-path=%s" % data_path,
        ] + list(extra_args)
        self.proc = None
        self.tcp_address = None  # "127.0.0.1:port"
        self.http_address = None
        self._lines = []  # (stream name, text) in arrival order
        self._cond = threading.Condition()
        self._threads = []
        self.exit_code = None
        self.exited_before_stop = False
        self.ready = False
        self.killed = False

    # -- logs -------------------------------------------------------------
    def _pump(self, stream, name):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._lines.append((name, line))
                if name == "stderr":
                    m = _TCP_RE.search(line)
                    if m and self.tcp_address is None:
                        self.tcp_address = "%s:%s" % (_host(m.group(1)), m.group(2))
                    m = _HTTP_RE.search(line)
                    if m and self.http_address is None:
                        self.http_address = "%s:%s" % (_host(m.group(1)), m.group(2))
                self._cond.notify_all()
        stream.close()

    def output(self, max_lines=300):
        with self._cond:
            lines = list(self._lines)
        if len(lines) > max_lines:
            skipped = len(lines) - max_lines
            lines = [("", "... %d earlier lines skipped ..." % skipped)] + lines[-max_lines:]
        return "\n".join(
            ("%s| %s" % (name, text)) if name == "stdout" else text for name, text in lines
        )

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for stream, name in ((self.proc.stderr, "stderr"), (self.proc.stdout, "stdout")):
            t = threading.Thread(target=self._pump, args=(stream, name), daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + START_DEADLINE
        with self._cond:
            while self.tcp_address is None or self.http_address is None:
                if self.proc.poll() is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
            ok = self.tcp_address is not None and self.http_address is not None
        if not ok:
            rc = self.proc.poll()
            self.stop()
            raise NsqdError(
                "nsqd did not log both 'TCP: listening on <ip>:<port>' and "
                "'HTTP: listening on <ip>:<port>' on stderr within %.0fs (exit code %r)\n"
                "command: %s\n--- nsqd output ---\n%s"
                % (START_DEADLINE, rc, " ".join(self.args), self.output())
            )
        self._wait_ping()
        self.ready = True
        return self

    def _wait_ping(self):
        deadline = time.monotonic() + PING_DEADLINE
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                last = "process exited with %r" % self.proc.returncode
                break
            try:
                status, body = http_get(self.http_address, "/ping", timeout=1.0)
                if status == 200 and body == b"OK":
                    return
                last = "status %r body %r" % (status, body)
            except Exception as e:  # connection refused etc.
                last = repr(e)
            time.sleep(0.05)  # poll interval, bounded by the deadline above
        self.stop()
        raise NsqdError(
            "GET http://%s/ping did not return 200 'OK' within %.0fs (last: %s)\n"
            "--- nsqd output ---\n%s" % (self.http_address, PING_DEADLINE, last, self.output())
        )

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            self.exited_before_stop = True
        else:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait(STOP_DEADLINE)
        self.exit_code = self.proc.returncode
        for t in self._threads:
            t.join(5)

    @property
    def tcp_port(self):
        return int(self.tcp_address.rsplit(":", 1)[1])


# -- HTTP -------------------------------------------------------------------
def http_get(addr, path, timeout=5.0):
    url = "http://%s%s" % (addr, path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_stats(http_addr, topic=None):
    path = "/stats?format=json"
    if topic:
        path += "&topic=%s" % topic
    status, body = http_get(http_addr, path)
    assert status == 200, "GET %s -> %s %r" % (path, status, body)
    return json.loads(body.decode("utf-8"))


def find_topic(stats, topic):
    for t in stats.get("topics") or []:
        if t.get("topic_name") == topic:
            return t
    return None


def find_channel(stats, topic, channel):
    t = find_topic(stats, topic)
    if t is None:
        return None
    for c in t.get("channels") or []:
        if c.get("channel_name") == channel:
            return c
    return None


# -- IOLoop helpers -----------------------------------------------------------
class WaitTimeout(AssertionError):
    pass


def run_until(io_loop, predicate, timeout, what, poll=0.005):
    """Run the IOLoop until predicate() is true; stop it and fail after `timeout` s."""
    deadline = time.monotonic() + timeout

    async def waiter():
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            await tornado.gen.sleep(poll)
        return True

    ok = io_loop.run_sync(waiter, timeout=timeout + 10)
    if not ok:
        raise WaitTimeout("timed out after %.1fs waiting for %s" % (timeout, what))


def run_for(io_loop, seconds):
    """Let the IOLoop process events for a bounded time (used only to flush closes)."""
    io_loop.run_sync(lambda: tornado.gen.sleep(seconds), timeout=seconds + 10)


def wait_stats(io_loop, http_addr, topic, predicate, timeout, what):
    """Poll /stats (in a thread, the IOLoop keeps running so clients flush FIN/REQ)
    until predicate(stats) is true. Returns the last stats document."""
    deadline = time.monotonic() + timeout
    box = {"stats": None, "err": None}

    async def waiter():
        while True:
            try:
                box["stats"] = await io_loop.run_in_executor(None, get_stats, http_addr, topic)
                box["err"] = None
                if predicate(box["stats"]):
                    return True
            except Exception as e:
                box["err"] = e
            if time.monotonic() >= deadline:
                return False
            await tornado.gen.sleep(0.05)

    ok = io_loop.run_sync(waiter, timeout=timeout + 10)
    if not ok:
        raise WaitTimeout(
            "timed out after %.1fs waiting for /stats: %s\nlast error: %r\nlast stats: %s"
            % (timeout, what, box["err"], json.dumps(box["stats"], indent=1)[:4000])
        )
    return box["stats"]


def wait_channel_subscribed(io_loop, nsqd, topic, channel, clients=1, timeout=10.0):
    """Wait until nsqd reports the channel with >= `clients` subscribers."""
    return wait_stats(
        io_loop,
        nsqd.http_address,
        topic,
        lambda s: (find_channel(s, topic, channel) or {}).get("client_count", 0) >= clients,
        timeout,
        "channel %s/%s with %d subscriber(s)" % (topic, channel, clients),
    )


def wait_writer_ready(io_loop, writer, timeout=10.0):
    run_until(
        io_loop,
        lambda: any(c.connected() for c in writer.conns.values()),
        timeout,
        "nsq.Writer connection to become ready (IDENTIFY done)",
    )


def close_clients(io_loop, *clients):
    """Close Readers/Writers; the 'failed to unpack size' / 'connection closed' noise pynsq
    logs for a connection *we* closed is silenced so real errors stand out."""
    loggers = [logging.getLogger(n) for n in ("nsq.client", "nsq.reader", "nsq.writer")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        for c in clients:
            if c is None:
                continue
            if isinstance(c, nsq.Reader) and c.redist_periodic is not None:
                c.close()
            else:
                for conn in list(c.conns.values()):
                    conn.close()
        run_for(io_loop, 0.05)
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)


class PubTracker(object):
    """Counts Writer callbacks. A callback with anything but b'OK' is an error."""

    def __init__(self):
        self.sent_cmds = 0
        self.acked_cmds = 0
        self.acked_msgs = 0
        self.errors = []

    def callback(self, nmsgs, label=None):
        def cb(conn, data):
            self.acked_cmds += 1
            if isinstance(data, nsq.Error) or data != b"OK":
                self.errors.append((label, data))
            else:
                self.acked_msgs += nmsgs

        self.sent_cmds += 1
        return cb

    def done(self):
        return self.acked_cmds >= self.sent_cmds

    def describe_errors(self, limit=5):
        return "; ".join("%s: %r" % e for e in self.errors[:limit])


def nsqd_bin_from_env():
    path = os.environ.get("NSQD_BIN")
    if not path:
        return None, "NSQD_BIN is not set: run as NSQD_BIN=/abs/path/to/nsqd python3 -m pytest ..."
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        return None, "NSQD_BIN=%r is not an executable file" % path
    return path, None
