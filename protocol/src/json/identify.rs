//! The V2 IDENTIFY bodies: what a client sends ([`IdentifyRequest`]) and nsqd's
//! feature-negotiation answer ([`IdentifyResponse`]). nsqd reads the request the way Go's
//! `encoding/json` does ([`IdentifyRequest::parse`]); checking it against the server's
//! limits is nsqd's business.

use crate::error::{ErrorCode, ProtocolError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The fields of an IDENTIFY body, as Go nsqd v1.3.0 knows them. Serialized as a client
/// sends it: in go-nsq's key order, leaving out the fields left at their zero value (which
/// nsqd reads as "the server default").
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentifyRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub heartbeat_interval: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub output_buffer_size: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub output_buffer_timeout: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub feature_negotiation: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_v1: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub deflate: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub deflate_level: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub snappy: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub sample_rate: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub msg_timeout: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn decode_error() -> ProtocolError {
    ProtocolError::new(ErrorCode::BadBody, "IDENTIFY failed to decode JSON body")
}

fn as_string(v: &Value) -> Result<Option<String>, ProtocolError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(decode_error()),
    }
}

fn as_bool(v: &Value) -> Result<bool, ProtocolError> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        _ => Err(decode_error()),
    }
}

fn as_int(v: &Value, bits32: bool) -> Result<i64, ProtocolError> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => {
            let i = n.as_i64().ok_or_else(decode_error)?;
            if bits32 && i32::try_from(i).is_err() {
                return Err(decode_error());
            }
            Ok(i)
        }
        _ => Err(decode_error()),
    }
}

impl IdentifyRequest {
    /// Decode a body as nsqd does, like Go's encoding/json: keys matched
    /// case-insensitively, unknown keys ignored, `null` = zero value, wrong types rejected
    /// with `E_BAD_BODY IDENTIFY failed to decode JSON body`.
    pub fn parse(body: &[u8]) -> Result<IdentifyRequest, ProtocolError> {
        let v: Value = serde_json::from_slice(body).map_err(|_| decode_error())?;
        let Value::Object(map) = v else {
            return Err(decode_error());
        };
        let mut r = IdentifyRequest::default();
        for (k, v) in &map {
            match k.to_ascii_lowercase().as_str() {
                "client_id" => r.client_id = as_string(v)?,
                "hostname" => r.hostname = as_string(v)?,
                "user_agent" => r.user_agent = as_string(v)?,
                "feature_negotiation" => r.feature_negotiation = as_bool(v)?,
                "heartbeat_interval" => r.heartbeat_interval = as_int(v, false)?,
                "output_buffer_size" => r.output_buffer_size = as_int(v, false)?,
                "output_buffer_timeout" => r.output_buffer_timeout = as_int(v, false)?,
                "tls_v1" => r.tls_v1 = as_bool(v)?,
                "snappy" => r.snappy = as_bool(v)?,
                "deflate" => r.deflate = as_bool(v)?,
                "deflate_level" => r.deflate_level = as_int(v, false)?,
                "sample_rate" => r.sample_rate = as_int(v, true)?,
                "msg_timeout" => r.msg_timeout = as_int(v, false)?,
                _ => {}
            }
        }
        Ok(r)
    }
}

/// The feature-negotiation reply (sent when the request has `feature_negotiation`), keys
/// in the reference's order (v1.3.0 release). Durations are milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyResponse {
    pub max_rdy_count: u64,
    pub version: String,
    pub max_msg_timeout: u64,
    pub msg_timeout: u64,
    pub tls_v1: bool,
    pub deflate: bool,
    pub deflate_level: i64,
    pub max_deflate_level: i64,
    pub snappy: bool,
    pub sample_rate: u8,
    pub auth_required: bool,
    pub output_buffer_size: usize,
    pub output_buffer_timeout: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match IdentifyRequest::parse(json.as_bytes()) {
            Err(e) => e.frame_text(),
            Ok(r) => panic!("expected error, got {r:?}"),
        }
    }

    #[test]
    fn decoding_like_go() {
        let r = IdentifyRequest::parse(br#"{"CLIENT_ID":"a","short_id":"x","long_id":"y","hostname":null,"heartbeat_interval":1000}"#)
            .expect("parses");
        assert_eq!(r.client_id.as_deref(), Some("a"));
        assert_eq!(r.hostname, None);
        assert_eq!(r.heartbeat_interval, 1000);
        assert_eq!(err("[1]"), "E_BAD_BODY IDENTIFY failed to decode JSON body");
        assert_eq!(
            err("nope"),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
        assert_eq!(
            err(r#"{"heartbeat_interval":1.5}"#),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
        assert_eq!(
            err(r#"{"heartbeat_interval":"1"}"#),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
        assert_eq!(
            err(r#"{"sample_rate":4294967296}"#),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
    }

    #[test]
    fn a_client_request_reads_back_the_same() {
        let minimal = IdentifyRequest {
            client_id: Some("c".into()),
            hostname: Some("h".into()),
            user_agent: Some("ua/1".into()),
            ..IdentifyRequest::default()
        };
        let json = serde_json::to_string(&minimal).expect("json");
        assert_eq!(
            json,
            r#"{"client_id":"c","hostname":"h","user_agent":"ua/1"}"#
        );
        let full = IdentifyRequest {
            heartbeat_interval: -1,
            output_buffer_size: 16384,
            output_buffer_timeout: 250,
            feature_negotiation: true,
            tls_v1: true,
            deflate: true,
            deflate_level: 3,
            snappy: true,
            sample_rate: 10,
            msg_timeout: 60_000,
            ..minimal.clone()
        };
        for r in [IdentifyRequest::default(), minimal, full] {
            let json = serde_json::to_vec(&r).expect("json");
            assert_eq!(IdentifyRequest::parse(&json).expect("parse"), r);
            let plain: IdentifyRequest = serde_json::from_slice(&json).expect("serde");
            assert_eq!(plain, r);
        }
    }

    #[test]
    fn response_key_order_and_round_trip() {
        let json = r#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}"#;
        let r: IdentifyResponse = serde_json::from_str(json).expect("reads");
        assert_eq!(r.max_rdy_count, 2500);
        assert_eq!(r.output_buffer_timeout, 250);
        assert_eq!(serde_json::to_string(&r).expect("json"), json);
    }
}
