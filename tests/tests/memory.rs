//! Memory stays bounded by `--mem-queue-size` whatever the backlog: 200 MB published with
//! `--mem-queue-size=100` goes to disk (topic, then two channels), and nsqd's peak
//! resident memory (VmHWM) stays far below the backlog. A size assertion, not a timing.

use std::time::Duration;

use nsq_tests::client::Client;
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::poll::wait_for;

const BODY: usize = 10 * 1024;
const BATCH: usize = 100;
const BATCHES: usize = 200; // 20,000 messages, ~200 MB
/// Far below the 200 MB backlog (x2 channels), with room for allocator slack.
const MAX_PEAK_KB: u64 = 120 * 1024;

fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

#[test]
fn backlog_goes_to_disk_not_memory() {
    let (dir, nsqd) = Nsqd::start_in_temp("memory", &["--mem-queue-size=100"]);
    let mut p = Client::connect(nsqd.tcp_addr());
    let bodies: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| vec![b'a' + (i % 26) as u8; BODY])
        .collect();
    for _ in 0..BATCHES {
        p.mpub("mem", &bodies);
        p.expect_ok();
    }
    // Topic backlog first; then two channels take it (each spills to its own disk queue).
    http::post_ok(nsqd.http_addr(), "/channel/create?topic=mem&channel=a");
    http::post_ok(nsqd.http_addr(), "/channel/create?topic=mem&channel=b");
    let total = (BATCH * BATCHES) as u64;
    wait_for(
        "the backlog in both channels",
        Duration::from_secs(60),
        || {
            let a = http::channel_stats(nsqd.http_addr(), "mem", "a").expect("a");
            let b = http::channel_stats(nsqd.http_addr(), "mem", "b").expect("b");
            let (da, db) = (
                a["depth"].as_u64().unwrap_or(0),
                b["depth"].as_u64().unwrap_or(0),
            );
            (da + db >= total, (da, db))
        },
    );
    let peak = peak_kb(nsqd.pid());
    println!(
        "peak RSS {} MiB for a {} MiB backlog",
        peak / 1024,
        (total * BODY as u64 * 2) >> 20
    );
    assert!(peak < MAX_PEAK_KB, "peak RSS {peak} kB >= {MAX_PEAK_KB} kB");
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .expect("data dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".dat"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(
        on_disk > total * BODY as u64,
        "backlog not on disk: {on_disk} bytes"
    );
}
