//! The Rust client's consumer finding nsqd through two nsqlookupd (ours) while nodes come
//! and go: a node added mid-stream is connected at the next poll, one stopped is dropped,
//! and every message published on any of them is handled. Against our nsqd and Go's.

#[path = "support/client.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use nsq_client::{Config, Producer};
use nsq_tests::daemon::Daemon;
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::lookupd;
use nsq_tests::poll::wait_for;
use support::*;

const TOPIC: &str = "disc";

fn start_node(bin: &Path, dir: &TempDir, lookupds: &[Daemon]) -> Nsqd {
    let mut args = vec!["--broadcast-address=127.0.0.1".to_string()];
    for l in lookupds {
        args.push(format!("--lookupd-tcp-address={}", l.tcp_addr()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Nsqd::start(bin, dir.path(), &args)
}

fn publish(rt: &tokio::runtime::Runtime, node: &Nsqd, bodies: &[Vec<u8>]) {
    let p = Producer::new(node.tcp_addr().to_string(), fast_config());
    rt.block_on(async {
        p.multi_publish(TOPIC, bodies).await.expect("MPUB");
        p.stop().await;
    });
}

/// Waits until every lookupd lists `count` producers of the topic.
fn wait_producers(lookupds: &[Daemon], count: usize) {
    for l in lookupds {
        wait_for(&format!("{count} producers in lookupd"), DRAIN, || {
            let r = http::get(l.http_addr(), &format!("/lookup?topic={TOPIC}"));
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let n = v["producers"].as_array().map_or(0, Vec::len);
            (n == count, v)
        });
    }
}

fn discovery(bin: &Path) {
    let lookupds = vec![
        lookupd::start(&["--broadcast-address=127.0.0.1"]),
        lookupd::start(&["--broadcast-address=127.0.0.1"]),
    ];
    let (dir_a, dir_b) = (TempDir::new("client-disc-a"), TempDir::new("client-disc-b"));
    let mut a = start_node(bin, &dir_a, &lookupds);
    let rt = runtime();
    let _g = rt.enter();
    let first = bodies("a", 200);
    publish(&rt, &a, &first);
    wait_producers(&lookupds, 1);

    let ledger = Ledger::default();
    let config = Config {
        max_in_flight: 50,
        ..fast_config()
    };
    let consumer = ledger_consumer(TOPIC, "ch", config, &ledger);
    for l in &lookupds {
        rt.block_on(consumer.connect_to_nsqlookupd(&l.http_addr().to_string()))
            .expect("lookupd");
    }
    ledger.wait_distinct(200, DRAIN);
    assert_eq!(consumer.stats().connections, 1);

    // A node joins mid-stream: found at a later poll.
    let b = start_node(bin, &dir_b, &lookupds);
    let second = bodies("b", 300);
    publish(&rt, &b, &second);
    wait_producers(&lookupds, 2);
    wait_for("a connection to the new node", DRAIN, || {
        let n = consumer.stats().connections;
        (n == 2, n)
    });
    ledger.wait_distinct(500, DRAIN);

    // A node leaves: its connection is dropped; the other keeps consuming.
    a.stop();
    wait_for("the stopped node's connection dropped", DRAIN, || {
        let n = consumer.stats().connections;
        (n == 1, n)
    });
    let third = bodies("c", 300);
    publish(&rt, &b, &third);
    ledger.wait_distinct(800, DRAIN);
    rt.block_on(consumer.stop());
    let got = ledger.snapshot();
    for body in first.iter().chain(&second).chain(&third) {
        assert!(
            got.contains_key(body),
            "missing {}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn discovery_with_nodes_added_and_removed_ours() {
    discovery(&nsqd_bin());
}

#[test]
fn discovery_with_nodes_added_and_removed_go() {
    discovery(&go_nsqd_bin());
}

/// An nsqlookupd that cannot be reached at start is logged and retried, not fatal to
/// adding a second one that works.
#[test]
fn unreachable_lookupd_does_not_stop_discovery() {
    let lookupds = vec![lookupd::start(&["--broadcast-address=127.0.0.1"])];
    let dir = TempDir::new("client-disc-dead");
    let node = start_node(&nsqd_bin(), &dir, &lookupds);
    let rt = runtime();
    let _g = rt.enter();
    publish(&rt, &node, &bodies("x", 10));
    wait_producers(&lookupds, 1);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let ledger = Ledger::default();
    let consumer = ledger_consumer(TOPIC, "ch", fast_config(), &ledger);
    rt.block_on(consumer.connect_to_nsqlookupd(&dead_addr.to_string()))
        .expect("added");
    rt.block_on(consumer.connect_to_nsqlookupd(&lookupds[0].http_addr().to_string()))
        .expect("added");
    ledger.wait_distinct(10, Duration::from_secs(30));
    rt.block_on(consumer.stop());
}
