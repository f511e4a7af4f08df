//! Load: 5,000 idle connections held open while one producer/consumer pair moves
//! 100,000 messages through nsqd, against the nsqd under test and the Go reference.
//!
//! Each run moves the messages twice, first with no crowd and then with the crowd
//! connected (magic and `IDENTIFY {}` answered, then silent), and prints both
//! throughputs and their ratio. Timings are never asserted here (a shared, noisy
//! machine); `make load` sets `NSQ_LOAD_STRICT=1`, which requires the rate with the
//! crowd to be at least half the rate without. What is asserted every time: every
//! message arrives, every crowd connection is answered, and once the crowd has closed
//! nsqd's open file descriptors (`/proc/<pid>/fd`) fall back to their level before it;
//! for ours, resident memory falls back too (within half of what the crowd added, plus
//! slack). Go's memory follows its garbage collector: printed, not asserted.
//!
//! The test raises its own soft `RLIMIT_NOFILE` to the hard limit (nsqd inherits it);
//! a hard limit too low for the crowd is a skip, said clearly.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nsq_tests::consumer::drain;
use nsq_tests::daemon::is_go_build;
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::poll::wait_for;
use nsq_tests::publish::{mpub_all, unique_bodies};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle connections held while the pair works.
const CROWD: usize = 5000;
/// Messages the pair moves in each phase.
const MESSAGES: usize = 100_000;
/// MPUB batch size of the producer.
const BATCH: usize = 100;
/// Connects opened at once (a few batches keep the burst inside the accept backlog).
const CONNECT_BATCH: usize = 1000;
/// Failure bound for the crowd to be connected and answered (a hang guard).
const CROWD_DEADLINE: Duration = Duration::from_secs(90);
/// Failure bound for descriptors and memory to settle once the crowd has closed.
const SETTLE: Duration = Duration::from_secs(20);
/// Descriptors nsqd may hold above its level before the crowd (timers, files, a lookup
/// socket): far below the crowd's 5,000.
const FD_SLACK: usize = 8;
/// Resident memory ours may keep beyond half of what the crowd added.
const RSS_SLACK_KIB: u64 = 16 * 1024;

/// Raises the soft open-files limit to the hard one; false (after saying why) when even
/// the hard limit cannot hold the crowd in this process.
fn raise_open_files(need: u64) -> bool {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            eprintln!("setrlimit(RLIMIT_NOFILE): {e}");
        }
    }
    let have = getrlimit(Resource::Nofile).current;
    // `None` is unlimited.
    if have.is_none_or(|n| n >= need) {
        return true;
    }
    eprintln!(
        "skipped: {CROWD} connections need RLIMIT_NOFILE of at least {need} (the hard limit \
         allows {have:?}); raise it with `ulimit -Hn` to run this test"
    );
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One crowd member: connected, magic and `IDENTIFY {}` sent, `OK` read.
async fn idle_client(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    let mut out = b"  V2IDENTIFY\n".to_vec();
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(b"{}");
    s.write_all(&out).await?;
    let mut frame = [0u8; 10];
    s.read_exact(&mut frame).await?;
    let ok = [0, 0, 0, 6, 0, 0, 0, 0, b'O', b'K'];
    if frame != ok {
        return Err(std::io::Error::other(format!("answer {frame:?}")));
    }
    Ok(s)
}

/// The whole crowd, connected in batches of [`CONNECT_BATCH`].
async fn crowd(addr: SocketAddr) -> Vec<TcpStream> {
    let mut all = Vec::with_capacity(CROWD);
    while all.len() < CROWD {
        let n = CONNECT_BATCH.min(CROWD - all.len());
        let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(idle_client(addr))).collect();
        for t in tasks {
            let s = t.await.expect("client task");
            all.push(s.unwrap_or_else(|e| panic!("crowd client: {e}")));
        }
    }
    all
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
}

fn rss_kib(pid: u32) -> u64 {
    testkit::proc_status_kib(pid, "VmRSS:").unwrap_or_else(|e| panic!("{e}"))
}

/// Publishes [`MESSAGES`] on a thread while one consumer drains them; messages/s.
fn move_messages(nsqd: &Nsqd, topic: &str) -> f64 {
    let bodies = unique_bodies(topic, MESSAGES);
    let expected: HashSet<Vec<u8>> = bodies.iter().cloned().collect();
    let addr = nsqd.tcp_addr();
    let started = Instant::now();
    let producer = thread::spawn(move || mpub_all(addr, "load", &bodies, BATCH));
    let tally = drain(addr, "load", "pair", &expected);
    producer.join().expect("producer");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(tally.unique(), MESSAGES);
    MESSAGES as f64 / secs
}

fn crowd_and_pair(bin: &Path, label: &str) {
    if !raise_open_files(CROWD as u64 + 1024) {
        return;
    }
    let go = is_go_build(bin);
    let dir = TempDir::new(label);
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let (addr, pid) = (nsqd.tcp_addr(), nsqd.pid());

    let without = move_messages(&nsqd, "alone");
    let (base_fd, base_rss) = (fd_count(pid), rss_kib(pid));

    let rt = runtime();
    let started = Instant::now();
    let streams = rt.block_on(async {
        tokio::time::timeout(CROWD_DEADLINE, crowd(addr))
            .await
            .expect("the crowd connected and answered in time")
    });
    println!(
        "{label}: {CROWD} idle clients connected in {:?}",
        started.elapsed()
    );
    let (crowd_fd, crowd_rss) = (fd_count(pid), rss_kib(pid));
    assert!(
        crowd_fd >= base_fd + CROWD,
        "nsqd holds {crowd_fd} descriptors with the crowd (before: {base_fd})"
    );

    let with = move_messages(&nsqd, "crowded");
    let ratio = with / without;
    println!(
        "{label}: {MESSAGES} messages at {without:.0} msg/s alone, {with:.0} msg/s beside \
         {CROWD} idle connections ({:.0} %)",
        ratio * 100.0
    );
    if std::env::var_os("NSQ_LOAD_STRICT").is_some() {
        assert!(
            ratio >= 0.5,
            "{label}: throughput with the crowd {with:.0} msg/s < 50 % of {without:.0} msg/s"
        );
    }

    rt.block_on(async move { drop(streams) });
    drop(rt);
    let fds = wait_for("nsqd's descriptors back to their level", SETTLE, || {
        let n = fd_count(pid);
        (n <= base_fd + FD_SLACK, n)
    });
    let rss = if go {
        rss_kib(pid)
    } else {
        let bound = base_rss + crowd_rss.saturating_sub(base_rss) / 2 + RSS_SLACK_KIB;
        wait_for("nsqd's resident memory back near its level", SETTLE, || {
            let rss = rss_kib(pid);
            (rss <= bound, (rss, format!("bound {bound} KiB")))
        })
        .0
    };
    println!(
        "{label}: descriptors {base_fd} before, {crowd_fd} with the crowd, {fds} after; \
         RSS {} MiB before, {} MiB with, {} MiB after{}",
        base_rss / 1024,
        crowd_rss / 1024,
        rss / 1024,
        if go { " (Go: not asserted)" } else { "" }
    );
}

#[test]
fn idle_crowd_beside_a_busy_pair() {
    crowd_and_pair(&nsqd_bin(), "load-crowd");
}

#[test]
fn idle_crowd_beside_a_busy_pair_go_reference() {
    crowd_and_pair(&go_nsqd_bin(), "load-crowd-go");
}
