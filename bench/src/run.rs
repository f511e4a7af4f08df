//! The benchmark configurations and one run of one of them against one nsqd binary.

use crate::daemon::Nsqd;
use crate::load::{self, Drain, Phase, Readers};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MPUB writer for the duration, then readers drain the backlog.
    Tcp,
    /// HTTP `/pub` for the duration, then drain.
    HttpPub,
    /// HTTP `/mpub` (batch bodies per request) for the duration, then drain.
    HttpMpub,
    /// One paced publisher and one consumer; publish-to-deliver percentiles.
    Latency,
}

pub struct Config {
    pub name: &'static str,
    pub kind: Kind,
    /// nsqd flags beyond the listeners and the data path.
    pub flags: &'static [&'static str],
    /// The `--mem-queue-size` those flags give (10,000 by default).
    pub mem_queue_size: u64,
    pub about: &'static str,
}

pub const CONFIGS: &[Config] = &[
    Config {
        name: "mem1m",
        kind: Kind::Tcp,
        flags: &["--mem-queue-size=1000000"],
        mem_queue_size: 1_000_000,
        about: "NSQ's bench.sh: MPUB 200 × 200 B until the duration ends, then RDY 2500 readers drain it",
    },
    Config {
        name: "disk",
        kind: Kind::Tcp,
        flags: &[],
        mem_queue_size: 10_000,
        about: "same load, default --mem-queue-size=10000: the backlog spills to the disk queue",
    },
    Config {
        name: "allmem",
        kind: Kind::Tcp,
        flags: &["--mem-queue-size=100000000"],
        mem_queue_size: 100_000_000,
        about: "same load, everything in memory",
    },
    Config {
        name: "http-pub",
        kind: Kind::HttpPub,
        flags: &["--mem-queue-size=1000000"],
        mem_queue_size: 1_000_000,
        about: "HTTP POST /pub, one message per request, keep-alive connections; then drain",
    },
    Config {
        name: "http-mpub",
        kind: Kind::HttpMpub,
        flags: &["--mem-queue-size=1000000"],
        mem_queue_size: 1_000_000,
        about: "HTTP POST /mpub, batch-size newline-separated messages per request; then drain",
    },
    Config {
        name: "latency",
        kind: Kind::Latency,
        flags: &[],
        mem_queue_size: 10_000,
        about: "one publisher paced at --latency-rate PUBs/s, one consumer (RDY --rdy); publish-to-deliver time",
    },
];

pub fn config(name: &str) -> Result<&'static Config> {
    CONFIGS.iter().find(|c| c.name == name).with_context(|| {
        let names: Vec<_> = CONFIGS.iter().map(|c| c.name).collect();
        format!("unknown config {name:?}; known: {}", names.join(", "))
    })
}

/// `all` or a comma-separated list of names.
pub fn configs(spec: &[String]) -> Result<Vec<&'static Config>> {
    let mut out = Vec::new();
    for item in spec.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        if item == "all" {
            out.extend(CONFIGS.iter());
        } else if !item.is_empty() {
            out.push(config(item)?);
        }
    }
    if out.is_empty() {
        bail!("no configuration selected");
    }
    Ok(out)
}

/// The load's shape, shared by every configuration.
#[derive(Debug, Clone)]
pub struct Load {
    pub duration: Duration,
    pub size: usize,
    pub batch: usize,
    pub writers: usize,
    pub readers: usize,
    pub rdy: u64,
    pub http_conns: usize,
    pub latency_rate: u64,
    pub latency_duration: Duration,
    pub stall: Duration,
    pub topic: String,
    pub channel: String,
    /// A command prefix for nsqd (e.g. `valgrind --tool=callgrind`).
    pub wrap: Vec<String>,
}

/// What one run of one configuration measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub config: &'static str,
    pub kind: Kind,
    pub size: usize,
    pub mem_queue_size: u64,
    pub publish: Phase,
    pub drain: Phase,
    /// nsqd CPU seconds (user + system) used in each phase.
    pub pub_cpu: f64,
    pub sub_cpu: f64,
    pub peak_rss_kib: u64,
    pub redelivered: u64,
    /// p50, p99, p99.9 publish-to-deliver in µs (latency runs).
    pub latency_us: Option<[f64; 3]>,
}

/// A named figure of a run.
#[derive(Debug, Clone)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub lower_is_better: bool,
    /// Plotted in the msg/s chart.
    pub chart: bool,
}

const MIB: f64 = 1024.0 * 1024.0;

impl RunResult {
    pub fn metrics(&self) -> Vec<Metric> {
        let m = |name, value, lower_is_better, chart| Metric {
            name,
            value,
            lower_is_better,
            chart,
        };
        let mbs = |p: &Phase| p.rate() * self.size as f64 / MIB;
        let us_per = |cpu: f64, n: u64| {
            if n == 0 {
                0.0
            } else {
                cpu * 1e6 / n as f64
            }
        };
        let rss = m(
            "peak RSS MiB",
            self.peak_rss_kib as f64 / 1024.0,
            true,
            false,
        );
        // Peak RSS per message held in memory: the backlog beyond --mem-queue-size is on
        // disk, so divide by what fits in memory. Only where that is large enough for the
        // backlog, not the baseline, to dominate.
        let in_memory = self.publish.msgs.min(self.mem_queue_size);
        let rss_per_msg = (self.mem_queue_size >= 1_000_000 && in_memory > 0).then(|| {
            m(
                "peak RSS B/msg in memory",
                self.peak_rss_kib as f64 * 1024.0 / in_memory as f64,
                true,
                false,
            )
        });
        match self.kind {
            Kind::Tcp | Kind::HttpPub | Kind::HttpMpub => {
                let mut v = vec![
                    m("PUB msg/s", self.publish.rate(), false, true),
                    m("PUB MB/s", mbs(&self.publish), false, false),
                    m(
                        "SUB msg/s",
                        self.drain.rate(),
                        false,
                        self.kind == Kind::Tcp,
                    ),
                    m("SUB MB/s", mbs(&self.drain), false, false),
                    m(
                        "nsqd CPU µs/msg PUB",
                        us_per(self.pub_cpu, self.publish.msgs),
                        true,
                        false,
                    ),
                    m(
                        "nsqd CPU µs/msg SUB",
                        us_per(self.sub_cpu, self.drain.msgs),
                        true,
                        false,
                    ),
                    rss,
                ];
                v.extend(rss_per_msg);
                v
            }
            Kind::Latency => {
                let [p50, p99, p999] = self.latency_us.unwrap_or_default();
                vec![
                    m("latency p50 µs", p50, true, false),
                    m("latency p99 µs", p99, true, false),
                    m("latency p99.9 µs", p999, true, false),
                    m("messages", self.drain.msgs as f64, false, false),
                    m(
                        "nsqd CPU µs/msg",
                        us_per(self.pub_cpu + self.sub_cpu, self.drain.msgs),
                        true,
                        false,
                    ),
                    rss,
                ]
            }
        }
    }

    /// Human-readable lines in the spirit of bench_writer/bench_reader's reports.
    pub fn describe(&self, label: &str) -> String {
        let line = |what: &str, p: &Phase| {
            format!(
                "[{label} {}] {what}: {:.3}s - {:.3} MB/s - {:.0} msg/s - {} msgs\n",
                self.config,
                p.secs,
                p.rate() * self.size as f64 / MIB,
                p.rate(),
                p.msgs
            )
        };
        let mut s = String::new();
        if self.kind == Kind::Latency {
            let [p50, p99, p999] = self.latency_us.unwrap_or_default();
            s += &format!(
                "[{label} {}] LATENCY: {} msgs at {:.0} msg/s - p50 {p50:.0} µs - p99 {p99:.0} µs - p99.9 {p999:.0} µs\n",
                self.config,
                self.drain.msgs,
                self.publish.rate()
            );
        } else {
            s += &line("PUB", &self.publish);
            s += &line("SUB", &self.drain);
        }
        s += &format!(
            "[{label} {}] nsqd: peak RSS {:.1} MiB - CPU {:.2}s publishing, {:.2}s draining{}\n",
            self.config,
            self.peak_rss_kib as f64 / 1024.0,
            self.pub_cpu,
            self.sub_cpu,
            if self.redelivered > 0 {
                format!(" - {} redeliveries", self.redelivered)
            } else {
                String::new()
            }
        );
        s
    }

    pub fn to_json(&self, label: &str) -> serde_json::Value {
        let metrics: serde_json::Map<String, serde_json::Value> = self
            .metrics()
            .into_iter()
            .map(|m| (m.name.to_string(), m.value.into()))
            .collect();
        serde_json::json!({
            "label": label,
            "config": self.config,
            "pub_msgs": self.publish.msgs,
            "pub_secs": self.publish.secs,
            "sub_msgs": self.drain.msgs,
            "sub_secs": self.drain.secs,
            "peak_rss_kib": self.peak_rss_kib,
            "metrics": metrics,
        })
    }
}

/// Starts a fresh nsqd, runs `cfg`'s load, checks every published message was delivered,
/// records peak RSS and stops nsqd.
pub fn run(rt: &Runtime, bin: &Path, cfg: &'static Config, load: &Load) -> Result<RunResult> {
    let flags: Vec<String> = cfg.flags.iter().map(|s| s.to_string()).collect();
    let mut nsqd = Nsqd::start(bin, &flags, &load.wrap)?;
    let result = measure(rt, &mut nsqd, cfg, load);
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            let tail = nsqd.log_tail();
            let _ = nsqd.stop();
            bail!(
                "config {} against {}: {e:#}\nlast nsqd output:\n{tail}",
                cfg.name,
                bin.display()
            );
        }
    };
    nsqd.stop()?;
    Ok(result)
}

fn measure(rt: &Runtime, nsqd: &mut Nsqd, cfg: &'static Config, load: &Load) -> Result<RunResult> {
    let drain = Drain {
        topic: load.topic.clone(),
        channel: load.channel.clone(),
        conns: load.readers,
        rdy: load.rdy,
        stall: load.stall,
    };
    let (tcp, http) = (nsqd.tcp, nsqd.http);
    let cpu0 = nsqd.cpu_secs()?;
    let mut latency_us = None;
    let (publish, drained, cpu1) = match cfg.kind {
        Kind::Tcp | Kind::HttpPub | Kind::HttpMpub => {
            let publish = rt.block_on(async {
                match cfg.kind {
                    Kind::Tcp => {
                        load::tcp_mpub(
                            tcp,
                            &load.topic,
                            load.writers,
                            load.batch,
                            load.size,
                            load.duration,
                        )
                        .await
                    }
                    Kind::HttpPub => {
                        load::http_publish(
                            http,
                            &load.topic,
                            load.http_conns,
                            None,
                            load.size,
                            load.duration,
                        )
                        .await
                    }
                    _ => {
                        load::http_publish(
                            http,
                            &load.topic,
                            load.http_conns,
                            Some(load.batch),
                            load.size,
                            load.duration,
                        )
                        .await
                    }
                }
            })?;
            nsqd.check_alive()?;
            if publish.msgs == 0 {
                bail!("nothing was published in {:?}", load.duration);
            }
            let cpu1 = nsqd.cpu_secs()?;
            let drained = rt.block_on(async {
                let readers = Readers::start(tcp, &drain, None).await?;
                readers.expect(publish.msgs);
                readers.finish().await
            })?;
            (publish, drained, cpu1)
        }
        Kind::Latency => {
            let base = Instant::now();
            let (publish, drained) = rt.block_on(async {
                let one = Drain { conns: 1, ..drain };
                let readers = Readers::start(tcp, &one, Some(base)).await?;
                let publish = load::paced_pub(
                    tcp,
                    &load.topic,
                    load.latency_rate,
                    load.size,
                    load.latency_duration,
                    base,
                )
                .await?;
                readers.expect(publish.msgs);
                let drained = readers.finish().await?;
                Ok::<_, anyhow::Error>((publish, drained))
            })?;
            let mut l = drained.latencies_ns.clone();
            l.sort_unstable();
            latency_us = Some([0.5, 0.99, 0.999].map(|q| percentile(&l, q) / 1000.0));
            (publish, drained, cpu0)
        }
    };
    nsqd.check_alive()?;
    let cpu2 = nsqd.cpu_secs()?;
    Ok(RunResult {
        config: cfg.name,
        kind: cfg.kind,
        size: load.size,
        mem_queue_size: cfg.mem_queue_size,
        publish,
        drain: drained.phase,
        pub_cpu: cpu1 - cpu0,
        sub_cpu: cpu2 - cpu1,
        peak_rss_kib: nsqd.peak_rss_kib()?,
        redelivered: drained.redelivered,
        latency_us,
    })
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500.0);
        assert_eq!(percentile(&v, 0.99), 990.0);
        assert_eq!(percentile(&v, 0.999), 999.0);
        assert_eq!(percentile(&[7], 0.999), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn config_lists() {
        assert_eq!(configs(&["all".into()]).expect("all").len(), CONFIGS.len());
        let two = configs(&["mem1m,disk".into()]).expect("two");
        assert_eq!(
            two.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["mem1m", "disk"]
        );
        assert!(configs(&["nope".into()]).is_err());
    }
}
