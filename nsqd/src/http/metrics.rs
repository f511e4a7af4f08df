//! `GET /metrics` (beyond Go nsqd, which answers 404 there): the `/stats` snapshot in the
//! Prometheus text format. One table per level (node, topic, channel) lists every family;
//! adding a metric is one entry. The numbers are taken through `crate::stats::collect`
//! (each topic's and channel's lock held only to copy them), then formatted with no lock
//! held, on a blocking thread so that no runtime worker waits on a large answer.

use super::Ctx;
use crate::broker::Nsqd;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use httpapi::metrics::{Exposition, Family, Kind};
use protocol::json::nsqd::{ChannelStats, E2e, TopicStats};
use std::sync::Arc;

use Family as F;

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The node's own numbers.
struct Node {
    uptime: f64,
    connections: usize,
    healthy: bool,
    topics: usize,
    channels: usize,
    mem_in_use: u64,
    bad_files: u64,
}

/// Per node, unlabelled.
#[rustfmt::skip]
const NODE: &[Family<Node>] = &[
    F::new("nsq_uptime_seconds", Kind::Gauge, "Seconds since nsqd started.", |n| n.uptime),
    F::new("nsq_connections", Kind::Gauge, "TCP clients connected (consumers and producers).", |n| n.connections as f64),
    F::new("nsq_healthy", Kind::Gauge, "1 when nsqd is healthy (/ping answers OK), 0 otherwise.", |n| flag(n.healthy)),
    F::new("nsq_topics", Kind::Gauge, "Topics.", |n| n.topics as f64),
    F::new("nsq_channels", Kind::Gauge, "Channels of all topics.", |n| n.channels as f64),
    F::new("nsq_mem_heap_in_use_bytes", Kind::Gauge, "Memory in use: resident memory, what /stats shows as heap_in_use_bytes.", |n| n.mem_in_use as f64),
    F::new("nsq_disk_bad_files_total", Kind::Counter, "Disk-queue data files found corrupt and renamed to .bad since nsqd started (beyond Go).", |n| n.bad_files as f64),
];

/// Per topic, labelled `topic`.
#[rustfmt::skip]
const TOPIC: &[Family<TopicStats>] = &[
    F::new("nsq_topic_depth", Kind::Gauge, "Messages queued in the topic (memory and disk), not yet in its channels.", |t| t.depth as f64),
    F::new("nsq_topic_backend_depth", Kind::Gauge, "Messages of the topic queued on disk.", |t| t.backend_depth as f64),
    F::new("nsq_topic_messages_total", Kind::Counter, "Messages published to the topic.", |t| t.message_count as f64),
    F::new("nsq_topic_message_bytes_total", Kind::Counter, "Bytes of message bodies published to the topic.", |t| t.message_bytes as f64),
    F::new("nsq_topic_channels", Kind::Gauge, "Channels of the topic.", |t| t.channels.len() as f64),
    F::new("nsq_topic_paused", Kind::Gauge, "1 when the topic is paused.", |t| flag(t.paused)),
];

/// Per channel, labelled `topic` and `channel`.
#[rustfmt::skip]
const CHANNEL: &[Family<ChannelStats>] = &[
    F::new("nsq_channel_depth", Kind::Gauge, "Messages queued in the channel (memory and disk), not in flight or deferred.", |c| c.depth as f64),
    F::new("nsq_channel_backend_depth", Kind::Gauge, "Messages of the channel queued on disk.", |c| c.backend_depth as f64),
    F::new("nsq_channel_in_flight", Kind::Gauge, "Messages sent to a client and not yet finished, requeued or timed out.", |c| c.in_flight_count as f64),
    F::new("nsq_channel_deferred", Kind::Gauge, "Messages deferred (requeued with a delay, or published with DPUB).", |c| c.deferred_count as f64),
    F::new("nsq_channel_messages_total", Kind::Counter, "Messages that entered the channel.", |c| c.message_count as f64),
    F::new("nsq_channel_requeued_total", Kind::Counter, "Messages requeued by clients.", |c| c.requeue_count as f64),
    F::new("nsq_channel_timed_out_total", Kind::Counter, "Messages whose in-flight timeout expired.", |c| c.timeout_count as f64),
    F::new("nsq_channel_clients", Kind::Gauge, "Clients subscribed to the channel.", |c| c.client_count as f64),
    F::new("nsq_channel_paused", Kind::Gauge, "1 when the channel is paused.", |c| flag(c.paused)),
    F::new("nsq_channel_dead_lettered_total", Kind::Counter, "Messages moved to the dead-letter topic (--max-attempts, --max-msg-age-action=dead; beyond Go).", |c| c.dead_letter_count.unwrap_or(0) as f64),
    F::new("nsq_channel_expired_total", Kind::Counter, "Messages past --max-msg-age, never delivered (beyond Go).", |c| c.expired_count.unwrap_or(0) as f64),
];

const TOPIC_E2E: &str = "nsq_topic_e2e_processing_latency_seconds";
const CHANNEL_E2E: &str = "nsq_channel_e2e_processing_latency_seconds";
const E2E_HELP: &str = "Publish-to-finish latency at each --e2e-processing-latency-percentile over the --e2e-processing-latency-window.";

pub async fn metrics(State(ctx): Ctx) -> Response {
    match tokio::task::spawn_blocking(move || render(&ctx)).await {
        Ok(e) => e.into_response(),
        Err(_) => httpapi::error::ApiError::internal().into_response(),
    }
}

/// The whole answer: a snapshot, then the text.
pub(crate) fn render(ctx: &Arc<Nsqd>) -> Exposition {
    let s = crate::stats::collect(ctx, None, None, false, true);
    let connections = ctx.clients().len();
    let topics = s.topics.unwrap_or_default();
    let channel_count: usize = topics.iter().map(|t| t.channels.len()).sum();
    // About 500 bytes per channel and 300 per topic, plus the node's few families.
    let mut e = Exposition::with_capacity(8192 + 300 * topics.len() + 520 * channel_count);

    let now = daemon::clock::unix_nanos() as f64 / 1e9;
    let node = Node {
        uptime: (now - ctx.start_time as f64).max(0.0),
        connections,
        healthy: ctx.is_healthy(),
        topics: topics.len(),
        channels: channel_count,
        mem_in_use: s.memory.as_ref().map_or(0, |m| m.heap_in_use_bytes),
        bad_files: crate::queue::disk::bad_files_total(),
    };
    e.table(NODE, &[(&node, [])], []);
    e.header(
        "nsq_build_info",
        Kind::Gauge,
        "Always 1; the version nsqd reports.",
    );
    e.sample("nsq_build_info", &[("version", daemon::VERSION)], 1.0);
    e.process();

    let topic_items: Vec<(&TopicStats, [&str; 1])> = topics
        .iter()
        .map(|t| (t, [t.topic_name.as_str()]))
        .collect();
    e.table(TOPIC, &topic_items, ["topic"]);
    let channel_items: Vec<(&ChannelStats, [&str; 2])> = topics
        .iter()
        .flat_map(|t| {
            t.channels
                .iter()
                .map(move |c| (c, [t.topic_name.as_str(), c.channel_name.as_str()]))
        })
        .collect();
    e.table(CHANNEL, &channel_items, ["topic", "channel"]);

    if !ctx.config.e2e_processing_latency_percentiles.is_empty() {
        e2e(
            &mut e,
            TOPIC_E2E,
            topic_items
                .iter()
                .map(|(t, l)| (&t.e2e_processing_latency, &l[..])),
        );
        e2e(
            &mut e,
            CHANNEL_E2E,
            channel_items
                .iter()
                .map(|(c, l)| (&c.e2e_processing_latency, &l[..])),
        );
    }
    e
}

/// One quantile family: a sample per configured percentile, in seconds (Go's values are
/// nanoseconds), the values `/stats` shows.
fn e2e<'a>(e: &mut Exposition, name: &str, items: impl Iterator<Item = (&'a E2e, &'a [&'a str])>) {
    e.header(name, Kind::Gauge, E2E_HELP);
    let names = ["topic", "channel"];
    for (e2e, values) in items {
        for p in e2e.percentiles.iter().flatten() {
            let q = p.quantile.to_string();
            let mut labels: Vec<(&str, &str)> =
                names.iter().copied().zip(values.iter().copied()).collect();
            labels.push(("quantile", &q));
            e.sample(name, &labels, p.value / 1e9);
        }
    }
}
