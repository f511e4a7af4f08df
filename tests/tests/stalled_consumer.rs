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
//!
//! Also: what nsqd takes for a consumer that does not read stays near what the socket
//! buffers hold (as Go's: one message at a time into a small buffer), not a whole
//! delivery round of large messages; and a slow consumer on one channel (RDY 1, never finishing) does not hold back a
//! fast one on another channel of the same topic, against ours and the Go reference.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nsq_tests::client::Client;
use nsq_tests::consumer::{drain, Consumer, Tally, DRAIN_RDY};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
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
    stalled_consumer(&nsqd_bin(), "stalled");
}

#[test]
fn stalled_consumer_messages_time_out_to_a_healthy_one_go_reference() {
    stalled_consumer(&go_nsqd_bin(), "stalled-go");
}

fn stalled_consumer(bin: &std::path::Path, label: &str) {
    let dir = TempDir::new(label);
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
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
        "{label}: stalled took {taken}, {timeouts} timed out; healthy got {} deliveries",
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
    println!("{label}: nsqd RSS {} MiB", rss / 1024);
    assert!(rss < MAX_RSS_KIB, "nsqd RSS {rss} KiB >= {MAX_RSS_KIB} KiB");
    drop(stalled);
}

/// Messages in the slow/fast test: far beyond the slow channel's memory queue.
const SLOW_FAST_MESSAGES: usize = 5000;

/// A slow consumer (RDY 1, never finishing its message) on channel `slow` and a fast one
/// on channel `fast` of the same topic, while a producer publishes: the fast one receives
/// every message, the slow one exactly one, and the slow channel keeps all the rest for
/// later (its memory queue is small, so most of it went to disk). No timing: the fast
/// consumer's drain fails only if its flow stalls.
fn slow_channel_beside_fast(bin: &std::path::Path, label: &str) {
    let dir = TempDir::new(label);
    let nsqd = Nsqd::start(bin, dir.path(), &["--mem-queue-size=100"]);
    let (tcp, addr) = (nsqd.tcp_addr(), nsqd.http_addr());
    http::post_ok(addr, "/topic/create?topic=slowfast");
    let mut slow = Client::connect(tcp);
    slow.identify(&json!({"client_id": "slow"}));
    slow.expect_ok();
    slow.sub("slowfast", "slow");
    slow.expect_ok();
    slow.rdy(1);
    slow.flush().expect("send RDY");
    let mut fast = Consumer::subscribe(tcp, "slowfast", "fast", DRAIN_RDY);

    let bodies = unique_bodies("slowfast", SLOW_FAST_MESSAGES);
    let expected: HashSet<Vec<u8>> = bodies.iter().cloned().collect();
    let producer = std::thread::spawn(move || mpub_all(tcp, "slowfast", &bodies, 50));
    let mut tally = Tally::default();
    nsq_tests::consumer::drain_into(&mut fast, &mut tally, &expected);
    producer.join().expect("producer");
    assert_eq!(tally.unique(), SLOW_FAST_MESSAGES);

    // The slow consumer got its one message and nothing more; its channel holds the rest.
    assert!(matches!(
        slow.read_frame(),
        nsq_tests::client::Frame::Message(_)
    ));
    let (in_flight, depth) = wait_for("the slow channel holds every message", WAIT, || {
        let c = http::channel_stats(addr, "slowfast", "slow").unwrap_or_default();
        let seen = (c["in_flight_count"].as_u64(), c["depth"].as_u64());
        let total = seen.0.unwrap_or(0) + seen.1.unwrap_or(0);
        (total == SLOW_FAST_MESSAGES as u64, seen)
    });
    let taken = http::client_stats(addr, "slowfast", "slow", "slow")
        .and_then(|c| c["message_count"].as_u64());
    assert_eq!(
        taken,
        Some(1),
        "the slow consumer (RDY 1, no FIN) took more than one"
    );
    println!(
        "{label}: fast received {} ({} unique); slow received {taken:?}, its channel holds \
         {depth:?} queued + {in_flight:?} in flight",
        tally.total(),
        tally.unique()
    );
}

#[test]
fn slow_channel_does_not_slow_a_fast_one() {
    slow_channel_beside_fast(&nsqd_bin(), "slowfast");
}

#[test]
fn slow_channel_does_not_slow_a_fast_one_go_reference() {
    slow_channel_beside_fast(&go_nsqd_bin(), "slowfast-go");
}

/// Large bodies for the memory-held test, and how many: 50 MiB in all.
const HELD_BODY: usize = 512 * 1024;
const HELD_MESSAGES: usize = 100;
/// What nsqd may take for a consumer that does not read: the loopback socket buffers (a
/// few MiB; Go takes 4 MiB here) and some slack, far below the 50 MiB published.
const HELD_MAX_BYTES: usize = 24 * 1024 * 1024;

/// A consumer with RDY 2500 that never reads: nsqd takes for it only what the socket
/// buffers hold plus a little, so a stalled client costs nsqd little memory (before,
/// ours filled a whole delivery round, up to 256 messages, into its output buffer).
fn stalled_consumer_takes_little_with(bin: &std::path::Path, label: &str) {
    let dir = TempDir::new(label);
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let (tcp, addr) = (nsqd.tcp_addr(), nsqd.http_addr());
    // The backlog is there before the consumer: its first delivery round could take it all.
    http::post_ok(addr, "/topic/create?topic=held");
    http::post_ok(addr, "/channel/create?topic=held&channel=c");
    let bodies: Vec<Vec<u8>> = unique_bodies("held", HELD_MESSAGES)
        .into_iter()
        .map(|mut b| {
            b.resize(HELD_BODY, b'.');
            b
        })
        .collect();
    mpub_all(tcp, "held", &bodies, 8);
    let mut stalled = Client::connect(tcp);
    stalled.identify(&json!({"client_id": "held", "heartbeat_interval": 60000}));
    stalled.sub("held", "c");
    stalled.rdy(DRAIN_RDY);
    stalled.flush().expect("send SUB and RDY");
    let held = |n: &Nsqd| {
        http::client_stats(n.http_addr(), "held", "c", "held")
            .and_then(|c| c["message_count"].as_u64())
    };
    wait_for("the consumer subscribed", WAIT, || {
        (held(&nsqd).is_some(), ())
    });
    // Everything published is either taken by the stalled consumer or still queued.
    let (taken, depth) = wait_for("the channel settled", WAIT, || {
        let c = http::channel_stats(addr, "held", "c").unwrap_or_default();
        let taken = held(&nsqd).unwrap_or(0);
        let depth = c["depth"].as_u64().unwrap_or(0);
        (
            taken > 0 && taken + depth == HELD_MESSAGES as u64,
            (taken, depth),
        )
    });
    println!(
        "{label}: a consumer that does not read took {taken} of {HELD_MESSAGES} messages of \
         {} KiB ({} MiB); {depth} stay queued",
        HELD_BODY / 1024,
        taken as usize * HELD_BODY / (1024 * 1024)
    );
    assert!(
        taken as usize * HELD_BODY <= HELD_MAX_BYTES,
        "nsqd took {taken} messages ({} MiB) for a consumer that does not read",
        taken as usize * HELD_BODY / (1024 * 1024)
    );
    drop(stalled);
}

#[test]
fn stalled_consumer_takes_little() {
    stalled_consumer_takes_little_with(&nsqd_bin(), "held");
}

#[test]
fn stalled_consumer_takes_little_go_reference() {
    stalled_consumer_takes_little_with(&go_nsqd_bin(), "held-go");
}
