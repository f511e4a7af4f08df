"""pynsq over TLS: owns the TLS tests. A certificate for 127.0.0.1 is made with openssl;
nsqd requires TLS on TCP (--tls-required=tcp-https); a TLS Writer and Reader (plain and
with snappy on top) move messages, the server certificate is verified against that
certificate, and /stats reports the TLS session.
"""

import ssl
import subprocess
import uuid

import pytest

import nsq

from nsqd_harness import (
    PubTracker,
    close_clients,
    find_channel,
    run_until,
    wait_channel_subscribed,
    wait_writer_ready,
)

N_MESSAGES = 200


@pytest.fixture
def tls_nsqd(nsqd_factory, tmp_path):
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    n = nsqd_factory("--tls-cert=%s" % cert, "--tls-key=%s" % key,
                     "--https-address=127.0.0.1:0", "--tls-required=tcp-https")
    return n, str(cert)


@pytest.mark.parametrize("snappy", [False, True])
def test_tls_pubsub(tls_nsqd, io_loop, snappy):
    nsqd, cert = tls_nsqd
    tls_options = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cert}
    opts = {"tls_v1": True, "tls_options": tls_options, "snappy": snappy}
    topic = "pynsq_tls_%s" % uuid.uuid4().hex[:10]
    channel = "ch"
    expected = {b"tls-%d" % i for i in range(N_MESSAGES)}
    received = set()

    def handler(message):
        received.add(bytes(message.body))
        return True

    reader = nsq.Reader(topic=topic, channel=channel, message_handler=handler,
                        nsqd_tcp_addresses=[nsqd.tcp_address], max_in_flight=50, **opts)
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0, **opts)
    try:
        wait_writer_ready(io_loop, writer)
        stats = wait_channel_subscribed(io_loop, nsqd, topic, channel)
        tracker = PubTracker()
        for body in sorted(expected):
            writer.pub(topic, body, callback=tracker.callback(1, "pub"))
        run_until(io_loop,
                  lambda: tracker.errors or (tracker.done() and received >= expected),
                  30.0, "all %d messages over TLS (got %d)" % (N_MESSAGES, len(received)))
        assert not tracker.errors, "publish errors: %s" % tracker.describe_errors()
        assert received == expected
        stats = wait_channel_subscribed(io_loop, nsqd, topic, channel)
        clients = find_channel(stats, topic, channel)["clients"] or []
        assert clients and all(
            c["tls"] is True and c["tls_version"].startswith("TLS1.") and c["snappy"] is snappy
            for c in clients), "/stats does not show the TLS session: %r" % clients
    finally:
        close_clients(io_loop, reader, writer)


def test_plain_client_refused_when_tls_required(tls_nsqd, io_loop):
    nsqd, _ = tls_nsqd
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0)
    try:
        wait_writer_ready(io_loop, writer)
        tracker = PubTracker()
        writer.pub("pynsq_tls_plain", b"x", callback=tracker.callback(1, "pub"))
        run_until(io_loop, lambda: tracker.errors or tracker.done(), 10.0, "publish reply")
        assert tracker.errors, "a plain PUB was accepted although TLS is required"
        assert "TLS required" in tracker.describe_errors()
    finally:
        close_clients(io_loop, writer)
