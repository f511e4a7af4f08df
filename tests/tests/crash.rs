//! Durability under `kill -9`: with `--mem-queue-size=0 --sync-every=1`
//! every message a publisher saw `OK` for must be delivered after a restart on the same
//! data dir. Duplicates and delivered-but-unacknowledged messages are allowed, counted
//! and printed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use nsq_tests::client::{Client, Frame};
use nsq_tests::consumer::{drain_into, drain_until_empty, Consumer, Tally, DRAIN_RDY};
use nsq_tests::harness::{nsqd_bin, Nsqd, TempDir};
use nsq_tests::http::post_ok;
use nsq_tests::ledger::Ledger;
use nsq_tests::poll::{wait_for, wait_until};

const TOPIC: &str = "crash";
const CHANNEL: &str = "c";
/// Acknowledged messages to collect before the crash.
const ACKED_BEFORE_KILL: usize = 3000;
/// Failure bound for collecting them on a slow, shared disk.
const PUBLISH_LIMIT: Duration = Duration::from_secs(120);
/// Messages per MPUB (every other publish is a single PUB).
const MPUB_BATCH: usize = 10;

/// Publishes unique bodies (alternating PUB and MPUB) until the connection fails or
/// `stop` is set, recording each body as sent before writing and as acked after `OK`.
fn publish_until_failure(addr: std::net::SocketAddr, ledger: &Ledger, stop: &AtomicBool) {
    let mut client = Client::connect(addr);
    let mut next = 0usize;
    let mut single = true;
    while !stop.load(Ordering::Relaxed) {
        let count = if single { 1 } else { MPUB_BATCH };
        single = !single;
        let bodies: Vec<Vec<u8>> = (next..next + count)
            .map(|i| format!("crash-{i:08}").into_bytes())
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

#[test]
fn acked_messages_survive_kill_9() {
    let dir = TempDir::new("crash");
    let bin = nsqd_bin();
    let args = ["--mem-queue-size=0", "--sync-every=1"];
    let mut nsqd = Nsqd::start(&bin, dir.path(), &args);
    post_ok(nsqd.http_addr(), &format!("/topic/create?topic={TOPIC}"));
    post_ok(
        nsqd.http_addr(),
        &format!("/channel/create?topic={TOPIC}&channel={CHANNEL}"),
    );
    // Metadata is written asynchronously after creation; the crash must not race it.
    let dat = dir.path().join("nsqd.dat");
    wait_until(
        "nsqd.dat lists the channel",
        Duration::from_secs(20),
        || std::fs::read_to_string(&dat).is_ok_and(|s| s.contains(&format!("\"{CHANNEL}\""))),
    );

    let ledger = Arc::new(Ledger::new());
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (ledger, stop, addr) = (Arc::clone(&ledger), Arc::clone(&stop), nsqd.tcp_addr());
        thread::spawn(move || publish_until_failure(addr, &ledger, &stop))
    };
    let acked_seen = wait_for("acknowledged publishes", PUBLISH_LIMIT, || {
        let acked = ledger.acked_count();
        (acked >= ACKED_BEFORE_KILL || publisher.is_finished(), acked)
    });
    assert!(acked_seen >= ACKED_BEFORE_KILL, "publisher stopped early");
    nsqd.kill9();
    stop.store(true, Ordering::Relaxed);
    publisher.join().expect("publisher thread");

    let mut nsqd = Nsqd::start(&bin, dir.path(), &args);
    let acked = ledger.acked_set();
    let mut consumer = Consumer::subscribe(nsqd.tcp_addr(), TOPIC, CHANNEL, DRAIN_RDY);
    let mut tally = Tally::default();
    drain_into(&mut consumer, &mut tally, &acked);
    drain_until_empty(&mut consumer, &mut tally, nsqd.http_addr(), TOPIC, CHANNEL);

    ledger.record_tally(&tally);
    let report = ledger.report();
    println!("{report} fin_failed={}", consumer.fin_failures());
    report.assert_nothing_lost();
    nsqd.stop();
}
