//! The `/stats` snapshot: topics, channels, clients, e2e percentiles, memory and
//! producers gathered from the broker into `protocol::json::nsqd::Stats`, for the HTTP
//! `/stats` answer (JSON or text) and the statsd push to use.

use crate::broker::Nsqd;
use crate::client::ClientShared;
use crate::e2e::percentiles;
use crate::topic::TopicSnapshot;
use protocol::json::nsqd::{ChannelStats, ClientStats, E2e, MemStats, PubCount, Stats, TopicStats};
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
        version: "V2".to_string(),
        remote_address: c.remote_addr.to_string(),
        state: i32::from(c.state.load(Ordering::Relaxed)),
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
                dead_letter_count: c.limits.map(|l| l.dead_letter_count),
                expired_count: c.limits.map(|l| l.expired_count),
                max_attempts: c.limits.map(|l| l.max_attempts),
                max_msg_age_ms: c
                    .limits
                    .map(|l| u64::try_from(l.max_msg_age.as_millis()).unwrap_or(u64::MAX)),
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
        version: daemon::VERSION.to_string(),
        health: ctx.health(),
        start_time: ctx.start_time,
        topics,
        memory: include_mem.then(mem_stats),
        producers,
    }
}
