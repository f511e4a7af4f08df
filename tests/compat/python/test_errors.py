"""pynsq error handling: owns the --max-msg-size test (a PUB of max+1 bytes yields
E_BAD_MESSAGE in the Writer callback, a PUB of exactly max bytes succeeds, and a fresh
Writer afterwards still publishes; only the accepted messages are counted in /stats).
"""

import uuid

import pytest

import nsq

from nsqd_harness import (
    PubTracker,
    close_clients,
    find_topic,
    run_until,
    wait_stats,
    wait_writer_ready,
)

MAX_MSG_SIZE = 1000


def _error_text(err):
    arg = err.args[0] if getattr(err, "args", None) else err
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "replace")
    return str(arg)


@pytest.mark.nsqd_args("--max-msg-size=%d" % MAX_MSG_SIZE)
def test_oversize_pub_gives_bad_message(nsqd, io_loop):
    topic = "pynsq_errors_%s" % uuid.uuid4().hex[:10]
    writers = []
    try:
        w1 = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
        writers.append(w1)
        wait_writer_ready(io_loop, w1)

        ok = PubTracker()
        w1.pub(topic, b"m" * MAX_MSG_SIZE, callback=ok.callback(1, "pub max size"))
        run_until(io_loop, ok.done, 10.0, "callback of PUB with exactly max-msg-size bytes")
        assert not ok.errors, "PUB of exactly --max-msg-size bytes failed: %s" % ok.describe_errors()

        results = []
        w1.pub(topic, b"x" * (MAX_MSG_SIZE + 1), callback=lambda conn, data: results.append(data))
        run_until(io_loop, lambda: results, 10.0, "callback of oversize PUB")
        err = results[0]
        assert isinstance(err, nsq.Error), "oversize PUB was accepted: %r" % (err,)
        text = _error_text(err)
        assert text.startswith("E_BAD_MESSAGE"), "expected E_BAD_MESSAGE, got %r" % text
        print("oversize PUB -> %r" % text)

        w2 = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
        writers.append(w2)
        wait_writer_ready(io_loop, w2)
        after = PubTracker()
        w2.pub(topic, b"after-error", callback=after.callback(1, "pub"))
        w2.mpub(topic, [b"after-1", b"after-2"], callback=after.callback(2, "mpub"))
        run_until(io_loop, after.done, 10.0, "publishes from a fresh Writer")
        assert not after.errors, "fresh Writer failed: %s" % after.describe_errors()

        stats = wait_stats(
            io_loop, nsqd.http_address, topic,
            lambda s: (find_topic(s, topic) or {}).get("message_count") == 4,
            10.0, "topic message_count == 4 (1 max-size + 3 after the error)")
        assert find_topic(stats, topic)["message_count"] == 4
    finally:
        close_clients(io_loop, *writers)
