//! The `kill -9` campaign (`tests/soak.rs`, `make soak`): rounds of mixed PUB/MPUB/DPUB load
//! from several producers and a consumer that FINs most messages, REQs some (with and
//! without a delay) and leaves a few to time out, against one nsqd in the durable
//! configuration; each round ends in `kill -9` at a seeded random point and the next
//! starts a new nsqd on the same data dir. At the end everything is drained (deferred
//! included) and the [`Ledger`] says what was lost.
//!
//! What the durable configuration promises: a message is on disk once `OK` is sent, and
//! (beyond Go nsqd v1.3.0) it stays there until FIN: a message in flight or deferred by
//! REQ when nsqd is killed is delivered again after the restart, so `acked-lost` and
//! `unfinished` (delivered, never FINished) must both be 0. A DPUB still waiting for its
//! time lives in the channel's memory only (in Go as in ours), so a kill loses it: DPUBs
//! not yet due at a kill are excused in the ledger (counted as `excused-lost`). Go nsqd
//! loses in-flight messages: for it the test allows a message taken for the consumer and
//! not yet written to its socket to vanish (at most the consumer's RDY per kill; see
//! [`Outcome::unseen_allowance`]) and only reports `unfinished`.
//!
//! Replay: every campaign prints its seed; `NSQ_SOAK_SEED=<seed>` runs the same choices
//! (the timing of a real process still varies).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::client::{Client, Frame};
use crate::consumer::{drain_until_empty, Consumer, Tally, DRAIN_RDY};
use crate::fuzz::Rng;
use crate::harness::Nsqd;
use crate::ledger::{Ledger, Report};
use crate::poll::wait_until;

/// The durable configuration, with a short message timeout so that messages the
/// consumer leaves unanswered come back within the run.
pub const DURABLE: [&str; 3] = ["--mem-queue-size=0", "--sync-every=1", "--msg-timeout=2s"];
pub const CHANNEL: &str = "c";
/// A DPUB due this long before a kill must have reached the disk queue by then (the
/// deferred scan runs every 100 ms).
const DUE_MARGIN: Duration = Duration::from_secs(2);
const PRODUCERS: usize = 3;
/// A few messages in flight at a time, so that a kill finds some taken and not yet
/// written to the socket, some delivered and not FINished. (For Go nsqd, which loses
/// those, it bounds the in-flight loss the ledger cannot see to this many per kill.)
const CONSUMER_RDY: u32 = 4;
/// Words of log lines (ours and Go's) that report corruption or loss in a disk queue.
const CORRUPTION: [&str; 6] = [
    "corruption",
    "data loss",
    "read error",
    ".bad",
    "jumping to next file",
    "panicked",
];

/// One campaign's shape.
pub struct Campaign<'a> {
    pub name: &'static str,
    pub kills: usize,
    pub seed: u64,
    /// nsqd flags beyond `--data-path` and the listeners.
    pub args: Vec<&'a str>,
    /// Each round publishes this many messages to a new topic without channels before
    /// its consumer subscribes, so the kill falls in the topic→channel drain.
    pub backlog: usize,
    /// Before each kill, wait until the channel has messages deferred and in flight.
    pub require_pending: bool,
    /// Longest random wait between the start of a round's load and its kill.
    pub max_run: Duration,
}

/// The campaign's figures.
pub struct Outcome {
    pub kills: usize,
    pub report: Report,
    /// For Go nsqd only (ours must lose none): how many acked messages may be lost
    /// without being seen: at each kill, at most the consumer's RDY window may have been
    /// taken for it and not yet written to its socket (in flight in Go nsqd's memory).
    pub unseen_allowance: usize,
    /// Restart log lines reporting corruption or a panic (ours must have none).
    pub bad_lines: Vec<String>,
}

/// `NSQ_SOAK_KILLS` if set, else `default`.
pub fn kills_from_env(default: usize) -> usize {
    std::env::var("NSQ_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `NSQ_SOAK_SEED` if set, else one from the clock; printed either way by the caller.
pub fn seed_from_env() -> u64 {
    std::env::var("NSQ_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// DPUBs sent: body and when it is due.
type Dpubs = Mutex<Vec<(Vec<u8>, Instant)>>;

struct Shared {
    ledger: Ledger,
    dpubs: Dpubs,
}

impl Campaign<'_> {
    /// Runs every round and the final drain; panics on a stalled drain.
    pub fn run(&self, bin: &Path, data: &Path) -> Outcome {
        println!(
            "campaign {}: seed={} kills={} (replay: NSQ_SOAK_SEED={})",
            self.name, self.seed, self.kills, self.seed
        );
        let shared = Arc::new(Shared {
            ledger: Ledger::new(),
            dpubs: Mutex::new(Vec::new()),
        });
        let mut rng = Rng::new(self.seed);
        let mut topics: Vec<String> = Vec::new();
        let mut bad_lines = Vec::new();
        for round in 0..self.kills {
            let mut nsqd = Nsqd::start(bin, data, &self.args);
            bad_lines.extend(corruption_lines(&nsqd.output()));
            let topic = if self.backlog > 0 {
                format!("{}{round}", self.name)
            } else {
                self.name.to_string()
            };
            if !topics.contains(&topic) {
                topics.push(topic.clone());
            }
            self.round(&mut nsqd, &topic, round, &mut rng, &shared);
        }

        let mut nsqd = Nsqd::start(bin, data, &self.args);
        bad_lines.extend(corruption_lines(&nsqd.output()));
        if topics.is_empty() {
            topics.push(self.name.to_string());
        }
        // Until the server has nothing left (queued, deferred or in flight): what has not
        // arrived by then is lost, and the report says so.
        for topic in &topics {
            let mut consumer = Consumer::subscribe(nsqd.tcp_addr(), topic, CHANNEL, DRAIN_RDY);
            let mut tally = Tally::default();
            drain_until_empty(&mut consumer, &mut tally, nsqd.http_addr(), topic, CHANNEL);
            shared.ledger.record_tally(&tally);
        }
        bad_lines.extend(corruption_lines(&nsqd.output()));
        nsqd.stop();
        Outcome {
            kills: self.kills,
            report: shared.ledger.report(),
            unseen_allowance: self.kills * CONSUMER_RDY as usize,
            bad_lines,
        }
    }

    fn round(
        &self,
        nsqd: &mut Nsqd,
        topic: &str,
        round: usize,
        rng: &mut Rng,
        shared: &Arc<Shared>,
    ) {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        if self.backlog > 0 {
            publish_backlog(nsqd.tcp_addr(), topic, self.backlog, &shared.ledger);
        }
        for p in 0..PRODUCERS {
            let (shared, stop, addr) = (Arc::clone(shared), Arc::clone(&stop), nsqd.tcp_addr());
            let prefix = format!("{topic}:r{round}p{p}-");
            let (topic, seed) = (topic.to_string(), rng.next_u64());
            workers.push(thread::spawn(move || {
                produce(addr, &topic, &prefix, seed, &shared, &stop)
            }));
        }
        {
            let (shared, stop, addr) = (Arc::clone(shared), Arc::clone(&stop), nsqd.tcp_addr());
            let (topic, seed) = (topic.to_string(), rng.next_u64());
            workers.push(thread::spawn(move || {
                consume(addr, &topic, seed, &shared.ledger, &stop)
            }));
        }
        let started = Instant::now();
        if self.require_pending {
            let http = nsqd.http_addr();
            wait_until(
                "messages deferred and in flight",
                Duration::from_secs(30),
                || {
                    crate::http::channel_stats(http, topic, CHANNEL).is_some_and(|c| {
                        c["deferred_count"].as_u64() > Some(0)
                            && c["in_flight_count"].as_u64() > Some(0)
                    })
                },
            );
        }
        let wait_ms = rng.below(self.max_run.as_millis() as usize + 1) as u64;
        let until = started + Duration::from_millis(wait_ms);
        thread::sleep(until.saturating_duration_since(Instant::now()));
        nsqd.kill9();
        let killed = Instant::now();
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.join().expect("load thread");
        }
        // Deferred in memory at the kill (due after it, give or take the scan): gone, as
        // in Go nsqd.
        let dpubs = std::mem::take(&mut *shared.dpubs.lock().unwrap_or_else(|e| e.into_inner()));
        for (body, due) in dpubs {
            if due + DUE_MARGIN > killed {
                shared.ledger.excuse(&body);
            }
        }
    }
}

/// MPUBs `n` bodies (batches of 100) to `topic`, each batch recorded as sent and acked.
fn publish_backlog(addr: SocketAddr, topic: &str, n: usize, ledger: &Ledger) {
    let mut client = Client::connect(addr);
    for start in (0..n).step_by(100) {
        let bodies: Vec<Vec<u8>> = (start..n.min(start + 100))
            .map(|i| format!("{topic}:backlog-{i:08}").into_bytes())
            .collect();
        ledger.sent(&bodies);
        client.mpub(topic, &bodies);
        client.expect_ok();
        ledger.acked(&bodies);
    }
}

/// Random PUB (50 %), MPUB of 2–20 (35 %) and DPUB of 0.1–3 s (15 %) until `stop` or
/// the connection dies. Every body is recorded as sent before writing, acked after `OK`.
fn produce(
    addr: SocketAddr,
    topic: &str,
    prefix: &str,
    seed: u64,
    shared: &Shared,
    stop: &AtomicBool,
) {
    let mut rng = Rng::new(seed);
    // The kill may come before this thread connects.
    let Ok(mut client) = Client::try_connect(addr) else {
        return;
    };
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let roll = rng.below(100);
        let count = if (50..85).contains(&roll) {
            2 + rng.below(19)
        } else {
            1
        };
        let bodies: Vec<Vec<u8>> = (next..next + count)
            .map(|i| format!("{prefix}{i:08}").into_bytes())
            .collect();
        next += count;
        shared.ledger.sent(&bodies);
        if roll < 50 {
            client.pub_(topic, &bodies[0]);
        } else if roll < 85 {
            client.mpub(topic, &bodies);
        } else {
            let defer_ms = 100 + rng.below(2900) as u64;
            let due = Instant::now() + Duration::from_millis(defer_ms);
            shared
                .dpubs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((bodies[0].clone(), due));
            client.dpub(topic, defer_ms, &bodies[0]);
        }
        match client.try_read_frame(Duration::from_secs(30)) {
            Ok(Some(Frame::Response(data))) if data == b"OK" => shared.ledger.acked(&bodies),
            Ok(Some(other)) => panic!("producer got {other:?}"),
            Ok(None) | Err(_) => return,
        }
    }
}

/// Consumes until the connection dies (or is idle after `stop`): FIN 80 %, REQ with a 0.1–1.5 s delay
/// 10 %, REQ now 5 %, no answer 5 % (it times out after `--msg-timeout`).
fn consume(addr: SocketAddr, topic: &str, seed: u64, ledger: &Ledger, stop: &AtomicBool) {
    let mut rng = Rng::new(seed);
    // The kill may come before this thread connects.
    let Ok(mut client) = Client::try_connect(addr) else {
        return;
    };
    client.sub(topic, CHANNEL);
    match client.try_read_frame(Duration::from_secs(30)) {
        Ok(Some(Frame::Response(data))) if data == b"OK" => {}
        Ok(Some(other)) => panic!("SUB got {other:?}"),
        Ok(None) | Err(_) => return,
    }
    client.rdy(CONSUMER_RDY);
    // After the kill, keep reading what the server wrote before it died (until the
    // connection reports its end): those messages were delivered.
    loop {
        match client.try_read_frame(Duration::from_millis(100)) {
            Ok(Some(Frame::Message(m))) => {
                ledger.delivered(&m.body);
                let roll = rng.below(100);
                if roll < 80 {
                    client.fin(&m.id);
                    ledger.finned(&m.body);
                } else if roll < 90 {
                    client.req(&m.id, 100 + rng.below(1400) as u64);
                } else if roll < 95 {
                    client.req(&m.id, 0);
                }
            }
            // A FIN or REQ for a message that timed out meanwhile: not fatal.
            Ok(Some(Frame::Error(text))) if text.starts_with("E_FIN_FAILED") => {}
            Ok(Some(Frame::Error(text))) if text.starts_with("E_REQ_FAILED") => {}
            Ok(Some(other)) => panic!("consumer got {other:?}"),
            Ok(None) => {
                if client.flush().is_err() || stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// Log lines reporting disk-queue corruption or a panic.
pub fn corruption_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            CORRUPTION.iter().any(|w| l.contains(w))
        })
        .map(str::to_string)
        .collect()
}
