//! nsqd's HTTP JSON answers: `/stats?format=json` (topics, channels, clients, e2e
//! percentiles, memory, producers) and `/info`. nsqd writes them (keys in Go nsqd v1.3.0's
//! order, its nulls and omitted keys kept); nsqadmin and nsq_stat read them, from our
//! nsqd or a Go one: every field defaults when absent.

use serde::{Deserialize, Serialize};

/// One e2e processing latency percentile: quantile and value in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Percentile {
    #[serde(serialize_with = "go_float")]
    pub quantile: f64,
    #[serde(serialize_with = "go_float")]
    pub value: f64,
}

/// A float as Go's encoding/json writes it: a whole number within 1e21 has no `.0`
/// (`1187516`, `1`), anything else as serde_json writes it (`0.99`).
pub fn go_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e21 {
        // In range: exact as an i128, which serde_json writes without a fraction.
        s.serialize_i128(*v as i128)
    } else {
        s.serialize_f64(*v)
    }
}

/// A topic's or channel's `e2e_processing_latency`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct E2e {
    pub count: u64,
    /// `null` when no percentiles are configured.
    pub percentiles: Option<Vec<Percentile>>,
}

/// A producer's publish count for one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PubCount {
    pub topic: String,
    pub count: u64,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// A client connection (a channel's consumer or a producer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientStats {
    pub client_id: String,
    pub hostname: String,
    /// The protocol, `V2`.
    pub version: String,
    pub remote_address: String,
    pub state: i32,
    pub ready_count: u64,
    pub in_flight_count: u64,
    pub message_count: u64,
    pub finish_count: u64,
    pub requeue_count: u64,
    /// Unix seconds.
    pub connect_ts: i64,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    pub user_agent: String,
    #[serde(skip_serializing_if = "is_false")]
    pub authed: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_identity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_identity_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pub_counts: Vec<PubCount>,
    pub tls: bool,
    pub tls_cipher_suite: String,
    pub tls_version: String,
    pub tls_negotiated_protocol: String,
    pub tls_negotiated_protocol_is_mutual: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelStats {
    pub channel_name: String,
    pub depth: u64,
    pub backend_depth: u64,
    pub in_flight_count: u64,
    pub deferred_count: u64,
    pub message_count: u64,
    pub requeue_count: u64,
    pub timeout_count: u64,
    pub client_count: usize,
    /// `null` when the clients were not asked for (`include_clients=false`).
    pub clients: Option<Vec<ClientStats>>,
    pub paused: bool,
    pub e2e_processing_latency: E2e,
    /// Beyond Go nsqd, and present only when the channel has a max-attempts or max-age
    /// limit (or hit one): messages moved to the dead-letter topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_count: Option<u64>,
    /// Beyond Go (as `dead_letter_count`): messages past the age limit, never delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_count: Option<u64>,
    /// Beyond Go (as `dead_letter_count`): the effective max attempts, 0 = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u16>,
    /// Beyond Go (as `dead_letter_count`): the effective max age in ms, 0 = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_msg_age_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicStats {
    pub topic_name: String,
    pub channels: Vec<ChannelStats>,
    pub depth: u64,
    pub backend_depth: u64,
    pub message_count: u64,
    pub message_bytes: u64,
    pub paused: bool,
    pub e2e_processing_latency: E2e,
}

/// Go nsqd reports its runtime's numbers here; ours reports resident bytes as
/// `heap_in_use_bytes` and zero for the GC-specific keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MemStats {
    pub heap_objects: u64,
    pub heap_idle_bytes: u64,
    pub heap_in_use_bytes: u64,
    pub heap_released_bytes: u64,
    pub gc_pause_usec_100: u64,
    pub gc_pause_usec_99: u64,
    pub gc_pause_usec_95: u64,
    pub next_gc_bytes: u64,
    pub gc_total_runs: u64,
}

/// The whole `/stats?format=json` document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub version: String,
    pub health: String,
    /// Unix seconds.
    pub start_time: i64,
    /// `null` when a `topic=` filter names no topic.
    pub topics: Option<Vec<TopicStats>>,
    /// Absent unless asked for (`include_mem`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemStats>,
    /// `null` when there are none or clients were not asked for.
    pub producers: Option<Vec<ClientStats>>,
}

/// `/info`. Durations are nanoseconds, as Go's `time.Duration` encodes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Info {
    pub version: String,
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: i32,
    pub tcp_port: i32,
    /// Unix seconds.
    pub start_time: i64,
    pub max_heartbeat_interval: i64,
    pub max_output_buffer_size: i64,
    pub max_output_buffer_timeout: i64,
    pub max_deflate_level: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Go nsqd v1.3.0 (`tests/reference/bin/nsqd
    /// --e2e-processing-latency-percentile=0.99,0.5`): one topic with a channel, a
    /// consumer and a producer, `/stats?format=json&include_mem=true`.
    const GO_STATS: &str = include_str!("testdata/go_nsqd_stats.json");
    /// `/info` of the same Go nsqd.
    const GO_INFO: &str = include_str!("testdata/go_nsqd_info.json");

    #[test]
    fn reads_go_nsqd_stats() {
        let s: Stats = serde_json::from_str(GO_STATS).expect("Go /stats reads");
        assert_eq!(s.version, "1.3.0");
        assert_eq!(s.health, "OK");
        let topics = s.topics.as_deref().expect("topics");
        assert_eq!(topics.len(), 1);
        let t = &topics[0];
        assert_eq!(t.topic_name, "t");
        assert_eq!(t.message_count, 2);
        let c = &t.channels[0];
        assert_eq!(c.channel_name, "c");
        assert_eq!(c.client_count, 1);
        let consumer = &c.clients.as_deref().expect("clients")[0];
        assert_eq!(consumer.version, "V2");
        assert_eq!(consumer.client_id, "consumer");
        assert!(c.e2e_processing_latency.percentiles.is_some());
        let producers = s.producers.as_deref().expect("producers");
        assert_eq!(producers[0].pub_counts[0].topic, "t");
        assert_eq!(producers[0].pub_counts[0].count, 2);
        assert!(s.memory.is_some());
    }

    #[test]
    fn writes_what_it_reads() {
        // Keys, their order, nulls and Go's float spelling (`1187516`, not `1187516.0`)
        // survive a read and write of the Go document byte for byte.
        let s: Stats = serde_json::from_str(GO_STATS).expect("reads");
        let ours = serde_json::to_string(&s).expect("json");
        assert_eq!(ours, GO_STATS.trim_end());
        let i: Info = serde_json::from_str(GO_INFO).expect("Go /info reads");
        assert_eq!(i.version, "1.3.0");
        assert_eq!(i.max_heartbeat_interval, 60_000_000_000);
        let again = serde_json::to_string(&i).expect("json");
        assert_eq!(again, GO_INFO.trim_end());
    }

    #[test]
    fn empty_and_filtered_documents() {
        let s = Stats {
            version: "1.3.0".into(),
            health: "OK".into(),
            start_time: 1,
            ..Stats::default()
        };
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(
            json,
            r#"{"version":"1.3.0","health":"OK","start_time":1,"topics":null,"producers":null}"#
        );
        assert_eq!(serde_json::from_str::<Stats>(&json).expect("reads"), s);
        assert_eq!(
            serde_json::from_str::<Stats>("{}").expect("reads"),
            Stats::default()
        );
    }
}
