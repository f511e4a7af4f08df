//! nsqlookupd's HTTP API against the real binary: every
//! endpoint's status, headers and JSON shape (key order where the reference fixes it),
//! the bad-input answers, routing (404/405/OPTIONS/redirects) and tombstones. Peers are
//! registered over TCP with `LookupClient`. The binary is `$NSQLOOKUPD_BIN`.

use std::time::Duration;

use nsq_tests::daemon::Daemon;
use nsq_tests::http::{self, assert_v1_error, Response, JSON_CONTENT_TYPE, V1_HEADER_VALUE};
use nsq_tests::json_order::object_keys;
use nsq_tests::lookupd::{self, LookupClient};
use nsq_tests::poll::wait_for;
use serde_json::{json, Value};

/// Failure bound for a tombstone to expire.
const SETTLE: Duration = Duration::from_secs(10);
/// Go's `time.Time{}.UnixNano()`: `tombstoned_at` of a producer never tombstoned.
const ZERO_TIME_NANOS: i64 = -6_795_364_578_871_345_152;
const PEER_KEYS: [&str; 6] = [
    "remote_address",
    "hostname",
    "broadcast_address",
    "tcp_port",
    "http_port",
    "version",
];

/// Sends `request` and returns everything the server writes before closing.
fn raw_head(addr: std::net::SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(SETTLE)).expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[track_caller]
fn assert_v1_json(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some(JSON_CONTENT_TYPE), "{r:?}");
    assert_eq!(
        r.header("X-NSQ-Content-Type"),
        Some(V1_HEADER_VALUE),
        "{r:?}"
    );
    r.json()
}

/// An admin POST that succeeds: 200, empty body, V1 header, no content type.
#[track_caller]
fn assert_v1_empty(r: &Response) {
    assert_eq!((r.status, r.text()), (200, String::new()), "{r:?}");
    assert_eq!(
        r.header("X-NSQ-Content-Type"),
        Some(V1_HEADER_VALUE),
        "{r:?}"
    );
    assert_eq!(r.header("Content-Type"), None, "{r:?}");
}

fn get(d: &Daemon, path: &str) -> Value {
    assert_v1_json(&http::get(d.http_addr(), path))
}

fn post(d: &Daemon, path: &str) {
    assert_v1_empty(&http::post(d.http_addr(), path, b""));
}

fn sorted_strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect();
    out.sort();
    out
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn ping_and_info() {
    let d = lookupd::start(&[]);
    let r = http::get(d.http_addr(), "/ping");
    assert_eq!((r.status, r.text()), (200, "OK".to_string()));
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("X-NSQ-Content-Type"), None, "plain text, not V1");
    let r = http::get(d.http_addr(), "/info");
    assert_eq!(r.text(), r#"{"version":"1.3.0"}"#);
    assert_v1_json(&r);
}

#[test]
fn empty_registry_shapes() {
    let d = lookupd::start(&[]);
    assert_eq!(get(&d, "/topics"), json!({"topics": []}));
    assert_eq!(get(&d, "/channels?topic=none"), json!({"channels": []}));
    assert_eq!(get(&d, "/nodes"), json!({"producers": []}));
    assert_eq!(get(&d, "/debug"), json!({}));
    // Endpoints without parameters ignore even a malformed query.
    assert_eq!(get(&d, "/topics?x=%zz"), json!({"topics": []}));
}

#[test]
fn missing_and_invalid_arguments() {
    let d = lookupd::start(&[]);
    let a = d.http_addr();
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/lookup", 400, "MISSING_ARG_TOPIC"),
        ("GET", "/lookup?topic=nope", 404, "TOPIC_NOT_FOUND"),
        ("GET", "/lookup?topic=", 404, "TOPIC_NOT_FOUND"),
        ("GET", "/lookup?topic=%zz", 400, "INVALID_REQUEST"),
        ("GET", "/channels", 400, "MISSING_ARG_TOPIC"),
        ("GET", "/channels?topic=a;b", 400, "INVALID_REQUEST"),
        ("POST", "/topic/create", 400, "MISSING_ARG_TOPIC"),
        ("POST", "/topic/create?topic=bad!", 400, "INVALID_ARG_TOPIC"),
        ("POST", "/topic/create?topic=", 400, "INVALID_ARG_TOPIC"),
        ("POST", "/topic/create?topic=%4", 400, "INVALID_REQUEST"),
        ("POST", "/topic/delete", 400, "MISSING_ARG_TOPIC"),
        ("POST", "/channel/create", 400, "MISSING_ARG_TOPIC"),
        (
            "POST",
            "/channel/create?topic=bad!&channel=c",
            400,
            "INVALID_ARG_TOPIC",
        ),
        (
            "POST",
            "/channel/create?topic=t",
            400,
            "MISSING_ARG_CHANNEL",
        ),
        (
            "POST",
            "/channel/create?topic=t&channel=bad!",
            400,
            "INVALID_ARG_CHANNEL",
        ),
        ("POST", "/channel/delete", 400, "MISSING_ARG_TOPIC"),
        (
            "POST",
            "/channel/delete?topic=bad!&channel=c",
            400,
            "INVALID_ARG_TOPIC",
        ),
        (
            "POST",
            "/channel/delete?topic=t",
            400,
            "MISSING_ARG_CHANNEL",
        ),
        (
            "POST",
            "/channel/delete?topic=t&channel=bad!",
            400,
            "INVALID_ARG_CHANNEL",
        ),
        (
            "POST",
            "/channel/delete?topic=t&channel=c",
            404,
            "CHANNEL_NOT_FOUND",
        ),
        ("POST", "/topic/tombstone", 400, "MISSING_ARG_TOPIC"),
        ("POST", "/topic/tombstone?topic=t", 400, "MISSING_ARG_NODE"),
    ];
    for (method, path, status, message) in cases {
        let r = http::request(a, method, path, b"").expect("request");
        assert_v1_error(&r, *status, message);
    }
    // Deleting or tombstoning what does not exist is fine.
    post(&d, "/topic/delete?topic=nope");
    post(&d, "/topic/tombstone?topic=nope&node=x:1");
    assert_eq!(
        get(&d, "/topics"),
        json!({"topics": []}),
        "errors created nothing"
    );
}

#[test]
fn admin_routes_edit_registrations() {
    let d = lookupd::start(&[]);
    post(&d, "/topic/create?topic=t1");
    post(&d, "/topic/create?topic=t1");
    post(&d, "/channel/create?topic=t2&channel=c1");
    post(&d, "/channel/create?topic=t2&channel=c2%23ephemeral");
    assert_eq!(
        sorted_strings(&get(&d, "/topics")["topics"]),
        names(&["t1", "t2"])
    );
    assert_eq!(
        get(&d, "/lookup?topic=t1"),
        json!({"channels": [], "producers": []})
    );
    let t2 = get(&d, "/lookup?topic=t2");
    assert_eq!(
        sorted_strings(&t2["channels"]),
        names(&["c1", "c2#ephemeral"])
    );
    assert_eq!(t2["producers"], json!([]));
    assert_eq!(
        sorted_strings(&get(&d, "/channels?topic=t2")["channels"]),
        names(&["c1", "c2#ephemeral"])
    );
    // Registrations without producers are not in /debug.
    assert_eq!(get(&d, "/debug"), json!({}));

    post(&d, "/channel/delete?topic=t2&channel=c1");
    assert_eq!(
        get(&d, "/channels?topic=t2")["channels"],
        json!(["c2#ephemeral"])
    );
    post(&d, "/topic/delete?topic=t2");
    assert_v1_error(
        &http::get(d.http_addr(), "/lookup?topic=t2"),
        404,
        "TOPIC_NOT_FOUND",
    );
    assert_eq!(get(&d, "/channels?topic=t2"), json!({"channels": []}));
    assert_eq!(get(&d, "/topics"), json!({"topics": ["t1"]}));
}

#[test]
fn lookup_lists_active_producers_with_go_keys() {
    let d = lookupd::start(&[]);
    let mut a = LookupClient::identified(d.tcp_addr(), "node-a", 4150, 4151);
    let mut b = LookupClient::identified(d.tcp_addr(), "node-b", 4250, 4251);
    a.register("t", Some("c"));
    b.register("t", None);
    b.register("u", Some("x"));
    let r = http::get(d.http_addr(), "/lookup?topic=t");
    let v = assert_v1_json(&r);
    let keys = object_keys(&r.text());
    assert_eq!(keys[0], names(&["channels", "producers"]));
    assert_eq!(keys[1], names(&PEER_KEYS));
    assert_eq!(v["channels"], json!(["c"]));
    let mut producers = v["producers"].as_array().expect("array").clone();
    producers.sort_by_key(|p| p["broadcast_address"].as_str().map(str::to_string));
    assert_eq!(
        producers[0],
        json!({"remote_address": a.local_addr().to_string(), "hostname": "node-a.example",
               "broadcast_address": "node-a", "tcp_port": 4150, "http_port": 4151,
               "version": "1.3.0"})
    );
    assert_eq!(producers[1]["remote_address"], b.local_addr().to_string());
    assert_eq!(
        get(&d, "/lookup?topic=u")["producers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // First of repeated parameters wins.
    assert_eq!(get(&d, "/lookup?topic=u&topic=t")["channels"], json!(["x"]));
    a.ping();
}

#[test]
fn nodes_list_topics_and_tombstones() {
    let d = lookupd::start(&[]);
    let mut a = LookupClient::identified(d.tcp_addr(), "node-a", 4150, 4151);
    a.register("t", Some("c"));
    a.register("u", None);
    let r = http::get(d.http_addr(), "/nodes");
    let v = assert_v1_json(&r);
    let mut expected_keys = names(&PEER_KEYS);
    expected_keys.extend(names(&["tombstones", "topics"]));
    assert_eq!(object_keys(&r.text())[1], expected_keys);
    let node = &v["producers"][0];
    assert_eq!(node["remote_address"], a.local_addr().to_string());
    assert_eq!(sorted_strings(&node["topics"]), names(&["t", "u"]));
    assert_eq!(node["tombstones"], json!([false, false]));

    post(&d, "/topic/tombstone?topic=t&node=node-a:4151");
    let node = get(&d, "/nodes")["producers"][0].clone();
    let topics = node["topics"].as_array().expect("topics");
    let tombstones = node["tombstones"].as_array().expect("tombstones");
    assert_eq!(topics.len(), tombstones.len());
    for (topic, tombstoned) in topics.iter().zip(tombstones) {
        assert_eq!(*tombstoned, json!(topic == "t"), "{node}");
    }
}

#[test]
fn tombstone_hides_a_producer_from_one_topic() {
    let d = lookupd::start(&[]);
    let mut a = LookupClient::identified(d.tcp_addr(), "node-a", 4150, 4151);
    let mut b = LookupClient::identified(d.tcp_addr(), "node-b", 4150, 4151);
    for c in [&mut a, &mut b] {
        c.register("t", None);
        c.register("u", None);
    }
    // The node string must be exactly <broadcast_address>:<http_port>.
    post(&d, "/topic/tombstone?topic=t&node=node-a:4150");
    post(&d, "/topic/tombstone?topic=t&node=node-a");
    assert_eq!(
        get(&d, "/lookup?topic=t")["producers"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    post(&d, "/topic/tombstone?topic=t&node=node-a:4151");
    let producers = |topic: &str| -> Vec<String> {
        let v = get(&d, &format!("/lookup?topic={topic}"));
        let mut out: Vec<String> = v["producers"]
            .as_array()
            .expect("array")
            .iter()
            .map(|p| p["broadcast_address"].as_str().expect("str").to_string())
            .collect();
        out.sort();
        out
    };
    assert_eq!(producers("t"), names(&["node-b"]));
    assert_eq!(producers("u"), names(&["node-a", "node-b"]));
    assert_eq!(
        get(&d, "/nodes")["producers"].as_array().map(Vec::len),
        Some(2)
    );

    // Re-REGISTER on the same connection keeps the tombstone ...
    a.register("t", None);
    assert_eq!(producers("t"), names(&["node-b"]));
    // ... UNREGISTER then REGISTER makes a fresh producer.
    a.unregister("t", None);
    a.register("t", None);
    assert_eq!(producers("t"), names(&["node-a", "node-b"]));
}

#[test]
fn tombstones_expire() {
    let d = lookupd::start(&["--tombstone-lifetime=1ms"]);
    let mut a = LookupClient::identified(d.tcp_addr(), "node-a", 4150, 4151);
    a.register("t", None);
    post(&d, "/topic/tombstone?topic=t&node=node-a:4151");
    let dump = get(&d, "/debug");
    assert_eq!(
        dump["topic:t:"][0]["tombstoned"], true,
        "tombstone applied: {dump}"
    );
    wait_for("tombstone expired", SETTLE, || {
        let v = get(&d, "/lookup?topic=t");
        (v["producers"].as_array().map(Vec::len) == Some(1), v)
    });
    assert_eq!(
        get(&d, "/nodes")["producers"][0]["tombstones"],
        json!([false])
    );
    assert_eq!(
        get(&d, "/debug")["topic:t:"][0]["tombstoned"],
        true,
        "flag kept"
    );
}

#[test]
fn debug_dumps_registrations_with_producers() {
    let d = lookupd::start(&[]);
    post(&d, "/topic/create?topic=empty");
    let mut a = LookupClient::identified(d.tcp_addr(), "node-a", 4150, 4151);
    a.register("t", Some("c"));
    post(&d, "/topic/tombstone?topic=t&node=node-a:4151");
    let r = http::get(d.http_addr(), "/debug");
    let v = assert_v1_json(&r);
    let keys = object_keys(&r.text());
    assert_eq!(keys[0], names(&["channel:t:c", "client::", "topic:t:"]));
    let dump_keys = names(&[
        "broadcast_address",
        "hostname",
        "http_port",
        "id",
        "last_update",
        "tcp_port",
        "tombstoned",
        "tombstoned_at",
        "version",
    ]);
    assert!(keys[1..].iter().all(|k| *k == dump_keys), "{keys:?}");
    let me = a.local_addr().to_string();
    let client = &v["client::"][0];
    assert_eq!(client["id"], me);
    assert_eq!(client["tombstoned"], false);
    assert_eq!(client["tombstoned_at"], ZERO_TIME_NANOS);
    // Unix nanoseconds: later than 2001-09-09 (1e18 ns).
    assert!(client["last_update"].as_i64().expect("i64") > 1_000_000_000_000_000_000);
    let topic = &v["topic:t:"][0];
    assert_eq!(topic["tombstoned"], true);
    assert!(topic["tombstoned_at"].as_i64().expect("i64") > 1_000_000_000_000_000_000);
    assert_eq!(
        v["channel:t:c"][0]["tombstoned"], false,
        "tombstones are per registration"
    );
}

#[test]
fn star_topic_matches_everything() {
    // Reference quirk: `*` is a wildcard in queries.
    let d = lookupd::start(&[]);
    let mut a = LookupClient::identified(d.tcp_addr(), "node-a", 4150, 4151);
    a.register("t1", Some("c1"));
    a.register("t2", Some("c2"));
    let v = get(&d, "/lookup?topic=*");
    assert_eq!(sorted_strings(&v["channels"]), names(&["c1", "c2"]));
    assert_eq!(
        v["producers"].as_array().map(Vec::len),
        Some(1),
        "de-duplicated"
    );
    assert_eq!(
        sorted_strings(&get(&d, "/channels?topic=*")["channels"]),
        names(&["c1", "c2"])
    );
    post(&d, "/topic/delete?topic=*");
    assert_eq!(get(&d, "/topics"), json!({"topics": []}));
}

#[test]
fn routing_like_httprouter() {
    let d = lookupd::start(&[]);
    let a = d.http_addr();
    assert_v1_error(&http::get(a, "/nope"), 404, "NOT_FOUND");
    assert_v1_error(&http::get(a, "/"), 404, "NOT_FOUND");
    for (method, path, allow) in [
        ("POST", "/ping", "GET, OPTIONS"),
        ("PUT", "/lookup", "GET, OPTIONS"),
        ("GET", "/topic/create", "OPTIONS, POST"),
        ("DELETE", "/topic/tombstone", "OPTIONS, POST"),
    ] {
        let r = http::request(a, method, path, b"").expect("request");
        assert_v1_error(&r, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
    }
    // HEAD is not GET: 405 too. The test client cannot parse a bodiless response with a
    // Content-Length, so read this one raw.
    let head = raw_head(
        a,
        "HEAD /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\nallow: get, options\r\n"),
        "{head}"
    );
    let r = http::request(a, "OPTIONS", "/channel/create", b"").expect("request");
    assert_eq!((r.status, r.header("Allow")), (200, Some("OPTIONS, POST")));
    let r = http::get(a, "/Lookup/?topic=t");
    assert_eq!(
        (r.status, r.header("Location")),
        (301, Some("/lookup?topic=t"))
    );
    let r = http::post(a, "/topic/create/?topic=t", b"");
    assert_eq!(
        (r.status, r.header("Location")),
        (307, Some("/topic/create?topic=t"))
    );
}
