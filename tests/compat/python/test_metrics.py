"""/metrics on nsqd and nsqlookupd, parsed by prometheus_client's text parser after known
traffic, each value checked against what /stats (nsqd) and /topics, /channels, /nodes,
/lookup (nsqlookupd) say at the same moment: depths, message counters, in-flight,
deferred, requeues, clients, paused, e2e quantiles; counters that stay monotonic across
/channel/empty as Go's do; and /metrics on nsqd's HTTPS listener. Daemons: $NSQD_BIN, $NSQLOOKUPD_BIN (ours).
"""

import re
import ssl
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from metrics_harness import (
    CONTENT_TYPE,
    RawConsumer,
    get_json,
    post,
    scrape,
    skip_if_reference,
    start_pair,
    value,
    wait_for,
)
from nsqd_harness import find_channel, get_stats

TOPIC = "metrics"
OTHER = "metrics_other"


@pytest.fixture
def pair(nsqd_bin, tmp_path, request):
    skip_if_reference(nsqd_bin)
    p = start_pair(nsqd_bin, tmp_path,
                   ["--e2e-processing-latency-percentile=0.5,0.99", "--mem-queue-size=4"])
    request.node._nsqd_procs = p.procs
    yield p
    p.stop()


def check_against_stats(samples, stats):
    """Every topic and channel of /stats has the same numbers in /metrics."""
    topics = stats["topics"]
    assert value(samples, "nsq_topics") == len(topics)
    assert value(samples, "nsq_channels") == sum(len(t["channels"]) for t in topics)
    for t in topics:
        name = t["topic_name"]
        for metric, key in (("nsq_topic_depth", "depth"),
                            ("nsq_topic_backend_depth", "backend_depth"),
                            ("nsq_topic_messages_total", "message_count"),
                            ("nsq_topic_message_bytes_total", "message_bytes")):
            assert value(samples, metric, topic=name) == t[key], (metric, name)
        assert value(samples, "nsq_topic_paused", topic=name) == int(t["paused"])
        assert value(samples, "nsq_topic_channels", topic=name) == len(t["channels"])
        for c in t["channels"]:
            labels = dict(topic=name, channel=c["channel_name"])
            for metric, key in (("nsq_channel_depth", "depth"),
                                ("nsq_channel_backend_depth", "backend_depth"),
                                ("nsq_channel_in_flight", "in_flight_count"),
                                ("nsq_channel_deferred", "deferred_count"),
                                ("nsq_channel_messages_total", "message_count"),
                                ("nsq_channel_requeued_total", "requeue_count"),
                                ("nsq_channel_timed_out_total", "timeout_count")):
                assert value(samples, metric, **labels) == c[key], (metric, labels)
            assert value(samples, "nsq_channel_clients", **labels) == len(c["clients"])
            assert value(samples, "nsq_channel_paused", **labels) == int(c["paused"])
            for p in c["e2e_processing_latency"]["percentiles"] or []:
                q = p["quantile"]
                got = value(samples, "nsq_channel_e2e_processing_latency_seconds",
                            quantile=str(q), **labels)
                assert got == pytest.approx(p["value"] / 1e9), (labels, q)


def create(addr, topic, channel):
    post(addr, "/topic/create?topic=%s" % topic)
    post(addr, "/channel/create?topic=%s&channel=%s" % (topic, channel))


def test_nsqd_metrics_match_stats(pair):
    n = pair.nsqd
    create(n.http_address, TOPIC, "work")
    create(n.http_address, TOPIC, "idle")
    create(n.http_address, OTHER, "held")
    post(n.http_address, "/channel/pause?topic=%s&channel=held" % OTHER)
    # 10 messages: 4 in memory, 6 on disk (--mem-queue-size=4) in each channel.
    post(n.http_address, "/mpub?topic=%s" % TOPIC, b"\n".join(b"m%d" % i for i in range(10)))
    post(n.http_address, "/pub?topic=%s" % OTHER, b"x" * 100)

    c = RawConsumer(n.tcp_address)
    try:
        c.subscribe(TOPIC, "work")
        c.command("RDY 4")
        ids = c.message_ids(4)
        c.command("RDY 0")  # no more deliveries: in-flight is now exact
        c.command("FIN %s" % ids[0])
        c.command("REQ %s 60000" % ids[1])  # deferred for a minute
        c.command("NOP")

        def settled():
            ch = find_channel(get_stats(n.http_address), TOPIC, "work")
            return ch["in_flight_count"] == 2 and ch["deferred_count"] == 1 and ch
        ch = wait_for(settled, 10, "2 in flight and 1 deferred in /stats")
        assert ch["requeue_count"] == 1 and ch["message_count"] == 10
        assert ch["depth"] == 6 and ch["backend_depth"] > 0

        stats = get_stats(n.http_address)
        families, samples = scrape(n.http_address)
        check_against_stats(samples, stats)
        assert value(samples, "nsq_connections") == 1
        assert value(samples, "nsq_channel_clients", topic=TOPIC, channel="work") == 1
        assert value(samples, "nsq_channel_paused", topic=OTHER, channel="held") == 1
        assert value(samples, "nsq_topic_messages_total", topic=TOPIC) == 10
        assert value(samples, "nsq_healthy") == 1
        assert value(samples, "nsq_uptime_seconds") >= 0
        for name in ("process_resident_memory_bytes", "process_open_fds",
                     "process_start_time_seconds"):
            assert value(samples, name) > 0, name
        assert families["nsq_channel_messages"].type == "counter"
        assert families["nsq_channel_depth"].type == "gauge"

        # FIN the rest: the e2e window gets samples, one per configured quantile.
        c.command("FIN %s" % ids[2])
        c.command("FIN %s" % ids[3])
        wait_for(lambda: find_channel(get_stats(n.http_address), TOPIC, "work")
                 ["in_flight_count"] == 0, 10, "in-flight 0")
        stats = get_stats(n.http_address)
        _, samples = scrape(n.http_address)
        check_against_stats(samples, stats)
        qs = sorted(dict(k[1])["quantile"] for k in samples
                    if k[0] == "nsq_channel_e2e_processing_latency_seconds"
                    and dict(k[1]).get("channel") == "work")
        assert qs == ["0.5", "0.99"], qs
    finally:
        c.close()

    # Emptying a channel: depth goes to 0, the counters stay (as Go's do).
    post(n.http_address, "/channel/empty?topic=%s&channel=idle" % TOPIC)
    stats = get_stats(n.http_address)
    _, samples = scrape(n.http_address)
    check_against_stats(samples, stats)
    assert value(samples, "nsq_channel_depth", topic=TOPIC, channel="idle") == 0
    assert value(samples, "nsq_channel_messages_total", topic=TOPIC, channel="idle") == 10


def test_lookupd_metrics_match_registry(pair):
    n, l = pair.nsqd, pair.lookupd
    for t, ch in ((TOPIC, "a"), (TOPIC, "b"), (OTHER, "c")):
        create(n.http_address, t, ch)

    def registered():
        chans = get_json(l.http_address, "/channels?topic=%s" % TOPIC)["channels"]
        return sorted(chans) == ["a", "b"] and \
            get_json(l.http_address, "/channels?topic=%s" % OTHER)["channels"] == ["c"]
    wait_for(registered, 10, "nsqd's topics and channels registered with nsqlookupd")

    topics = get_json(l.http_address, "/topics")["topics"]
    nodes = get_json(l.http_address, "/nodes")["producers"]
    _, samples = scrape(l.http_address)
    assert value(samples, "nsq_lookupd_registrations", category="topic") == len(topics) == 2
    channels = sum(len(get_json(l.http_address, "/channels?topic=%s" % t)["channels"])
                   for t in topics)
    assert value(samples, "nsq_lookupd_registrations", category="channel") == channels == 3
    assert value(samples, "nsq_lookupd_registrations", category="client") == 1
    assert value(samples, "nsq_lookupd_producers") == len(nodes) == 1
    assert value(samples, "nsq_connections") == 1
    for t in topics:
        producers = get_json(l.http_address, "/lookup?topic=%s" % t)["producers"]
        assert value(samples, "nsq_lookupd_topic_producers", topic=t) == len(producers) == 1
        assert value(samples, "nsq_lookupd_topic_tombstoned_producers", topic=t) == 0
    assert value(samples, "nsq_lookupd_channel_producers", topic=TOPIC, channel="a") == 1

    # A tombstone shows; /lookup then leaves the producer out.
    node = "%s:%d" % (nodes[0]["broadcast_address"], nodes[0]["http_port"])
    post(l.http_address, "/topic/tombstone?topic=%s&node=%s" % (OTHER, node))
    _, samples = scrape(l.http_address)
    assert value(samples, "nsq_lookupd_topic_tombstoned_producers", topic=OTHER) == 1
    assert get_json(l.http_address, "/lookup?topic=%s" % OTHER)["producers"] == []


def test_nsqd_metrics_over_https(nsqd_bin, nsqd_factory, tmp_path):
    skip_if_reference(nsqd_bin)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    n = nsqd_factory("--tls-cert=%s" % cert, "--tls-key=%s" % key,
                     "--https-address=127.0.0.1:0")
    post(n.http_address, "/topic/create?topic=%s" % TOPIC)
    m = wait_for(lambda: re.search(r"HTTPS: listening on (\S+):(\d+)", n.output()), 10,
                 "the HTTPS listening line")
    url = "https://127.0.0.1:%s/metrics" % m.group(2)
    ctx = ssl.create_default_context(cafile=str(cert))
    with urllib.request.urlopen(url, timeout=10, context=ctx) as resp:
        assert resp.status == 200
        assert resp.headers.get("Content-Type") == CONTENT_TYPE
        text = resp.read().decode("utf-8")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert value(samples, "nsq_topics") == 1
    assert value(samples, "nsq_topic_depth", topic=TOPIC) == 0
