//! `GET /stats`: the JSON document (same keys, order and nulls as the reference) and the
//! human-oriented text layout, built from point-in-time snapshots of topics and clients.

use super::error::{ApiResult, V1};
use super::{json, parse_query, Ctx};
use crate::broker::Nsqd;
use crate::client::ClientShared;
use crate::e2e::{human, percentiles, Percentile};
use crate::topic::TopicSnapshot;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[derive(Serialize)]
pub struct E2e {
    count: u64,
    /// `null` when no percentiles are configured.
    percentiles: Option<Vec<Percentile>>,
}

/// The e2e object over a window's samples (`count: 0, percentiles: null` when off).
fn e2e(window: Option<(u64, Vec<u64>)>, quantiles: &[f64]) -> E2e {
    match window {
        Some((count, mut samples)) if !quantiles.is_empty() => E2e {
            count,
            percentiles: Some(percentiles(&mut samples, quantiles)),
        },
        _ => E2e {
            count: 0,
            percentiles: None,
        },
    }
}

/// `e2e%:` text: the percentile values, comma separated.
fn e2e_text(e: &E2e) -> String {
    e.percentiles
        .iter()
        .flatten()
        .map(|p| human(p.value))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Serialize)]
pub struct PubCount {
    topic: String,
    count: u64,
}

#[derive(Serialize)]
pub struct ClientStats {
    client_id: String,
    hostname: String,
    version: &'static str,
    remote_address: String,
    state: u8,
    ready_count: u64,
    in_flight_count: u64,
    message_count: u64,
    finish_count: u64,
    requeue_count: u64,
    connect_ts: i64,
    sample_rate: i32,
    deflate: bool,
    snappy: bool,
    user_agent: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    authed: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    auth_identity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    auth_identity_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub_counts: Vec<PubCount>,
    tls: bool,
    tls_cipher_suite: String,
    tls_version: String,
    tls_negotiated_protocol: String,
    tls_negotiated_protocol_is_mutual: bool,
}

#[derive(Serialize)]
pub struct ChannelStats {
    channel_name: String,
    depth: u64,
    backend_depth: u64,
    in_flight_count: u64,
    deferred_count: u64,
    message_count: u64,
    requeue_count: u64,
    timeout_count: u64,
    client_count: usize,
    clients: Option<Vec<ClientStats>>,
    paused: bool,
    e2e_processing_latency: E2e,
}

#[derive(Serialize)]
pub struct TopicStats {
    topic_name: String,
    channels: Vec<ChannelStats>,
    depth: u64,
    backend_depth: u64,
    message_count: u64,
    message_bytes: u64,
    paused: bool,
    e2e_processing_latency: E2e,
}

/// The reference reports Go runtime numbers here; we report what the process can tell
/// (resident bytes as `heap_in_use_bytes`) and zero for the GC-specific keys.
#[derive(Serialize, Default)]
pub struct MemStats {
    heap_objects: u64,
    heap_idle_bytes: u64,
    heap_in_use_bytes: u64,
    heap_released_bytes: u64,
    gc_pause_usec_100: u64,
    gc_pause_usec_99: u64,
    gc_pause_usec_95: u64,
    next_gc_bytes: u64,
    gc_total_runs: u64,
}

#[derive(Serialize)]
pub struct Stats {
    version: &'static str,
    health: String,
    start_time: i64,
    topics: Option<Vec<TopicStats>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<MemStats>,
    producers: Option<Vec<ClientStats>>,
}

/// `true`/`1` → true, `false`/`0` → false, anything else (or absent) → true.
fn flag(v: Option<&str>) -> bool {
    !matches!(v, Some("false") | Some("0"))
}

fn client_stats(c: &ClientShared, topic_filter: Option<&str>) -> ClientStats {
    let ident = c.identity();
    let pub_counts = {
        let counts = crate::lock(&c.pub_counts);
        let mut v: Vec<PubCount> = counts
            .iter()
            .filter(|(t, _)| topic_filter.is_none_or(|f| f == t.as_str()))
            .map(|(t, n)| PubCount {
                topic: t.clone(),
                count: *n,
            })
            .collect();
        v.sort_by(|a, b| a.topic.cmp(&b.topic));
        v
    };
    ClientStats {
        client_id: ident.client_id,
        hostname: ident.hostname,
        version: "V2",
        remote_address: c.remote_addr.to_string(),
        state: c.state.load(Ordering::Relaxed),
        ready_count: c.ready_count.load(Ordering::Relaxed),
        in_flight_count: c.in_flight.load(Ordering::Relaxed),
        message_count: c.message_count.load(Ordering::Relaxed),
        finish_count: c.finish_count.load(Ordering::Relaxed),
        requeue_count: c.requeue_count.load(Ordering::Relaxed),
        connect_ts: c.connect_ts,
        sample_rate: ident.sample_rate,
        deflate: ident.deflate,
        snappy: ident.snappy,
        user_agent: ident.user_agent,
        authed: ident.authed,
        auth_identity: ident.auth_identity,
        auth_identity_url: ident.auth_identity_url,
        pub_counts,
        tls: ident.tls,
        tls_cipher_suite: ident.tls_cipher_suite,
        tls_version: ident.tls_version,
        tls_negotiated_protocol: String::new(),
        tls_negotiated_protocol_is_mutual: false,
    }
}

fn topic_stats(t: TopicSnapshot, include_clients: bool, quantiles: &[f64]) -> TopicStats {
    // The topic's e2e object merges its channels' windows.
    let merged = (!quantiles.is_empty())
        .then(|| crate::e2e::merge(t.channels.iter().filter_map(|c| c.e2e.as_ref())));
    TopicStats {
        topic_name: t.name,
        channels: t
            .channels
            .into_iter()
            .map(|c| ChannelStats {
                channel_name: c.name,
                depth: c.depth,
                backend_depth: c.backend_depth,
                in_flight_count: c.in_flight_count,
                deferred_count: c.deferred_count,
                message_count: c.message_count,
                requeue_count: c.requeue_count,
                timeout_count: c.timeout_count,
                client_count: c.clients.len(),
                clients: include_clients
                    .then(|| c.clients.iter().map(|cl| client_stats(cl, None)).collect()),
                paused: c.paused,
                e2e_processing_latency: e2e(c.e2e, quantiles),
            })
            .collect(),
        depth: t.depth,
        backend_depth: t.backend_depth,
        message_count: t.message_count,
        message_bytes: t.message_bytes,
        paused: t.paused,
        e2e_processing_latency: e2e(merged, quantiles),
    }
}

/// Resident memory of this process in bytes (0 where /proc is unavailable).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn mem_stats() -> MemStats {
    MemStats {
        heap_in_use_bytes: resident_bytes(),
        ..MemStats::default()
    }
}

pub fn collect(
    ctx: &Nsqd,
    topic: Option<&str>,
    channel: Option<&str>,
    include_clients: bool,
    include_mem: bool,
) -> Stats {
    let topics: Option<Vec<TopicSnapshot>> = match topic {
        Some(name) => ctx.topic(name).map(|t| vec![t.snapshot(channel)]),
        None => Some(ctx.topics().iter().map(|t| t.snapshot(channel)).collect()),
    };
    let topics = topics.map(|v| {
        v.into_iter()
            .filter(|t| channel.is_none() || !t.channels.is_empty())
            .map(|t| {
                topic_stats(
                    t,
                    include_clients,
                    &ctx.config.e2e_processing_latency_percentiles,
                )
            })
            .collect::<Vec<_>>()
    });
    let producers = if include_clients && topics.is_some() {
        let mut v: Vec<Arc<ClientShared>> = ctx
            .clients()
            .into_iter()
            .filter(|c| c.published.load(Ordering::Relaxed))
            .collect();
        v.sort_by_key(|c| c.id);
        let stats: Vec<ClientStats> = v.iter().map(|c| client_stats(c, topic)).collect();
        (!stats.is_empty()).then_some(stats)
    } else {
        None
    };
    Stats {
        version: crate::VERSION,
        health: ctx.health(),
        start_time: ctx.start_time,
        topics,
        memory: include_mem.then(mem_stats),
        producers,
    }
}

pub async fn stats(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = q.get("topic").filter(|t| !t.is_empty());
    let channel = q.get("channel").filter(|c| !c.is_empty());
    let include_clients = flag(q.get("include_clients"));
    let include_mem = flag(q.get("include_mem"));
    let s = collect(&ctx, topic, channel, include_clients, include_mem);
    if q.get("format") == Some("json") {
        json(&s)
    } else {
        Ok(V1::Plain(render_text(&s, ctx.start_time)))
    }
}

/// The text form, line for line as the reference's `printStats` writes it.
fn render_text(s: &Stats, start_time: i64) -> String {
    let mut o = String::new();
    let now = crate::unix_now();
    let uptime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(Duration::from_secs(u64::try_from(start_time).unwrap_or(0)));
    let _ = writeln!(o, "nsqd v{} (built w/rustc)", crate::VERSION);
    let _ = writeln!(o, "start_time {}", rfc3339(start_time));
    let _ = writeln!(o, "uptime {}", go_duration(uptime));
    let _ = writeln!(o, "\nHealth: {}", s.health);
    if let Some(m) = &s.memory {
        o.push_str("\nMemory:\n");
        for (k, v) in [
            ("heap_objects", m.heap_objects),
            ("heap_idle_bytes", m.heap_idle_bytes),
            ("heap_in_use_bytes", m.heap_in_use_bytes),
            ("heap_released_bytes", m.heap_released_bytes),
            ("gc_pause_usec_100", m.gc_pause_usec_100),
            ("gc_pause_usec_99", m.gc_pause_usec_99),
            ("gc_pause_usec_95", m.gc_pause_usec_95),
            ("next_gc_bytes", m.next_gc_bytes),
            ("gc_total_runs", m.gc_total_runs),
        ] {
            let _ = writeln!(o, "   {k:<25}\t{v}");
        }
    }
    let topics = s.topics.as_deref().unwrap_or_default();
    if topics.is_empty() {
        o.push_str("\nTopics: None\n");
    } else {
        o.push_str("\nTopics:");
    }
    for t in topics {
        let mark = if t.paused { "*P " } else { "   " };
        let _ = writeln!(
            o,
            "\n{mark}[{:<15}] depth: {:<5} be-depth: {:<5} msgs: {:<8} e2e%: {}",
            t.topic_name,
            t.depth,
            t.backend_depth,
            t.message_count,
            e2e_text(&t.e2e_processing_latency)
        );
        for c in &t.channels {
            let mark = if c.paused { "   *P " } else { "      " };
            let _ = writeln!(
                o,
                "{mark}[{:<25}] depth: {:<5} be-depth: {:<5} inflt: {:<4} def: {:<4} re-q: {:<5} timeout: {:<5} msgs: {:<8} e2e%: {}",
                c.channel_name, c.depth, c.backend_depth, c.in_flight_count, c.deferred_count,
                c.requeue_count, c.timeout_count, c.message_count,
                e2e_text(&c.e2e_processing_latency)
            );
            for cl in c.clients.iter().flatten() {
                let _ = writeln!(o, "        {}", client_line(cl, now));
            }
        }
    }
    match s.producers.as_deref() {
        None | Some([]) => o.push_str("\nProducers: None\n"),
        Some(ps) => {
            o.push_str("\nProducers:\n");
            for p in ps {
                let _ = writeln!(o, "   {}", client_line(p, now));
            }
        }
    }
    o
}

/// One client in the text form: the producer layout when it has publish counts, the
/// consumer layout otherwise (as the reference's `ClientV2Stats.String`).
fn client_line(c: &ClientStats, now: i64) -> String {
    let port = c.remote_address.rsplit(':').next().unwrap_or("");
    let id = format!("{}:{} {}", c.hostname, port, c.user_agent);
    let connected = go_duration(Duration::from_secs(
        u64::try_from(now - c.connect_ts).unwrap_or(0),
    ));
    if c.pub_counts.is_empty() {
        format!(
            "[{} {id:<21}] state: {} inflt: {:<4} rdy: {:<4} fin: {:<8} re-q: {:<8} msgs: {:<8} connected: {connected}",
            c.version, c.state, c.in_flight_count, c.ready_count, c.finish_count,
            c.requeue_count, c.message_count
        )
    } else {
        let total: u64 = c.pub_counts.iter().map(|p| p.count).sum();
        let topics: Vec<String> = c
            .pub_counts
            .iter()
            .map(|p| format!("{}={}", p.topic, p.count))
            .collect();
        format!(
            "[{} {id:<21}] msgs: {total:<8} topics: {} connected: {connected}",
            c.version,
            topics.join(",")
        )
    }
}

/// A duration as Go's `time.Duration.String` writes it: `0s`, `1.5ms`, `2s`,
/// `1m5.25s`, `1h0m0s`.
fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = match nanos {
            0..=999 => ("ns", 1),
            1_000..=999_999 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", decimal(nanos, scale));
    }
    let secs = d.as_secs();
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let s = decimal(
        u128::from(secs % 60) * 1_000_000_000 + u128::from(d.subsec_nanos()),
        1_000_000_000,
    );
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// `value / scale` in decimal, without trailing zeros in the fraction.
fn decimal(value: u128, scale: u128) -> String {
    let (whole, frac) = (value / scale, value % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let frac = format!("{frac:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

fn rfc3339(unix: i64) -> String {
    daemon::clock::Utc::from_unix(unix, 0).rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(2_500), "2.5µs"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_millis(65_250), "1m5.25s"),
            (Duration::from_nanos(1_222_960_301), "1.222960301s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(3_723_004), "1h2m3.004s"),
        ];
        for (d, text) in cases {
            assert_eq!(go_duration(d), text);
        }
    }
}
