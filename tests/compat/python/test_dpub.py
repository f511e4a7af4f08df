"""pynsq deferred publish: owns the Writer.dpub test (20 messages with a 1500 ms delay:
none may arrive earlier than delay-100ms after it was published, all must arrive).
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

N_MESSAGES = 20
DELAY_MS = 1500
TOLERANCE_MS = 100


def test_dpub(nsqd, io_loop):
    topic = "pynsq_dpub_%s" % uuid.uuid4().hex[:10]
    channel = "ch"
    received = {}  # body -> (monotonic receive time, attempts)

    def handler(message):
        received.setdefault(bytes(message.body), (time.monotonic(), message.attempts))
        return True

    reader = nsq.Reader(
        topic=topic,
        channel=channel,
        message_handler=handler,
        nsqd_tcp_addresses=[nsqd.tcp_address],
        max_in_flight=50,
    )
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
    try:
        wait_writer_ready(io_loop, writer)
        wait_channel_subscribed(io_loop, nsqd, topic, channel)

        tracker = PubTracker()
        published_at = {}
        for i in range(N_MESSAGES):
            body = b"deferred-%03d" % i
            published_at[body] = time.monotonic()  # taken before the DPUB is sent
            writer.dpub(topic, DELAY_MS, body, callback=tracker.callback(1, "dpub"))

        run_until(
            io_loop,
            lambda: tracker.errors or (tracker.done() and len(received) >= N_MESSAGES),
            DELAY_MS / 1000.0 + 20.0,
            "all %d deferred messages (got %d, %d/%d callbacks)"
            % (N_MESSAGES, len(received), tracker.acked_cmds, tracker.sent_cmds),
        )
        assert not tracker.errors, "DPUB errors: %s" % tracker.describe_errors()
        assert set(received) == set(published_at)
        gaps = {}
        for body, (t_recv, attempts) in sorted(received.items()):
            gaps[body] = (t_recv - published_at[body]) * 1000.0
            assert attempts == 1, "%r arrived with attempts %d" % (body, attempts)
        early = {b: round(g) for b, g in gaps.items() if g < DELAY_MS - TOLERANCE_MS}
        assert not early, "deferred messages arrived early (ms after DPUB): %r" % early
        print("DPUB %d ms: arrival after %.0f..%.0f ms"
              % (DELAY_MS, min(gaps.values()), max(gaps.values())))

        def drained(s):
            c = find_channel(s, topic, channel)
            return (c is not None and c["depth"] == 0 and c["in_flight_count"] == 0
                    and c["deferred_count"] == 0)

        stats = wait_stats(io_loop, nsqd.http_address, topic, drained, 15.0,
                           "channel depth/in_flight/deferred all 0")
        assert find_channel(stats, topic, channel)["message_count"] == N_MESSAGES
    finally:
        close_clients(io_loop, reader, writer)
