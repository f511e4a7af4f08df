//! Bad input over TCP against a real nsqd: the exact error text of each case,
//! fatal errors closing only the offending connection,
//! non-fatal ones leaving it usable, and the daemon serving a fresh client afterwards.

use nsq_tests::client::{body_len, Client, Frame, FRAME_ERROR};
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::json_order::object_keys;
use serde_json::json;

/// The reference's line buffer: longest accepted line, newline included.
const MAX_LINE: usize = 16 * 1024;
/// A syntactically valid message ID that was never handed out.
const UNKNOWN_ID: &str = "0123456789abcdef";

/// A new connection can still publish and get `OK`.
fn assert_serves(nsqd: &Nsqd) {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.nop();
    client.pub_("still_serving", b"alive");
    client.expect_ok();
}

/// Sends what `send` writes on a fresh V2 connection and requires exactly the error
/// `expected`, then a close, then a daemon that still serves others.
fn assert_fatal(nsqd: &Nsqd, expected: &str, send: impl FnOnce(&mut Client)) {
    let mut client = Client::connect(nsqd.tcp_addr());
    send(&mut client);
    let text = client.expect_error("");
    assert_eq!(text, expected);
    client.expect_closed();
    assert_serves(nsqd);
}

fn subscribed(nsqd: &Nsqd, topic: &str, channel: &str) -> Client {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.sub(topic, channel);
    client.expect_ok();
    client
}

#[test]
fn bad_magic_gets_e_bad_protocol_and_close() {
    let (_dir, nsqd) = Nsqd::start_in_temp("bad-magic", &[]);
    let mut client = Client::connect_raw(nsqd.tcp_addr());
    client.send_raw(b"  V1");
    assert_eq!(
        client.read_raw_frame(),
        (FRAME_ERROR, b"E_BAD_PROTOCOL".to_vec())
    );
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn unknown_and_lowercase_commands_are_invalid() {
    let (_dir, nsqd) = Nsqd::start_in_temp("invalid-cmd", &[]);
    assert_fatal(&nsqd, "E_INVALID invalid command ASDF", |c| {
        c.send_raw(b"ASDF\n")
    });
    assert_fatal(&nsqd, "E_INVALID invalid command nop", |c| {
        c.send_raw(b"nop\n")
    });
    assert_fatal(&nsqd, "E_INVALID invalid command ASDF", |c| {
        c.send_raw(b"ASDF x y\r\n")
    });
}

#[test]
fn empty_line_is_an_invalid_command_with_trailing_space() {
    let (_dir, nsqd) = Nsqd::start_in_temp("empty-line", &[]);
    assert_fatal(&nsqd, "E_INVALID invalid command ", |c| c.send_raw(b"\n"));
}

#[test]
fn garbage_after_magic_is_echoed_as_invalid_command() {
    let (_dir, nsqd) = Nsqd::start_in_temp("garbage", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.send_raw(&[0xde, 0xad, 0xbe, 0xef, 0x00, b'\n']);
    let mut expected = b"E_INVALID invalid command ".to_vec();
    expected.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x00]);
    assert_eq!(client.read_raw_frame(), (FRAME_ERROR, expected));
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn pub_parameter_and_topic_errors() {
    let (_dir, nsqd) = Nsqd::start_in_temp("pub-topic", &[]);
    assert_fatal(
        &nsqd,
        "E_INVALID PUB insufficient number of parameters",
        |c| c.send_raw(b"PUB\n"),
    );
    assert_fatal(
        &nsqd,
        r#"E_BAD_TOPIC PUB topic name "bad!topic" is not valid"#,
        |c| c.pub_("bad!topic", b"body"),
    );
    let long = "t".repeat(65);
    assert_fatal(
        &nsqd,
        &format!(r#"E_BAD_TOPIC PUB topic name "{long}" is not valid"#),
        |c| c.pub_(&long, b"body"),
    );
}

#[test]
fn pub_empty_body_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("pub-empty", &[]);
    assert_fatal(
        &nsqd,
        "E_BAD_MESSAGE PUB invalid message body size 0",
        |c| c.pub_("t", b""),
    );
}

#[test]
fn pub_body_over_max_msg_size_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("pub-big", &["--max-msg-size=100"]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.pub_("t", &[b'x'; 100]);
    client.expect_ok();
    assert_fatal(&nsqd, "E_BAD_MESSAGE PUB message too big 101 > 100", |c| {
        c.pub_("t", &[b'x'; 101])
    });
}

#[test]
fn mpub_bad_topic_repeats_the_code() {
    let (_dir, nsqd) = Nsqd::start_in_temp("mpub-topic", &[]);
    assert_fatal(
        &nsqd,
        r#"E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "bad!topic" is not valid"#,
        |c| c.mpub("bad!topic", &[b"a"]),
    );
}

#[test]
fn mpub_body_over_max_body_size_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("mpub-big", &["--max-body-size=1000"]);
    assert_fatal(&nsqd, "E_BAD_BODY MPUB body too big 1001 > 1000", |c| {
        c.send_raw(b"MPUB t\n");
        c.send_raw(&body_len(1001));
        c.send_raw(&[0u8; 1001]);
    });
}

#[test]
fn mpub_count_zero_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("mpub-zero", &[]);
    assert_fatal(&nsqd, "E_BAD_BODY MPUB invalid message count 0", |c| {
        c.send_raw(b"MPUB t\n");
        c.send_raw(&body_len(4));
        c.send_raw(&0u32.to_be_bytes());
    });
}

#[test]
fn mpub_empty_message_is_rejected_and_nothing_is_queued() {
    let (_dir, nsqd) = Nsqd::start_in_temp("mpub-empty-msg", &[]);
    let mut bodies: Vec<&[u8]> = vec![b"a"; 5];
    bodies.push(b"");
    assert_fatal(
        &nsqd,
        "E_BAD_MESSAGE MPUB invalid message(5) body size 0",
        |c| c.mpub("mpub_partial", &bodies),
    );
    // Quirk: the topic exists, but no message was queued.
    let topic = http::topic_stats(nsqd.http_addr(), "mpub_partial").expect("topic created");
    assert_eq!(topic["depth"], 0);
    assert_eq!(topic["message_count"], 0);
}

#[test]
fn dpub_timeout_out_of_range_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("dpub-range", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.dpub("t", 3_600_000, b"max is inclusive");
    client.expect_ok();
    assert_fatal(
        &nsqd,
        "E_INVALID DPUB timeout 3600001 out of range 0-3600000",
        |c| c.dpub("t", 3_600_001, b"x"),
    );
    assert_fatal(&nsqd, "E_INVALID DPUB could not parse timeout -1", |c| {
        c.send_raw(b"DPUB t -1\n");
        c.send_raw(&body_len(1));
        c.send_raw(b"x");
    });
}

#[test]
fn rdy_before_sub_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("rdy-init", &[]);
    assert_fatal(&nsqd, "E_INVALID cannot RDY in current state", |c| c.rdy(1));
}

#[test]
fn rdy_above_max_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("rdy-max", &["--max-rdy-count=50"]);
    let mut client = subscribed(&nsqd, "t", "c");
    client.rdy(50);
    client.nop();
    client.pub_("other", b"x");
    client.expect_ok();
    client.rdy(51);
    assert_eq!(
        client.expect_error(""),
        "E_INVALID RDY count 51 out of range 0-50"
    );
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn fin_req_touch_of_unknown_id_are_not_fatal() {
    let (_dir, nsqd) = Nsqd::start_in_temp("fin-unknown", &[]);
    let mut client = subscribed(&nsqd, "t", "c");
    let id = UNKNOWN_ID.as_bytes();
    client.fin(id);
    assert_eq!(
        client.expect_error(""),
        format!("E_FIN_FAILED FIN {UNKNOWN_ID} failed ID not in flight")
    );
    client.req(id, 0);
    assert_eq!(
        client.expect_error(""),
        format!("E_REQ_FAILED REQ {UNKNOWN_ID} failed ID not in flight")
    );
    client.touch(id);
    assert_eq!(
        client.expect_error(""),
        format!("E_TOUCH_FAILED TOUCH {UNKNOWN_ID} failed ID not in flight")
    );
    client.nop();
    client.pub_("other", b"x");
    client.expect_ok();
}

#[test]
fn fin_with_short_id_is_fatal() {
    let (_dir, nsqd) = Nsqd::start_in_temp("fin-short", &[]);
    let mut client = subscribed(&nsqd, "t", "c");
    client.fin(b"abcde");
    assert_eq!(client.expect_error(""), "E_INVALID invalid message ID");
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn fin_before_sub_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("fin-init", &[]);
    assert_fatal(&nsqd, "E_INVALID cannot FIN in current state", |c| {
        c.fin(UNKNOWN_ID.as_bytes())
    });
}

#[test]
fn second_sub_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("sub-twice", &[]);
    let mut client = subscribed(&nsqd, "t", "c");
    client.sub("t", "c2");
    assert_eq!(
        client.expect_error(""),
        "E_INVALID cannot SUB in current state"
    );
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn sub_with_bad_names_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("sub-names", &[]);
    assert_fatal(
        &nsqd,
        "E_INVALID SUB insufficient number of parameters",
        |c| c.send_raw(b"SUB t\n"),
    );
    assert_fatal(
        &nsqd,
        r#"E_BAD_TOPIC SUB topic name "a#b" is not valid"#,
        |c| c.sub("a#b", "c"),
    );
    assert_fatal(
        &nsqd,
        r##"E_BAD_CHANNEL SUB channel name "#ephemeral" is not valid"##,
        |c| c.sub("t", "#ephemeral"),
    );
}

#[test]
fn identify_after_sub_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("identify-sub", &[]);
    let mut client = subscribed(&nsqd, "t", "c");
    client.identify(&json!({"client_id": "late"}));
    assert_eq!(
        client.expect_error(""),
        "E_INVALID cannot IDENTIFY in current state"
    );
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn identify_with_bad_json_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("identify-json", &[]);
    assert_fatal(
        &nsqd,
        "E_BAD_BODY IDENTIFY failed to decode JSON body",
        |c| {
            let body = b"{not json";
            c.send_raw(b"IDENTIFY\n");
            c.send_raw(&body_len(body.len()));
            c.send_raw(body);
        },
    );
    assert_fatal(
        &nsqd,
        "E_BAD_BODY IDENTIFY failed to decode JSON body",
        |c| c.identify(&json!({"heartbeat_interval": "1000"})),
    );
}

#[test]
fn identify_with_invalid_heartbeat_interval_is_rejected() {
    let (_dir, nsqd) = Nsqd::start_in_temp("identify-hb", &[]);
    assert_fatal(
        &nsqd,
        "E_BAD_BODY IDENTIFY heartbeat interval (60001) is invalid",
        |c| c.identify(&json!({"heartbeat_interval": 60001})),
    );
    assert_fatal(
        &nsqd,
        "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid",
        |c| c.identify(&json!({"heartbeat_interval": 999})),
    );
}

#[test]
fn identify_without_negotiation_answers_ok() {
    let (_dir, nsqd) = Nsqd::start_in_temp("identify-ok", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.identify(&json!({"client_id": "c1", "short_id": "legacy", "long_id": "legacy"}));
    client.expect_ok();
    client.identify(&json!({"client_id": "c2"}));
    client.expect_ok();
    client.sub("t", "c");
    client.expect_ok();
}

/// The Go reference v1.3.0 sends 13 keys: the protocol documentation also lists
/// `topology_region`/`topology_zone`, but the reference's reply struct has no such
/// fields, so they are not expected here.
#[test]
fn identify_feature_negotiation_reply_has_reference_keys_in_order() {
    let (_dir, nsqd) = Nsqd::start_in_temp("identify-neg", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.identify(&json!({"feature_negotiation": true, "client_id": "c"}));
    let raw = String::from_utf8(client.expect_response()).expect("UTF-8 reply");
    assert!(raw.starts_with('{'), "reply must start with '{{': {raw}");
    let keys = object_keys(&raw);
    assert_eq!(keys.len(), 1, "one flat object expected: {raw}");
    assert_eq!(
        keys[0],
        [
            "max_rdy_count",
            "version",
            "max_msg_timeout",
            "msg_timeout",
            "tls_v1",
            "deflate",
            "deflate_level",
            "max_deflate_level",
            "snappy",
            "sample_rate",
            "auth_required",
            "output_buffer_size",
            "output_buffer_timeout",
        ]
    );
    let reply: serde_json::Value = serde_json::from_str(&raw).expect("JSON reply");
    assert_eq!(
        reply,
        json!({"max_rdy_count": 2500, "version": "1.3.0", "max_msg_timeout": 900000,
               "msg_timeout": 60000, "tls_v1": false, "deflate": false, "deflate_level": 6,
               "max_deflate_level": 6, "snappy": false, "sample_rate": 0,
               "auth_required": false, "output_buffer_size": 16384,
               "output_buffer_timeout": 250})
    );
    client.sub("t", "c");
    client.expect_ok();
}

#[test]
fn half_line_then_half_close_closes_without_frame() {
    let (_dir, nsqd) = Nsqd::start_in_temp("half-line", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.send_raw(b"PUB half");
    client.shutdown_write();
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn half_body_size_then_half_close_is_a_read_error() {
    let (_dir, nsqd) = Nsqd::start_in_temp("half-size", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.send_raw(b"PUB t\n\x00\x00");
    client.shutdown_write();
    assert_eq!(
        client.expect_error(""),
        "E_BAD_MESSAGE PUB failed to read message body size"
    );
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn line_of_16_kib_is_accepted_and_longer_closes_without_frame() {
    let (_dir, nsqd) = Nsqd::start_in_temp("long-line", &[]);
    // NOP ignores extra (here: empty) parameters.
    let mut fits = b"NOP".to_vec();
    fits.resize(MAX_LINE - 1, b' ');
    fits.push(b'\n');
    let mut client = Client::connect(nsqd.tcp_addr());
    client.send_raw(&fits);
    client.pub_("t", b"after long line");
    client.expect_ok();

    let mut too_long = b"NOP".to_vec();
    too_long.resize(MAX_LINE, b' ');
    too_long.push(b'\n');
    let mut client = Client::connect(nsqd.tcp_addr());
    client.send_raw(&too_long);
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn cls_flow() {
    let (_dir, nsqd) = Nsqd::start_in_temp("cls", &[]);
    assert_fatal(&nsqd, "E_INVALID cannot CLS in current state", |c| c.cls());

    let mut client = subscribed(&nsqd, "cls_topic", "c");
    client.rdy(1);
    client.cls();
    client.expect_response_eq(b"CLOSE_WAIT");
    // Closing: RDY is ignored, FIN still allowed, publishing still works.
    client.rdy(5);
    client.nop();
    client.fin(UNKNOWN_ID.as_bytes());
    assert_eq!(
        client.expect_error(""),
        format!("E_FIN_FAILED FIN {UNKNOWN_ID} failed ID not in flight")
    );
    client.pub_("other", b"x");
    client.expect_ok();
    client.cls();
    assert_eq!(
        client.expect_error(""),
        "E_INVALID cannot CLS in current state"
    );
    client.expect_closed();
    assert_serves(&nsqd);
}

#[test]
fn publisher_may_also_subscribe_and_receive_its_message() {
    let (_dir, nsqd) = Nsqd::start_in_temp("pub-sub", &[]);
    let mut client = subscribed(&nsqd, "loop", "c");
    client.rdy(1);
    client.pub_("loop", b"to myself");
    let mut got_ok = false;
    let mut message = None;
    while !got_ok || message.is_none() {
        match client.read_frame() {
            Frame::Response(data) if data == b"OK" => got_ok = true,
            Frame::Message(m) => message = Some(m),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    let message = message.expect("message");
    assert_eq!(message.body, b"to myself");
    assert_eq!(message.attempts, 1);
    assert!(message
        .id
        .iter()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    client.fin(&message.id);
    client.nop();
    client.mpub("other", &[b"x", b"y"]);
    client.expect_ok();
}
