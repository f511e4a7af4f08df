//! What nsqadmin's JSON API returns about nodes, topics, channels and clients: Go's
//! `clusterinfo` types (v1.3.0) with their keys in Go's order and Go's nulls. They also
//! deserialize (every field defaulting), so a tool can read nsqadmin's answers.

use crate::e2e::E2eAggregate;
use serde::{Deserialize, Serialize};

/// A topic on a node, as `/api/nodes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProducerTopic {
    pub topic: String,
    pub tombstoned: bool,
}

/// An nsqd, as found through nsqlookupd (`/nodes`, `/lookup`) or its own `/info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Producer {
    /// `<lookupd address>/<remote address>` per lookupd that knows it; null in nsqd mode.
    pub remote_addresses: Option<Vec<String>>,
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    pub topics: Option<Vec<ProducerTopic>>,
    pub out_of_date: bool,
}

impl Producer {
    /// `broadcast_address:http_port` (IPv6 in brackets): where its HTTP API is.
    pub fn http_address(&self) -> String {
        crate::client::join_host_port(&self.broadcast_address, self.http_port)
    }

    pub fn tcp_address(&self) -> String {
        crate::client::join_host_port(&self.broadcast_address, self.tcp_port)
    }

    /// The version as semver, `0.0.0` when it does not parse (as Go's).
    pub fn semver(&self) -> semver::Version {
        semver::Version::parse(&self.version).unwrap_or(semver::Version::new(0, 0, 0))
    }
}

/// A topic's stats on one node, or merged over nodes (`node` is then `"*"`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicStats {
    pub node: String,
    pub hostname: String,
    pub topic_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub message_count: i64,
    /// The per-node entries of a merged topic; null on a node's own.
    pub nodes: Option<Vec<TopicStats>>,
    pub channels: Option<Vec<ChannelStats>>,
    pub paused: bool,
    pub e2e_processing_latency: Option<E2eAggregate>,
}

/// A channel's stats on one node, or merged over nodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelStats {
    pub node: String,
    pub hostname: String,
    pub topic_name: String,
    pub channel_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub in_flight_count: i64,
    pub deferred_count: i64,
    pub requeue_count: i64,
    pub timeout_count: i64,
    pub message_count: i64,
    pub client_count: i64,
    pub nodes: Option<Vec<ChannelStats>>,
    pub clients: Option<Vec<ClientStats>>,
    pub paused: bool,
    pub e2e_processing_latency: Option<E2eAggregate>,
}

/// A consumer connection, with the nsqd it is on and how long it has been connected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientStats {
    pub node: String,
    pub remote_address: String,
    pub version: String,
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    /// Unix seconds.
    pub connect_ts: i64,
    /// Nanoseconds since `connect_ts`, computed by nsqadmin when it read the stats.
    pub connected: i64,
    pub in_flight_count: i64,
    pub ready_count: i64,
    pub finish_count: i64,
    pub requeue_count: i64,
    pub message_count: i64,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    pub authed: bool,
    pub auth_identity: String,
    pub auth_identity_url: String,
    pub tls: bool,
    pub tls_cipher_suite: String,
    pub tls_version: String,
    pub tls_negotiated_protocol: String,
    pub tls_negotiated_protocol_is_mutual: bool,
}

/// One `/api/counter` entry: a channel's message count on one node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CounterStats {
    pub node: String,
    pub topic_name: String,
    pub channel_name: String,
    pub message_count: i64,
}
