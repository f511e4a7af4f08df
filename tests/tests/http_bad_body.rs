//! A request body nsqd cannot read (`Transfer-Encoding: chunked` with a bad chunk size,
//! a chunk longer than its size, a negative size, or the client gone before the last
//! chunk) on `/pub`, `/mpub` (text and binary) and `PUT /config/{opt}`, sent as raw bytes.
//! The bytes are the client's fault, so ours answers `400 BAD_BODY`, Go's word for a body
//! it cannot read. Go nsqd v1.3.0 answers `500 INTERNAL_ERROR` (its `io.ReadAll` error
//! path), `413 BAD_BODY` on binary `/mpub`; run against Go (`NSQD_BIN=<go nsqd>`) this
//! test checks those answers instead. Either way nsqd keeps serving afterwards.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use nsq_tests::daemon::is_go_build;
use nsq_tests::harness::{nsqd_bin, Nsqd};
use nsq_tests::http::{self, assert_v1_error, Response};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Malformed chunked bodies, each complete as sent except the last (cut off, then the
/// write side closed).
const BAD_BODIES: [&[u8]; 5] = [
    b"zz\r\nabc\r\n0\r\n\r\n",
    b"3\r\nabc\r\nfffffffffffffffffffffff\r\n\r\n",
    b"3\r\nabcdef\r\n0\r\n\r\n",
    b"-3\r\nabc\r\n0\r\n\r\n",
    b"3\r\nabc\r\n",
];

/// Sends a chunked request with `body` as the raw chunk bytes, closes the write side and
/// reads the whole response.
fn send_chunked(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Response {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    s.set_write_timeout(Some(TIMEOUT)).expect("write timeout");
    let head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n");
    s.write_all(head.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
    let _ = s.shutdown(Shutdown::Write);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let (head, body) = split_response(&raw);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    let headers = head
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_vec(),
    }
}

fn split_response(raw: &[u8]) -> (String, &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head: {:?}", String::from_utf8_lossy(raw)));
    (
        String::from_utf8_lossy(&raw[..end]).into_owned(),
        &raw[end + 4..],
    )
}

#[test]
fn malformed_chunked_body_is_the_clients_fault() {
    let go = is_go_build(&nsqd_bin());
    let (_dir, nsqd) = Nsqd::start_in_temp("http-bad-body", &[]);
    let addr = nsqd.http_addr();
    let endpoints = [
        ("POST", "/pub?topic=t"),
        ("POST", "/mpub?topic=t"),
        ("POST", "/mpub?topic=t&binary=true"),
        ("PUT", "/config/log_level"),
        ("PUT", "/config/nsqlookupd_tcp_addresses"),
    ];
    for (method, path) in endpoints {
        let (status, message) = match (go, path.ends_with("binary=true")) {
            (false, _) => (400, "BAD_BODY"),
            (true, true) => (413, "BAD_BODY"),
            (true, false) => (500, "INTERNAL_ERROR"),
        };
        for body in BAD_BODIES {
            let r = send_chunked(addr, method, path, body);
            let what = format!("{method} {path} {:?}", String::from_utf8_lossy(body));
            assert_eq!(r.status, status, "{what}: {r:?}");
            assert_v1_error(&r, status, message);
        }
    }
    // Still serving, and nothing of the bad bodies was published.
    assert_eq!(http::get(addr, "/ping").status, 200);
    let ok = http::request_chunked(addr, "POST", "/pub?topic=t", &[b"good"]).expect("pub");
    assert_eq!((ok.status, ok.text().as_str()), (200, "OK"), "{ok:?}");
    let topic = http::topic_stats(addr, "t").expect("topic t");
    assert_eq!(topic["message_count"], 1, "{topic}");
}
