//! A consumer that stops reading its socket while connected, with a large RDY window:
//! its in-flight messages still time out after its `msg_timeout` and go to a healthy
//! consumer of the same channel (as Go nsqd v1.3.0 does: its timeouts are the channel's,
//! not the connection's), while the stalled connection takes nothing more (what nsqd
//! holds for it stays bounded) and another channel of the topic flows meanwhile.
//!
//! The stalled consumer's socket is filled with large bodies (far more than the loopback
//! send and receive buffers hold), so nsqd's write to it cannot finish; its heartbeat
//! interval (the write deadline) is longer than the test, so only the message timeout
//! can free its messages. Passes against the Go reference too (there the first timeout
//! may wait for the channel-list refresh, ~5 s: the deadline allows for it).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nsq_tests::client::Client;
use nsq_tests::consumer::{drain, Consumer, Tally, DRAIN_RDY};
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use nsq_tests::publish::{mpub_all, unique_bodies};
use serde_json::json;

const TOPIC: &str = "stalled";
/// Large bodies: a few MiB of them fill the stalled consumer's socket.
const BODY: usize = 64 * 1024;
/// ~19 MiB per round, several times what the loopback socket buffers take.
const MESSAGES: usize = 300;
/// Failure bound for everything that must happen (including Go's ~5 s scan delay).
const WAIT: Duration = Duration::from_secs(20);
/// Far above what the published data and one output buffer need; a stalled consumer
/// that kept taking messages would pass it.
const MAX_RSS_KIB: u64 = 400 * 1024;

/// Unique bodies padded to [`BODY`] bytes.
fn large_bodies(prefix: &str) -> Vec<Vec<u8>> {
    unique_bodies(prefix, MESSAGES)
        .into_iter()
        .map(|mut b| {
            b.resize(BODY, b'.');
            b
        })
        .collect()
}

fn channel_u64(nsqd: &Nsqd, channel: &str, key: &str) -> u64 {
    http::channel_stats(nsqd.http_addr(), TOPIC, channel)
        .and_then(|c| c[key].as_u64())
        .unwrap_or(0)
}

fn stalled_message_count(nsqd: &Nsqd) -> Option<u64> {
    http::client_stats(nsqd.http_addr(), TOPIC, "c", "stalled")?["message_count"].as_u64()
}

/// Consumes `channel` until every body of `expected` arrived, within [`WAIT`].
fn receive_all(consumer: &mut Consumer, tally: &mut Tally, expected: &HashSet<Vec<u8>>) {
    let deadline = Instant::now() + WAIT;
    while expected.iter().any(|b| !tally.contains(b)) {
        assert!(
            Instant::now() < deadline,
            "healthy consumer got {} of {} within {WAIT:?}",
            expected.iter().filter(|b| tally.contains(b)).count(),
            expected.len()
        );
        if let Some(message) = consumer.next_message(Duration::from_millis(250)) {
            tally.record(message);
        }
    }
    consumer.flush();
}

#[test]
fn stalled_consumer_messages_time_out_to_a_healthy_one() {
    let (_dir, nsqd) = Nsqd::start_in_temp("stalled", &[]);
    let addr = nsqd.http_addr();
    http::post_ok(addr, &format!("/topic/create?topic={TOPIC}"));
    http::post_ok(addr, &format!("/channel/create?topic={TOPIC}&channel=c"));
    http::post_ok(
        addr,
        &format!("/channel/create?topic={TOPIC}&channel=other"),
    );

    // Subscribes with a 1 s message timeout and a long heartbeat, then never reads.
    let mut stalled = Client::connect(nsqd.tcp_addr());
    stalled.identify(
        &json!({"client_id": "stalled", "msg_timeout": 1000, "heartbeat_interval": 60000}),
    );
    stalled.sub(TOPIC, "c");
    stalled.rdy(DRAIN_RDY);
    stalled.flush().expect("send SUB and RDY");
    wait_for("the stalled consumer subscribed", WAIT, || {
        let n = stalled_message_count(&nsqd);
        (n.is_some(), n)
    });

    let first = large_bodies("first");
    mpub_all(nsqd.tcp_addr(), TOPIC, &first, 20);
    wait_for("the stalled consumer took messages", WAIT, || {
        let n = stalled_message_count(&nsqd).unwrap_or(0);
        (n > 0, n)
    });

    // Another channel of the topic is not held up by the stalled connection.
    let expected: HashSet<Vec<u8>> = first.iter().cloned().collect();
    let other = drain(nsqd.tcp_addr(), TOPIC, "other", &expected);
    assert_eq!(other.unique(), MESSAGES);

    // A healthy consumer of the stalled one's channel gets everything: what was in the
    // channel at once, what the stalled one held after its timeout.
    let mut healthy = Consumer::subscribe(nsqd.tcp_addr(), TOPIC, "c", DRAIN_RDY);
    let mut tally = Tally::default();
    receive_all(&mut healthy, &mut tally, &expected);
    // Everything arrived, so the stalled one's write is waiting: what it took is final.
    let taken = stalled_message_count(&nsqd).expect("the stalled consumer is connected");
    assert!(
        taken > 0 && (taken as usize) < MESSAGES,
        "its socket should have filled before it took all {MESSAGES} (took {taken})"
    );
    let timeouts = wait_for("timeout_count > 0", WAIT, || {
        let n = channel_u64(&nsqd, "c", "timeout_count");
        (n > 0, n)
    });
    assert!(
        timeouts >= taken,
        "every message the stalled consumer held timed out ({timeouts} of {taken})"
    );
    println!(
        "stalled took {taken}, {timeouts} timed out; healthy got {} deliveries",
        tally.total()
    );

    // While its socket stays full the stalled consumer takes nothing more: a second round
    // goes to the healthy one alone.
    let second = large_bodies("second");
    mpub_all(nsqd.tcp_addr(), TOPIC, &second, 20);
    let expected: HashSet<Vec<u8>> = second.iter().cloned().collect();
    receive_all(&mut healthy, &mut tally, &expected);
    let after = stalled_message_count(&nsqd);
    assert_eq!(
        after,
        Some(taken),
        "the stalled consumer (still connected) took more while it could not be written to"
    );
    let rss = testkit::proc_status_kib(nsqd.pid(), "VmRSS:").expect("VmRSS");
    println!("nsqd RSS {} MiB", rss / 1024);
    assert!(rss < MAX_RSS_KIB, "nsqd RSS {rss} KiB >= {MAX_RSS_KIB} KiB");
    drop(stalled);
}
