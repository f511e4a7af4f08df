//! `GET /stats`: the JSON document (same keys, order and nulls as the reference) and the
//! human-oriented text layout, rendered from the snapshot `crate::stats` gathers.

use super::error::{ApiResult, V1};
use super::{json, parse_query, Ctx};
use crate::e2e::human;
use axum::extract::{RawQuery, State};
use protocol::json::nsqd::{ClientStats, E2e, Stats};
use std::fmt::Write;
use std::time::Duration;

/// `e2e%:` text: the percentile values, comma separated.
fn e2e_text(e: &E2e) -> String {
    e.percentiles
        .iter()
        .flatten()
        .map(|p| human(p.value))
        .collect::<Vec<_>>()
        .join(",")
}

/// `true`/`1` → true, `false`/`0` → false, anything else (or absent) → true.
fn flag(v: Option<&str>) -> bool {
    !matches!(v, Some("false") | Some("0"))
}

pub async fn stats(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = q.get("topic").filter(|t| !t.is_empty());
    let channel = q.get("channel").filter(|c| !c.is_empty());
    let include_clients = flag(q.get("include_clients"));
    let include_mem = flag(q.get("include_mem"));
    let s = crate::stats::collect(&ctx, topic, channel, include_clients, include_mem);
    if q.get("format") == Some("json") {
        json(&s)
    } else {
        Ok(V1::Plain(render_text(&s, ctx.start_time)))
    }
}

/// The text form, line for line as the reference's `printStats` writes it.
fn render_text(s: &Stats, start_time: i64) -> String {
    let mut o = String::new();
    let now = daemon::clock::unix_secs();
    let uptime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(Duration::from_secs(u64::try_from(start_time).unwrap_or(0)));
    let _ = writeln!(o, "nsqd v{} (built w/rustc)", daemon::VERSION);
    let _ = writeln!(o, "start_time {}", rfc3339(start_time));
    let _ = writeln!(o, "uptime {}", daemon::duration::format(uptime));
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
    let connected = daemon::duration::format(Duration::from_secs(
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

fn rfc3339(unix: i64) -> String {
    daemon::clock::Utc::from_unix(unix, 0).rfc3339()
}
