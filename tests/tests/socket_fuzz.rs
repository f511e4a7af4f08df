//! A live socket fuzzer: 2,000 short connections of mutated traffic against nsqd TCP
//! (V2 commands with bad sizes, negative and huge 4-byte lengths, truncated frames, odd
//! IDENTIFY JSON, garbage after valid prefixes), nsqd HTTP (bad methods, paths, query
//! strings, bodies, chunked garbage, huge `Content-Length`), nsqlookupd TCP (V1 magic,
//! IDENTIFY with bad and negative sizes, REGISTER junk) and nsqlookupd HTTP. Each
//! connection writes its bytes, reads briefly and is dropped (sometimes half-closed,
//! sometimes abandoned mid-frame). Afterwards both daemons answer `/ping`, a normal
//! PUB then SUB/RDY/FIN round trip works on nsqd, neither printed a panic, no connect was
//! refused, and nsqd's RSS is within a generous bound.
//!
//! The seed is printed at the start; replay a run with `NSQ_FUZZ_SEED=<seed>` (a longer
//! campaign: `NSQ_FUZZ_CONNECTIONS=<n>`). Run
//! against Go (`NSQD_BIN`/`NSQLOOKUPD_BIN` naming the v1.3.0 reference): Go nsqlookupd
//! v1.3.0 exits on an IDENTIFY with a negative body size, so the nsqlookupd liveness
//! checks apply to ours only.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nsq_tests::client::Client;
use nsq_tests::fuzz::{self, Rng};
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::lookupd;
use nsq_tests::poll::wait_for;

/// Connections per campaign (unless `NSQ_FUZZ_CONNECTIONS` says otherwise), spread over
/// [`WORKERS`] threads (a few open at a time).
const CONNECTIONS: usize = 2_000;
const WORKERS: usize = 6;
/// How long one connection waits for each read before it is dropped.
const READ_TIMEOUT: Duration = Duration::from_millis(25);
/// Reads per connection at most (a daemon that keeps talking is cut off).
const MAX_READS: usize = 4;
/// Time bound per [`CONNECTIONS`] connections: the campaign stops early (and still
/// checks) when it passes, so a slow machine gives a shorter run, not a failure.
const CAMPAIGN_BOUND: Duration = Duration::from_secs(20);
const DEFAULT_SEED: u64 = 0x6e73_715f_6675_7a7a;
/// Generous: nsqd idles at a few MiB; a leak per bad connection would show here.
const MAX_RSS_KB: u64 = 300 * 1024;

/// The four listeners, in the order a connection's first draw picks them.
#[derive(Clone, Copy)]
struct Targets([SocketAddr; 4]);

const NSQD_TCP: usize = 0;
const NSQD_HTTP: usize = 1;
const LOOKUPD_TCP: usize = 2;
const LOOKUPD_HTTP: usize = 3;

/// What became of one connection.
enum Outcome {
    /// The daemon refused or timed out the connect.
    Refused,
    /// Connected; nothing was read (dropped at once, or the daemon stayed silent).
    Silent,
    /// The daemon answered something.
    Answered,
}

/// One connection: connect, write (maybe in pieces), maybe half-close, read briefly, drop.
/// Returns which listener it went to and what became of it.
fn one_connection(seed: u64, targets: Targets) -> (usize, Outcome) {
    let mut rng = Rng::new(seed);
    let target = rng.below(4);
    let mut bytes = match target {
        NSQD_TCP => fuzz::nsqd_stream(&mut rng),
        NSQD_HTTP => fuzz::http_request(&mut rng, &fuzz::NSQD_PATHS),
        LOOKUPD_TCP => fuzz::lookupd_stream(&mut rng),
        _ => fuzz::http_request(&mut rng, &fuzz::LOOKUPD_PATHS),
    };
    if rng.chance(40) {
        fuzz::mutate(&mut rng, &mut bytes);
    }
    // A daemon that died refuses connections: counted, and asserted on afterwards.
    let Ok(mut s) = TcpStream::connect_timeout(&targets.0[target], Duration::from_secs(2)) else {
        return (target, Outcome::Refused);
    };
    let _ = s.set_read_timeout(Some(READ_TIMEOUT));
    let _ = s.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = s.set_nodelay(true);
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let n = if rng.chance(30) {
            1 + rng.below(rest.len())
        } else {
            rest.len()
        };
        if s.write_all(&rest[..n]).is_err() {
            break;
        }
        rest = &rest[n..];
    }
    match rng.below(3) {
        0 => return (target, Outcome::Silent), // abrupt close, nothing read
        1 => {
            let _ = s.shutdown(Shutdown::Write);
        }
        _ => {}
    }
    let mut buf = [0u8; 4096];
    let mut outcome = Outcome::Silent;
    for _ in 0..MAX_READS {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => outcome = Outcome::Answered,
        }
    }
    (target, outcome)
}

/// Counts over the whole campaign.
#[derive(Default)]
struct Tally {
    made: AtomicUsize,
    answered: AtomicUsize,
    /// Refused connects per listener ([`Targets`] order).
    refused: [AtomicUsize; 4],
}

impl Tally {
    fn refused(&self, target: usize) -> usize {
        self.refused[target].load(Ordering::Relaxed)
    }
}

/// Runs `total` connections, [`WORKERS`] at a time, or as many as fit in the bound.
fn campaign(seed: u64, total: usize, targets: Targets) -> Tally {
    let tally = Arc::new(Tally::default());
    let rounds = total.div_ceil(CONNECTIONS).max(1) as u32;
    let deadline = Instant::now() + CAMPAIGN_BOUND * rounds;
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let tally = Arc::clone(&tally);
            thread::spawn(move || loop {
                let i = tally.made.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() > deadline {
                    return;
                }
                let conn_seed = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                match one_connection(conn_seed, targets) {
                    (t, Outcome::Refused) => tally.refused[t].fetch_add(1, Ordering::Relaxed),
                    (_, Outcome::Answered) => tally.answered.fetch_add(1, Ordering::Relaxed),
                    (_, Outcome::Silent) => 0,
                };
            })
        })
        .collect();
    for w in workers {
        w.join().expect("fuzz worker panicked");
    }
    let tally = Arc::into_inner(tally).expect("workers joined");
    let made = tally.made.load(Ordering::Relaxed).min(total);
    tally.made.store(made, Ordering::Relaxed);
    tally
}

/// A Rust panic message (`thread '...' panicked at`) or a Go one (`panic: ...`).
fn panicked(output: &str) -> bool {
    output.contains("panicked") || output.lines().any(|l| l.starts_with("panic:"))
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// A normal PUB, then SUB/RDY/FIN of that message on a fresh channel.
fn round_trip(addr: SocketAddr, http_addr: SocketAddr) {
    let topic = "fuzz_check";
    let mut p = Client::connect(addr);
    p.pub_(topic, b"after the fuzz");
    p.expect_ok();
    let mut c = Client::connect(addr);
    c.sub(topic, "check");
    c.expect_ok();
    c.rdy(1);
    let _ = c.flush();
    let m = c.expect_message();
    assert_eq!(m.body, b"after the fuzz");
    c.fin(&m.id);
    let flushed = c.flush();
    let stats = wait_for("the FIN to land", Duration::from_secs(10), || {
        let ch = http::channel_stats(http_addr, topic, "check");
        let ch = ch.unwrap_or_default();
        let done = ch["in_flight_count"] == 0 && ch["depth"] == 0;
        (done, ch)
    });
    assert!(flushed.is_ok(), "FIN not sent: {flushed:?}; {stats}");
}

#[test]
fn daemons_survive_socket_fuzz() {
    let seed = std::env::var("NSQ_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let total = std::env::var("NSQ_FUZZ_CONNECTIONS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(CONNECTIONS);
    println!("socket fuzz seed {seed} (replay: NSQ_FUZZ_SEED={seed}), {total} connections");
    let mut lookupd = lookupd::start(&[]);
    let (_dir, nsqd) = Nsqd::start_in_temp("socket_fuzz", &[]);
    let targets = Targets([
        nsqd.tcp_addr(),
        nsqd.http_addr(),
        lookupd.tcp_addr(),
        lookupd.http_addr(),
    ]);
    let started = Instant::now();
    let tally = campaign(seed, total, targets);
    println!(
        "{} connections in {:?}: {} answered, refused per listener (nsqd tcp, nsqd http, \
         lookupd tcp, lookupd http) {:?}",
        tally.made.load(Ordering::Relaxed),
        started.elapsed(),
        tally.answered.load(Ordering::Relaxed),
        [0, 1, 2, 3].map(|t| tally.refused(t)),
    );

    let (nsqd_tcp, nsqd_http) = (targets.0[NSQD_TCP], targets.0[NSQD_HTTP]);
    assert_eq!(
        tally.refused(NSQD_TCP) + tally.refused(NSQD_HTTP),
        0,
        "nsqd refused connections (seed {seed})"
    );
    assert_eq!(http::get(nsqd_http, "/ping").status, 200);
    round_trip(nsqd_tcp, nsqd_http);
    let out = nsqd.output();
    assert!(!panicked(&out), "nsqd panicked (seed {seed}):\n{out}");
    let rss = rss_kb(nsqd.pid());
    println!("nsqd RSS after the fuzz: {} MiB", rss / 1024);
    assert!(
        rss < MAX_RSS_KB,
        "nsqd RSS {rss} kB >= {MAX_RSS_KB} kB (seed {seed})"
    );

    if lookupd::is_reference() {
        // Go nsqlookupd v1.3.0 exits on an IDENTIFY with a negative body size.
        match lookupd.try_exit() {
            None => println!("Go nsqlookupd survived this seed"),
            Some(status) => {
                let out = lookupd.output();
                let panic: Vec<&str> = out
                    .lines()
                    .skip_while(|l| !l.starts_with("panic:"))
                    .take(6)
                    .collect();
                println!("Go nsqlookupd exited ({status}): {panic:#?}");
            }
        }
        return;
    }
    assert!(
        lookupd.try_exit().is_none(),
        "nsqlookupd exited (seed {seed})"
    );
    let refused = tally.refused(LOOKUPD_TCP) + tally.refused(LOOKUPD_HTTP);
    assert_eq!(refused, 0, "nsqlookupd refused connections (seed {seed})");
    assert_eq!(http::get(targets.0[LOOKUPD_HTTP], "/ping").status, 200);
    let out = lookupd.output();
    assert!(!panicked(&out), "nsqlookupd panicked (seed {seed}):\n{out}");
}
