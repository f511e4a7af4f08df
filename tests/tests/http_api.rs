//! nsqd's HTTP API against a real daemon, part 1:
//! routing (404, 405, OPTIONS, redirects), `/ping`, `/info`, `/pub`, `/mpub` and
//! `/config`, checking status, body and headers. Topic/channel administration and
//! `/stats` live in `http_admin.rs`. Every test also passes against the Go reference
//! (`NSQD_BIN=tests/reference/bin/nsqd`).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use nsq_tests::client::{body_len, mpub_body, Client};
use nsq_tests::harness::Nsqd;
use nsq_tests::http::{
    self, assert_v1_error, request_chunked, Response, JSON_CONTENT_TYPE, V1_HEADER_VALUE,
};
use nsq_tests::json_order::object_keys;
use nsq_tests::poll::wait_for;

/// Failure bound for conditions polled through `/stats`.
const WAIT: Duration = Duration::from_secs(15);
/// The reference's default `--max-req-timeout` (1h) in ms: the largest valid `defer`.
const MAX_DEFER_MS: u64 = 3_600_000;
/// Content type Go sniffs for short text bodies such as `OK`.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A V1 success with the text payload `OK` (`/pub`, `/mpub`).
#[track_caller]
fn assert_v1_ok(r: &Response) {
    assert_eq!((r.status, r.text().as_str()), (200, "OK"), "{r:?}");
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(V1_HEADER_VALUE));
    assert_eq!(r.header("Content-Type"), Some(TEXT_PLAIN));
}

/// A V1 success with a JSON payload equal to `expected` (compact, as written).
#[track_caller]
fn assert_v1_json(r: &Response, expected: &str) {
    assert_eq!((r.status, r.text().as_str()), (200, expected), "{r:?}");
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(V1_HEADER_VALUE));
    assert_eq!(r.header("Content-Type"), Some(JSON_CONTENT_TYPE));
}

/// A connection subscribed to `topic`/`channel` with RDY `rdy`.
fn subscriber(nsqd: &Nsqd, topic: &str, channel: &str, rdy: u32) -> Client {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.sub(topic, channel);
    client.expect_ok();
    client.rdy(rdy);
    client
}

/// The next `n` message bodies (each FINed), as a set.
fn receive(client: &mut Client, n: usize) -> BTreeSet<Vec<u8>> {
    (0..n)
        .map(|_| {
            let message = client.expect_message();
            client.fin(&message.id);
            message.body
        })
        .collect()
}

/// Waits until `topic` exists and its `message_count` is `expected`.
fn wait_message_count(nsqd: &Nsqd, topic: &str, expected: u64) {
    wait_for(
        &format!("topic {topic} message_count == {expected}"),
        WAIT,
        || {
            let stats = http::topic_stats(nsqd.http_addr(), topic);
            let count = stats.as_ref().and_then(|t| t["message_count"].as_u64());
            (count == Some(expected), stats)
        },
    );
}

fn set(bodies: &[&str]) -> BTreeSet<Vec<u8>> {
    bodies.iter().map(|b| b.as_bytes().to_vec()).collect()
}

#[test]
fn unknown_paths_and_removed_pre_1_0_endpoints_are_404() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-404", &[]);
    let addr = nsqd.http_addr();
    assert_v1_error(&http::get(addr, "/does/not/exist"), 404, "NOT_FOUND");
    for path in [
        "/put?topic=old",
        "/mput?topic=old",
        "/create_topic?topic=old",
        "/delete_topic?topic=old",
        "/empty_topic?topic=old",
        "/pause_topic?topic=old",
        "/create_channel?topic=old&channel=c",
        "/delete_channel?topic=old&channel=c",
    ] {
        assert_v1_error(&http::post(addr, path, b"body"), 404, "NOT_FOUND");
        assert_v1_error(&http::get(addr, path), 404, "NOT_FOUND");
    }
    assert!(
        http::topic_stats(addr, "old").is_none(),
        "a removed endpoint created a topic"
    );
}

#[test]
fn wrong_method_is_405_with_allow_header() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-405", &[]);
    let addr = nsqd.http_addr();
    let r = http::post(addr, "/stats", b"");
    assert_v1_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS"), "{r:?}");
    let r = http::get(addr, "/pub?topic=t");
    assert_v1_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("Allow"), Some("OPTIONS, POST"), "{r:?}");
    let r = http::post(addr, "/config/log_level", b"debug");
    assert_v1_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS, PUT"), "{r:?}");
    // HEAD is not served by GET routes.
    let head = head_response(addr, "/ping");
    assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\nallow: get, options\r\n"),
        "{head}"
    );
    // OPTIONS on a known path: 200, Allow, empty body; on an unknown path: 404.
    let r = http::request(addr, "OPTIONS", "/topic/create", b"").expect("OPTIONS");
    assert_eq!((r.status, r.text().as_str()), (200, ""), "{r:?}");
    assert_eq!(r.header("Allow"), Some("OPTIONS, POST"), "{r:?}");
    let r = http::request(addr, "OPTIONS", "/nope", b"").expect("OPTIONS");
    assert_v1_error(&r, 404, "NOT_FOUND");
}

#[test]
fn near_miss_paths_redirect_to_the_route() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-redirect", &[]);
    let addr = nsqd.http_addr();
    for (method, path, status, location) in [
        ("GET", "/ping/", 301, "/ping"),
        ("GET", "/PING", 301, "/ping"),
        ("GET", "/info//", 301, "/info"),
        ("GET", "/stats/?format=json", 301, "/stats?format=json"),
        (
            "POST",
            "/topic/create/?topic=t",
            307,
            "/topic/create?topic=t",
        ),
        ("PUT", "/Config/log_level/", 307, "/config/log_level"),
    ] {
        let r = http::request(addr, method, path, b"").expect("request");
        assert_eq!(r.status, status, "{method} {path}: {r:?}");
        assert_eq!(r.header("Location"), Some(location), "{method} {path}");
    }
    // Only routes of the request's own method count.
    assert_v1_error(&http::get(addr, "/topic/create/"), 404, "NOT_FOUND");
    assert_v1_error(&http::post(addr, "/ping/", b""), 404, "NOT_FOUND");
    assert!(
        http::topic_stats(addr, "t").is_none(),
        "a redirect ran the handler"
    );
}

/// The raw head of the answer to `HEAD <path>` (no body is sent, whatever
/// Content-Length says, so the generic client cannot parse it).
fn head_response(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(WAIT))
        .expect("set_read_timeout");
    let request = format!("HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send HEAD");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read HEAD response");
    raw
}

#[test]
fn ping_answers_plain_text_ok() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-ping", &[]);
    let r = http::get(nsqd.http_addr(), "/ping");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("Content-Type"), Some(TEXT_PLAIN));
    assert_eq!(
        r.header("X-NSQ-Content-Type"),
        None,
        "/ping is not a V1 route"
    );
}

#[test]
fn info_reports_bound_ports_and_durations_in_ns() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-info", &[]);
    let r = http::get(nsqd.http_addr(), "/info");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(JSON_CONTENT_TYPE));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(V1_HEADER_VALUE));
    // The reference v1.3.0 has no topology_zone/topology_region keys here.
    assert_eq!(
        object_keys(&r.text()),
        vec![vec![
            "version",
            "broadcast_address",
            "hostname",
            "http_port",
            "tcp_port",
            "start_time",
            "max_heartbeat_interval",
            "max_output_buffer_size",
            "max_output_buffer_timeout",
            "max_deflate_level",
        ]]
    );
    let info = r.json();
    assert_eq!(info["version"], "1.3.0");
    let hostname = info["hostname"].as_str().expect("hostname is a string");
    assert!(!hostname.is_empty());
    assert_eq!(
        info["broadcast_address"], hostname,
        "defaults to the hostname"
    );
    assert_eq!(info["http_port"], nsqd.http_addr().port());
    assert_eq!(info["tcp_port"], nsqd.tcp_addr().port());
    let start = info["start_time"]
        .as_i64()
        .expect("start_time is an integer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    assert!(start > 1_600_000_000 && start <= now, "start_time {start}");
    assert_eq!(info["max_heartbeat_interval"], 60_000_000_000u64);
    assert_eq!(info["max_output_buffer_size"], 65536);
    assert_eq!(info["max_output_buffer_timeout"], 30_000_000_000u64);
    assert_eq!(info["max_deflate_level"], 6);
}

#[test]
fn pub_queues_the_body_and_answers_ok() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-pub", &[]);
    let mut consumer = subscriber(&nsqd, "events", "c", 10);
    let r = http::post(nsqd.http_addr(), "/pub?topic=events", b"hello\r\nworld\0");
    assert_v1_ok(&r);
    assert_eq!(receive(&mut consumer, 1), set(&["hello\r\nworld\0"]));
    wait_message_count(&nsqd, "events", 1);
}

#[test]
fn pub_empty_body_is_msg_empty_before_any_topic_check() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-pub-empty", &[]);
    let addr = nsqd.http_addr();
    assert_v1_error(&http::post(addr, "/pub?topic=t", b""), 400, "MSG_EMPTY");
    assert_v1_error(&http::post(addr, "/pub", b""), 400, "MSG_EMPTY");
    assert_v1_error(&http::post(addr, "/pub?topic=%zz", b""), 400, "MSG_EMPTY");
    assert!(http::topic_stats(addr, "t").is_none(), "topic was created");
}

#[test]
fn pub_over_max_msg_size_is_413_with_and_without_content_length() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-pub-big", &["--max-msg-size=100"]);
    let addr = nsqd.http_addr();
    let max = [b'x'; 100];
    let over = [b'y'; 101];
    assert_v1_ok(&http::post(addr, "/pub?topic=t", &max));
    assert_v1_error(&http::post(addr, "/pub?topic=t", &over), 413, "MSG_TOO_BIG");
    // Size is checked before the topic parameter.
    assert_v1_error(&http::post(addr, "/pub", &over), 413, "MSG_TOO_BIG");
    let chunked = |chunks: &[&[u8]]| {
        request_chunked(addr, "POST", "/pub?topic=t", chunks).expect("chunked POST /pub")
    };
    assert_v1_ok(&chunked(&[&max[..60], &max[60..]]));
    assert_v1_error(&chunked(&[&over[..60], &over[60..]]), 413, "MSG_TOO_BIG");
    assert_v1_error(&chunked(&[&[b'z'; 5000]]), 413, "MSG_TOO_BIG");
    wait_message_count(&nsqd, "t", 2);
}

#[test]
fn pub_topic_parameter_errors() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-pub-topic", &[]);
    let addr = nsqd.http_addr();
    let cases = [
        ("/pub", "MISSING_ARG_TOPIC"),
        ("/pub?channel=c", "MISSING_ARG_TOPIC"),
        ("/pub?topic=", "INVALID_TOPIC"),
        ("/pub?topic=bad!name", "INVALID_TOPIC"),
        ("/pub?topic=a%20b", "INVALID_TOPIC"),
        ("/pub?topic=t&x=%zz", "INVALID_REQUEST"),
        ("/pub?topic=%zz", "INVALID_REQUEST"),
    ];
    for (path, message) in cases {
        assert_v1_error(&http::post(addr, path, b"x"), 400, message);
    }
    for path in [
        "/pub?topic=t&x=%+1",
        "/pub?topic=t&x=%4",
        "/pub?topic=t;x=1",
    ] {
        assert_v1_error(&http::post(addr, path, b"x"), 400, "INVALID_REQUEST");
    }
    let long = format!("/pub?topic={}", "t".repeat(65));
    assert_v1_error(&http::post(addr, &long, b"x"), 400, "INVALID_TOPIC");
    let max_len = format!("/pub?topic={}", "t".repeat(64));
    assert_v1_ok(&http::post(addr, &max_len, b"x"));
    assert_v1_ok(&http::post(addr, "/pub?topic=t%23ephemeral", b"x"));
}

#[test]
fn pub_defer_range_and_errors() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-pub-defer", &[]);
    let addr = nsqd.http_addr();
    let _consumer = subscriber(&nsqd, "t", "c", 0);
    assert_v1_ok(&http::post(addr, "/pub?topic=t&defer=0", b"now"));
    let max = format!("/pub?topic=t&defer={MAX_DEFER_MS}");
    assert_v1_ok(&http::post(addr, &max, b"later"));
    assert_v1_ok(&http::post(addr, "/pub?topic=t&defer=5000", b"soon"));
    wait_for("1 queued and 2 deferred in t/c", WAIT, || {
        let c = http::channel_stats(addr, "t", "c").expect("channel t/c exists");
        let seen = (c["depth"].as_u64(), c["deferred_count"].as_u64());
        (seen == (Some(1), Some(2)), seen)
    });
    let too_big = format!("/pub?topic=t&defer={}", MAX_DEFER_MS + 1);
    for path in [
        "/pub?topic=t&defer=-1",
        "/pub?topic=t&defer=abc",
        "/pub?topic=t&defer=1.5",
        "/pub?topic=t&defer=",
        "/pub?topic=t&defer=99999999999999999999",
        &too_big,
    ] {
        assert_v1_error(&http::post(addr, path, b"x"), 400, "INVALID_DEFER");
    }
    // The topic is created before `defer` is checked.
    assert_v1_error(
        &http::post(addr, "/pub?topic=fresh&defer=abc", b"x"),
        400,
        "INVALID_DEFER",
    );
    let fresh = http::topic_stats(addr, "fresh").expect("topic created despite INVALID_DEFER");
    assert_eq!(fresh["message_count"], 0);
    wait_message_count(&nsqd, "t", 3);
}

#[test]
fn mpub_text_mode_skips_empty_lines_and_keeps_carriage_returns() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-mpub-text", &[]);
    let mut consumer = subscriber(&nsqd, "t", "c", 10);
    let body = b"one\ntwo\r\n\n\n\r\nthree";
    assert_v1_ok(&http::post(nsqd.http_addr(), "/mpub?topic=t", body));
    let got = receive(&mut consumer, 4);
    assert_eq!(got, set(&["one", "two\r", "\r", "three"]));
    wait_message_count(&nsqd, "t", 4);
    // `binary=false` and `binary=0` are text mode too.
    for path in ["/mpub?topic=t&binary=false", "/mpub?topic=t&binary=0"] {
        assert_v1_ok(&http::post(nsqd.http_addr(), path, b"a\nb\n"));
    }
    assert_eq!(receive(&mut consumer, 2), set(&["a", "b"]));
    assert_eq!(receive(&mut consumer, 2), set(&["a", "b"]));
}

#[test]
fn mpub_empty_body_answers_ok_and_publishes_nothing() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-mpub-empty", &[]);
    let addr = nsqd.http_addr();
    assert_v1_ok(&http::post(addr, "/mpub?topic=t", b""));
    assert_v1_ok(&http::post(addr, "/mpub?topic=t", b"\n\n\n"));
    let topic = http::topic_stats(addr, "t").expect("/mpub creates the topic");
    assert_eq!(
        (topic["message_count"].as_u64(), topic["depth"].as_u64()),
        (Some(0), Some(0))
    );
    for (path, message) in [
        ("/mpub", "MISSING_ARG_TOPIC"),
        ("/mpub?topic=bad!name", "INVALID_TOPIC"),
        ("/mpub?topic=t&x=%zz", "INVALID_REQUEST"),
    ] {
        assert_v1_error(&http::post(addr, path, b"a\n"), 400, message);
    }
}

#[test]
fn mpub_text_mode_size_limits() {
    let args = ["--max-body-size=200", "--max-msg-size=10"];
    let (_dir, nsqd) = Nsqd::start_in_temp("http-mpub-limits", &args);
    let addr = nsqd.http_addr();
    // Exactly max-body-size, every line exactly max-msg-size.
    let full = b"0123456789\n".repeat(18);
    let full = [&full[..], b"ab"].concat();
    assert_eq!(full.len(), 200);
    assert_v1_ok(&http::post(addr, "/mpub?topic=t", &full));
    wait_message_count(&nsqd, "t", 19);
    let over = [&full[..], b"\n"].concat();
    assert_v1_error(
        &http::post(addr, "/mpub?topic=t", &over),
        413,
        "BODY_TOO_BIG",
    );
    // Content-Length is checked before the topic parameter.
    assert_v1_error(&http::post(addr, "/mpub", &over), 413, "BODY_TOO_BIG");
    let chunked = request_chunked(addr, "POST", "/mpub?topic=t", &[&over[..100], &over[100..]])
        .expect("chunked POST /mpub");
    assert_v1_error(&chunked, 413, "BODY_TOO_BIG");
    assert_v1_error(
        &http::post(addr, "/mpub?topic=t", b"ok\n0123456789a\nok\n"),
        413,
        "MSG_TOO_BIG",
    );
    wait_message_count(&nsqd, "t", 19);
}

#[test]
fn mpub_binary_mode_valid_bodies() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-mpub-binary", &[]);
    let addr = nsqd.http_addr();
    let mut consumer = subscriber(&nsqd, "t", "c", 10);
    let valid = mpub_body(&[&b"a\nb"[..], b"c"]);
    assert_v1_ok(&http::post(addr, "/mpub?topic=t&binary=true", &valid));
    assert_eq!(receive(&mut consumer, 2), set(&["a\nb", "c"]));
    // `1` and any unrecognised value also select binary mode.
    assert_v1_ok(&http::post(
        addr,
        "/mpub?topic=t&binary=1",
        &mpub_body(&[b"d"]),
    ));
    assert_v1_ok(&http::post(
        addr,
        "/mpub?topic=t&binary=yes",
        &mpub_body(&[b"e"]),
    ));
    assert_eq!(receive(&mut consumer, 2), set(&["d", "e"]));
    // Bytes after the last message are ignored, as by the reference.
    let trailing = [&mpub_body(&[b"f"])[..], b"junk"].concat();
    assert_v1_ok(&http::post(addr, "/mpub?topic=t&binary=true", &trailing));
    assert_eq!(receive(&mut consumer, 1), set(&["f"]));
    wait_message_count(&nsqd, "t", 5);
}

#[test]
fn mpub_binary_mode_errors_are_413() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-mpub-binary-bad", &["--max-msg-size=100"]);
    let addr = nsqd.http_addr();
    let bin = |body: &[u8]| http::post(addr, "/mpub?topic=t&binary=true", body);
    let cat = |parts: &[&[u8]]| parts.concat();
    assert_v1_error(&bin(b""), 413, "BAD_BODY");
    assert_v1_error(&bin(&body_len(0)), 413, "BAD_BODY");
    assert_v1_error(&bin(&[0xff, 0xff, 0xff, 0xff]), 413, "BAD_BODY");
    assert_v1_error(
        &bin(&cat(&[&body_len(0x7fff_ffff), &body_len(1), b"a"])),
        413,
        "BAD_BODY",
    );
    // count 1 but no message size, a zero size, a size over max-msg-size, a short body.
    assert_v1_error(&bin(&body_len(1)), 413, "BAD_MESSAGE");
    assert_v1_error(
        &bin(&cat(&[&body_len(1), &body_len(0)])),
        413,
        "BAD_MESSAGE",
    );
    let big = [b'x'; 101];
    assert_v1_error(
        &bin(&cat(&[&body_len(1), &body_len(101), &big])),
        413,
        "BAD_MESSAGE",
    );
    assert_v1_error(
        &bin(&cat(&[&body_len(2), &body_len(1), b"a"])),
        413,
        "BAD_MESSAGE",
    );
    assert_v1_error(
        &bin(&cat(&[&body_len(1), &body_len(5), b"ab"])),
        413,
        "BAD_MESSAGE",
    );
    let topic = http::topic_stats(addr, "t").expect("/mpub created the topic");
    assert_eq!(
        topic["message_count"], 0,
        "a failed batch published something"
    );
}

#[test]
fn config_get_returns_options_by_config_key() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-config-get", &[]);
    let addr = nsqd.http_addr();
    for (key, expected) in [
        ("mem_queue_size", "10000"),
        ("msg_timeout", "60000000000"),
        ("max_req_timeout", "3600000000000"),
        ("max_msg_size", "1048576"),
        ("nsqlookupd_tcp_addresses", "[]"),
        ("log_level", "2"),
        ("snappy", "true"),
    ] {
        assert_v1_json(&http::get(addr, &format!("/config/{key}")), expected);
    }
    // String options come back as raw text, not JSON strings (the V1 writer sends Go
    // strings verbatim).
    let r = http::get(addr, "/config/broadcast_address");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(TEXT_PLAIN));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(V1_HEADER_VALUE));
    let info = http::get(addr, "/info").json();
    assert_eq!(info["broadcast_address"], r.text().as_str());
    let r = http::get(addr, "/config/tls_cert");
    assert_eq!((r.status, r.text().as_str()), (200, ""));
    assert_eq!(
        r.header("Content-Type"),
        None,
        "an empty string is an empty body"
    );
    for key in ["nope", "mem-queue-size", "MemQueueSize"] {
        let r = http::get(addr, &format!("/config/{key}"));
        assert_v1_error(&r, 400, "INVALID_OPTION");
    }
}

#[test]
fn config_put_nsqlookupd_tcp_addresses() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-config-lookupd", &[]);
    let addr = nsqd.http_addr();
    let path = "/config/nsqlookupd_tcp_addresses";
    let set_to = r#"["127.0.0.1:1","127.0.0.1:2"]"#;
    assert_v1_json(&http::put(addr, path, set_to.as_bytes()), set_to);
    assert_v1_json(&http::get(addr, path), set_to);
    for bad in [&b"\"127.0.0.1:1\""[..], b"[1]", b"127.0.0.1:1", b"{}"] {
        assert_v1_error(&http::put(addr, path, bad), 400, "INVALID_VALUE");
    }
    assert_v1_error(&http::put(addr, path, b""), 413, "INVALID_VALUE");
    assert_v1_json(&http::get(addr, path), set_to);
    assert_v1_json(&http::put(addr, path, b"[]"), "[]");
}

#[test]
fn config_put_log_level_and_errors() {
    let (_dir, nsqd) = Nsqd::start_in_temp("http-config-log", &["--max-msg-size=100"]);
    let addr = nsqd.http_addr();
    let path = "/config/log_level";
    assert_v1_json(&http::put(addr, path, b"debug"), "1");
    assert_v1_json(&http::put(addr, path, b"WARN"), "3");
    assert_v1_json(&http::get(addr, path), "3");
    // The level name is taken literally: no quotes, no surrounding whitespace.
    for bad in [&b"loud"[..], b"\"info\"", b"info\n", b"2"] {
        assert_v1_error(&http::put(addr, path, bad), 400, "INVALID_VALUE");
    }
    assert_v1_error(&http::put(addr, path, b""), 413, "INVALID_VALUE");
    assert_v1_error(&http::put(addr, path, &[b'x'; 101]), 413, "INVALID_VALUE");
    assert_v1_json(&http::put(addr, path, b"Info"), "2");
    // Only two options are writable; the body is checked first.
    for key in ["mem_queue_size", "nope"] {
        let r = http::put(addr, &format!("/config/{key}"), b"5");
        assert_v1_error(&r, 400, "INVALID_OPTION");
        assert_v1_error(
            &http::put(addr, &format!("/config/{key}"), b""),
            413,
            "INVALID_VALUE",
        );
    }
    assert_v1_json(&http::get(addr, "/config/mem_queue_size"), "10000");
}
