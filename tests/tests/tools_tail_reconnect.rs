//! nsq_tail (ours beside Go's v1.3.0) when its nsqd goes away mid-stream: it keeps
//! running, retrying without a busy loop, and once nsqd is back on the same address it
//! reconnects and prints what is published there; SIGTERM then exits 0.

use std::time::{Duration, Instant};

use nsq_tests::harness::{nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::{wait_for, wait_until};
use nsq_tests::tools::{both, Running};

/// Failure bound for the tail to subscribe, reconnect and print.
const LIMIT: Duration = Duration::from_secs(30);
/// How long the tail is watched while nsqd is down.
const DOWN: Duration = Duration::from_secs(1);

#[test]
fn tail_survives_its_nsqd_restarting() {
    for (label, bin) in both("nsq_tail") {
        let dir = TempDir::new("tools-reconnect");
        let mut nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
        let (tcp, web) = (nsqd.tcp_addr(), nsqd.http_addr());
        let args: Vec<String> = vec![
            "--topic=rc".into(),
            "--channel=c".into(),
            "--consumer-opt=lookupd_poll_interval,200ms".into(),
            format!("--nsqd-tcp-address={tcp}"),
        ];
        let mut tail = Running::start(&bin, &args);
        let subscribed = || {
            let n = http::channel_stats(web, "rc", "c")
                .and_then(|c| c["client_count"].as_u64())
                .unwrap_or(0);
            (n == 1, n)
        };
        wait_for(&format!("{label} tail subscribed"), LIMIT, subscribed);
        assert_eq!(http::post(web, "/pub?topic=rc", b"before").status, 200);
        tail.wait_lines(1, LIMIT);

        nsqd.stop();
        let cpu_before = testkit::cpu_secs(tail.pid()).expect("cpu");
        let start = Instant::now();
        wait_until("nsqd down for the watch window", DOWN * 2, || {
            start.elapsed() >= DOWN
        });
        let cpu = testkit::cpu_secs(tail.pid()).expect("cpu") - cpu_before;
        assert!(
            cpu < 0.5,
            "{label}: {cpu}s of CPU in {DOWN:?} while nsqd was down"
        );

        let t = format!("--tcp-address={tcp}");
        let h = format!("--http-address={web}");
        let _nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[&t, &h]);
        wait_for(&format!("{label} tail resubscribed"), LIMIT, subscribed);
        assert_eq!(http::post(web, "/pub?topic=rc", b"after").status, 200);
        let out = tail.wait_lines(2, LIMIT);
        assert_eq!(out, "before\nafter\n", "{label}");
        assert_eq!(tail.signal_and_wait("TERM").code(), Some(0), "{label}");
    }
}
