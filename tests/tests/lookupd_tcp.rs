//! nsqlookupd's V1 TCP protocol against the real binary:
//! magic, IDENTIFY reply, REGISTER/UNREGISTER effects as seen over HTTP, PING, every
//! error text (all fatal: answer, then close), and a disconnect removing the peer's
//! registrations. The binary is `$NSQLOOKUPD_BIN` (the Go reference passes too, except
//! where ours deliberately differs: see `negative_body_size_is_refused`).

use std::time::Duration;

use nsq_tests::daemon::Daemon;
use nsq_tests::http;
use nsq_tests::json_order::object_keys;
use nsq_tests::lookupd::{self, identify_body, is_reference, LookupClient};
use nsq_tests::poll::{wait_for, wait_until};
use serde_json::{json, Value};

/// Failure bound for effects of a disconnect to show over HTTP.
const SETTLE: Duration = Duration::from_secs(10);

fn get_json(d: &Daemon, path: &str) -> Value {
    let r = http::get(d.http_addr(), path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// `/lookup?topic=` as (status, sorted channels, sorted producer remote addresses).
fn lookup(d: &Daemon, topic: &str) -> (u16, Vec<String>, Vec<String>) {
    let r = http::get(
        d.http_addr(),
        &format!("/lookup?topic={}", topic.replace('#', "%23")),
    );
    if r.status != 200 {
        return (r.status, vec![], vec![]);
    }
    let v = r.json();
    let mut channels: Vec<String> = strings(&v["channels"]);
    channels.sort();
    let mut producers: Vec<String> = v["producers"]
        .as_array()
        .expect("producers array")
        .iter()
        .map(|p| {
            p["remote_address"]
                .as_str()
                .expect("remote_address")
                .to_string()
        })
        .collect();
    producers.sort();
    (200, channels, producers)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

/// A fresh connection still gets `OK` for PING.
fn assert_serves(d: &Daemon) {
    let mut c = LookupClient::connect(d.tcp_addr());
    c.ping();
}

/// Sends `input` on a fresh V1 connection, requires exactly `expected` then a close,
/// and a daemon that still serves others.
#[track_caller]
fn assert_fatal(d: &Daemon, identify_first: bool, input: &[u8], expected: &str) {
    let mut c = if identify_first {
        LookupClient::identified(d.tcp_addr(), "node", 4150, 4151)
    } else {
        LookupClient::connect(d.tcp_addr())
    };
    c.send(input);
    c.expect_fatal(expected);
    assert_serves(d);
}

fn identify_frame(body: &[u8]) -> Vec<u8> {
    let mut out = b"IDENTIFY\n".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn bad_magic_is_refused_and_closed() {
    let d = lookupd::start(&[]);
    for magic in [&b"  V2"[..], b"V1  ", b"PING"] {
        let mut c = LookupClient::connect_raw(d.tcp_addr());
        c.send(magic);
        c.expect_fatal("E_BAD_PROTOCOL");
    }
    assert_serves(&d);
}

#[test]
fn identify_reply_names_this_lookupd() {
    let d = lookupd::start(&["--broadcast-address=lookup-under-test"]);
    let mut c = LookupClient::connect(d.tcp_addr());
    let reply = c.identify(&identify_body("node1", 4150, 4151));
    let text = String::from_utf8(reply).expect("utf-8 reply");
    assert_eq!(
        object_keys(&text),
        vec![vec![
            "broadcast_address",
            "hostname",
            "http_port",
            "tcp_port",
            "version"
        ]],
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).expect("JSON reply");
    assert_eq!(v["broadcast_address"], "lookup-under-test");
    assert_eq!(v["tcp_port"], d.tcp_addr().port());
    assert_eq!(v["http_port"], d.http_addr().port());
    assert_eq!(v["version"], "1.3.0");
    assert!(!v["hostname"].as_str().expect("hostname").is_empty());

    // The peer is now a node, with the connection's address as remote_address.
    let nodes = get_json(&d, "/nodes");
    let node = &nodes["producers"][0];
    assert_eq!(node["remote_address"], c.local_addr().to_string());
    assert_eq!(node["broadcast_address"], "node1");
    assert_eq!(node["hostname"], "node1.example");
    assert_eq!(
        (node["tcp_port"].clone(), node["http_port"].clone()),
        (json!(4150), json!(4151))
    );
    assert_eq!(node["topics"], json!([]));
    assert_eq!(node["tombstones"], json!([]));
    c.ping();
}

#[test]
fn identify_errors() {
    let d = lookupd::start(&[]);
    let decode = "E_BAD_BODY IDENTIFY failed to decode JSON body";
    let missing = "E_BAD_BODY IDENTIFY missing fields";
    for body in [
        &b""[..],
        b"{",
        b"[]",
        b"\"node\"",
        br#"{"broadcast_address":"n","tcp_port":"4150","http_port":4151,"version":"1.3.0"}"#,
        br#"{"broadcast_address":"n","tcp_port":4150.5,"http_port":4151,"version":"1.3.0"}"#,
        br#"{"broadcast_address":7,"tcp_port":4150,"http_port":4151,"version":"1.3.0"}"#,
    ] {
        assert_fatal(&d, false, &identify_frame(body), decode);
    }
    let full = identify_body("n", 4150, 4151);
    for (key, empty) in [
        ("broadcast_address", json!("")),
        ("tcp_port", json!(0)),
        ("http_port", json!(0)),
        ("version", json!("")),
    ] {
        let mut body = full.clone();
        body[key] = empty;
        assert_fatal(
            &d,
            false,
            &identify_frame(body.to_string().as_bytes()),
            missing,
        );
        body.as_object_mut().expect("object").remove(key);
        assert_fatal(
            &d,
            false,
            &identify_frame(body.to_string().as_bytes()),
            missing,
        );
    }
    assert_fatal(&d, false, &identify_frame(b"{}"), missing);
    assert_fatal(&d, false, &identify_frame(b"null"), missing);

    // Unknown keys are ignored, hostname is optional, keys match case-insensitively.
    let mut c = LookupClient::connect(d.tcp_addr());
    let reply = c.identify(&json!({"BROADCAST_ADDRESS":"n","tcp_port":1,"http_port":2,
        "version":"v","topology_zone":"z","extra":[1,{"a":null}]}));
    assert!(
        reply.starts_with(b"{"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(
        get_json(&d, "/nodes")["producers"][0]["broadcast_address"],
        "n"
    );
}

#[test]
fn identify_twice_fails_before_reading_a_body() {
    let d = lookupd::start(&[]);
    // Only the command line: the error must come without a body being sent.
    assert_fatal(&d, true, b"IDENTIFY\n", "E_INVALID cannot IDENTIFY again");
    wait_until("peer of the closed connection removed", SETTLE, || {
        get_json(&d, "/nodes")["producers"] == json!([])
    });
}

#[test]
fn truncated_identify_bodies() {
    let d = lookupd::start(&[]);
    let mut c = LookupClient::connect(d.tcp_addr());
    c.send(b"IDENTIFY\n\0\0");
    c.shutdown_write();
    c.expect_fatal("E_BAD_BODY IDENTIFY failed to read body size");

    let mut c = LookupClient::connect(d.tcp_addr());
    c.send(b"IDENTIFY\n\0\0\0\x0a{\"a\"");
    c.shutdown_write();
    c.expect_fatal("E_BAD_BODY IDENTIFY failed to read body");
    assert_serves(&d);
}

#[test]
fn pipelined_commands_and_partial_lines() {
    let d = lookupd::start(&[]);
    // IDENTIFY body and the next commands in one write.
    let mut c = LookupClient::connect(d.tcp_addr());
    let mut input = identify_frame(identify_body("node", 4150, 4151).to_string().as_bytes());
    input.extend_from_slice(b"REGISTER t c\nPING\nUNREGISTER t c\n");
    c.send(&input);
    assert!(c.read_response().starts_with(b"{"));
    c.expect_ok();
    c.expect_ok();
    c.expect_ok();
    assert_eq!(
        lookup(&d, "t"),
        (200, sorted(&["c"]), vec![c.local_addr().to_string()])
    );
    // A command cut short by end of input is not executed and gets no answer.
    c.send(b"REGISTER u");
    c.shutdown_write();
    c.expect_closed();
    assert_eq!(lookup(&d, "u").0, 404);
}

#[test]
fn negative_body_size_is_refused() {
    if is_reference() {
        eprintln!("skipped: nsqlookupd v1.3.0 panics and exits on a negative IDENTIFY size");
        return;
    }
    let d = lookupd::start(&[]);
    assert_fatal(
        &d,
        false,
        b"IDENTIFY\n\xff\xff\xff\xff",
        "E_BAD_BODY IDENTIFY invalid body size -1",
    );
    assert_fatal(
        &d,
        false,
        b"IDENTIFY\n\x80\0\0\0",
        "E_BAD_BODY IDENTIFY invalid body size -2147483648",
    );
}

#[test]
fn commands_before_identify() {
    let d = lookupd::start(&[]);
    // PING is allowed (and does nothing else).
    let mut c = LookupClient::connect(d.tcp_addr());
    c.ping();
    c.ping();
    assert_fatal(&d, false, b"REGISTER t\n", "E_INVALID client must IDENTIFY");
    assert_fatal(
        &d,
        false,
        b"UNREGISTER t c\n",
        "E_INVALID client must IDENTIFY",
    );
    // The identification check comes before parameter checks.
    assert_fatal(&d, false, b"REGISTER\n", "E_INVALID client must IDENTIFY");
    assert_fatal(
        &d,
        false,
        b"REGISTER bad!\n",
        "E_INVALID client must IDENTIFY",
    );
    assert_eq!(get_json(&d, "/topics")["topics"], json!([]));
}

#[test]
fn command_errors_are_fatal_with_exact_texts() {
    let d = lookupd::start(&[]);
    let long = "x".repeat(100);
    let cases: Vec<(String, String)> = vec![
        ("FOO bar\n".into(), "E_INVALID invalid command FOO".into()),
        ("ping\n".into(), "E_INVALID invalid command ping".into()),
        ("\n".into(), "E_INVALID invalid command ".into()),
        (
            "REGISTER\n".into(),
            "E_INVALID REGISTER insufficient number of params".into(),
        ),
        (
            "UNREGISTER\n".into(),
            "E_INVALID UNREGISTER insufficient number of params".into(),
        ),
        (
            "REGISTER bad!topic\n".into(),
            "E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid".into(),
        ),
        (
            "REGISTER  t\n".into(),
            "E_BAD_TOPIC REGISTER topic name '' is not valid".into(),
        ),
        (
            format!("REGISTER {long}\n"),
            format!("E_BAD_TOPIC REGISTER topic name '{long}' is not valid"),
        ),
        (
            "REGISTER t bad*chan\n".into(),
            "E_BAD_CHANNEL REGISTER channel name 'bad*chan' is not valid".into(),
        ),
        (
            "UNREGISTER bad!topic c\n".into(),
            "E_BAD_TOPIC UNREGISTER topic name 'bad!topic' is not valid".into(),
        ),
        (
            "UNREGISTER t bad*chan\n".into(),
            "E_BAD_CHANNEL UNREGISTER channel name 'bad*chan' is not valid".into(),
        ),
    ];
    for (input, expected) in cases {
        assert_fatal(&d, true, input.as_bytes(), &expected);
    }
    assert_eq!(
        get_json(&d, "/topics")["topics"],
        json!([]),
        "nothing registered"
    );
    wait_until("failed peers removed", SETTLE, || {
        get_json(&d, "/nodes")["producers"] == json!([])
    });
}

#[test]
fn lines_are_trimmed_and_extra_params_ignored() {
    let d = lookupd::start(&[]);
    let mut c = LookupClient::identified(d.tcp_addr(), "node", 4150, 4151);
    c.send(b"  PING \r\n");
    c.expect_ok();
    c.send(b"REGISTER t c extra words\r\n");
    c.expect_ok();
    // An empty channel parameter means "no channel".
    c.send(b"REGISTER u  c\n");
    c.expect_ok();
    assert_eq!(
        lookup(&d, "t"),
        (200, sorted(&["c"]), vec![c.local_addr().to_string()])
    );
    assert_eq!(
        lookup(&d, "u"),
        (200, vec![], vec![c.local_addr().to_string()])
    );
}

#[test]
fn register_and_unregister() {
    let d = lookupd::start(&[]);
    let mut c = LookupClient::identified(d.tcp_addr(), "node", 4150, 4151);
    let me = vec![c.local_addr().to_string()];
    c.register("t", Some("c"));
    c.register("t", Some("c"));
    c.register("t", Some("d"));
    assert_eq!(lookup(&d, "t"), (200, sorted(&["c", "d"]), me.clone()));
    assert_eq!(strings(&get_json(&d, "/topics")["topics"]), sorted(&["t"]));

    // Channel unregistration keeps the channel key and the topic producer.
    c.unregister("t", Some("c"));
    assert_eq!(lookup(&d, "t"), (200, sorted(&["c", "d"]), me.clone()));
    let debug = get_json(&d, "/debug");
    assert!(debug.get("channel:t:c").is_none(), "{debug}");
    assert!(debug.get("channel:t:d").is_some(), "{debug}");

    // Topic unregistration also removes the peer from the topic's channels.
    c.unregister("t", None);
    assert_eq!(lookup(&d, "t"), (200, sorted(&["c", "d"]), vec![]));
    let debug = get_json(&d, "/debug");
    let keys: Vec<&String> = debug.as_object().expect("object").keys().collect();
    assert_eq!(keys, vec!["client::"], "{debug}");

    // Unregistering what was never registered is fine.
    c.unregister("never", Some("c"));
    c.unregister("never", None);
    assert_eq!(lookup(&d, "never").0, 404);
}

#[test]
fn ephemeral_registrations_vanish_with_their_last_producer() {
    let d = lookupd::start(&[]);
    let mut a = LookupClient::identified(d.tcp_addr(), "a", 4150, 4151);
    let mut b = LookupClient::identified(d.tcp_addr(), "b", 4150, 4151);
    a.register("t", Some("c#ephemeral"));
    b.register("t", Some("c#ephemeral"));
    a.unregister("t", Some("c#ephemeral"));
    assert_eq!(
        lookup(&d, "t").1,
        sorted(&["c#ephemeral"]),
        "b still has it"
    );
    b.unregister("t", Some("c#ephemeral"));
    assert_eq!(lookup(&d, "t").1, Vec::<String>::new());

    a.register("e#ephemeral", None);
    assert_eq!(lookup(&d, "e#ephemeral").0, 200);
    a.unregister("e#ephemeral", None);
    assert_eq!(lookup(&d, "e#ephemeral").0, 404);
}

#[test]
fn disconnect_removes_registrations_but_keeps_keys() {
    let d = lookupd::start(&[]);
    let mut a = LookupClient::identified(d.tcp_addr(), "a", 4150, 4151);
    let mut b = LookupClient::identified(d.tcp_addr(), "b", 4250, 4251);
    a.register("t", Some("c"));
    a.register("e#ephemeral", Some("x#ephemeral"));
    b.register("t", None);
    let (a_addr, b_addr) = (a.local_addr().to_string(), b.local_addr().to_string());
    assert_eq!(lookup(&d, "t").2, sorted(&[&a_addr, &b_addr]));

    drop(a);
    let seen = wait_for("a's registrations removed", SETTLE, || {
        let t = lookup(&d, "t");
        (t.2 == vec![b_addr.clone()], t)
    });
    assert_eq!(seen.1, sorted(&["c"]), "channel key kept");
    assert_eq!(
        lookup(&d, "e#ephemeral"),
        (200, sorted(&["x#ephemeral"]), vec![])
    );
    assert_eq!(
        strings(&get_json(&d, "/topics")["topics"]).len(),
        2,
        "topic keys kept, ephemeral included"
    );
    let nodes = get_json(&d, "/nodes");
    assert_eq!(
        nodes["producers"].as_array().expect("array").len(),
        1,
        "{nodes}"
    );
    assert_eq!(nodes["producers"][0]["remote_address"], b_addr);
    b.ping();
}

#[test]
fn ping_keeps_a_producer_active() {
    let d = lookupd::start(&["--inactive-producer-timeout=1s"]);
    let mut c = LookupClient::identified(d.tcp_addr(), "node", 4150, 4151);
    c.register("t", None);
    // Without PINGs the producer goes inactive (lower bound only: it must happen).
    wait_until("producer inactive", SETTLE, || {
        lookup(&d, "t").2.is_empty() && get_json(&d, "/nodes")["producers"] == json!([])
    });
    assert_eq!(lookup(&d, "t").0, 200, "the topic itself stays");
    // A PING makes it active again.
    wait_until("producer active after PING", SETTLE, || {
        c.ping();
        !lookup(&d, "t").2.is_empty()
    });
}
