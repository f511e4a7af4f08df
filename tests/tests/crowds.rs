//! Crowds of TCP clients at once, against `$NSQD_BIN`: a burst of connects is accepted
//! without any waiting for SYN retransmission, and nsqd still answers afterwards (the Go
//! reference passes too); nsqd's resident memory settles after each of several crowds
//! has left (Go's follows its garbage collector: measured and printed, not asserted).
//!
//! The clients are non-blocking connects on a small tokio runtime, so the whole crowd's
//! SYNs arrive within a few milliseconds. They need one file descriptor each in this
//! process and in nsqd; a soft `RLIMIT_NOFILE` too low for that is a skip, said clearly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nsq_tests::daemon::is_go_build;
use nsq_tests::harness::{nsqd_bin, Nsqd};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections opened at once: above tokio's default accept backlog (1,024), within the
/// system's (`somaxconn`, 4,096 on common kernels).
const BURST: usize = 4000;
/// A connect whose SYN was dropped waits for its retransmission: 1 s at the least (the
/// initial RTO). One that was queued completes in well under that, so any connect taking
/// this long was stalled.
const STALLED: Duration = Duration::from_secs(1);
/// Failure bound for the whole crowd's IDENTIFY round trips (a hang guard, not a timing).
const CROWD_DEADLINE: Duration = Duration::from_secs(60);

/// Clients per crowd in the memory test, and how many crowds come and go.
const CROWD: usize = 2000;
const CROWDS: usize = 4;
/// Failure bound for memory to settle once a crowd has gone (nsqd looks once a second).
const SETTLE: Duration = Duration::from_secs(15);

/// The soft `Max open files` limit of this process (what a child nsqd inherits).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// True (after saying why) when the fd limit cannot hold `n` connections plus slack.
fn skip_for_fd_limit(n: usize) -> bool {
    let need = n as u64 + 512;
    match open_files_limit() {
        Some(limit) if limit >= need => false,
        other => {
            eprintln!(
                "skipped: {n} connections need a soft RLIMIT_NOFILE of at least {need} \
                 (have {other:?}); raise it with `ulimit -n` to run this test"
            );
            true
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `IDENTIFY {}` after the magic; the answer is the `OK` response frame.
async fn magic_and_identify(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = b"  V2IDENTIFY\n".to_vec();
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(b"{}");
    s.write_all(&out).await?;
    let mut frame = [0u8; 10];
    s.read_exact(&mut frame).await?;
    Ok(frame.to_vec())
}

/// Opens `n` connections at once; returns them with the slowest connect's duration.
async fn connect_all(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, Duration) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let started = Instant::now();
                let s = TcpStream::connect(addr).await;
                (started.elapsed(), s)
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(n);
    let mut slowest = Duration::ZERO;
    for t in tasks {
        let (took, s) = t.await.expect("connect task");
        slowest = slowest.max(took);
        streams.push(s.unwrap_or_else(|e| panic!("connect to {addr}: {e}")));
    }
    (streams, slowest)
}

#[test]
fn a_burst_of_connects_is_accepted_at_once() {
    if skip_for_fd_limit(BURST) {
        return;
    }
    let (_dir, nsqd) = Nsqd::start_in_temp("crowd-burst", &[]);
    let addr = nsqd.tcp_addr();
    let rt = runtime();
    let started = Instant::now();
    let (streams, slowest) = rt.block_on(connect_all(addr, BURST));
    println!(
        "{BURST} connects in {:?}, the slowest took {slowest:?}",
        started.elapsed()
    );
    assert!(
        slowest < STALLED,
        "a connect took {slowest:?}: its SYN was dropped (accept backlog full) and retransmitted"
    );
    // Every one of them is served: the magic and IDENTIFY each get their OK.
    let answers = rt.block_on(async {
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|mut s| tokio::spawn(async move { magic_and_identify(&mut s).await }))
            .collect();
        tokio::time::timeout(CROWD_DEADLINE, async {
            let mut answers = Vec::with_capacity(tasks.len());
            for t in tasks {
                answers.push(t.await.expect("identify task"));
            }
            answers
        })
        .await
        .expect("the crowd's IDENTIFYs answered in time")
    });
    let ok = [0, 0, 0, 6, 0, 0, 0, 0, b'O', b'K'];
    for a in &answers {
        assert_eq!(a.as_ref().map(Vec::as_slice).ok(), Some(&ok[..]), "{a:?}");
    }
    drop(answers);
    assert_eq!(http::get(nsqd.http_addr(), "/ping").text(), "OK");
}

fn rss_kib(pid: u32) -> u64 {
    testkit::proc_status_kib(pid, "VmRSS:").unwrap_or_else(|e| panic!("{e}"))
}

/// `n` clients at once, each `IDENTIFY {}` and `SUB crowd c`, both answered `OK`.
async fn crowd_subscribes(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await?;
                let mut out = b"  V2IDENTIFY\n".to_vec();
                out.extend_from_slice(&2u32.to_be_bytes());
                out.extend_from_slice(b"{}SUB crowd c\n");
                s.write_all(&out).await?;
                let mut answers = [0u8; 20];
                s.read_exact(&mut answers).await?;
                Ok::<_, std::io::Error>((s, answers))
            })
        })
        .collect();
    let ok = [0, 0, 0, 6, 0, 0, 0, 0, b'O', b'K'];
    let mut streams = Vec::with_capacity(n);
    for t in tasks {
        let (s, answers) = t
            .await
            .expect("client task")
            .unwrap_or_else(|e| panic!("client: {e}"));
        assert_eq!((&answers[..10], &answers[10..]), (&ok[..], &ok[..]));
        streams.push(s);
    }
    streams
}

/// Four crowds of 2,000 subscribers come and go. After each has left, nsqd's resident
/// memory must fall back to at most its level before any crowd plus half of what the
/// first crowd added. The margin cannot flake: what stays after a crowd when the
/// allocator returns its free pages is a few hundred KiB (maps' capacity), while half a
/// crowd is several MiB (about 14 KiB resident per client); memory the allocator keeps
/// is at least the whole crowd's. Before nsqd returned it, the level after each crowd
/// was above the level with it connected, and rose with every crowd.
#[test]
fn memory_settles_after_each_crowd_leaves() {
    if skip_for_fd_limit(CROWD) {
        return;
    }
    let go = is_go_build(&nsqd_bin());
    let (_dir, nsqd) = Nsqd::start_in_temp("crowd-memory", &[]);
    let (addr, http_addr, pid) = (nsqd.tcp_addr(), nsqd.http_addr(), nsqd.pid());
    let rt = runtime();
    let base = rss_kib(pid);
    let mut bound = None;
    for crowd in 1..=CROWDS {
        let streams = rt.block_on(crowd_subscribes(addr, CROWD));
        let connected = rss_kib(pid);
        let bound = *bound.get_or_insert(base + connected.saturating_sub(base) / 2);
        rt.block_on(async move { drop(streams) });
        wait_for("the crowd gone from /stats", SETTLE, || {
            let clients = http::channel_stats(http_addr, "crowd", "c")
                .and_then(|c| c["clients"].as_array().map(Vec::len));
            (clients == Some(0), clients)
        });
        if go {
            println!(
                "crowd {crowd}: RSS {connected} KiB connected, {} KiB once gone (Go: not asserted)",
                rss_kib(pid)
            );
            continue;
        }
        let settled = wait_for(
            "resident memory back near its level before the crowds",
            SETTLE,
            || {
                let rss = rss_kib(pid);
                (
                    rss <= bound,
                    (rss, format!("bound {bound} KiB, base {base} KiB")),
                )
            },
        );
        println!(
            "crowd {crowd}: RSS {connected} KiB connected, {} KiB once gone (base {base} KiB)",
            settled.0
        );
    }
}
