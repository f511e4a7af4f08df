//! Abuse at every limit, side by side: each case runs against the nsqd under test and
//! the Go reference v1.3.0 with the same small limits, and both must answer exactly the
//! transcript written here (every frame, then whether the connection was closed). RDY at
//! max-rdy-count and +1, negative, non-numeric; bodies at --max-msg-size and +1 for PUB,
//! MPUB and DPUB, negative sizes; MPUB count 0, negative and huge; DPUB and REQ timeouts
//! at the maximum and +1; IDENTIFY msg_timeout, heartbeat_interval, output buffer size
//! and timeout, sample_rate at their limits; topic and channel names of 64 and 65
//! characters; counts and timeouts past 64 bits (Go's parse wraps). Over HTTP, `/pub` and `/mpub` at their limits answer the same status and
//! body as Go's. The exact texts our nsqd alone is held to live in `tcp_errors` and
//! `http_api`; this file adds the boundaries and the comparison.

use nsq_tests::client::{body_len, Client, Frame, READ_TIMEOUT};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use serde_json::json;

/// The limits both daemons run with.
const FLAGS: &[&str] = &[
    "--max-msg-size=100",
    "--max-body-size=1000",
    "--max-rdy-count=50",
    "--max-req-timeout=10s",
    "--max-msg-timeout=20s",
    "--max-heartbeat-interval=10s",
    "--max-output-buffer-size=1000",
    "--max-output-buffer-timeout=2s",
];
/// The transcript's last word when the server closed the connection.
const CLOSED: &str = "<closed>";
/// The transcript's last word when the connection stayed usable (a PUB answered `OK`).
const OPEN: &str = "<open>";

fn frame_text(frame: Frame) -> String {
    match frame {
        Frame::Response(data) => String::from_utf8_lossy(&data).into_owned(),
        Frame::Error(text) => text,
        Frame::Message(m) => format!("<message {}>", String::from_utf8_lossy(&m.body)),
    }
}

/// The next frame as text, [`CLOSED`] if the server closed, `<silence>` if it sent
/// nothing within the client's read timeout.
fn next_text(client: &mut Client) -> String {
    match client.try_read_frame(READ_TIMEOUT) {
        Ok(Some(frame)) => frame_text(frame),
        Ok(None) => "<silence>".to_string(),
        Err(_) => CLOSED.to_string(),
    }
}

/// Sends `bytes` after the magic, then reads `expected.len() - 1` frames and checks the
/// end: closed, or still open (a PUB answered).
fn transcript(nsqd: &Nsqd, bytes: &[u8], expected: &[&str]) -> Vec<String> {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.send_raw(bytes);
    let mut got = Vec::new();
    for _ in 1..expected.len() {
        got.push(next_text(&mut client));
        if got.last().map(String::as_str) == Some(CLOSED) {
            return got;
        }
    }
    if expected.last() == Some(&CLOSED) {
        client.expect_closed();
        got.push(CLOSED.to_string());
    } else {
        client.pub_("limits_alive", b"x");
        got.push(match next_text(&mut client).as_str() {
            "OK" => OPEN.to_string(),
            other => other.to_string(),
        });
    }
    got
}

fn cmd(line: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{line}\n").into_bytes();
    out.extend_from_slice(&body_len(body.len()));
    out.extend_from_slice(body);
    out
}

fn mpub(topic: &str, bodies: &[&[u8]]) -> Vec<u8> {
    let mut body = (bodies.len() as u32).to_be_bytes().to_vec();
    for b in bodies {
        body.extend_from_slice(&body_len(b.len()));
        body.extend_from_slice(b);
    }
    cmd(&format!("MPUB {topic}"), &body)
}

fn identify(v: serde_json::Value) -> Vec<u8> {
    cmd("IDENTIFY", v.to_string().as_bytes())
}

fn sub_then(line: &str) -> Vec<u8> {
    format!("SUB limits c\n{line}\n").into_bytes()
}

/// (case, bytes after the magic, expected transcript).
fn tcp_cases() -> Vec<(&'static str, Vec<u8>, Vec<String>)> {
    let x100 = [b'x'; 100];
    let x101 = [b'x'; 101];
    let t64 = "t".repeat(64);
    let t65 = "t".repeat(65);
    let c64 = "c".repeat(64);
    let c65 = "c".repeat(65);
    let eph64 = format!("{}#ephemeral", "e".repeat(54));
    let mut negative_pub = b"PUB limits\n".to_vec();
    negative_pub.extend_from_slice(&[0xff; 4]);
    let mut negative_mpub_count = b"MPUB limits\n".to_vec();
    negative_mpub_count.extend_from_slice(&body_len(4));
    negative_mpub_count.extend_from_slice(&[0xff; 4]);
    let mut huge_mpub_count = b"MPUB limits\n".to_vec();
    huge_mpub_count.extend_from_slice(&body_len(9));
    huge_mpub_count.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    huge_mpub_count.extend_from_slice(&body_len(1));
    huge_mpub_count.push(b'a');
    let mut negative_mpub_size = b"MPUB limits\n".to_vec();
    negative_mpub_size.extend_from_slice(&body_len(9));
    negative_mpub_size.extend_from_slice(&1u32.to_be_bytes());
    negative_mpub_size.extend_from_slice(&[0xff; 4]);
    negative_mpub_size.push(b'a');
    let mpub_1000 = {
        // 4 (count) + 9 × (4 + 100) + (4 + 56) = 1000 bytes.
        let mut bodies: Vec<&[u8]> = vec![&x100; 9];
        bodies.push(&x100[..56]);
        mpub("limits", &bodies)
    };
    let cases: Vec<(&'static str, Vec<u8>, Vec<&str>)> = vec![
        ("RDY at max", sub_then("RDY 50"), vec!["OK", OPEN]),
        (
            "RDY max+1",
            sub_then("RDY 51"),
            vec!["OK", "E_INVALID RDY count 51 out of range 0-50", CLOSED],
        ),
        ("RDY 0", sub_then("RDY 0"), vec!["OK", OPEN]),
        ("RDY without a count", sub_then("RDY"), vec!["OK", OPEN]),
        (
            "RDY negative",
            sub_then("RDY -1"),
            vec!["OK", "E_INVALID RDY could not parse count -1", CLOSED],
        ),
        (
            "RDY non-numeric",
            sub_then("RDY abc"),
            vec!["OK", "E_INVALID RDY could not parse count abc", CLOSED],
        ),
        (
            "RDY beyond 64 bits",
            sub_then("RDY 99999999999999999999"),
            vec![
                "OK",
                "E_INVALID RDY count 7766279631452241919 out of range 0-50",
                CLOSED,
            ],
        ),
        (
            "RDY of 2^64-1 (Go's int64: -1)",
            sub_then("RDY 18446744073709551615"),
            vec!["OK", "E_INVALID RDY count -1 out of range 0-50", CLOSED],
        ),
        (
            "PUB negative body size",
            negative_pub,
            vec!["E_BAD_MESSAGE PUB invalid message body size -1", CLOSED],
        ),
        (
            "MPUB message at max-msg-size",
            mpub("limits", &[&x100, b"a"]),
            vec!["OK", OPEN],
        ),
        (
            "MPUB message at max-msg-size+1",
            mpub("limits", &[b"a", &x101]),
            vec!["E_BAD_MESSAGE MPUB message too big 101 > 100", CLOSED],
        ),
        ("MPUB body at max-body-size", mpub_1000, vec!["OK", OPEN]),
        (
            "MPUB negative count",
            negative_mpub_count,
            vec!["E_BAD_BODY MPUB invalid message count -1", CLOSED],
        ),
        (
            "MPUB huge count",
            huge_mpub_count,
            vec!["E_BAD_BODY MPUB invalid message count 2147483647", CLOSED],
        ),
        (
            "MPUB negative message size",
            negative_mpub_size,
            vec!["E_BAD_MESSAGE MPUB invalid message(0) body size -1", CLOSED],
        ),
        (
            "DPUB timeout at max",
            cmd("DPUB limits 10000", b"x"),
            vec!["OK", OPEN],
        ),
        (
            "DPUB timeout max+1",
            cmd("DPUB limits 10001", b"x"),
            vec!["E_INVALID DPUB timeout 10001 out of range 0-10000", CLOSED],
        ),
        (
            "DPUB timeout of 2^64-1 ms",
            cmd("DPUB limits 18446744073709551615", b"x"),
            vec![
                "E_INVALID DPUB timeout 18446744073709551615 out of range 0-10000",
                CLOSED,
            ],
        ),
        (
            "DPUB timeout whose nanoseconds wrap into range (Go accepts it)",
            cmd("DPUB limits 18446744073710", b"x"),
            vec!["OK", OPEN],
        ),
        (
            "DPUB timeout non-numeric",
            cmd("DPUB limits abc", b"x"),
            vec!["E_INVALID DPUB could not parse timeout abc", CLOSED],
        ),
        (
            "DPUB body at max-msg-size",
            cmd("DPUB limits 0", &x100),
            vec!["OK", OPEN],
        ),
        (
            "DPUB body max+1",
            cmd("DPUB limits 0", &x101),
            vec!["E_BAD_MESSAGE DPUB message too big 101 > 100", CLOSED],
        ),
        (
            "REQ timeout max+1 (clamped) of an unknown ID",
            sub_then("REQ 0123456789abcdef 10001"),
            vec![
                "OK",
                "E_REQ_FAILED REQ 0123456789abcdef failed ID not in flight",
                OPEN,
            ],
        ),
        (
            "REQ negative timeout",
            sub_then("REQ 0123456789abcdef -1"),
            vec!["OK", "E_INVALID REQ could not parse timeout -1", CLOSED],
        ),
        (
            "IDENTIFY msg_timeout at max",
            identify(json!({"msg_timeout": 20000})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY msg_timeout max+1",
            identify(json!({"msg_timeout": 20001})),
            vec!["E_BAD_BODY IDENTIFY msg timeout (20001) is invalid", CLOSED],
        ),
        (
            "IDENTIFY msg_timeout below 1 s",
            identify(json!({"msg_timeout": 999})),
            vec!["E_BAD_BODY IDENTIFY msg timeout (999) is invalid", CLOSED],
        ),
        (
            "IDENTIFY heartbeat at max",
            identify(json!({"heartbeat_interval": 10000})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY heartbeat max+1",
            identify(json!({"heartbeat_interval": 10001})),
            vec![
                "E_BAD_BODY IDENTIFY heartbeat interval (10001) is invalid",
                CLOSED,
            ],
        ),
        (
            "IDENTIFY heartbeat -1 (off)",
            identify(json!({"heartbeat_interval": -1})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY heartbeat -2",
            identify(json!({"heartbeat_interval": -2})),
            vec![
                "E_BAD_BODY IDENTIFY heartbeat interval (-2) is invalid",
                CLOSED,
            ],
        ),
        (
            "IDENTIFY output buffer size at max",
            identify(json!({"output_buffer_size": 1000})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY output buffer size max+1",
            identify(json!({"output_buffer_size": 1001})),
            vec![
                "E_BAD_BODY IDENTIFY output buffer size (1001) is invalid",
                CLOSED,
            ],
        ),
        (
            "IDENTIFY output buffer size 63",
            identify(json!({"output_buffer_size": 63})),
            vec![
                "E_BAD_BODY IDENTIFY output buffer size (63) is invalid",
                CLOSED,
            ],
        ),
        (
            "IDENTIFY output buffer size -1 (unbuffered)",
            identify(json!({"output_buffer_size": -1})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY output buffer timeout at max",
            identify(json!({"output_buffer_timeout": 2000})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY output buffer timeout max+1",
            identify(json!({"output_buffer_timeout": 2001})),
            vec![
                "E_BAD_BODY IDENTIFY output buffer timeout (2001) is invalid",
                CLOSED,
            ],
        ),
        (
            "IDENTIFY output buffer timeout below the minimum",
            identify(json!({"output_buffer_timeout": 24})),
            vec![
                "E_BAD_BODY IDENTIFY output buffer timeout (24) is invalid",
                CLOSED,
            ],
        ),
        (
            "IDENTIFY sample rate 99",
            identify(json!({"sample_rate": 99})),
            vec!["OK", OPEN],
        ),
        (
            "IDENTIFY sample rate 100",
            identify(json!({"sample_rate": 100})),
            vec!["E_BAD_BODY IDENTIFY sample rate (100) is invalid", CLOSED],
        ),
        (
            "topic name of 64",
            cmd(&format!("PUB {t64}"), b"x"),
            vec!["OK", OPEN],
        ),
        (
            "ephemeral topic name of 64",
            cmd(&format!("PUB {eph64}"), b"x"),
            vec!["OK", OPEN],
        ),
        (
            "topic name of 65 in SUB",
            format!("SUB {t65} c\n").into_bytes(),
            vec![
                Box::leak(format!("E_BAD_TOPIC SUB topic name \"{t65}\" is not valid").into())
                    as &str,
                CLOSED,
            ],
        ),
        (
            "channel name of 64",
            format!("SUB limits {c64}\n").into_bytes(),
            vec!["OK", OPEN],
        ),
        (
            "channel name of 65",
            format!("SUB limits {c65}\n").into_bytes(),
            vec![
                Box::leak(format!("E_BAD_CHANNEL SUB channel name \"{c65}\" is not valid").into())
                    as &str,
                CLOSED,
            ],
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, exp)| (name, bytes, exp.into_iter().map(String::from).collect()))
        .collect()
}

/// Runs every TCP case against `nsqd`; the cases whose transcript differs.
fn tcp_mismatches(nsqd: &Nsqd) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, bytes, expected) in tcp_cases() {
        let want: Vec<&str> = expected.iter().map(String::as_str).collect();
        let got = transcript(nsqd, &bytes, &want);
        if got != expected {
            bad.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    bad
}

fn check_tcp(bin: &std::path::Path, label: &str) {
    let dir = TempDir::new(label);
    let nsqd = Nsqd::start(bin, dir.path(), FLAGS);
    let bad = tcp_mismatches(&nsqd);
    assert!(bad.is_empty(), "{label}:\n{}", bad.join("\n"));
    assert_eq!(http::get(nsqd.http_addr(), "/ping").text(), "OK");
}

#[test]
fn tcp_limits_ours() {
    check_tcp(&nsqd_bin(), "limits-ours");
}

#[test]
fn tcp_limits_go_reference() {
    check_tcp(&go_nsqd_bin(), "limits-go");
}

/// HTTP requests at the limits: (method, path, body).
fn http_cases() -> Vec<(&'static str, String, Vec<u8>)> {
    let cat = |parts: &[&[u8]]| parts.concat();
    let x100 = vec![b'x'; 100];
    let x101 = vec![b'x'; 101];
    let lines_1000 = {
        // Ten lines of 99 bytes and their newlines: 1,000 bytes.
        let mut b = Vec::new();
        for _ in 0..10 {
            b.extend_from_slice(&[b'y'; 99]);
            b.push(b'\n');
        }
        b
    };
    let mut lines_1001 = lines_1000.clone();
    lines_1001.push(b'z');
    vec![
        ("POST", "/pub?topic=limits".into(), x100.clone()),
        ("POST", "/pub?topic=limits".into(), x101.clone()),
        (
            "POST",
            "/pub?topic=limits&defer=10000".into(),
            b"x".to_vec(),
        ),
        (
            "POST",
            "/pub?topic=limits&defer=10001".into(),
            b"x".to_vec(),
        ),
        (
            "POST",
            format!("/pub?topic={}", "t".repeat(64)),
            b"x".to_vec(),
        ),
        (
            "POST",
            format!("/pub?topic={}", "t".repeat(65)),
            b"x".to_vec(),
        ),
        ("POST", "/mpub?topic=limits".into(), lines_1000),
        ("POST", "/mpub?topic=limits".into(), lines_1001),
        (
            "POST",
            "/mpub?topic=limits&binary=true".into(),
            cat(&[&body_len(1), &body_len(100), &x100]),
        ),
        (
            "POST",
            "/mpub?topic=limits&binary=true".into(),
            cat(&[&body_len(1), &body_len(101), &x101]),
        ),
        (
            "POST",
            "/mpub?topic=limits&binary=true".into(),
            cat(&[&body_len(0)]),
        ),
        (
            "POST",
            "/mpub?topic=limits&binary=true".into(),
            cat(&[&0x7fff_ffffu32.to_be_bytes(), &body_len(1), b"a"]),
        ),
        (
            "POST",
            "/mpub?topic=limits&binary=true".into(),
            cat(&[&[0xff; 4], &body_len(1), b"a"]),
        ),
        (
            "POST",
            "/channel/create?topic=limits&channel=".to_string() + &"c".repeat(64),
            Vec::new(),
        ),
        (
            "POST",
            "/channel/create?topic=limits&channel=".to_string() + &"c".repeat(65),
            Vec::new(),
        ),
    ]
}

#[test]
fn http_limits_answer_as_go_does() {
    let (dir_ours, dir_go) = (TempDir::new("limits-http"), TempDir::new("limits-http-go"));
    let ours = Nsqd::start(&nsqd_bin(), dir_ours.path(), FLAGS);
    let go = Nsqd::start(&go_nsqd_bin(), dir_go.path(), FLAGS);
    let mut bad = Vec::new();
    for (method, path, body) in http_cases() {
        let answer = |n: &Nsqd| {
            let r = http::request(n.http_addr(), method, &path, &body)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            (r.status, r.text())
        };
        let (a, b) = (answer(&ours), answer(&go));
        if a != b {
            bad.push(format!(
                "{method} {} ({} bytes): ours {a:?}, Go {b:?}",
                &path[..path.len().min(60)],
                body.len()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
