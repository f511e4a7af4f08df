"""pynsq end-to-end publish/consume: owns the 10,000-message test (nsq.Writer PUB and
MPUB batches -> nsq.Reader) and the final /stats depth / in-flight checks.
"""

import uuid

import nsq

from nsqd_harness import (
    PubTracker,
    close_clients,
    find_channel,
    find_topic,
    run_until,
    wait_channel_subscribed,
    wait_stats,
    wait_writer_ready,
)

N_MESSAGES = 10000
MPUB_SIZES = [1, 7, 50, 200, 500, 100]
PUB_RUN = 50


def test_writer_reader_10k(nsqd, io_loop):
    topic = "pynsq_pubsub_%s" % uuid.uuid4().hex[:10]
    channel = "ch"
    received = {}  # body -> delivery count
    attempts_seen = []

    def handler(message):
        body = bytes(message.body)
        received[body] = received.get(body, 0) + 1
        attempts_seen.append(message.attempts)
        return True

    reader = nsq.Reader(
        topic=topic,
        channel=channel,
        message_handler=handler,
        nsqd_tcp_addresses=[nsqd.tcp_address],
        max_in_flight=100,
    )
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
    try:
        wait_writer_ready(io_loop, writer)
        wait_channel_subscribed(io_loop, nsqd, topic, channel)

        # Build a deterministic mix of PUB runs and MPUB batches of various sizes.
        bodies = [("%s:%06d" % (topic, i)).encode() for i in range(N_MESSAGES)]
        tracker = PubTracker()
        i = k = n_pub = n_mpub = 0
        while i < N_MESSAGES:
            if k % 2 == 0:
                for b in bodies[i:i + PUB_RUN]:
                    writer.pub(topic, b, callback=tracker.callback(1, "pub"))
                    n_pub += 1
                i += PUB_RUN
            else:
                batch = bodies[i:i + MPUB_SIZES[(k // 2) % len(MPUB_SIZES)]]
                writer.mpub(topic, batch, callback=tracker.callback(len(batch), "mpub"))
                n_mpub += 1
                i += len(batch)
            k += 1
        print("sent %d PUB and %d MPUB commands" % (n_pub, n_mpub))

        run_until(
            io_loop,
            lambda: tracker.errors or (tracker.done() and len(received) >= N_MESSAGES),
            45.0,
            "all publish callbacks and all %d messages (got %d callbacks/%d, %d unique msgs)"
            % (N_MESSAGES, tracker.acked_cmds, tracker.sent_cmds, len(received)),
        )
        assert not tracker.errors, "publish errors: %s" % tracker.describe_errors()
        assert tracker.acked_msgs == N_MESSAGES
        missing = set(bodies) - set(received)
        assert not missing, "%d messages never arrived, e.g. %r" % (len(missing), sorted(missing)[:5])
        unexpected = set(received) - set(bodies)
        assert not unexpected, "unexpected bodies: %r" % sorted(unexpected)[:5]
        duplicates = sum(c - 1 for c in received.values())
        print("received %d unique messages, %d duplicate deliveries, max attempts %d"
              % (len(received), duplicates, max(attempts_seen)))

        def drained(s):
            c = find_channel(s, topic, channel)
            return (c is not None and c["depth"] == 0 and c["in_flight_count"] == 0
                    and c["deferred_count"] == 0)

        stats = wait_stats(io_loop, nsqd.http_address, topic, drained, 15.0,
                           "channel depth 0, in_flight_count 0, deferred_count 0")
        t = find_topic(stats, topic)
        c = find_channel(stats, topic, channel)
        print("stats: topic message_count=%s channel message_count=%s timeout_count=%s "
              "requeue_count=%s" % (t["message_count"], c["message_count"],
                                    c["timeout_count"], c["requeue_count"]))
        assert t["message_count"] == N_MESSAGES
        assert c["message_count"] == N_MESSAGES
        assert t["depth"] == 0
    finally:
        close_clients(io_loop, reader, writer)
