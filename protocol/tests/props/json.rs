//! The JSON bodies: an IDENTIFY request as a client serializes it is read back the same
//! by nsqd's `IdentifyRequest::parse`; and every JSON type of `protocol::json` (and
//! `parse`) meets arbitrary JSON-ish text with a value or an error, never a panic.

use crate::common::config;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use protocol::json::identify::{IdentifyRequest, IdentifyResponse};
use protocol::json::{lookupd, nsqd};
use serde_json::Value;

fn identify_request() -> impl Strategy<Value = IdentifyRequest> {
    (
        (
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>()),
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            any::<bool>(),
            any::<i64>(),
            any::<bool>(),
            any::<i32>(),
            proptest::option::of(any::<String>()),
            any::<i64>(),
        ),
    )
        .prop_map(|(a, b)| IdentifyRequest {
            client_id: a.0,
            hostname: a.1,
            heartbeat_interval: a.2,
            output_buffer_size: a.3,
            output_buffer_timeout: a.4,
            feature_negotiation: a.5,
            tls_v1: a.6,
            deflate: b.0,
            deflate_level: b.1,
            snappy: b.2,
            sample_rate: i64::from(b.3),
            user_agent: b.4,
            msg_timeout: b.5,
        })
}

/// Keys the types know (so values reach their field readers), and a few they do not.
const KEYS: &[&str] = &[
    "client_id",
    "hostname",
    "heartbeat_interval",
    "output_buffer_size",
    "output_buffer_timeout",
    "feature_negotiation",
    "tls_v1",
    "deflate",
    "deflate_level",
    "snappy",
    "sample_rate",
    "user_agent",
    "msg_timeout",
    "Client_ID",
    "SNAPPY",
    "max_rdy_count",
    "version",
    "max_msg_timeout",
    "max_deflate_level",
    "auth_required",
    "output_buffer_size",
    "broadcast_address",
    "http_port",
    "tcp_port",
    "remote_address",
    "channels",
    "producers",
    "topics",
    "tombstones",
    "topic_name",
    "channel_name",
    "depth",
    "clients",
    "paused",
    "e2e_processing_latency",
    "percentiles",
    "quantile",
    "value",
    "count",
    "memory",
    "health",
    "start_time",
    "start",
    "stats",
    "x",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(proptest::sample::select(KEYS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Text made of JSON's own tokens in any order (mostly not valid JSON).
fn json_ish() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\\",
        "\\u00",
        "\\ud800",
        "null",
        "true",
        "false",
        "-",
        "0",
        "1e999",
        "9223372036854775808",
        "-1",
        "1.5",
        "e",
        " ",
        "\"snappy\"",
        "\"client_id\"",
        "\"channels\"",
        "\"producers\"",
        "\u{fffd}",
    ]);
    vec(token, 0..40).prop_map(|t| t.concat())
}

/// Deserialize `text` into every JSON type; the answers themselves do not matter here.
fn read_every_type(text: &[u8]) {
    let _ = IdentifyRequest::parse(text);
    let _ = serde_json::from_slice::<IdentifyRequest>(text);
    let _ = serde_json::from_slice::<IdentifyResponse>(text);
    let _ = serde_json::from_slice::<lookupd::Identify>(text);
    let _ = serde_json::from_slice::<lookupd::Producer>(text);
    let _ = serde_json::from_slice::<lookupd::Lookup>(text);
    let _ = serde_json::from_slice::<lookupd::Topics>(text);
    let _ = serde_json::from_slice::<lookupd::Channels>(text);
    let _ = serde_json::from_slice::<lookupd::Node>(text);
    let _ = serde_json::from_slice::<lookupd::Nodes>(text);
    let _ = serde_json::from_slice::<lookupd::Info>(text);
    let _ = serde_json::from_slice::<nsqd::Percentile>(text);
    let _ = serde_json::from_slice::<nsqd::E2e>(text);
    let _ = serde_json::from_slice::<nsqd::PubCount>(text);
    let _ = serde_json::from_slice::<nsqd::ClientStats>(text);
    let _ = serde_json::from_slice::<nsqd::ChannelStats>(text);
    let _ = serde_json::from_slice::<nsqd::TopicStats>(text);
    let _ = serde_json::from_slice::<nsqd::MemStats>(text);
    let _ = serde_json::from_slice::<nsqd::Stats>(text);
    let _ = serde_json::from_slice::<nsqd::Info>(text);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn identify_request_round_trips(r in identify_request()) {
        let body = serde_json::to_vec(&r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(IdentifyRequest::parse(&body), Ok(r.clone()));
        prop_assert_eq!(serde_json::from_slice::<IdentifyRequest>(&body).ok(), Some(r));
    }

    #[test]
    fn json_types_survive_arbitrary_values(v in json_value()) {
        read_every_type(v.to_string().as_bytes());
    }

    #[test]
    fn json_types_survive_json_ish_text(t in json_ish()) {
        read_every_type(t.as_bytes());
    }

    #[test]
    fn json_types_survive_arbitrary_bytes(b in vec(any::<u8>(), 0..120)) {
        read_every_type(&b);
    }
}
