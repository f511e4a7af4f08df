//! Data-dir interchange with the Go reference: a data dir written by
//! one implementation is served by the other, in both directions. The backlog (spilled
//! to disk), a message held in flight at shutdown, and a paused channel must all carry
//! over.

use std::path::Path;
use std::time::Duration;

use nsq_tests::client::{Client, Message};
use nsq_tests::consumer::drain;
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http::{channel_stats, post_ok, topic_stats};
use nsq_tests::poll::wait_for;
use nsq_tests::publish::{body_set, mpub_all, unique_bodies};

const TOPIC: &str = "handover";
const N: usize = 5000;
/// Messages held in flight on `c1` when the writer shuts down.
const HELD: usize = 10;
/// Failure bound for the daemon to settle.
const SETTLE: Duration = Duration::from_secs(60);

/// Waits until `/stats` shows, per channel, (depth, in-flight, paused) and topic depth 0.
fn wait_channels(nsqd: &Nsqd, expected: &[(&str, usize, usize, bool)]) {
    let addr = nsqd.http_addr();
    wait_for("channel depths", SETTLE, || {
        let topic = topic_stats(addr, TOPIC);
        let done = topic.as_ref().is_some_and(|t| t["depth"] == 0)
            && expected.iter().all(|(name, depth, in_flight, paused)| {
                channel_stats(addr, TOPIC, name).is_some_and(|c| {
                    c["depth"] == *depth
                        && c["in_flight_count"] == *in_flight
                        && c["paused"] == *paused
                })
            });
        (done, topic)
    });
}

/// Writer: backlog on two channels spilled to disk, `HELD` in flight on c1, c2 paused.
/// Returns the held messages.
fn write_data_dir(bin: &Path, dir: &Path, bodies: &[Vec<u8>]) -> Vec<Message> {
    let mut writer = Nsqd::start(bin, dir, &["--mem-queue-size=100"]);
    let http = writer.http_addr();
    post_ok(http, &format!("/topic/create?topic={TOPIC}"));
    post_ok(http, &format!("/channel/create?topic={TOPIC}&channel=c1"));
    post_ok(http, &format!("/channel/create?topic={TOPIC}&channel=c2"));
    mpub_all(writer.tcp_addr(), TOPIC, bodies, 500);
    post_ok(http, &format!("/channel/pause?topic={TOPIC}&channel=c2"));

    let mut holder = Client::connect(writer.tcp_addr());
    holder.sub(TOPIC, "c1");
    holder.expect_ok();
    holder.rdy(HELD as u32);
    let held: Vec<Message> = (0..HELD).map(|_| holder.expect_message()).collect();
    wait_channels(
        &writer,
        &[("c1", N - HELD, HELD, false), ("c2", N, 0, true)],
    );
    writer.stop();
    held
}

fn hand_over(writer_bin: &Path, reader_bin: &Path) {
    let dir = TempDir::new("handover");
    let bodies = unique_bodies("handover", N);
    let held = write_data_dir(writer_bin, dir.path(), &bodies);

    let mut reader = Nsqd::start(reader_bin, dir.path(), &[]);
    wait_channels(&reader, &[("c1", N, 0, false), ("c2", N, 0, true)]);
    let expected = body_set(&bodies);
    let c1 = drain(reader.tcp_addr(), TOPIC, "c1", &expected);
    assert_eq!(c1.unique(), N);
    for before in &held {
        let after = &c1.deliveries(&before.body)[0];
        assert_eq!((after.id, after.ts), (before.id, before.ts));
        assert!(after.attempts >= 2, "attempts lost: {}", after.attempts);
    }
    post_ok(
        reader.http_addr(),
        &format!("/channel/unpause?topic={TOPIC}&channel=c2"),
    );
    let c2 = drain(reader.tcp_addr(), TOPIC, "c2", &expected);
    assert_eq!(c2.unique(), N);
    println!("duplicates: c1={} c2={}", c1.duplicates(), c2.duplicates());
    reader.stop();
}

#[test]
fn data_dir_written_by_ours_is_served_by_go() {
    hand_over(&nsqd_bin(), &go_nsqd_bin());
}

#[test]
fn data_dir_written_by_go_is_served_by_ours() {
    hand_over(&go_nsqd_bin(), &nsqd_bin());
}
