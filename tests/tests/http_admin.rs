//! nsqd's HTTP API against a real daemon, part 2: the
//! `/topic/*` and `/channel/*` administration endpoints (every parameter error, their
//! effect on TCP consumers, pause persisted in `nsqd.dat` at once) and `/stats` (JSON
//! shape, key order, filters, text layout). Routing, publishing and `/config` live in
//! `http_api.rs`. Every test also passes against the Go reference
//! (`NSQD_BIN=tests/reference/bin/nsqd`).

use std::path::Path;
use std::time::Duration;

use nsq_tests::client::Client;
use nsq_tests::harness::Nsqd;
use nsq_tests::http::{self, assert_v1_error, Response, JSON_CONTENT_TYPE, V1_HEADER_VALUE};
use nsq_tests::json_order::object_keys;
use nsq_tests::poll::wait_for;
use serde_json::{json, Value};

/// Failure bound for conditions polled through `/stats`.
const WAIT: Duration = Duration::from_secs(15);
/// How long a paused topic/channel must hold a message back. Only a sanity window:
/// the deterministic part is the message sitting in the paused queue (`depth`).
const HOLD: Duration = Duration::from_millis(300);
const TOPIC_KEYS: [&str; 8] = [
    "topic_name",
    "channels",
    "depth",
    "backend_depth",
    "message_count",
    "message_bytes",
    "paused",
    "e2e_processing_latency",
];
const CHANNEL_KEYS: [&str; 12] = [
    "channel_name",
    "depth",
    "backend_depth",
    "in_flight_count",
    "deferred_count",
    "message_count",
    "requeue_count",
    "timeout_count",
    "client_count",
    "clients",
    "paused",
    "e2e_processing_latency",
];
/// Client keys of the reference v1.3.0 (no topology or `*_msg_count` keys yet);
/// `pub_counts` appears after `user_agent` on producers only.
const CLIENT_KEYS_HEAD: [&str; 15] = [
    "client_id",
    "hostname",
    "version",
    "remote_address",
    "state",
    "ready_count",
    "in_flight_count",
    "message_count",
    "finish_count",
    "requeue_count",
    "connect_ts",
    "sample_rate",
    "deflate",
    "snappy",
    "user_agent",
];
const CLIENT_KEYS_TLS: [&str; 5] = [
    "tls",
    "tls_cipher_suite",
    "tls_version",
    "tls_negotiated_protocol",
    "tls_negotiated_protocol_is_mutual",
];
const MEMORY_KEYS: [&str; 9] = [
    "heap_objects",
    "heap_idle_bytes",
    "heap_in_use_bytes",
    "heap_released_bytes",
    "gc_pause_usec_100",
    "gc_pause_usec_99",
    "gc_pause_usec_95",
    "next_gc_bytes",
    "gc_total_runs",
];
/// The channel endpoints, all sharing the same topic/channel parameter checks.
const CHANNEL_ENDPOINTS: [&str; 5] = ["create", "delete", "empty", "pause", "unpause"];

/// A V1 success without payload: 200, empty body, no content type.
#[track_caller]
fn assert_v1_empty(r: &Response) {
    assert_eq!((r.status, r.text().as_str()), (200, ""), "{r:?}");
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(V1_HEADER_VALUE));
    assert_eq!(r.header("Content-Type"), None, "{r:?}");
    assert_eq!(r.header("Content-Length"), Some("0"), "{r:?}");
}

#[track_caller]
fn post_empty_ok(nsqd: &Nsqd, path: &str) {
    assert_v1_empty(&http::post(nsqd.http_addr(), path, b""));
}

fn publish(nsqd: &Nsqd, topic: &str, body: &str) {
    let r = http::post(
        nsqd.http_addr(),
        &format!("/pub?topic={topic}"),
        body.as_bytes(),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "OK"), "{r:?}");
}

fn subscriber(nsqd: &Nsqd, topic: &str, channel: &str, rdy: u32) -> Client {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.sub(topic, channel);
    client.expect_ok();
    client.rdy(rdy);
    client
}

/// Waits until `probe` (a field read from `/stats`) returns `expected`.
fn wait_stat(what: &str, expected: Value, mut probe: impl FnMut() -> Value) {
    wait_for(what, WAIT, || {
        let seen = probe();
        (seen == expected, seen)
    });
}

fn channel_field(nsqd: &Nsqd, topic: &str, channel: &str, key: &str) -> Value {
    http::channel_stats(nsqd.http_addr(), topic, channel).map_or(Value::Null, |c| c[key].clone())
}

fn topic_field(nsqd: &Nsqd, topic: &str, key: &str) -> Value {
    http::topic_stats(nsqd.http_addr(), topic).map_or(Value::Null, |t| t[key].clone())
}

/// `paused` of `topic` (or of its `channel`) in `<data>/nsqd.dat`, read now.
fn persisted_paused(data: &Path, topic: &str, channel: Option<&str>) -> Value {
    let raw = std::fs::read(data.join("nsqd.dat")).expect("nsqd.dat exists");
    let meta: Value = serde_json::from_slice(&raw).expect("nsqd.dat is JSON");
    let named = |list: &Value, name: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|o| o["name"] == name).cloned())
            .unwrap_or_else(|| panic!("{name} not in nsqd.dat: {meta}"))
    };
    let t = named(&meta["topics"], topic);
    match channel {
        None => t["paused"].clone(),
        Some(c) => named(&t["channels"], c)["paused"].clone(),
    }
}

/// Requires that no message arrives on `client` within [`HOLD`].
fn assert_nothing_delivered(client: &mut Client) {
    match client.try_read_frame(HOLD) {
        Ok(None) => {}
        other => panic!("expected no delivery while paused, got {other:?}"),
    }
}

fn stats(nsqd: &Nsqd, query: &str) -> Response {
    let r = http::get(nsqd.http_addr(), &format!("/stats?{query}"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(V1_HEADER_VALUE));
    r
}

/// Every object in `raw` whose first key is `first`, as key lists.
fn objects_starting_with(raw: &str, first: &str) -> Vec<Vec<String>> {
    object_keys(raw)
        .into_iter()
        .filter(|keys| keys.first().is_some_and(|k| k == first))
        .collect()
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|o| o[key].as_str().expect("name is a string").to_string())
        .collect()
}

#[test]
fn topic_create_is_idempotent_and_validates_the_name() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-topic-create", &[]);
    post_empty_ok(&nsqd, "/topic/create?topic=t");
    post_empty_ok(&nsqd, "/topic/create?topic=t");
    post_empty_ok(&nsqd, "/topic/create?topic=t%23ephemeral");
    assert_eq!(topic_field(&nsqd, "t", "message_count"), json!(0));
    let addr = nsqd.http_addr();
    for (path, message) in [
        ("/topic/create", "MISSING_ARG_TOPIC"),
        ("/topic/create?topic=bad!name", "INVALID_TOPIC"),
        ("/topic/create?topic=", "INVALID_TOPIC"),
        ("/topic/create?topic=t&x=%zz", "INVALID_REQUEST"),
    ] {
        assert_v1_error(&http::post(addr, path, b""), 400, message);
    }
}

#[test]
fn topic_delete_pause_unpause_do_not_validate_names() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-topic-errors", &[]);
    let addr = nsqd.http_addr();
    for action in ["delete", "pause", "unpause"] {
        let path = |query: &str| format!("/topic/{action}{query}");
        assert_v1_error(&http::post(addr, &path(""), b""), 400, "MISSING_ARG_TOPIC");
        assert_v1_error(
            &http::post(addr, &path("?x=%zz"), b""),
            400,
            "INVALID_REQUEST",
        );
        for query in ["?topic=nope", "?topic=bad!name", "?topic="] {
            assert_v1_error(&http::post(addr, &path(query), b""), 404, "TOPIC_NOT_FOUND");
        }
    }
    for (query, status, message) in [
        ("", 400, "MISSING_ARG_TOPIC"),
        ("?topic=bad!name", 400, "INVALID_TOPIC"),
        ("?topic=nope", 404, "TOPIC_NOT_FOUND"),
        ("?x=%zz", 400, "INVALID_REQUEST"),
    ] {
        let r = http::post(addr, &format!("/topic/empty{query}"), b"");
        assert_v1_error(&r, status, message);
    }
}

#[test]
fn topic_delete_removes_it_and_topic_empty_drops_its_queue() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-topic-delete", &[]);
    for body in ["a", "b", "c"] {
        publish(&nsqd, "full", body);
    }
    assert_eq!(topic_field(&nsqd, "full", "depth"), json!(3));
    post_empty_ok(&nsqd, "/topic/empty?topic=full");
    wait_stat("topic full emptied", json!(0), || {
        topic_field(&nsqd, "full", "depth")
    });
    assert_eq!(topic_field(&nsqd, "full", "message_count"), json!(3));
    post_empty_ok(&nsqd, "/topic/delete?topic=full");
    assert!(http::topic_stats(nsqd.http_addr(), "full").is_none());
    let again = http::post(nsqd.http_addr(), "/topic/delete?topic=full", b"");
    assert_v1_error(&again, 404, "TOPIC_NOT_FOUND");
}

#[test]
fn topic_pause_holds_messages_and_is_persisted_at_once() {
    let (dir, nsqd) = Nsqd::start_in_temp("http-topic-pause", &[]);
    let mut consumer = subscriber(&nsqd, "t", "c", 5);
    post_empty_ok(&nsqd, "/topic/pause?topic=t");
    assert_eq!(persisted_paused(dir.path(), "t", None), json!(true));
    assert_eq!(topic_field(&nsqd, "t", "paused"), json!(true));
    publish(&nsqd, "t", "held");
    wait_stat("message waits in the paused topic", json!(1), || {
        topic_field(&nsqd, "t", "depth")
    });
    assert_nothing_delivered(&mut consumer);
    post_empty_ok(&nsqd, "/topic/unpause?topic=t");
    assert_eq!(persisted_paused(dir.path(), "t", None), json!(false));
    assert_eq!(consumer.expect_message().body, b"held");
    assert_eq!(topic_field(&nsqd, "t", "paused"), json!(false));
}

#[test]
fn channel_endpoints_share_parameter_checks() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-channel-errors", &[]);
    let addr = nsqd.http_addr();
    post_empty_ok(&nsqd, "/topic/create?topic=t");
    let cases = [
        ("", 400, "MISSING_ARG_TOPIC"),
        ("?channel=c", 400, "MISSING_ARG_TOPIC"),
        ("?topic=t&channel=c&x=%zz", 400, "INVALID_REQUEST"),
        ("?topic=bad!name&channel=c", 400, "INVALID_ARG_TOPIC"),
        ("?topic=bad!name", 400, "INVALID_ARG_TOPIC"),
        ("?topic=t", 400, "MISSING_ARG_CHANNEL"),
        ("?topic=t&channel=a%21", 400, "INVALID_ARG_CHANNEL"),
        ("?topic=t&channel=", 400, "INVALID_ARG_CHANNEL"),
        ("?topic=nope&channel=bad!", 400, "INVALID_ARG_CHANNEL"),
        ("?topic=nope&channel=c", 404, "TOPIC_NOT_FOUND"),
    ];
    for action in CHANNEL_ENDPOINTS {
        for (query, status, message) in cases {
            let r = http::post(addr, &format!("/channel/{action}{query}"), b"");
            assert_v1_error(&r, status, message);
        }
        if action != "create" {
            let r = http::post(addr, &format!("/channel/{action}?topic=t&channel=c"), b"");
            assert_v1_error(&r, 404, "CHANNEL_NOT_FOUND");
        }
    }
    assert!(
        http::topic_stats(addr, "nope").is_none(),
        "topic was created"
    );
    let t = http::topic_stats(addr, "t").expect("topic t");
    assert_eq!(t["channels"], json!([]), "a failed call created a channel");
}

#[test]
fn channel_create_is_idempotent() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-channel-create", &[]);
    post_empty_ok(&nsqd, "/topic/create?topic=t");
    post_empty_ok(&nsqd, "/channel/create?topic=t&channel=c");
    post_empty_ok(&nsqd, "/channel/create?topic=t&channel=c");
    post_empty_ok(&nsqd, "/channel/create?topic=t&channel=e%23ephemeral");
    let t = http::topic_stats(nsqd.http_addr(), "t").expect("topic t");
    assert_eq!(names(&t["channels"], "channel_name"), ["c", "e#ephemeral"]);
    // Messages published afterwards are copied into the new channel.
    publish(&nsqd, "t", "m");
    wait_stat("message in t/c", json!(1), || {
        channel_field(&nsqd, "t", "c", "depth")
    });
}

#[test]
fn channel_delete_disconnects_its_subscribers() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-channel-delete", &[]);
    let mut consumer = subscriber(&nsqd, "t", "c", 1);
    let mut other = subscriber(&nsqd, "t", "keep", 1);
    post_empty_ok(&nsqd, "/channel/delete?topic=t&channel=c");
    consumer.expect_closed();
    assert_eq!(channel_field(&nsqd, "t", "c", "depth"), Value::Null);
    let again = http::post(nsqd.http_addr(), "/channel/delete?topic=t&channel=c", b"");
    assert_v1_error(&again, 404, "CHANNEL_NOT_FOUND");
    publish(&nsqd, "t", "still");
    assert_eq!(other.expect_message().body, b"still");
}

#[test]
fn channel_empty_drops_in_flight_and_deferred_messages() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-channel-empty", &[]);
    let mut consumer = subscriber(&nsqd, "t", "c", 1);
    publish(&nsqd, "t", "in-flight");
    let message = consumer.expect_message();
    let r = http::post(nsqd.http_addr(), "/pub?topic=t&defer=3600000", b"deferred");
    assert_eq!(r.status, 200, "{r:?}");
    wait_stat("one deferred in t/c", json!(1), || {
        channel_field(&nsqd, "t", "c", "deferred_count")
    });
    post_empty_ok(&nsqd, "/channel/empty?topic=t&channel=c");
    let c = http::channel_stats(nsqd.http_addr(), "t", "c").expect("channel t/c");
    let counts = [&c["depth"], &c["in_flight_count"], &c["deferred_count"]];
    assert_eq!(counts, [&json!(0), &json!(0), &json!(0)], "{c}");
    consumer.fin(&message.id);
    let text = consumer.expect_error("E_FIN_FAILED");
    let expected = format!(
        "E_FIN_FAILED FIN {} failed ID not in flight",
        message.id_str()
    );
    assert_eq!(text, expected);
}

#[test]
fn channel_pause_holds_messages_and_is_persisted_at_once() {
    let (dir, nsqd) = Nsqd::start_in_temp("http-channel-pause", &[]);
    let mut consumer = subscriber(&nsqd, "t", "c", 5);
    post_empty_ok(&nsqd, "/channel/pause?topic=t&channel=c");
    assert_eq!(persisted_paused(dir.path(), "t", Some("c")), json!(true));
    assert_eq!(channel_field(&nsqd, "t", "c", "paused"), json!(true));
    publish(&nsqd, "t", "held");
    wait_stat("message waits in the paused channel", json!(1), || {
        channel_field(&nsqd, "t", "c", "depth")
    });
    assert_nothing_delivered(&mut consumer);
    post_empty_ok(&nsqd, "/channel/unpause?topic=t&channel=c");
    assert_eq!(persisted_paused(dir.path(), "t", Some("c")), json!(false));
    assert_eq!(consumer.expect_message().body, b"held");
}

#[test]
fn stats_json_shape_key_order_and_sorting() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-stats-json", &[]);
    for topic in ["b", "c", "a"] {
        post_empty_ok(&nsqd, &format!("/topic/create?topic={topic}"));
    }
    post_empty_ok(&nsqd, "/channel/create?topic=a&channel=z");
    let consumer = subscriber(&nsqd, "a", "y", 1);
    let mut producer = Client::connect(nsqd.tcp_addr());
    for _ in 0..2 {
        producer.pub_("a", b"12345");
        producer.expect_ok();
    }
    let r = stats(&nsqd, "format=json");
    assert_eq!(r.header("Content-Type"), Some(JSON_CONTENT_TYPE));
    let raw = r.text();
    let top = [
        "version",
        "health",
        "start_time",
        "topics",
        "memory",
        "producers",
    ];
    assert_eq!(object_keys(&raw)[0], top);
    for keys in objects_starting_with(&raw, "topic_name") {
        assert_eq!(keys, TOPIC_KEYS);
    }
    assert_eq!(objects_starting_with(&raw, "channel_name").len(), 2);
    for keys in objects_starting_with(&raw, "channel_name") {
        assert_eq!(keys, CHANNEL_KEYS);
    }
    let clients = objects_starting_with(&raw, "client_id");
    let consumer_keys = [&CLIENT_KEYS_HEAD[..], &CLIENT_KEYS_TLS[..]].concat();
    let producer_keys = [&CLIENT_KEYS_HEAD[..], &["pub_counts"], &CLIENT_KEYS_TLS[..]].concat();
    assert_eq!(clients, [consumer_keys, producer_keys]);
    assert_eq!(objects_starting_with(&raw, "heap_objects"), [MEMORY_KEYS]);
    assert!(raw.contains(r#""e2e_processing_latency":{"count":0,"percentiles":null}"#));

    let s = r.json();
    assert_eq!(
        (&s["version"], &s["health"]),
        (&json!("1.3.0"), &json!("OK"))
    );
    assert!(s["start_time"].as_i64().is_some_and(|t| t > 1_600_000_000));
    assert_eq!(names(&s["topics"], "topic_name"), ["a", "b", "c"]);
    let a = &s["topics"][0];
    assert_eq!(names(&a["channels"], "channel_name"), ["y", "z"]);
    assert_eq!(
        (&a["message_count"], &a["message_bytes"]),
        (&json!(2), &json!(10))
    );
    assert_eq!(a["paused"], false);
    assert_eq!(s["topics"][1]["channels"], json!([]));
    let y = &a["channels"][0];
    assert_eq!(
        (&y["client_count"], &y["paused"]),
        (&json!(1), &json!(false))
    );
    let c = &y["clients"][0];
    assert_eq!(c["version"], "V2");
    assert_eq!(c["state"], 3, "subscribed");
    assert_eq!(c["remote_address"], consumer.local_addr().to_string());
    assert_eq!(c["tls"], false);
    let p = &s["producers"][0];
    assert_eq!(p["remote_address"], producer.local_addr().to_string());
    assert_eq!(p["pub_counts"], json!([{"topic": "a", "count": 2}]));
    assert_eq!(s["producers"].as_array().map(Vec::len), Some(1));
}

#[test]
fn stats_json_filters() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-stats-filter", &[]);
    post_empty_ok(&nsqd, "/topic/create?topic=c");
    let _consumers = [
        subscriber(&nsqd, "a", "x", 0),
        subscriber(&nsqd, "a", "y", 0),
        subscriber(&nsqd, "b", "x", 0),
    ];
    let mut producer = Client::connect(nsqd.tcp_addr());
    producer.pub_("b", b"m");
    producer.expect_ok();
    let json_of = |query: &str| stats(&nsqd, &format!("format=json&{query}"));

    let raw = json_of("topic=nope").text();
    assert!(raw.contains(r#""topics":null,"memory":{"#), "{raw}");
    assert!(raw.ends_with(r#""producers":null}"#), "{raw}");

    let s = json_of("channel=x").json();
    assert_eq!(names(&s["topics"], "topic_name"), ["a", "b"]);
    assert_eq!(names(&s["topics"][0]["channels"], "channel_name"), ["x"]);
    let s = json_of("topic=a&channel=y").json();
    assert_eq!(names(&s["topics"], "topic_name"), ["a"]);
    assert_eq!(names(&s["topics"][0]["channels"], "channel_name"), ["y"]);
    assert_eq!(json_of("topic=a&channel=nope").json()["topics"], json!([]));
    // A producer stays listed under a topic filter, its pub_counts filtered away.
    let s = json_of("topic=a").json();
    assert_eq!(s["producers"].as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(s["producers"][0].get("pub_counts"), None, "{s}");

    for off in ["include_clients=false", "include_clients=0"] {
        let s = json_of(off).json();
        let x = &s["topics"][0]["channels"][0];
        assert_eq!(
            (&x["clients"], &x["client_count"]),
            (&Value::Null, &json!(1))
        );
        assert_eq!(s["producers"], Value::Null, "{off}");
    }
    let s = json_of("include_clients=maybe").json();
    assert_eq!(
        s["topics"][0]["channels"][0]["clients"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        s["producers"][0]["pub_counts"],
        json!([{"topic": "b", "count": 1}])
    );

    for off in ["include_mem=false", "include_mem=0"] {
        let raw = json_of(off).text();
        assert!(!raw.contains("\"memory\""), "{raw}");
        assert!(raw.contains(r#""topics":["#), "{raw}");
    }
    assert!(json_of("include_mem=1").json()["memory"].is_object());
    assert!(json_of("include_mem=maybe").json()["memory"].is_object());
    let r = http::get(nsqd.http_addr(), "/stats?format=json&x=%zz");
    assert_v1_error(&r, 400, "INVALID_REQUEST");
}

#[test]
fn stats_text_format() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-stats-text", &[]);
    let r = stats(&nsqd, "");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    let text = r.text();
    assert!(text.starts_with("nsqd v1.3.0 (built w/"), "{text}");
    assert!(text.contains("\nstart_time "), "{text}");
    assert!(text.contains("\nuptime "), "{text}");
    assert!(
        text.contains("\n\nHealth: OK\n\nMemory:\n   heap_objects "),
        "{text}"
    );
    assert!(text.contains("\n\nTopics: None\n"), "{text}");
    assert!(text.ends_with("\nProducers: None\n"), "{text}");
    assert!(!stats(&nsqd, "include_mem=false").text().contains("Memory:"));
    assert!(stats(&nsqd, "format=JSON").text().starts_with("nsqd v"));

    let consumer = subscriber(&nsqd, "t", "c", 0);
    post_empty_ok(&nsqd, "/channel/create?topic=t&channel=d");
    post_empty_ok(&nsqd, "/topic/create?topic=u");
    post_empty_ok(&nsqd, "/topic/pause?topic=t");
    post_empty_ok(&nsqd, "/channel/pause?topic=t&channel=d");
    let mut producer = Client::connect(nsqd.tcp_addr());
    producer.pub_("t", b"m");
    producer.expect_ok();
    let text = stats(&nsqd, "").text();
    let topic = format!("\nTopics:\n*P [{:<15}] depth: ", "t");
    assert!(text.contains(&topic), "{text}");
    let channel_c = format!("\n      [{:<25}] depth: ", "c");
    assert!(text.contains(&channel_c), "{text}");
    let channel_d = format!("\n   *P [{:<25}] depth: ", "d");
    assert!(text.contains(&channel_d), "{text}");
    // Topics are separated by a blank line; `[V2 <host:port ua>]` pads only the id.
    let next_topic = format!("\n\n   [{:<15}] depth: 0 ", "u");
    assert!(text.contains(&next_topic), "{text}");
    let id = format!("127.0.0.1:{} ", consumer.local_addr().port());
    let client = format!("\n        [V2 {id:<21}] state: 3 inflt: 0    rdy: 0    fin: 0 ");
    assert!(text.contains(&client), "{text}");
    assert!(text.contains("\nProducers:\n   [V2 "), "{text}");
    let producer_line = format!(" msgs: {:<8} topics: t=1 connected: ", 1);
    assert!(text.contains(&producer_line), "{text}");
}
