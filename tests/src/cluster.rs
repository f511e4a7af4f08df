//! A small NSQ cluster for the nsqadmin tests: nsqlookupd instances and nsqd nodes (the
//! binaries under test, `$NSQLOOKUPD_BIN` and `$NSQD_BIN`) on 127.0.0.1 port 0, each
//! nsqd registered with every lookupd and broadcasting `127.0.0.1`; helpers to create
//! topics and channels, publish, and wait until the lookupds know about it all.

use std::net::SocketAddr;
use std::time::Duration;

use crate::daemon::Daemon;
use crate::harness::{nsqd_bin, TempDir};
use crate::http;
use crate::lookupd::nsqlookupd_bin;
use crate::poll::wait_for;

/// Failure bound for registrations to reach the lookupds (machine shared with builds).
pub const SETTLE: Duration = Duration::from_secs(20);

pub struct Cluster {
    pub nsqds: Vec<Daemon>,
    pub lookupds: Vec<Daemon>,
    /// Dropped after the processes (fields drop in order).
    _dirs: Vec<TempDir>,
}

impl Cluster {
    /// `lookupds` nsqlookupd and `nsqds` nsqd, every nsqd registered with every lookupd.
    pub fn start(lookupds: usize, nsqds: usize) -> Cluster {
        let lookupds: Vec<Daemon> = (0..lookupds)
            .map(|_| {
                Daemon::start(
                    &nsqlookupd_bin(),
                    &[
                        "--tcp-address=127.0.0.1:0",
                        "--http-address=127.0.0.1:0",
                        "--broadcast-address=127.0.0.1",
                    ],
                )
            })
            .collect();
        let mut dirs = Vec::new();
        let mut started = Vec::new();
        for n in 0..nsqds {
            let dir = TempDir::new(&format!("admin-nsqd{n}"));
            let mut args = vec![
                "--tcp-address=127.0.0.1:0".to_string(),
                "--http-address=127.0.0.1:0".to_string(),
                "--broadcast-address=127.0.0.1".to_string(),
                format!("--data-path={}", dir.path().display()),
            ];
            for l in &lookupds {
                args.push(format!("--lookupd-tcp-address={}", l.tcp_addr()));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            started.push(Daemon::start(&nsqd_bin(), &args));
            dirs.push(dir);
        }
        let cluster = Cluster {
            nsqds: started,
            lookupds,
            _dirs: dirs,
        };
        for l in 0..cluster.lookupds.len() {
            cluster.wait_nodes(l, cluster.nsqds.len());
        }
        cluster
    }

    /// `--lookupd-http-address=<a>` for every lookupd.
    pub fn lookupd_args(&self) -> Vec<String> {
        self.lookupds
            .iter()
            .map(|l| format!("--lookupd-http-address={}", l.http_addr()))
            .collect()
    }

    /// `--nsqd-http-address=<a>` for every nsqd.
    pub fn nsqd_args(&self) -> Vec<String> {
        self.nsqds
            .iter()
            .map(|n| format!("--nsqd-http-address={}", n.http_addr()))
            .collect()
    }

    pub fn nsqd_http(&self, n: usize) -> SocketAddr {
        self.nsqds[n].http_addr()
    }

    /// nsqadmin's name for node `n`: `broadcast_address:http_port`.
    pub fn node(&self, n: usize) -> String {
        format!("127.0.0.1:{}", self.nsqd_http(n).port())
    }

    pub fn lookupd_http(&self, n: usize) -> SocketAddr {
        self.lookupds[n].http_addr()
    }

    /// Publishes each body to `topic` on node `n` over HTTP.
    pub fn publish(&self, n: usize, topic: &str, bodies: &[&str]) {
        for body in bodies {
            let r = http::post(
                self.nsqd_http(n),
                &format!("/pub?topic={topic}"),
                body.as_bytes(),
            );
            assert_eq!(r.status, 200, "publish to {topic}: {}", r.text());
        }
    }

    /// Creates `topic` and `channel` on node `n`.
    pub fn create_channel(&self, n: usize, topic: &str, channel: &str) {
        http::post_ok(self.nsqd_http(n), &format!("/topic/create?topic={topic}"));
        http::post_ok(
            self.nsqd_http(n),
            &format!("/channel/create?topic={topic}&channel={channel}"),
        );
    }

    /// Waits until lookupd `l` lists `count` nodes.
    pub fn wait_nodes(&self, l: usize, count: usize) {
        wait_for(
            &format!("{count} nodes in lookupd {l} /nodes"),
            SETTLE,
            || {
                let v = self.lookupd_get(l, "/nodes");
                let n = v["producers"].as_array().map_or(0, Vec::len);
                (n == count, v)
            },
        );
    }

    /// Waits until every lookupd has `count` producers for `topic` and lists exactly
    /// `channels` (sorted) for it.
    pub fn wait_lookup(&self, topic: &str, count: usize, channels: &[&str]) {
        for l in 0..self.lookupds.len() {
            wait_for(
                &format!("lookupd {l}: {count} producers of {topic}, channels {channels:?}"),
                SETTLE,
                || {
                    let v = self.lookupd_get(l, &format!("/lookup?topic={topic}"));
                    let producers = v["producers"].as_array().map_or(0, Vec::len);
                    let mut chans: Vec<String> = v["channels"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|c| c.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    chans.sort();
                    (producers == count && chans == channels, v)
                },
            );
        }
    }

    /// `GET` on lookupd `l`, any status; the body parsed (or `null`).
    pub fn lookupd_get(&self, l: usize, path: &str) -> serde_json::Value {
        let r = http::get(self.lookupd_http(l), path);
        serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
    }
}
