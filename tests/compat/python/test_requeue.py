"""pynsq requeue behaviour: owns the REQ test (handler returning False -> REQ with
pynsq's requeue_delay*attempts delay plus backoff, and explicit
message.requeue(backoff=False, delay=0)), redelivery attempts, the "not earlier than"
check for delayed REQ, and the channel requeue_count in /stats.
"""

import time
import uuid

import nsq

from nsqd_harness import (
    PubTracker,
    close_clients,
    find_channel,
    run_until,
    wait_channel_subscribed,
    wait_stats,
    wait_writer_ready,
)

N_MESSAGES = 500
REQUEUE_DELAY_S = 1  # pynsq: REQ timeout = requeue_delay * attempts * 1000 ms (int seconds)
TOLERANCE_S = 0.1


def test_requeue(nsqd, io_loop):
    topic = "pynsq_requeue_%s" % uuid.uuid4().hex[:10]
    channel = "ch"
    bodies = [b"%06d" % i for i in range(N_MESSAGES)]
    auto_req = {b for i, b in enumerate(bodies) if i % 20 == 0}  # handler returns False
    explicit_req = {b for i, b in enumerate(bodies) if i % 20 == 10}  # requeue(backoff=False)
    finished = set()
    deliveries = {}  # body -> [(monotonic time, attempts)]
    req_sent_at = {}  # body -> monotonic time the handler decided to REQ
    failures = []

    def handler(message):
        body = bytes(message.body)
        deliveries.setdefault(body, []).append((time.monotonic(), message.attempts))
        if message.attempts == 1 and body in auto_req:
            req_sent_at[body] = time.monotonic()
            return False  # pynsq sends REQ <id> 1000 and enters (short) backoff
        if message.attempts == 1 and body in explicit_req:
            req_sent_at[body] = time.monotonic()
            message.requeue(backoff=False, delay=0)  # REQ <id> 0
            return None
        if body in finished:
            failures.append("finished twice: %r" % body)
        finished.add(body)
        return True

    reader = nsq.Reader(
        topic=topic,
        channel=channel,
        message_handler=handler,
        nsqd_tcp_addresses=[nsqd.tcp_address],
        max_in_flight=50,
        requeue_delay=REQUEUE_DELAY_S,
        max_backoff_duration=0.5,
        max_tries=0,  # never give up
    )
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
    try:
        wait_writer_ready(io_loop, writer)
        wait_channel_subscribed(io_loop, nsqd, topic, channel)
        tracker = PubTracker()
        for i in range(0, N_MESSAGES, 100):
            writer.mpub(topic, bodies[i:i + 100], callback=tracker.callback(len(bodies[i:i + 100])))

        run_until(
            io_loop,
            lambda: tracker.errors or (tracker.done() and len(finished) >= N_MESSAGES),
            30.0,
            "all %d messages to be finished (finished %d, REQs %d)"
            % (N_MESSAGES, len(finished), len(req_sent_at)),
        )
        assert not tracker.errors, "publish errors: %s" % tracker.describe_errors()
        assert finished == set(bodies)
        assert not failures, failures[:5]
        requeued = auto_req | explicit_req
        assert set(req_sent_at) == requeued

        for body in sorted(requeued):
            seen = deliveries[body]
            assert len(seen) >= 2, "requeued message %r delivered only %r" % (body, seen)
            assert seen[0][1] == 1, "first delivery of %r had attempts %r" % (body, seen)
            assert all(a >= 2 for _, a in seen[1:]), (
                "redelivery of requeued %r must have attempts >= 2: %r" % (body, seen))
        for body in sorted(auto_req):
            gap = deliveries[body][1][0] - req_sent_at[body]
            assert gap >= REQUEUE_DELAY_S - TOLERANCE_S, (
                "message %r REQ'd with %d ms delay came back after only %.3fs"
                % (body, REQUEUE_DELAY_S * 1000, gap))
        extra = sum(len(deliveries[b]) - (2 if b in requeued else 1) for b in bodies)
        print("requeued %d (%d delayed, %d immediate); extra deliveries %d"
              % (len(requeued), len(auto_req), len(explicit_req), extra))

        def drained(s):
            c = find_channel(s, topic, channel)
            return (c is not None and c["depth"] == 0 and c["in_flight_count"] == 0
                    and c["deferred_count"] == 0)

        stats = wait_stats(io_loop, nsqd.http_address, topic, drained, 15.0,
                           "channel depth/in_flight/deferred all 0")
        c = find_channel(stats, topic, channel)
        print("stats: requeue_count=%s timeout_count=%s message_count=%s"
              % (c["requeue_count"], c["timeout_count"], c["message_count"]))
        assert c["requeue_count"] == len(requeued)
        assert c["message_count"] == N_MESSAGES
    finally:
        close_clients(io_loop, reader, writer)
