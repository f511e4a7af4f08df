//! statsd push (`--statsd-address`) against a real nsqd: a UDP socket on
//! loopback receives the datagrams; the prefix is expanded with the broadcast address
//! and HTTP port, topic and channel counters are deltas, gauges are current values, and
//! no datagram exceeds `--statsd-udp-packet-size`.
//!
//! Passes against the Go reference too (`NSQD_BIN=tests/reference/bin/nsqd`); the
//! interval is 2 s because Go v1.3.0 panics with 1 s (it spreads datagrams over
//! interval - 1 s).

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use nsq_tests::harness::Nsqd;
use nsq_tests::http;

const WAIT: Duration = Duration::from_secs(20);
const PACKET: usize = 200;

/// Receive datagrams until `done` holds for the lines seen so far (fails after `WAIT`).
fn collect_until(sock: &UdpSocket, done: impl Fn(&HashSet<String>) -> bool) -> HashSet<String> {
    let deadline = Instant::now() + WAIT;
    let mut lines = HashSet::new();
    let mut buf = [0u8; 65536];
    while !done(&lines) {
        assert!(Instant::now() < deadline, "statsd lines so far: {lines:#?}");
        let Ok(n) = sock.recv(&mut buf) else { continue };
        assert!(
            n <= PACKET,
            "datagram of {n} bytes > --statsd-udp-packet-size {PACKET}"
        );
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            text.ends_with('\n'),
            "datagram does not end a line: {text:?}"
        );
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

#[test]
fn statsd_push_has_prefixed_deltas_and_gauges() {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let addr = sock.local_addr().expect("addr").to_string();
    let (_dir, nsqd) = Nsqd::start_in_temp(
        "statsd",
        &[
            &format!("--statsd-address={addr}"),
            "--statsd-interval=2s",
            "--statsd-prefix=nsq.%s",
            &format!("--statsd-udp-packet-size={PACKET}"),
            "--broadcast-address=127.0.0.1",
            "--statsd-exclude-ephemeral",
        ],
    );
    let h = nsqd.http_addr();
    http::post_ok(h, "/topic/create?topic=sd").text();
    http::post_ok(h, "/channel/create?topic=sd&channel=archive");
    http::post_ok(h, "/channel/create?topic=sd&channel=tmp%23ephemeral");
    for _ in 0..5 {
        assert_eq!(http::post(h, "/pub?topic=sd", b"hello").status, 200);
    }
    let prefix = format!("nsq.127_0_0_1_{}.", h.port());
    let wanted = [
        format!("{prefix}topic.sd.message_count:5|c"),
        format!("{prefix}topic.sd.depth:0|g"),
        format!("{prefix}topic.sd.channel.archive.depth:5|g"),
        format!("{prefix}topic.sd.channel.archive.message_count:5|c"),
        format!("{prefix}topic.sd.channel.archive.clients:0|g"),
    ];
    let lines = collect_until(&sock, |l| wanted.iter().all(|w| l.contains(w)));
    assert!(
        lines.iter().all(|l| !l.contains("ephemeral")),
        "ephemeral names were not excluded: {lines:#?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with(&format!("{prefix}mem."))));

    // Counters are deltas: with nothing new published the next push says 0.
    let zero = format!("{prefix}topic.sd.message_count:0|c");
    collect_until(&sock, |l| l.contains(&zero));
}
