//! The Rust client's consumer with its producer, against our nsqd and Go nsqd v1.3.0:
//! 100,000 messages through intact, more connections than max-in-flight (RDY
//! redistribution), a clean stop that loses nothing in flight, and max-attempts.

#[path = "support/client.rs"]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nsq_client::{Config, Consumer, HandlerError, Message, Producer};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::poll::wait_for;
use support::*;

fn publish_all(rt: &tokio::runtime::Runtime, addr: &str, topic: &str, bodies: &[Vec<u8>]) {
    let producer = Producer::new(addr, fast_config());
    rt.block_on(async {
        // Batches from concurrent tasks, pipelined over the one connection.
        let mut tasks = Vec::new();
        for chunk in bodies.chunks(500) {
            let (p, topic, chunk) = (producer.clone(), topic.to_string(), chunk.to_vec());
            tasks.push(tokio::spawn(async move {
                p.multi_publish(&topic, &chunk).await
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("MPUB");
        }
        producer.stop().await;
    });
}

fn hundred_thousand(bin: &Path) {
    const N: usize = 100_000;
    let dir = TempDir::new("client-100k");
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let rt = runtime();
    let _g = rt.enter();
    let ledger = Ledger::default();
    let config = Config {
        max_in_flight: 500,
        ..fast_config()
    };
    let consumer = ledger_consumer("c100k", "ch", config, &ledger);
    rt.block_on(consumer.connect_to_nsqd(&nsqd.tcp_addr().to_string()))
        .expect("connect");
    let sent = bodies("m", N);
    publish_all(&rt, &nsqd.tcp_addr().to_string(), "c100k", &sent);
    ledger.wait_distinct(N, DRAIN);
    rt.block_on(consumer.stop());
    let got = ledger.snapshot();
    assert_eq!(got.len(), N);
    for b in &sent {
        assert!(
            got.contains_key(b),
            "missing {}",
            String::from_utf8_lossy(b)
        );
    }
    let stats = consumer.stats();
    assert_eq!(stats.messages_finished, ledger.total());
    let ch = channel(nsqd.http_addr(), "c100k", "ch");
    assert_eq!(u(&ch, "depth"), 0, "{ch}");
    assert_eq!(u(&ch, "in_flight_count"), 0, "{ch}");
    assert_eq!(u(&ch, "message_count"), N as u64, "{ch}");
}

#[test]
fn hundred_thousand_messages_ours() {
    hundred_thousand(&nsqd_bin());
}

#[test]
fn hundred_thousand_messages_go() {
    hundred_thousand(&go_nsqd_bin());
}

/// 3 nsqd, max_in_flight 2: one connection at a time has no RDY, and redistribution
/// moves it around until every node is drained.
fn rdy_spread(bin: &Path) {
    const PER_NODE: usize = 300;
    let dirs: Vec<TempDir> = (0..3)
        .map(|i| TempDir::new(&format!("client-rdy{i}")))
        .collect();
    let nodes: Vec<Nsqd> = dirs
        .iter()
        .map(|d| Nsqd::start(bin, d.path(), &[]))
        .collect();
    let rt = runtime();
    let _g = rt.enter();
    let mut sent = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let b = bodies(&format!("node{i}"), PER_NODE);
        publish_all(&rt, &n.tcp_addr().to_string(), "spread", &b);
        sent.extend(b);
    }
    let ledger = Ledger::default();
    let config = Config {
        max_in_flight: 2,
        ..fast_config()
    };
    let consumer = ledger_consumer("spread", "ch", config, &ledger);
    for n in &nodes {
        rt.block_on(consumer.connect_to_nsqd(&n.tcp_addr().to_string()))
            .expect("connect");
    }
    assert_eq!(consumer.stats().connections, 3);
    // RDY in total, as nsqd sees it.
    let rdy_total = || -> u64 {
        nodes
            .iter()
            .map(|n| {
                let ch = channel(n.http_addr(), "spread", "ch");
                ch["clients"]
                    .as_array()
                    .map_or(0, |cs| cs.iter().map(|c| u(c, "ready_count")).sum())
            })
            .sum()
    };
    let mut max_seen = 0;
    wait_for("every message consumed", DRAIN, || {
        max_seen = max_seen.max(rdy_total());
        let d = ledger.distinct();
        (d == sent.len(), d)
    });
    // The client never sets more than max-in-flight in total, but nsqd A may apply a
    // RDY 0 after nsqd B applied the RDY 1 that replaces it, and the three /stats are
    // read one after the other: at most one connection's worth of overlap is seen.
    assert!(max_seen <= 3, "RDY total {max_seen} > max_in_flight 2 + 1");
    rt.block_on(consumer.stop());
    for n in &nodes {
        let ch = channel(n.http_addr(), "spread", "ch");
        assert_eq!(u(&ch, "depth"), 0, "{ch}");
    }
}

#[test]
fn rdy_spread_over_more_connections_than_max_in_flight_ours() {
    rdy_spread(&nsqd_bin());
}

#[test]
fn rdy_spread_over_more_connections_than_max_in_flight_go() {
    rdy_spread(&go_nsqd_bin());
}

/// Stop mid-stream: every delivered message was handled and FINed, nothing is left in
/// flight, and a second consumer gets exactly the rest.
fn clean_stop(bin: &Path) {
    const N: usize = 3000;
    let dir = TempDir::new("client-stop");
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let rt = runtime();
    let _g = rt.enter();
    let sent = bodies("s", N);
    publish_all(&rt, &nsqd.tcp_addr().to_string(), "stop", &sent);
    let first = Ledger::default();
    let consumer = Consumer::new(
        "stop",
        "ch",
        Config {
            max_in_flight: 100,
            ..fast_config()
        },
    )
    .expect("consumer");
    let l = first.clone();
    consumer.add_handler(
        move |m: Message| {
            let l = l.clone();
            async move {
                // Slow enough that the stop finds messages in flight.
                tokio::time::sleep(Duration::from_millis(2)).await;
                l.record(&m.body);
                Ok::<(), HandlerError>(())
            }
        },
        8,
    );
    rt.block_on(consumer.connect_to_nsqd(&nsqd.tcp_addr().to_string()))
        .expect("connect");
    first.wait_distinct(500, DRAIN);
    rt.block_on(consumer.stop());
    let handled = first.snapshot();
    let stats = consumer.stats();
    assert!(handled.len() < N, "stopped too late to test anything");
    assert_eq!(
        stats.messages_received, stats.messages_finished,
        "{stats:?}"
    );
    assert_eq!(stats.messages_finished, first.total());
    assert!(handled.values().all(|&n| n == 1));
    let ch = channel(nsqd.http_addr(), "stop", "ch");
    assert_eq!(u(&ch, "in_flight_count"), 0, "{ch}");
    assert_eq!(u(&ch, "requeue_count"), 0, "{ch}");
    assert_eq!(u(&ch, "timeout_count"), 0, "{ch}");
    assert_eq!(u(&ch, "depth") as usize, N - handled.len(), "{ch}");
    // The rest, once each, to a second consumer.
    let second = Ledger::default();
    let c2 = ledger_consumer("stop", "ch", fast_config_mif(100), &second);
    rt.block_on(c2.connect_to_nsqd(&nsqd.tcp_addr().to_string()))
        .expect("connect");
    second.wait_distinct(N - handled.len(), DRAIN);
    rt.block_on(c2.stop());
    let rest = second.snapshot();
    for b in &sent {
        let n = handled.get(b).copied().unwrap_or(0) + rest.get(b).copied().unwrap_or(0);
        assert_eq!(n, 1, "{} handled {n} times", String::from_utf8_lossy(b));
    }
}

fn fast_config_mif(max_in_flight: u64) -> Config {
    Config {
        max_in_flight,
        ..fast_config()
    }
}

#[test]
fn clean_stop_loses_nothing_ours() {
    clean_stop(&nsqd_bin());
}

#[test]
fn clean_stop_loses_nothing_go() {
    clean_stop(&go_nsqd_bin());
}

/// A message failing every time is delivered max_attempts times, then given up: FINed
/// and passed to `log_failed_message`.
#[test]
fn max_attempts_gives_up_with_fin() {
    struct Failing {
        calls: Arc<AtomicU64>,
        given_up: Arc<AtomicU64>,
    }
    impl nsq_client::Handler for Failing {
        async fn handle(&self, _m: Message) -> Result<(), HandlerError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Err("always fails".into())
        }
        fn log_failed_message(&self, _m: &Message) {
            self.given_up.fetch_add(1, Ordering::SeqCst);
        }
    }
    for bin in [nsqd_bin(), go_nsqd_bin()] {
        let dir = TempDir::new("client-attempts");
        let nsqd = Nsqd::start(&bin, dir.path(), &[]);
        let rt = runtime();
        let _g = rt.enter();
        publish_all(
            &rt,
            &nsqd.tcp_addr().to_string(),
            "att",
            &[b"doomed".to_vec()],
        );
        let (calls, given_up) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let consumer = Consumer::new(
            "att",
            "ch",
            Config {
                max_attempts: 3,
                default_requeue_delay: Duration::ZERO,
                max_backoff_duration: Duration::ZERO,
                ..fast_config()
            },
        )
        .expect("consumer");
        consumer.add_handler(
            Failing {
                calls: Arc::clone(&calls),
                given_up: Arc::clone(&given_up),
            },
            1,
        );
        rt.block_on(consumer.connect_to_nsqd(&nsqd.tcp_addr().to_string()))
            .expect("connect");
        wait_for("given up", DRAIN, || {
            let g = given_up.load(Ordering::SeqCst);
            (g == 1, g)
        });
        wait_for("FIN seen by nsqd", DRAIN, || {
            let ch = channel(nsqd.http_addr(), "att", "ch");
            (u(&ch, "depth") == 0 && u(&ch, "in_flight_count") == 0, ch)
        });
        rt.block_on(consumer.stop());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(consumer.stats().messages_requeued, 3);
        assert_eq!(consumer.stats().messages_finished, 1);
    }
}
