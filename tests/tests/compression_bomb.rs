//! Decompression bombs over a real connection: a client negotiates deflate (or snappy),
//! then sends a small compressed stream that inflates to far more than any command (1 GiB
//! of deflate, 64 MiB of snappy). nsqd must decode only up to the connection's limit,
//! close that connection, keep its peak RSS within a small bound, and go on serving a
//! consumer and a producer connected alongside.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use nsq_tests::client::{body_len, Client};
use nsq_tests::harness::Nsqd;
use protocol::compress::Codec;

/// Peak RSS may grow by this much over the whole test (a bomb decoded without a bound
/// grows it by hundreds of MiB; the bound itself is about 5 MiB per connection).
const MAX_PEAK_GROWTH_KB: u64 = 32 * 1024;
const DEADLINE: Duration = Duration::from_secs(20);

/// A `/proc/<pid>/status` field in kB (VmRSS, VmHWM).
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// `copies` repetitions of one sync-flushed compressed unit of 1 MiB of `A` (no newline:
/// never a valid command). A fresh encoder's unit refers only to itself, so the
/// repetitions form one valid stream; after the first snappy unit the stream identifier
/// is left out.
fn bomb(deflate: bool, copies: usize) -> Vec<u8> {
    let mut unit = Vec::new();
    let mut codec = if deflate {
        Codec::deflate(9)
    } else {
        Codec::snappy()
    };
    codec
        .encode(&vec![b'A'; 1 << 20], &mut unit)
        .expect("encode");
    let mut out = unit.clone();
    let repeat = if deflate { &unit[..] } else { &unit[10..] };
    for _ in 1..copies {
        out.extend_from_slice(repeat);
    }
    out
}

/// Connects, negotiates the codec and reads its JSON reply and the compressed `OK`.
fn negotiate(addr: SocketAddr, deflate: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    s.set_write_timeout(Some(DEADLINE)).expect("timeout");
    let json = if deflate {
        r#"{"feature_negotiation":true,"deflate":true,"deflate_level":6}"#
    } else {
        r#"{"feature_negotiation":true,"snappy":true}"#
    };
    let mut hello = b"  V2IDENTIFY\n".to_vec();
    hello.extend_from_slice(&body_len(json.len()));
    hello.extend_from_slice(json.as_bytes());
    s.write_all(&hello).expect("identify");
    let mut size = [0u8; 4];
    s.read_exact(&mut size).expect("identify reply size");
    let mut reply = vec![0u8; u32::from_be_bytes(size) as usize];
    s.read_exact(&mut reply).expect("identify reply");
    let text = String::from_utf8_lossy(&reply[4..]).into_owned();
    let key = if deflate {
        "\"deflate\":true"
    } else {
        "\"snappy\":true"
    };
    assert!(text.contains(key), "not negotiated: {text}");
    // The OK that follows is compressed.
    let mut codec = if deflate {
        Codec::deflate(6)
    } else {
        Codec::snappy()
    };
    let (mut raw, mut plain) = (BytesMut::new(), BytesMut::new());
    let mut buf = [0u8; 256];
    while plain.len() < 10 {
        let n = s.read(&mut buf).expect("read compressed OK");
        assert!(n > 0, "closed before the compressed OK");
        raw.extend_from_slice(&buf[..n]);
        codec.decode(&mut raw, &mut plain).expect("decode OK");
    }
    assert_eq!(&plain[8..10], b"OK");
    s
}

/// Sends the bomb (the write may fail once nsqd closes) and requires nsqd to close the
/// connection within the deadline.
fn detonate(mut s: TcpStream, bomb: &[u8]) {
    let _ = s.write_all(bomb);
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return
            }
            Err(e) => panic!("connection not closed after {:?}: {e}", start.elapsed()),
        }
        assert!(start.elapsed() < DEADLINE, "connection left open");
    }
}

#[test]
fn decompression_bombs_close_only_their_connection() {
    let (_dir, nsqd) = Nsqd::start_in_temp("compression_bomb", &[]);
    let addr = nsqd.tcp_addr();
    let mut consumer = Client::connect(addr);
    consumer.sub("bomb_check", "c");
    consumer.expect_ok();
    consumer.rdy(10);
    let mut producer = Client::connect(addr);
    producer.pub_("bomb_check", b"before");
    producer.expect_ok();
    assert_eq!(consumer.expect_message().body, b"before");
    let peak_before = status_kb(nsqd.pid(), "VmHWM:");

    for (deflate, copies) in [(true, 1024), (false, 64)] {
        let bomb = bomb(deflate, copies);
        println!(
            "{}: {} bytes inflating to {} MiB",
            if deflate { "deflate" } else { "snappy" },
            bomb.len(),
            copies
        );
        detonate(negotiate(addr, deflate), &bomb);
    }

    let peak_after = status_kb(nsqd.pid(), "VmHWM:");
    println!("nsqd peak RSS {peak_before} kB before the bombs, {peak_after} kB after");
    assert!(
        peak_after.saturating_sub(peak_before) < MAX_PEAK_GROWTH_KB,
        "peak RSS grew from {peak_before} kB to {peak_after} kB"
    );
    // The connections made before are unaffected.
    producer.pub_("bomb_check", b"after");
    producer.expect_ok();
    assert_eq!(consumer.expect_message().body, b"after");
    let out = nsqd.output();
    assert!(!out.contains("panicked"), "nsqd panicked:\n{out}");
}
