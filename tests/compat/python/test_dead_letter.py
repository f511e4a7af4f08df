"""nsqd's max attempts as pynsq sees it (beyond Go nsqd, opt-in with --max-attempts):
a Reader with max_tries=0 (pynsq never gives up itself) whose handler always REQs gets
each message exactly 3 times with --max-attempts=3; then a Reader of "<topic>.dead" gets
every message once, with its ID, timestamp and attempts 3, and /stats counts them in
the channel's dead_letter_count.
"""

import uuid

import nsq
import pytest

from nsqd_harness import (
    PubTracker,
    close_clients,
    find_channel,
    run_until,
    wait_channel_subscribed,
    wait_stats,
    wait_writer_ready,
)

N_MESSAGES = 40
MAX_ATTEMPTS = 3


@pytest.mark.nsqd_args("--max-attempts=%d" % MAX_ATTEMPTS)
def test_max_attempts_dead_letter(nsqd, io_loop):
    topic = "pynsq_dlq_%s" % uuid.uuid4().hex[:10]
    channel = "ch"
    bodies = [b"dlq-%04d" % i for i in range(N_MESSAGES)]
    deliveries = {}  # body -> [(id, timestamp, attempts)]

    def handler(message):
        body = bytes(message.body)
        deliveries.setdefault(body, []).append(
            (message.id, message.timestamp, message.attempts))
        message.requeue(backoff=False, delay=0)  # always REQ <id> 0
        return None

    reader = nsq.Reader(
        topic=topic,
        channel=channel,
        message_handler=handler,
        nsqd_tcp_addresses=[nsqd.tcp_address],
        max_in_flight=10,
        max_tries=0,  # never give up client-side
    )
    dead_reader = None
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
    try:
        wait_writer_ready(io_loop, writer)
        wait_channel_subscribed(io_loop, nsqd, topic, channel)
        tracker = PubTracker()
        writer.mpub(topic, bodies, callback=tracker.callback(len(bodies)))

        def all_dead(s):
            c = find_channel(s, topic, channel)
            return (c is not None and c.get("dead_letter_count") == N_MESSAGES
                    and c["depth"] == 0 and c["in_flight_count"] == 0
                    and c["deferred_count"] == 0)

        stats = wait_stats(io_loop, nsqd.http_address, topic, all_dead, 30.0,
                           "every message dead-lettered")
        assert not tracker.errors, tracker.describe_errors()
        c = find_channel(stats, topic, channel)
        assert c["max_attempts"] == MAX_ATTEMPTS
        for body in bodies:
            attempts = [a for _, _, a in deliveries.get(body, [])]
            assert attempts == [1, 2, 3], "%r delivered with attempts %r" % (body, attempts)

        dead = {}

        def dead_handler(message):
            dead[bytes(message.body)] = (message.id, message.timestamp, message.attempts)
            return True

        dead_reader = nsq.Reader(
            topic=topic + ".dead",
            channel="drain",
            message_handler=dead_handler,
            nsqd_tcp_addresses=[nsqd.tcp_address],
            max_in_flight=10,
        )
        run_until(io_loop, lambda: len(dead) >= N_MESSAGES, 20.0,
                  "all %d messages from %s.dead (got %d)" % (N_MESSAGES, topic, len(dead)))
        assert set(dead) == set(bodies)
        for body in bodies:
            msg_id, ts, _ = deliveries[body][0]
            assert dead[body] == (msg_id, ts, MAX_ATTEMPTS), (body, dead[body])
    finally:
        close_clients(io_loop, reader, dead_reader, writer)
