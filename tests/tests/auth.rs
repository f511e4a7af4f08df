//! AUTH against an auth server (`--auth-http-address`): a
//! fake auth server on loopback answers per secret and records each query; the tests
//! check the IDENTIFY flag, every AUTH outcome, the per-command checks of PUB and SUB,
//! the query parameters, the TTL refresh and what `/stats` shows.
//!
//! Passes against the Go reference too (`NSQD_BIN=tests/reference/bin/nsqd`), except
//! `post_mode_sends_the_parameters_as_json` (the flag is newer than Go v1.3.0).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nsq_tests::client::Client;
use nsq_tests::harness::{Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use serde_json::json;

/// Answers `GET /auth?...` by secret; records every query string.
struct AuthServer {
    addr: SocketAddr,
    queries: Arc<Mutex<Vec<String>>>,
}

fn reply_for(query: &str) -> (u16, String) {
    let grant = |ttl: u64| {
        json!({
            "ttl": ttl,
            "identity": "alice",
            "identity_url": "http://example/alice",
            "authorizations": [
                {"topic": "^events$", "channels": [".*"], "permissions": ["subscribe", "publish"]},
                {"topic": "^logs$", "channels": ["^$"], "permissions": ["publish"]},
                // Publishing needs a channel regex matching "" (reference quirk): never here.
                {"topic": "^strict$", "channels": ["^archive$"], "permissions": ["publish", "subscribe"]}
            ]
        })
        .to_string()
    };
    if query.contains("secret=good") {
        (200, grant(3600))
    } else if query.contains("secret=short") {
        (200, grant(1))
    } else if query.contains("secret=nulls") {
        // Go's encoding/json reads null as the zero value ("", empty list).
        (
            200,
            json!({
                "ttl": 60,
                "identity": "carol",
                "identity_url": null,
                "authorizations": [
                    {"topic": "^events$", "channels": [null, ".*"], "permissions": ["publish"]},
                    {"topic": null, "channels": null, "permissions": null}
                ]
            })
            .to_string(),
        )
    } else if query.contains("secret=none") {
        (
            200,
            json!({"ttl": 60, "identity": "bob", "authorizations": []}).to_string(),
        )
    } else {
        (403, json!({"message": "FORBIDDEN"}).to_string())
    }
}

impl AuthServer {
    fn start() -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind auth server");
        let addr = listener.local_addr().expect("addr");
        let queries = Arc::new(Mutex::new(Vec::new()));
        let q2 = Arc::clone(&queries);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut content_length = 0usize;
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {
                            let lower = header.to_ascii_lowercase();
                            if let Some(v) = lower.strip_prefix("content-length:") {
                                content_length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                }
                let target = request_line.split_whitespace().nth(1).unwrap_or("");
                let mut query = target.split_once('?').map_or("", |(_, q)| q).to_string();
                if request_line.starts_with("POST ") {
                    // POST mode: a JSON object of one-element arrays; recorded as
                    // "POST <k>=<v>&..." in key order.
                    let mut body = vec![0u8; content_length];
                    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                        continue;
                    }
                    let v: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let pairs: Vec<String> = v
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| format!("{k}={}", v[0].as_str().unwrap_or("?")))
                                .collect()
                        })
                        .unwrap_or_default();
                    query = format!("POST {}", pairs.join("&"));
                }
                q2.lock().expect("lock").push(query.clone());
                let (status, body) = reply_for(&query);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        AuthServer { addr, queries }
    }

    fn queries(&self) -> Vec<String> {
        self.queries.lock().expect("lock").clone()
    }
}

/// Beyond Go v1.3.0 (its main line has it): `--auth-http-request-method=post` sends the
/// parameters as a JSON body of one-element arrays.
#[test]
fn post_mode_sends_the_parameters_as_json() {
    let server = AuthServer::start();
    let (_dir, nsqd) = Nsqd::start_in_temp(
        "auth-post",
        &[
            &format!("--auth-http-address={}", server.addr),
            "--auth-http-request-method=post",
        ],
    );
    let mut c = identified(&nsqd);
    auth(&mut c, "good");
    c.expect_response();
    c.pub_("events", b"x");
    c.expect_ok();
    assert_eq!(
        server.queries(),
        vec!["POST common_name=&remote_ip=127.0.0.1&secret=good&tls=false".to_string()]
    );
}

fn daemon(server: &AuthServer) -> (TempDir, Nsqd) {
    Nsqd::start_in_temp("auth", &[&format!("--auth-http-address={}", server.addr)])
}

fn auth(client: &mut Client, secret: &str) {
    let mut cmd = b"AUTH\n".to_vec();
    cmd.extend_from_slice(&(secret.len() as u32).to_be_bytes());
    cmd.extend_from_slice(secret.as_bytes());
    client.send_raw(&cmd);
}

fn identified(nsqd: &Nsqd) -> Client {
    let mut c = Client::connect(nsqd.tcp_addr());
    c.identify(&json!({"feature_negotiation": true, "client_id": "authed-client"}));
    let reply: serde_json::Value = serde_json::from_slice(&c.expect_response()).expect("json");
    assert_eq!(reply["auth_required"], true, "IDENTIFY reply: {reply}");
    c
}

#[test]
fn auth_flow_and_checks() {
    let server = AuthServer::start();
    let (_dir, nsqd) = daemon(&server);

    // Publishing before AUTH is refused (fatal).
    let mut c = identified(&nsqd);
    c.pub_("events", b"x");
    assert_eq!(
        c.expect_error("E_AUTH_FIRST"),
        "E_AUTH_FIRST AUTH required before PUB"
    );
    c.expect_closed();

    // A good secret: identity reply, then per-topic/channel permissions.
    let mut c = identified(&nsqd);
    auth(&mut c, "good");
    let reply: serde_json::Value = serde_json::from_slice(&c.expect_response()).expect("json");
    assert_eq!(
        reply,
        json!({"identity": "alice", "identity_url": "http://example/alice", "permission_count": 3})
    );
    c.pub_("events", b"allowed");
    c.expect_ok();
    c.pub_("logs", b"allowed too");
    c.expect_ok();
    c.pub_("strict", b"nope");
    assert_eq!(
        c.expect_error("E_UNAUTHORIZED"),
        "E_UNAUTHORIZED AUTH failed for PUB on \"strict\" \"\""
    );
    c.expect_closed();
    let mut c = identified(&nsqd);
    auth(&mut c, "good");
    c.expect_response();
    c.pub_("other", b"nope");
    assert_eq!(
        c.expect_error("E_UNAUTHORIZED"),
        "E_UNAUTHORIZED AUTH failed for PUB on \"other\" \"\""
    );

    // SUB: channel regexes apply; "logs" grants publish only.
    let mut c = identified(&nsqd);
    auth(&mut c, "good");
    c.expect_response();
    c.sub("logs", "x");
    assert_eq!(
        c.expect_error("E_UNAUTHORIZED"),
        "E_UNAUTHORIZED AUTH failed for SUB on \"logs\" \"x\""
    );
    let mut c = identified(&nsqd);
    auth(&mut c, "good");
    c.expect_response();
    c.sub("events", "archive");
    c.expect_ok();
    let clients = http::channel_stats(nsqd.http_addr(), "events", "archive").expect("channel")
        ["clients"]
        .clone();
    assert_eq!(clients[0]["authed"], true, "{clients}");
    assert_eq!(clients[0]["auth_identity"], "alice");
    assert_eq!(clients[0]["auth_identity_url"], "http://example/alice");

    // A second AUTH, an empty grant and a refused secret.
    let mut c2 = identified(&nsqd);
    auth(&mut c2, "good");
    c2.expect_response();
    auth(&mut c2, "good");
    assert_eq!(c2.expect_error("E_INVALID"), "E_INVALID AUTH already set");
    let mut c3 = identified(&nsqd);
    auth(&mut c3, "none");
    assert_eq!(
        c3.expect_error("E_UNAUTHORIZED"),
        "E_UNAUTHORIZED AUTH no authorizations found"
    );
    let mut c4 = identified(&nsqd);
    auth(&mut c4, "wrong");
    assert_eq!(
        c4.expect_error("E_AUTH_FAILED"),
        "E_AUTH_FAILED AUTH failed"
    );

    // The query carries the client's IP, the TLS flag, the secret and the common name.
    let queries = server.queries();
    let q = queries
        .iter()
        .find(|q| q.contains("secret=good"))
        .expect("a good query");
    for part in [
        "common_name=",
        "remote_ip=127.0.0.1",
        "secret=good",
        "tls=false",
    ] {
        assert!(q.split('&').any(|kv| kv == part), "{part:?} not in {q:?}");
    }
}

#[test]
fn expired_authorization_is_refreshed() {
    let server = AuthServer::start();
    let (_dir, nsqd) = daemon(&server);
    let mut c = identified(&nsqd);
    auth(&mut c, "short");
    c.expect_response();
    let before = server.queries().len();
    // After the 1 s TTL the next PUB asks the auth server again.
    wait_for("a re-query after the TTL", Duration::from_secs(15), || {
        c.pub_("events", b"x");
        c.expect_ok();
        let n = server.queries().len();
        (n > before, n)
    });
}

#[test]
fn auth_without_auth_servers_is_disabled() {
    let (_dir, nsqd) = Nsqd::start_in_temp("auth-off", &[]);
    let mut c = Client::connect(nsqd.tcp_addr());
    auth(&mut c, "anything");
    assert_eq!(
        c.expect_error("E_AUTH_DISABLED"),
        "E_AUTH_DISABLED AUTH disabled"
    );
    c.expect_closed();
}

/// An auth server reply with `null` fields (here `identity_url`, a channel and a whole
/// grant's lists) is accepted, null read as empty, as Go nsqd v1.3.0 does.
#[test]
fn null_fields_in_the_reply_read_as_empty() {
    let server = AuthServer::start();
    let (_dir, nsqd) = daemon(&server);
    let mut c = identified(&nsqd);
    auth(&mut c, "nulls");
    let reply: serde_json::Value = serde_json::from_slice(&c.expect_response()).expect("json");
    assert_eq!(
        reply,
        json!({"identity": "carol", "identity_url": "", "permission_count": 2})
    );
    c.pub_("events", b"allowed");
    c.expect_ok();
    c.pub_("other", b"nope");
    assert_eq!(
        c.expect_error("E_UNAUTHORIZED"),
        "E_UNAUTHORIZED AUTH failed for PUB on \"other\" \"\""
    );
}
