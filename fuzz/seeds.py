#!/usr/bin/env python3
"""Records the seed corpora in fuzz/corpus/<target>/ from real traffic.

Runs our nsqd and nsqlookupd with a recording TCP proxy in front of each listener, drives
them with real clients (go-nsq's to_nsq and nsq_tail from the Go reference, plain, snappy
and deflate; HTTP publishes), has nsqd register with nsqlookupd through a proxy, then
kills nsqd with SIGKILL and takes its data directory (disk-queue files, nsqd.dat). Every
byte each side sent is cut into the inputs each target reads (see the targets' headers).

Usage: python3 fuzz/seeds.py NSQD NSQLOOKUPD TO_NSQ NSQ_TAIL
(`make fuzz-seeds` passes the debug daemons and the reference tools.)
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
HIGH = 1 << 63


class Proxy:
    """Forwards one listener; keeps what each connection's client and server sent."""

    def __init__(self, target):
        self.target = target
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.sessions = []  # [client bytes, server bytes] per connection
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(self.target)
            rec = [bytearray(), bytearray()]
            self.sessions.append(rec)
            threading.Thread(target=self._pump, args=(c, s, rec[0]), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, rec[1]), daemon=True).start()

    @staticmethod
    def _pump(src, dst, rec):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                rec.extend(b)
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def wait_for(what, pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def listen_addr(log_path, label):
    def find():
        with open(log_path, errors="replace") as f:
            m = re.search(label + r": listening on (\S+)", f.read())
        if m:
            host, port = m.group(1).rsplit(":", 1)
            return (host.strip("[]"), int(port))
        return None

    return wait_for(label, find)


def start(cmd, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def save(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if len(data) > 64 * 1024:
        data = data[: 64 * 1024]
    digest = hashlib.sha1(data).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    with open(os.path.join(d, f"{name}-{digest}"), "wb") as f:
        f.write(data)


def seed(n):
    return struct.pack("<Q", n)


def split_v2(client):
    """A V2 client stream after its magic: (plain part, IDENTIFY bodies, compressed rest)."""
    data = bytes(client[4:])
    pos, bodies = 0, []
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return data, bodies, b""
        line = data[pos:nl]
        pos = nl + 1
        if line.split(b" ")[0] in (b"IDENTIFY", b"AUTH", b"PUB", b"DPUB", b"MPUB"):
            if len(data) < pos + 4:
                return data, bodies, b""
            (size,) = struct.unpack(">i", data[pos : pos + 4])
            body = data[pos + 4 : pos + 4 + size]
            pos += 4 + size
            if line == b"IDENTIFY":
                bodies.append(body)
                j = json.loads(body)
                if j.get("snappy") or j.get("deflate"):
                    return data[:pos], bodies, data[pos:]


def main():
    nsqd_bin, lookupd_bin, to_nsq, nsq_tail = sys.argv[1:5]
    work = tempfile.mkdtemp(prefix="nsq-seeds-")
    data_dir = os.path.join(work, "data")
    os.makedirs(data_dir)
    procs = []
    try:
        lookupd = start(
            [lookupd_bin, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0"],
            os.path.join(work, "lookupd.log"),
        )
        procs.append(lookupd)
        lookupd_tcp = Proxy(listen_addr(os.path.join(work, "lookupd.log"), "TCP"))
        nsqd = start(
            [
                nsqd_bin,
                "--tcp-address=127.0.0.1:0",
                "--http-address=127.0.0.1:0",
                f"--data-path={data_dir}",
                "--mem-queue-size=0",
                "--sync-every=1",
                "--broadcast-address=127.0.0.1",
                f"--lookupd-tcp-address=127.0.0.1:{lookupd_tcp.port}",
            ],
            os.path.join(work, "nsqd.log"),
        )
        procs.append(nsqd)
        tcp = Proxy(listen_addr(os.path.join(work, "nsqd.log"), "TCP"))
        http = listen_addr(os.path.join(work, "nsqd.log"), "HTTP")
        addr = f"127.0.0.1:{tcp.port}"

        def post(path, body):
            req = urllib.request.Request(f"http://{http[0]}:{http[1]}{path}", data=body)
            urllib.request.urlopen(req, timeout=10).read()

        # Channels first, so each consumer below has messages waiting.
        post("/topic/create?topic=seeds", b"")
        for chan in ("tail", "tail_snappy", "tail_deflate"):
            post(f"/channel/create?topic=seeds&channel={chan}", b"")
        # Producers: go-nsq plain, snappy, deflate.
        lines = "".join(f"message {i} {'x' * (i * 7 % 50)}\n" for i in range(40))
        for topic, opts in [
            ("seeds", []),
            ("seeds", ["--producer-opt=snappy,true"]),
            ("seeds_deflate", ["--producer-opt=deflate,true", "--producer-opt=deflate_level,6"]),
        ]:
            subprocess.run(
                [to_nsq, f"--nsqd-tcp-address={addr}", f"--topic={topic}"] + opts,
                input=lines.encode(),
                check=True,
                timeout=30,
            )
        # HTTP publishes: text and binary MPUB, DPUB via /pub?defer=.

        queries = [
            "topic=seeds",
            "topic=seeds&binary=true",
            "topic=seeds&defer=1500",
            "topic=seeds%5Fx&channel=ch%20one+two",
        ]
        post("/pub?" + queries[0], b"http message")
        post("/pub?" + queries[2], b"deferred")
        text = b"one\ntwo\r\n\nthree\n"
        post("/mpub?" + queries[0], text)
        binary = struct.pack(">i", 2) + struct.pack(">i", 3) + b"abc" + struct.pack(">i", 1) + b"d"
        post("/mpub?" + queries[1], binary)
        # Consumers: go-nsq plain, snappy, deflate (each reads a few messages and FINs).
        for chan, opts in [
            ("tail", []),
            ("tail_snappy", ["--consumer-opt=snappy,true"]),
            ("tail_deflate", ["--consumer-opt=deflate,true", "--consumer-opt=deflate_level,3"]),
        ]:
            subprocess.run(
                [nsq_tail, f"--nsqd-tcp-address={addr}", "--topic=seeds", f"--channel={chan}", "-n", "5"]
                + opts,
                stdout=subprocess.DEVNULL,
                check=True,
                timeout=30,
            )
        # nsqd registered its topics and channels with nsqlookupd through the proxy.
        wait_for("lookupd registrations", lambda: any(b"REGISTER" in s[0] for s in lookupd_tcp.sessions))
        time.sleep(0.5)
        nsqd.send_signal(signal.SIGKILL)
        nsqd.wait()

        for i, (client, server) in enumerate(tcp.sessions):
            plain, bodies, compressed = split_v2(client)
            save("v2_commands", f"session{i}", seed(i + 1) + plain)
            save("v2_commands", f"frames{i}", seed(HIGH | (i + 1)) + bytes(server[: 16 * 1024]))
            for b in bodies:
                save("identify_json", f"session{i}", b)
            if compressed:
                snappy = any(json.loads(b).get("snappy") for b in bodies)
                save("compress", f"client{i}", seed((HIGH if snappy else 0) | (i + 1)) + compressed)
        for i, (client, server) in enumerate(lookupd_tcp.sessions):
            save("lookup_v1", f"nsqd{i}", seed(i + 1) + bytes(client[4:]))
            save("lookup_v1", f"replies{i}", seed(HIGH | (i + 1)) + bytes(server))
            m = re.search(rb"IDENTIFY\n(....)", bytes(client))
            if m:
                (size,) = struct.unpack(">i", m.group(1))
                save("identify_json", f"lookupd{i}", bytes(client)[m.end() : m.end() + size])
        for i, q in enumerate(queries):
            save("http_parsers", f"query{i}", b"\x00" + q.encode())
        save("http_parsers", "text", b"\x01" + text)
        save("http_parsers", "binary", b"\x02" + binary)

        with open(os.path.join(data_dir, "nsqd.dat"), "rb") as f:
            save("nsqd_dat", "killed", f.read())
        for name in sorted(os.listdir(data_dir)):
            m = re.match(r"(.+)\.diskqueue\.meta\.dat$", name)
            if not m:
                continue
            with open(os.path.join(data_dir, name), "rb") as f:
                meta = f.read()
            files = sorted(
                n for n in os.listdir(data_dir) if n.startswith(m.group(1) + ".diskqueue.0")
            )
            blobs = []
            for n in files[:3]:
                with open(os.path.join(data_dir, n), "rb") as f:
                    blobs.append(f.read()[:16000])
            first = int(files[0].split(".")[-2]) if files else 0
            flags = 1 | (len(blobs) << 1) | (min(first, 15) << 4)
            out = bytes([flags]) + struct.pack("<H", len(meta)) + meta
            for b in blobs:
                out += struct.pack("<H", len(b)) + b
            save("diskqueue", m.group(1), out)
            for b in blobs:
                count = 0
                pos = 0
                while pos + 4 <= len(b):
                    (n,) = struct.unpack(">I", b[pos : pos + 4])
                    pos += 4 + n
                    count += 1
                ops = bytes([0, 3, 0, 5, 1])
                save("packed", m.group(1), struct.pack("<H", count) + bytes([len(ops)]) + ops + b)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)

    # Files no client sends: an auth server's replies and an nsqd config file.
    for i, reply in enumerate(
        [
            {"ttl": 3600, "identity": "user", "identity_url": "http://x/u", "authorizations": [
                {"topic": "seeds.*", "channels": [".*"], "permissions": ["subscribe", "publish"]}]},
            {"ttl": 60, "identity": None, "identity_url": None, "authorizations": [
                {"topic": "^t$", "channels": None, "permissions": ["publish", None]}, None]},
            {"ttl": 0, "authorizations": []},
        ]
    ):
        save("auth_reply", f"reply{i}", json.dumps(reply).encode())
    save(
        "config_file",
        "nsqd",
        b"""# nsqd.cfg as the Go repository's example has it
log_level = "info"
tcp_address = "0.0.0.0:4150"
http_address = "0.0.0.0:4151"
broadcast_address = "127.0.0.1"
nsqlookupd_tcp_addresses = ["127.0.0.1:4160", "127.0.0.1:4162"]
data_path = "/tmp/nsqd"
mem_queue_size = 10000
max_bytes_per_file = 104857600
sync_every = 2500
sync_timeout = "2s"
msg_timeout = "60s"
max_msg_timeout = "15m"
max_msg_size = 1048576
max_req_timeout = "1h"
max_body_size = 5242880
max_heartbeat_interval = "60s"
max_rdy_count = 2500
max_output_buffer_size = 65536
max_output_buffer_timeout = "1s"
statsd_prefix = "nsq.%s"
statsd_interval = "60s"
statsd_mem_stats = true
e2e_processing_latency_percentiles = [1.0, 0.99, 0.95]
e2e_processing_latency_window_time = "10m"
tls_required = false
tls_min_version = ""
deflate = true
max_deflate_level = 6
snappy = true
node_id = 12
""",
    )
    print("seed corpora written under", CORPUS)


if __name__ == "__main__":
    main()
