"""A real Prometheus server (Debian's `prometheus`, $PROMETHEUS_BIN or /usr/bin/prometheus)
scraping our nsqd and nsqlookupd on loopback every second, answering PromQL queries
through its HTTP API: `up`, `nsq_channel_depth`, the change and `rate()` of
`nsq_topic_messages_total` across two publishes, and nsqlookupd's producers. Skipped
only when the binary is absent outside CI ($CI unset); in CI its absence fails.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from metrics_harness import post, skip_if_reference, start_pair, wait_for

TOPIC = "prom"
SCRAPE_DEADLINE = 30.0  # start-up plus a few 1 s scrapes, with a wide margin


def prometheus_bin():
    path = os.environ.get("PROMETHEUS_BIN") or shutil.which("prometheus") \
        or "/usr/bin/prometheus"
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    msg = ("no prometheus binary (%s): `apt-get install -y prometheus` "
           "(.ci/run installs it)" % path)
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus(object):
    def __init__(self, binary, tmp_path, targets):
        self.addr = "127.0.0.1:%d" % free_port()
        config = tmp_path / "prometheus.yml"
        jobs = "".join(
            "  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n" % (job, t)
            for job, t in targets)
        config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                          "scrape_configs:\n" + jobs)
        self.log = open(str(tmp_path / "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--config.file=%s" % config,
             "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
             "--web.listen-address=%s" % self.addr],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = str(tmp_path / "prometheus.log")

    def ready(self):
        assert self.proc.poll() is None, "prometheus exited:\n" + self.output()
        try:
            with urllib.request.urlopen("http://%s/-/ready" % self.addr, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, promql):
        """An instant query: [(labels, float value)]."""
        url = "http://%s/api/v1/query?%s" % (self.addr, urllib.parse.urlencode({"query": promql}))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.loads(r.read().decode("utf-8"))
        assert body["status"] == "success", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def test_prometheus_scrapes_nsqd_and_nsqlookupd(nsqd_bin, tmp_path, request):
    skip_if_reference(nsqd_bin)
    binary = prometheus_bin()
    pair = start_pair(nsqd_bin, tmp_path)
    request.node._nsqd_procs = pair.procs
    n, l = pair.nsqd, pair.lookupd
    post(n.http_address, "/topic/create?topic=%s" % TOPIC)
    post(n.http_address, "/channel/create?topic=%s&channel=ch" % TOPIC)
    post(n.http_address, "/mpub?topic=%s" % TOPIC, b"\n".join(b"a%d" % i for i in range(5)))

    prom = Prometheus(binary, tmp_path, [("nsqd", n.http_address), ("nsqlookupd", l.http_address)])
    try:
        try:
            wait_for(prom.ready, SCRAPE_DEADLINE, "prometheus /-/ready", poll=0.2)

            def one(promql, want):
                def probe():
                    r = prom.query(promql)
                    return len(r) == 1 and r[0][1] == want and r
                return wait_for(probe, SCRAPE_DEADLINE, "%s == %s" % (promql, want), poll=0.2)

            one('up{job="nsqd"}', 1)
            one('up{job="nsqlookupd"}', 1)
            labels, _ = one('nsq_channel_depth{topic="%s"}' % TOPIC, 5)[0]
            assert labels["channel"] == "ch" and labels["job"] == "nsqd", labels
            one('nsq_topic_messages_total{topic="%s"}' % TOPIC, 5)

            # Five more: the counter's change over the last minute is exactly 5 and its
            # rate is positive once both values are in the range.
            post(n.http_address, "/mpub?topic=%s" % TOPIC,
                 b"\n".join(b"b%d" % i for i in range(5)))
            one('nsq_topic_messages_total{topic="%s"}' % TOPIC, 10)
            sel = 'nsq_topic_messages_total{topic="%s"}[1m]' % TOPIC
            one("max_over_time(%s) - min_over_time(%s)" % (sel, sel), 5)
            rate = prom.query("rate(%s)" % sel)
            assert len(rate) == 1 and rate[0][1] > 0, rate
            one('nsq_channel_depth{topic="%s",channel="ch"}' % TOPIC, 10)

            one('nsq_lookupd_producers{job="nsqlookupd"}', 1)
            one('nsq_lookupd_channel_producers{topic="%s",channel="ch"}' % TOPIC, 1)
            r = prom.query('process_resident_memory_bytes{job="nsqd"}')
            assert len(r) == 1 and r[0][1] > 0, r
        except AssertionError as e:
            raise AssertionError("%s\n--- prometheus log ---\n%s" % (e, prom.output()))
    finally:
        prom.stop()
        pair.stop()
