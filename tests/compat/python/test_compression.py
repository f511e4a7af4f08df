"""pynsq stream compression: owns the snappy and deflate tests (IDENTIFY feature
negotiation must answer true -> otherwise FAIL; a compressed Writer and a compressed
Reader move a few hundred messages of mixed size/compressibility byte-for-byte).
Only the snappy case may be skipped, and only if python-snappy is not installed.
"""

import random
import uuid

import pytest

import nsq
import nsq.conn

from nsqd_harness import (
    PubTracker,
    close_clients,
    find_channel,
    run_until,
    wait_channel_subscribed,
    wait_stats,
    wait_writer_ready,
)

N_MESSAGES = 300
DEFLATE_LEVEL = 3


class RecordingReader(nsq.Reader):
    def __init__(self, *args, **kwargs):
        super(RecordingReader, self).__init__(*args, **kwargs)
        self.identify_responses = []

    def _on_connection_identify_response(self, conn, data, **kwargs):
        self.identify_responses.append(data)
        return super(RecordingReader, self)._on_connection_identify_response(conn, data, **kwargs)


class RecordingWriter(nsq.Writer):
    def __init__(self, *args, **kwargs):
        super(RecordingWriter, self).__init__(*args, **kwargs)
        self.identify_responses = []

    def _on_connection_identify_response(self, conn, data, **kwargs):
        self.identify_responses.append(data)
        return super(RecordingWriter, self)._on_connection_identify_response(conn, data, **kwargs)


def make_bodies(seed):
    rnd = random.Random(seed)
    bodies = []
    for i in range(N_MESSAGES):
        head = b"%06d|" % i
        kind = i % 4
        if kind == 0:  # small incompressible
            payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
        elif kind == 1:  # highly compressible, a few KB
            payload = (b"compress-me-%d " % (i % 7)) * rnd.randint(10, 600)
        elif kind == 2:  # tiny
            payload = b"x"
        else:  # larger than one 64 KiB snappy chunk every 15th message, else medium
            n = 70000 + rnd.randint(0, 30000) if i % 15 == 3 else rnd.randint(1000, 9000)
            payload = rnd.randbytes(n // 2) + b"a" * (n - n // 2)
        bodies.append(head + payload)
    return bodies


def _check_identify(responses, feature, who):
    assert responses, (
        "%s: nsqd gave no JSON IDENTIFY response (feature_negotiation was requested)" % who)
    resp = responses[0]
    assert resp.get(feature) is True, (
        "%s: nsqd did not negotiate %s (IDENTIFY response: %r)" % (who, feature, resp))
    other = "deflate" if feature == "snappy" else "snappy"
    assert not resp.get(other), "%s: both compressions negotiated: %r" % (who, resp)
    if feature == "deflate":
        assert resp.get("deflate_level") == DEFLATE_LEVEL, resp


def _check_upgraded(client, feature, who):
    conns = list(client.conns.values())
    assert conns, "%s has no ready connection" % who
    for conn in conns:
        if feature == "snappy":
            assert isinstance(conn.socket, nsq.conn.SnappySocket), (
                "%s did not upgrade its socket to snappy" % who)
        else:
            assert isinstance(conn.socket, nsq.conn.DeflateSocket), (
                "%s did not upgrade its socket to deflate" % who)


@pytest.mark.parametrize("feature", ["snappy", "deflate"])
def test_compressed_pubsub(feature, nsqd, io_loop):
    if feature == "snappy":
        try:
            import snappy  # noqa: F401
        except ImportError as e:
            pytest.skip("python-snappy is not installed (%s); pynsq cannot use snappy" % e)
        assert nsq.conn.SnappySocket is not None, "pynsq failed to import its snappy support"
        opts = {"snappy": True}
    else:
        opts = {"deflate": True, "deflate_level": DEFLATE_LEVEL}

    topic = "pynsq_%s_%s" % (feature, uuid.uuid4().hex[:10])
    channel = "ch"
    bodies = make_bodies(feature)
    expected = {b[:6]: b for b in bodies}
    received = {}
    corrupt = []

    def handler(message):
        body = bytes(message.body)
        key = body[:6]
        if expected.get(key) != body:
            corrupt.append((key, len(body)))
        received[key] = body
        return True

    reader = RecordingReader(
        topic=topic,
        channel=channel,
        message_handler=handler,
        nsqd_tcp_addresses=[nsqd.tcp_address],
        max_in_flight=50,
        **opts
    )
    writer = RecordingWriter([nsqd.tcp_address], reconnect_interval=60.0, **opts)
    try:
        wait_writer_ready(io_loop, writer)
        _check_identify(writer.identify_responses, feature, "Writer")
        _check_upgraded(writer, feature, "Writer")
        run_until(io_loop, lambda: reader.conns, 10.0, "Reader connection to become ready")
        _check_identify(reader.identify_responses, feature, "Reader")
        _check_upgraded(reader, feature, "Reader")
        stats = wait_channel_subscribed(io_loop, nsqd, topic, channel)
        clients = find_channel(stats, topic, channel)["clients"] or []
        assert clients and all(c.get(feature) is True for c in clients), (
            "/stats does not show %s=true for the consumer: %r" % (feature, clients))

        tracker = PubTracker()
        i = 0
        while i < N_MESSAGES:
            if i % 40 < 20:
                writer.pub(topic, bodies[i], callback=tracker.callback(1, "pub"))
                i += 1
            else:
                batch = bodies[i:i + 10]
                writer.mpub(topic, batch, callback=tracker.callback(len(batch), "mpub"))
                i += len(batch)

        run_until(
            io_loop,
            lambda: tracker.errors or corrupt or (tracker.done() and len(received) >= N_MESSAGES),
            30.0,
            "all %d %s-compressed messages (got %d, %d/%d callbacks)"
            % (N_MESSAGES, feature, len(received), tracker.acked_cmds, tracker.sent_cmds),
        )
        assert not tracker.errors, "publish errors: %s" % tracker.describe_errors()
        assert not corrupt, "corrupted bodies (key, length): %r" % corrupt[:5]
        assert received == expected

        def drained(s):
            c = find_channel(s, topic, channel)
            return c is not None and c["depth"] == 0 and c["in_flight_count"] == 0

        stats = wait_stats(io_loop, nsqd.http_address, topic, drained, 15.0,
                           "channel depth/in_flight 0")
        producers = stats.get("producers") or []
        assert producers and all(p.get(feature) is True for p in producers), (
            "/stats producers do not show %s=true: %r" % (feature, producers))
    finally:
        close_clients(io_loop, reader, writer)
