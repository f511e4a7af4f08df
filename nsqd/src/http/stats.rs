//! `GET /stats`: the JSON document (same keys, order and nulls as the reference) and the
//! human-oriented text layout, built from point-in-time snapshots of topics and clients.

use super::error::{ApiResult, V1};
use super::{json, parse_query, Ctx};
use crate::broker::Nsqd;
use crate::client::ClientShared;
use crate::topic::TopicSnapshot;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Serialize)]
pub struct E2e {
    count: u64,
    percentiles: Option<Vec<serde_json::Value>>,
}

const NO_E2E: E2e = E2e {
    count: 0,
    percentiles: None,
};

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
        pub_counts,
        tls: ident.tls,
        tls_cipher_suite: String::new(),
        tls_version: String::new(),
        tls_negotiated_protocol: String::new(),
        tls_negotiated_protocol_is_mutual: false,
    }
}

fn topic_stats(t: TopicSnapshot, include_clients: bool) -> TopicStats {
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
                e2e_processing_latency: NO_E2E,
            })
            .collect(),
        depth: t.depth,
        backend_depth: t.backend_depth,
        message_count: t.message_count,
        message_bytes: t.message_bytes,
        paused: t.paused,
        e2e_processing_latency: NO_E2E,
    }
}

fn mem_stats() -> MemStats {
    let rss_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    MemStats {
        heap_in_use_bytes: rss_kb * 1024,
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
            .map(|t| topic_stats(t, include_clients))
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

fn render_text(s: &Stats, start_time: i64) -> String {
    let mut o = String::new();
    let now = crate::unix_now();
    let _ = writeln!(o, "nsqd v{} (built w/rustc)", crate::VERSION);
    let _ = writeln!(o, "start_time {}", rfc3339(start_time));
    let _ = writeln!(o, "uptime {}s", now - start_time);
    let _ = writeln!(o, "\nHealth: {}\n", s.health);
    if let Some(m) = &s.memory {
        let _ = writeln!(o, "Memory:");
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
        o.push('\n');
    }
    match s.topics.as_deref() {
        None | Some([]) => o.push_str("Topics: None\n"),
        Some(topics) => {
            o.push_str("Topics:");
            for t in topics {
                let mark = if t.paused { "*P " } else { "   " };
                let _ = write!(
                    o,
                    "\n{mark}[{:<15}] depth: {:<5} be-depth: {:<5} msgs: {:<8} e2e%: ",
                    t.topic_name, t.depth, t.backend_depth, t.message_count
                );
                for c in &t.channels {
                    let mark = if c.paused { "   *P " } else { "      " };
                    let _ = write!(
                        o,
                        "\n{mark}[{:<25}] depth: {:<5} be-depth: {:<5} inflt: {:<4} def: {:<4} re-q: {:<5} timeout: {:<5} msgs: {:<8} e2e%: ",
                        c.channel_name, c.depth, c.backend_depth, c.in_flight_count, c.deferred_count,
                        c.requeue_count, c.timeout_count, c.message_count
                    );
                    for cl in c.clients.iter().flatten() {
                        let port = cl.remote_address.rsplit(':').next().unwrap_or("");
                        let id = format!("V2 {}:{} {}", cl.hostname, port, cl.user_agent);
                        let _ = write!(
                            o,
                            "\n        [{id:<21}] state: {} inflt: {:<4} rdy: {:<4} fin: {:<8} re-q: {:<8} msgs: {:<8} connected: {}s",
                            cl.state, cl.in_flight_count, cl.ready_count, cl.finish_count,
                            cl.requeue_count, cl.message_count, now - cl.connect_ts
                        );
                    }
                }
            }
            o.push('\n');
        }
    }
    match s.producers.as_deref() {
        None | Some([]) => o.push_str("\nProducers: None\n"),
        Some(ps) => {
            o.push_str("\nProducers:");
            for p in ps {
                let port = p.remote_address.rsplit(':').next().unwrap_or("");
                let id = format!("V2 {}:{} {}", p.hostname, port, p.user_agent);
                let topics: Vec<String> = p
                    .pub_counts
                    .iter()
                    .map(|c| format!("{}={}", c.topic, c.count))
                    .collect();
                let total: u64 = p.pub_counts.iter().map(|c| c.count).sum();
                let _ = write!(
                    o,
                    "\n   [{id:<21}] msgs: {total:<8} topics: {} connected: {}s",
                    topics.join(","),
                    now - p.connect_ts
                );
            }
            o.push('\n');
        }
    }
    o
}

fn rfc3339(unix: i64) -> String {
    let (y, m, d) = crate::logging::civil_from_days(unix.div_euclid(86_400));
    let rem = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
