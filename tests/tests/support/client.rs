//! What the client tests share: a runtime, a ledger of handled message bodies, a
//! consumer wired to it, and polling of nsqd's `/stats` for one channel.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nsq_client::{Config, Consumer, HandlerError, Message};
use nsq_tests::http;
use nsq_tests::poll::wait_for;

/// Failure bound for a consumer to get through what a test published.
pub const DRAIN: Duration = Duration::from_secs(60);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// How many times each body was handled successfully.
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<HashMap<Vec<u8>, u32>>>);

impl Ledger {
    pub fn record(&self, body: &[u8]) {
        *self
            .0
            .lock()
            .expect("ledger")
            .entry(body.to_vec())
            .or_default() += 1;
    }

    pub fn distinct(&self) -> usize {
        self.0.lock().expect("ledger").len()
    }

    pub fn total(&self) -> u64 {
        self.0
            .lock()
            .expect("ledger")
            .values()
            .map(|&n| u64::from(n))
            .sum()
    }

    pub fn snapshot(&self) -> HashMap<Vec<u8>, u32> {
        self.0.lock().expect("ledger").clone()
    }

    /// Waits until `n` distinct bodies were handled.
    pub fn wait_distinct(&self, n: usize, timeout: Duration) {
        wait_for(&format!("{n} distinct bodies handled"), timeout, || {
            let d = self.distinct();
            (d >= n, d)
        });
    }
}

/// Bodies `prefix-0` ... `prefix-(n-1)`, padded to vary in size.
pub fn bodies(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut b = format!("{prefix}-{i}-").into_bytes();
            b.resize(b.len() + i % 97, b'x');
            b
        })
        .collect()
}

/// A consumer whose handler records every body in `ledger` (and FINs it).
pub fn ledger_consumer(topic: &str, channel: &str, config: Config, ledger: &Ledger) -> Consumer {
    let consumer = Consumer::new(topic, channel, config).expect("consumer");
    let l = ledger.clone();
    consumer.add_handler(
        move |m: Message| {
            l.record(&m.body);
            async { Ok::<(), HandlerError>(()) }
        },
        4,
    );
    consumer
}

/// A config with fast flow-control timers for tests.
pub fn fast_config() -> Config {
    Config {
        client_id: "client-test".into(),
        lookupd_poll_interval: Duration::from_millis(200),
        lookupd_poll_jitter: 0.1,
        rdy_redistribute_interval: Duration::from_millis(100),
        low_rdy_idle_timeout: Duration::from_millis(300),
        low_rdy_timeout: Duration::from_millis(1000),
        dial_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

/// One channel's `/stats` entry (`null` if absent).
pub fn channel(addr: SocketAddr, topic: &str, channel: &str) -> serde_json::Value {
    http::channel_stats(addr, topic, channel).unwrap_or(serde_json::Value::Null)
}

pub fn u(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}
