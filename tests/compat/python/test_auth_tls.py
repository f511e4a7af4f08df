"""AUTH over TLS as Go nsqd v1.3.0 does it: the auth server is reached over https
(--auth-http-address=https://..., verified with --tls-root-ca-file), and the query carries
common_name, the subject CN of the client's certificate (--tls-client-auth-policy=
require-verify). A CA, a server certificate for 127.0.0.1 and client certificates for
"alice" and "mallory" are made with openssl; the test auth server grants only alice.
"""

import http.server
import ssl
import subprocess
import threading
import urllib.parse
import uuid

import nsq
import pytest

from nsqd_harness import PubTracker, close_clients, run_until, wait_writer_ready


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path):
    d = tmp_path
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=test-ca", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))

    def issue(name, subj, ext):
        key, csr, pem = d / (name + ".key"), d / (name + ".csr"), d / (name + ".pem")
        (d / (name + ".ext")).write_text(ext)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
                "-keyout", str(key), "-out", str(csr))
        openssl("x509", "-req", "-in", str(csr), "-CA", str(d / "ca.pem"),
                "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "1",
                "-extfile", str(d / (name + ".ext")), "-out", str(pem))
        return str(pem), str(key)

    return {
        "ca": str(d / "ca.pem"),
        "server": issue("server", "/CN=127.0.0.1",
                        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        "alice": issue("alice", "/O=test/CN=alice", "extendedKeyUsage=clientAuth\n"),
        "mallory": issue("mallory", "/CN=mallory", "extendedKeyUsage=clientAuth\n"),
    }


class AuthHandler(http.server.BaseHTTPRequestHandler):
    queries = None  # set per server

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query,
                                  keep_blank_values=True)
        self.server.queries.append(q)
        if q.get("common_name") == ["alice"] and q.get("tls") == ["true"]:
            body = ('{"ttl":3600,"identity":"alice","identity_url":"",'
                    '"authorizations":[{"topic":".*","channels":[".*"],'
                    '"permissions":["publish","subscribe"]}]}')
            self.send_response(200)
        else:
            body = '{"message":"FORBIDDEN"}'
            self.send_response(403)
        data = body.encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def https_auth_server(pki):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AuthHandler)
    srv.queries = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki["server"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def publish_as(io_loop, nsqd, pki, who):
    cert, key = pki[who]
    tls_options = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": pki["ca"],
                   "certfile": cert, "keyfile": key}
    writer = nsq.Writer([nsqd.tcp_address], reconnect_interval=60.0, tls_v1=True,
                        tls_options=tls_options, auth_secret="s3cret")
    tracker = PubTracker()
    try:
        wait_writer_ready(io_loop, writer)
        writer.pub("auth_tls_%s" % uuid.uuid4().hex[:8], b"x", callback=tracker.callback(1))
        run_until(io_loop, lambda: tracker.errors or tracker.done(), 10.0, "PUB reply")
    except AssertionError:
        if not tracker.errors:
            tracker.errors.append(("no answer", None))
    finally:
        close_clients(io_loop, writer)
    return tracker


def test_auth_over_https_gets_the_client_certificate_cn(nsqd_factory, io_loop, pki,
                                                        https_auth_server):
    port = https_auth_server.server_address[1]
    cert, key = pki["server"]
    nsqd = nsqd_factory(
        "--tls-cert=%s" % cert, "--tls-key=%s" % key, "--https-address=127.0.0.1:0",
        "--tls-root-ca-file=%s" % pki["ca"], "--tls-client-auth-policy=require-verify",
        "--tls-required=tcp-https",
        "--auth-http-address=https://127.0.0.1:%d/auth" % port)

    alice = publish_as(io_loop, nsqd, pki, "alice")
    assert not alice.errors, "alice's PUB failed: %s" % alice.describe_errors()
    assert https_auth_server.queries, "the auth server was never asked"
    q = https_auth_server.queries[0]
    assert q["common_name"] == ["alice"] and q["tls"] == ["true"], q
    assert q["secret"] == ["s3cret"] and q["remote_ip"] == ["127.0.0.1"], q

    # mallory's connection: the auth server refuses its CN, so AUTH fails and the
    # connection never becomes ready.
    cert, key = pki["mallory"]
    conn = nsq.AsyncConn(nsqd.tcp_address.split(":")[0], int(nsqd.tcp_address.split(":")[1]),
                         tls_v1=True, auth_secret="s3cret",
                         tls_options={"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": pki["ca"],
                                      "certfile": cert, "keyfile": key})
    seen = {"ready": False, "error": None, "closed": False}
    conn.on("ready", lambda **kw: seen.update(ready=True))
    conn.on("error", lambda **kw: seen.update(error=kw.get("error")))
    conn.on("close", lambda **kw: seen.update(closed=True))
    conn.connect()
    try:
        run_until(io_loop, lambda: seen["ready"] or seen["error"] or seen["closed"], 10.0,
                  "mallory's connection to be refused")
    finally:
        conn.close()
    # nsqd writes E_AUTH_FAILED and closes; pynsq may see the close first.
    assert not seen["ready"] and (seen["error"] or seen["closed"]), "mallory was authorized"
    assert any(q.get("common_name") == ["mallory"] for q in https_auth_server.queries)


class RedirectToHttps(http.server.BaseHTTPRequestHandler):
    """A plain-http auth address that answers 403 naming the https port (as an nsqd-style
    V1 server does when it requires TLS)."""

    def do_GET(self):
        data = ('{"message":"TLS_REQUIRED","https_port":%d}' % self.server.https_port).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_a_403_naming_an_https_port_is_retried_over_https(nsqd_factory, io_loop, pki,
                                                          https_auth_server):
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RedirectToHttps)
    plain.https_port = https_auth_server.server_address[1]
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        cert, key = pki["server"]
        nsqd = nsqd_factory(
            "--tls-cert=%s" % cert, "--tls-key=%s" % key, "--https-address=127.0.0.1:0",
            "--tls-root-ca-file=%s" % pki["ca"], "--tls-client-auth-policy=require-verify",
            "--tls-required=tcp-https",
            "--auth-http-address=127.0.0.1:%d" % plain.server_address[1])
        alice = publish_as(io_loop, nsqd, pki, "alice")
        assert not alice.errors, "alice's PUB failed: %s" % alice.describe_errors()
        assert [q["common_name"] for q in https_auth_server.queries] == [["alice"]]
    finally:
        plain.shutdown()
        plain.server_close()
