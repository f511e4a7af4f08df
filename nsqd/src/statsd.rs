//! statsd push (`--statsd-address`): every `--statsd-interval`, the topic and channel
//! counters (as deltas since the last push) and gauges, as `<prefix><stat>:<value>|c|g`
//! lines packed into UDP datagrams of at most `--statsd-udp-packet-size` bytes.

use crate::broker::Nsqd;
use crate::topic::TopicSnapshot;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tracing::{info, warn};

/// `nsq.%s` → `nsq.<broadcast_address>_<http_port>.`, with `.` and `:` in the host key
/// replaced by `_`, and a trailing `.` ensured.
pub fn expand_prefix(prefix: &str, broadcast_address: &str, http_port: u16) -> String {
    if prefix.is_empty() {
        return String::new();
    }
    let host = format!("{broadcast_address}:{http_port}").replace(['.', ':'], "_");
    let mut p = prefix.replace("%s", &host);
    if !p.ends_with('.') {
        p.push('.');
    }
    p
}

/// Counter values seen at the previous push, to send differences.
#[derive(Default)]
struct Previous(HashMap<String, u64>);

impl Previous {
    fn delta(&mut self, key: &str, now: u64) -> u64 {
        let before = self.0.insert(key.to_string(), now).unwrap_or(0);
        now.saturating_sub(before)
    }
}

/// `e2e_processing_latency_NN` gauges (NN = quantile × 100, no decimals).
fn e2e_gauges(
    lines: &mut Vec<String>,
    key: &str,
    window: Option<(u64, Vec<u64>)>,
    quantiles: &[f64],
) {
    let Some((_, mut samples)) = window else {
        return;
    };
    for p in crate::e2e::percentiles(&mut samples, quantiles) {
        lines.push(format!(
            "{key}.e2e_processing_latency_{:.0}:{}|g",
            p.quantile * 100.0,
            p.value as u64
        ));
    }
}

/// Render one push's lines.
fn render(
    topics: &[TopicSnapshot],
    prefix: &str,
    exclude_ephemeral: bool,
    mem: bool,
    quantiles: &[f64],
    prev: &mut Previous,
) -> Vec<String> {
    let eph = |n: &str| exclude_ephemeral && protocol::names::is_ephemeral(n);
    let mut lines = Vec::new();
    let counter = |lines: &mut Vec<String>, prev: &mut Previous, stat: String, v: u64| {
        let d = prev.delta(&stat, v);
        lines.push(format!("{prefix}{stat}:{d}|c"));
    };
    for t in topics.iter().filter(|t| !eph(&t.name)) {
        let tk = format!("topic.{}", t.name);
        counter(
            &mut lines,
            prev,
            format!("{tk}.message_count"),
            t.message_count,
        );
        counter(
            &mut lines,
            prev,
            format!("{tk}.message_bytes"),
            t.message_bytes,
        );
        lines.push(format!("{prefix}{tk}.depth:{}|g", t.depth));
        lines.push(format!("{prefix}{tk}.backend_depth:{}|g", t.backend_depth));
        if !quantiles.is_empty() {
            let merged = t.channels.iter().filter_map(|c| c.e2e.clone()).fold(
                (0u64, Vec::new()),
                |(n, mut v), (cn, cv)| {
                    v.extend(cv);
                    (n + cn, v)
                },
            );
            e2e_gauges(
                &mut lines,
                &format!("{prefix}{tk}"),
                Some(merged),
                quantiles,
            );
        }
        for c in t.channels.iter().filter(|c| !eph(&c.name)) {
            let ck = format!("{tk}.channel.{}", c.name);
            counter(
                &mut lines,
                prev,
                format!("{ck}.message_count"),
                c.message_count,
            );
            lines.push(format!("{prefix}{ck}.depth:{}|g", c.depth));
            lines.push(format!("{prefix}{ck}.backend_depth:{}|g", c.backend_depth));
            lines.push(format!(
                "{prefix}{ck}.in_flight_count:{}|g",
                c.in_flight_count
            ));
            lines.push(format!(
                "{prefix}{ck}.deferred_count:{}|g",
                c.deferred_count
            ));
            counter(
                &mut lines,
                prev,
                format!("{ck}.requeue_count"),
                c.requeue_count,
            );
            counter(
                &mut lines,
                prev,
                format!("{ck}.timeout_count"),
                c.timeout_count,
            );
            lines.push(format!("{prefix}{ck}.clients:{}|g", c.clients.len()));
            e2e_gauges(
                &mut lines,
                &format!("{prefix}{ck}"),
                c.e2e.clone(),
                quantiles,
            );
        }
    }
    if mem {
        // Go runtime figures; resident memory stands in for the heap, the rest are 0.
        let rss = crate::stats::resident_bytes();
        for (k, v) in [
            ("mem.heap_objects", 0),
            ("mem.heap_idle_bytes", 0),
            ("mem.heap_in_use_bytes", rss),
            ("mem.heap_released_bytes", 0),
            ("mem.gc_pause_usec_100", 0),
            ("mem.gc_pause_usec_99", 0),
            ("mem.gc_pause_usec_95", 0),
            ("mem.next_gc_bytes", 0),
        ] {
            lines.push(format!("{prefix}{k}:{v}|g"));
        }
        counter(&mut lines, prev, "mem.gc_runs".to_string(), 0);
    }
    lines
}

/// Pack lines (each `\n`-terminated) into datagrams of at most `max` bytes; a line is
/// never split (one longer than `max` goes alone).
fn pack(lines: &[String], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in lines {
        if !cur.is_empty() && cur.len() + l.len() + 1 > max {
            out.push(std::mem::take(&mut cur));
        }
        let _ = writeln!(cur, "{l}");
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub async fn statsd_loop(ctx: Arc<Nsqd>) {
    let c = &ctx.config;
    if c.statsd_address.is_empty() {
        return;
    }
    let prefix = expand_prefix(
        &c.statsd_prefix,
        &c.broadcast_address,
        ctx.broadcast_http_port(),
    );
    let interval = c.statsd_interval.max(Duration::from_millis(100));
    let packet = usize::try_from(c.statsd_udp_packet_size)
        .unwrap_or(508)
        .max(64);
    info!(addr = %c.statsd_address, prefix = %prefix, "STATSD: pushing stats");
    let mut prev = Previous::default();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let topics: Vec<TopicSnapshot> = ctx.topics().iter().map(|t| t.snapshot(None)).collect();
        let lines = render(
            &topics,
            &prefix,
            c.statsd_exclude_ephemeral,
            c.statsd_mem_stats,
            &c.e2e_processing_latency_percentiles,
            &mut prev,
        );
        if let Err(e) = send(&c.statsd_address, &pack(&lines, packet)).await {
            warn!(addr = %c.statsd_address, error = %e, "STATSD: push failed");
        }
    }
}

async fn send(addr: &str, datagrams: &[String]) -> std::io::Result<()> {
    let sock = UdpSocket::bind(if addr.starts_with('[') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    })
    .await?;
    tokio::time::timeout(Duration::from_secs(1), sock.connect(addr))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "statsd connect timeout")
        })??;
    for d in datagrams {
        sock.send(d.as_bytes()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelSnapshot;

    #[test]
    fn prefix_expansion() {
        assert_eq!(expand_prefix("nsq.%s", "myhost", 4151), "nsq.myhost_4151.");
        assert_eq!(expand_prefix("nsq.%s.", "a.b", 1), "nsq.a_b_1.");
        assert_eq!(expand_prefix("", "h", 1), "");
    }

    fn topic(count: u64) -> TopicSnapshot {
        TopicSnapshot {
            name: "events".into(),
            depth: 3,
            backend_depth: 1,
            message_count: count,
            message_bytes: count * 10,
            paused: false,
            channels: vec![ChannelSnapshot {
                name: "archive".into(),
                depth: 2,
                backend_depth: 0,
                in_flight_count: 1,
                deferred_count: 0,
                message_count: count,
                requeue_count: 0,
                timeout_count: 0,
                paused: false,
                clients: vec![],
                e2e: None,
                limits: None,
            }],
        }
    }

    #[test]
    fn counters_are_deltas() {
        let mut prev = Previous::default();
        let first = render(&[topic(120)], "p.", false, false, &[], &mut prev);
        assert!(first.contains(&"p.topic.events.message_count:120|c".to_string()));
        assert!(first.contains(&"p.topic.events.depth:3|g".to_string()));
        assert!(first.contains(&"p.topic.events.channel.archive.in_flight_count:1|g".to_string()));
        let second = render(&[topic(150)], "p.", false, false, &[], &mut prev);
        assert!(second.contains(&"p.topic.events.message_count:30|c".to_string()));
        assert!(second.contains(&"p.topic.events.channel.archive.message_count:30|c".to_string()));
        let mut t = topic(150);
        t.channels[0].e2e = Some((2, vec![10, 20]));
        let third = render(&[t], "p.", false, false, &[1.0, 0.5], &mut prev);
        assert!(third.contains(&"p.topic.events.e2e_processing_latency_100:20|g".to_string()));
        assert!(third.contains(
            &"p.topic.events.channel.archive.e2e_processing_latency_50:10|g".to_string()
        ));
    }

    #[test]
    fn packing_never_splits_lines() {
        let lines: Vec<String> = (0..50).map(|i| format!("stat.number.{i}:1|g")).collect();
        let packets = pack(&lines, 100);
        assert!(packets.iter().all(|p| p.len() <= 100));
        let joined: String = packets.concat();
        assert_eq!(joined.lines().count(), 50);
    }
}
