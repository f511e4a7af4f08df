//! What nsqadmin and the tools (`nsq_stat`) share to see a whole NSQ cluster, as Go's
//! `internal/clusterinfo` (v1.3.0) does: an upstream HTTP client speaking the V1 API
//! (`client`), concurrent fan-out to every nsqlookupd or nsqd with partial-error
//! collection (`info`, errors in `error`), the aggregation of nsqd `/stats` into per-node
//! and cluster-wide topic and channel stats (`types`, `aggregate`, `e2e`), the admin
//! actions that POST to nsqlookupd and nsqd (`actions`), and Go's JSON decoder error
//! texts (`gojson`). Output types serialize with Go nsqadmin's keys in Go's order and
//! also deserialize, so a tool can read nsqadmin's API with them.

pub mod actions;
pub mod aggregate;
pub mod client;
pub mod e2e;
pub mod error;
pub mod gojson;
pub mod info;
pub mod types;

pub use client::{Client, ClientConfig};
pub use error::{Fanout, Fatal, Partial};
pub use info::{ClusterInfo, Mode};
pub use types::{ChannelStats, ClientStats, Producer, ProducerTopic, TopicStats};

/// The top-level keys of a JSON object text, in order (serde_json's `Value` sorts them).
#[cfg(test)]
pub(crate) fn top_keys(json: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let (mut depth, mut in_str, mut escaped) = (0, false, false);
    let mut current = String::new();
    let mut last_str = String::new();
    for c in json.chars() {
        if in_str {
            if escaped {
                escaped = false;
                current.push(c);
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
                last_str = std::mem::take(&mut current);
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ':' if depth == 1 => keys.push(last_str.clone()),
            _ => {}
        }
    }
    keys
}
