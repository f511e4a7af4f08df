//! `kill -9` of an nsqd whose topic has no channel yet, under PUB/MPUB load, in the durable
//! configuration (`--mem-queue-size=0 --sync-every=1`), several times over the same data
//! dir: no restart may log disk-queue corruption that did not happen (a kill between a
//! record's write and its metadata sync once made the reader find a "negative depth at
//! tail"), and every acknowledged message reaches the channel created at the end.
//!
//! Against Go nsqd v1.3.0 (`NSQD_BIN=tests/reference/bin/nsqd`) only the delivery half is
//! checked: go-diskqueue logs that same "negative depth at tail, metadata corruption" line
//! after such a kill (seen when this test was written), which is the behaviour fixed here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use nsq_tests::client::{Client, Frame};
use nsq_tests::consumer::{drain_into, drain_until_empty, Consumer, Tally, DRAIN_RDY};
use nsq_tests::daemon::is_go_build;
use nsq_tests::harness::{nsqd_bin, Nsqd, TempDir};
use nsq_tests::ledger::Ledger;
use nsq_tests::poll::wait_for;

const TOPIC: &str = "crash_no_channel";
const CHANNEL: &str = "late";
const ARGS: [&str; 2] = ["--mem-queue-size=0", "--sync-every=1"];
/// Kills, each after this many more acknowledged messages.
const KILLS: usize = 4;
const ACKED_PER_ROUND: usize = 150;
const PUBLISH_LIMIT: Duration = Duration::from_secs(60);
/// Words of the log lines (ours and Go's) that report corruption or loss in a disk queue.
const CORRUPTION: [&str; 5] = [
    "corruption",
    "data loss",
    "read error",
    ".bad",
    "jumping to next file",
];

/// Alternates PUB and MPUB (5 bodies) of bodies unique to `round` until the connection
/// fails or `stop` is set.
fn publish(addr: std::net::SocketAddr, round: usize, ledger: &Ledger, stop: &AtomicBool) {
    let mut client = Client::connect(addr);
    let (mut next, mut single) = (0usize, true);
    while !stop.load(Ordering::Relaxed) {
        let count = if single { 1 } else { 5 };
        single = !single;
        let bodies: Vec<Vec<u8>> = (next..next + count)
            .map(|i| format!("r{round}-{i:08}").into_bytes())
            .collect();
        next += count;
        ledger.sent(&bodies);
        if count == 1 {
            client.pub_(TOPIC, &bodies[0]);
        } else {
            client.mpub(TOPIC, &bodies);
        }
        match client.try_read_frame(Duration::from_secs(30)) {
            Ok(Some(Frame::Response(data))) if data == b"OK" => {
                ledger.acked(&bodies);
            }
            Ok(Some(other)) => panic!("publisher got {other:?}"),
            Ok(None) | Err(_) => return,
        }
    }
}

fn corruption_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            CORRUPTION.iter().any(|w| l.contains(w))
        })
        .collect()
}

#[test]
fn kill_9_without_channels_reports_no_corruption_and_loses_nothing() {
    let dir = TempDir::new("crash-no-channel");
    let bin = nsqd_bin();
    let check_log = !is_go_build(&bin);
    let ledger = Arc::new(Ledger::new());
    let mut nsqd = Nsqd::start(&bin, dir.path(), &ARGS);
    for round in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = {
            let (ledger, stop, addr) = (Arc::clone(&ledger), Arc::clone(&stop), nsqd.tcp_addr());
            thread::spawn(move || publish(addr, round, &ledger, &stop))
        };
        let want = (round + 1) * ACKED_PER_ROUND;
        let acked = wait_for("acknowledged publishes", PUBLISH_LIMIT, || {
            let acked = ledger.acked_count();
            (acked >= want || publisher.is_finished(), acked)
        });
        assert!(acked >= want, "publisher stopped early in round {round}");
        nsqd.kill9();
        stop.store(true, Ordering::Relaxed);
        publisher.join().expect("publisher thread");
        nsqd = Nsqd::start(&bin, dir.path(), &ARGS);
        let output = nsqd.output();
        let bad = corruption_lines(&output);
        assert!(
            bad.is_empty(),
            "restart {round} reported corruption: {bad:#?}"
        );
    }

    // The channel comes last: the topic's queue (read for the first time) drains into it.
    let acked = ledger.acked_set();
    let mut consumer = Consumer::subscribe(nsqd.tcp_addr(), TOPIC, CHANNEL, DRAIN_RDY);
    let mut tally = Tally::default();
    drain_into(&mut consumer, &mut tally, &acked);
    drain_until_empty(&mut consumer, &mut tally, nsqd.http_addr(), TOPIC, CHANNEL);
    ledger.record_tally(&tally);
    let report = ledger.report();
    println!("kills={KILLS} {report}");
    report.assert_nothing_lost();
    let output = nsqd.output();
    let bad = corruption_lines(&output);
    if !check_log {
        println!("Go nsqd logged (known go-diskqueue behaviour): {bad:#?}");
    }
    assert!(
        bad.is_empty() || !check_log,
        "reading the queue reported corruption: {bad:#?}"
    );
    nsqd.stop();
}
