//! IDENTIFY negotiation: each setting of the client's request (decoded by
//! `protocol::json::identify`) checked against the server's limits, the settings that
//! result, and the feature-negotiation reply built from them.

use protocol::json::identify::{IdentifyRequest, IdentifyResponse};
use protocol::{ErrorCode, ProtocolError};
use std::time::Duration;

/// The server limits IDENTIFY is checked against.
#[derive(Debug, Clone)]
pub struct IdentifyLimits {
    pub default_heartbeat: Duration,
    pub max_heartbeat_interval: Duration,
    pub default_output_buffer_size: usize,
    pub max_output_buffer_size: usize,
    pub default_output_buffer_timeout: Duration,
    pub min_output_buffer_timeout: Duration,
    pub max_output_buffer_timeout: Duration,
    pub default_msg_timeout: Duration,
    pub max_msg_timeout: Duration,
    pub max_rdy_count: u64,
    pub snappy: bool,
    pub deflate: bool,
    pub max_deflate_level: i64,
    pub tls_available: bool,
    pub auth_required: bool,
}

/// The settings a valid IDENTIFY results in.
#[derive(Debug, Clone, PartialEq)]
pub struct Negotiated {
    /// None: heartbeats disabled.
    pub heartbeat: Option<Duration>,
    pub output_buffer_size: usize,
    /// Zero: no timed flushing.
    pub output_buffer_timeout: Duration,
    pub sample_rate: u8,
    pub msg_timeout: Duration,
    pub tls: bool,
    pub snappy: bool,
    pub deflate: bool,
    pub deflate_level: i64,
}

fn bad(desc: String) -> ProtocolError {
    ProtocolError::new(ErrorCode::BadBody, format!("IDENTIFY {desc}"))
}

/// Validate a request against the limits (reference order: heartbeat, output buffer timeout
/// then size, sample rate, msg timeout) and compute the negotiated features.
pub fn negotiate(req: &IdentifyRequest, l: &IdentifyLimits) -> Result<Negotiated, ProtocolError> {
    let ms = |d: Duration| d.as_millis() as i64;
    let heartbeat = match req.heartbeat_interval {
        -1 => None,
        0 => Some(l.default_heartbeat),
        v if v >= 1000 && v <= ms(l.max_heartbeat_interval) => {
            Some(Duration::from_millis(v as u64))
        }
        v => return Err(bad(format!("heartbeat interval ({v}) is invalid"))),
    };
    let mut output_buffer_timeout = match req.output_buffer_timeout {
        -1 => Duration::ZERO,
        0 => l.default_output_buffer_timeout,
        v if v >= ms(l.min_output_buffer_timeout) && v <= ms(l.max_output_buffer_timeout) => {
            Duration::from_millis(v as u64)
        }
        v => return Err(bad(format!("output buffer timeout ({v}) is invalid"))),
    };
    let output_buffer_size = match req.output_buffer_size {
        -1 => {
            output_buffer_timeout = Duration::ZERO;
            1
        }
        0 => l.default_output_buffer_size,
        v if v >= 64 && v <= l.max_output_buffer_size as i64 => v as usize,
        v => return Err(bad(format!("output buffer size ({v}) is invalid"))),
    };
    if !(0..=99).contains(&req.sample_rate) {
        return Err(bad(format!("sample rate ({}) is invalid", req.sample_rate)));
    }
    let msg_timeout = match req.msg_timeout {
        0 => l.default_msg_timeout,
        v if v >= 1000 && v <= ms(l.max_msg_timeout) => Duration::from_millis(v as u64),
        v => return Err(bad(format!("msg timeout ({v}) is invalid"))),
    };
    let fneg = req.feature_negotiation;
    let tls = fneg && l.tls_available && req.tls_v1;
    let deflate = fneg && l.deflate && req.deflate;
    let snappy = fneg && l.snappy && req.snappy;
    let mut deflate_level = 6;
    if deflate && req.deflate_level > 0 {
        deflate_level = req.deflate_level;
    }
    deflate_level = deflate_level.min(l.max_deflate_level);
    if deflate && snappy {
        return Err(ProtocolError::new(
            ErrorCode::IdentifyFailed,
            "cannot enable both deflate and snappy compression",
        ));
    }
    Ok(Negotiated {
        heartbeat,
        output_buffer_size,
        output_buffer_timeout,
        sample_rate: req.sample_rate as u8,
        msg_timeout,
        tls,
        snappy,
        deflate,
        deflate_level,
    })
}

/// The feature-negotiation reply for the settings `n` under the limits `l`.
pub fn response(n: &Negotiated, l: &IdentifyLimits) -> IdentifyResponse {
    IdentifyResponse {
        max_rdy_count: l.max_rdy_count,
        version: daemon::VERSION.to_string(),
        max_msg_timeout: l.max_msg_timeout.as_millis() as u64,
        msg_timeout: n.msg_timeout.as_millis() as u64,
        tls_v1: n.tls,
        deflate: n.deflate,
        deflate_level: n.deflate_level,
        max_deflate_level: l.max_deflate_level,
        snappy: n.snappy,
        sample_rate: n.sample_rate,
        auth_required: l.auth_required,
        output_buffer_size: n.output_buffer_size,
        output_buffer_timeout: n.output_buffer_timeout.as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> IdentifyLimits {
        IdentifyLimits {
            default_heartbeat: Duration::from_secs(30),
            max_heartbeat_interval: Duration::from_secs(60),
            default_output_buffer_size: 16384,
            max_output_buffer_size: 65536,
            default_output_buffer_timeout: Duration::from_millis(250),
            min_output_buffer_timeout: Duration::from_millis(25),
            max_output_buffer_timeout: Duration::from_secs(30),
            default_msg_timeout: Duration::from_secs(60),
            max_msg_timeout: Duration::from_secs(900),
            max_rdy_count: 2500,
            snappy: true,
            deflate: true,
            max_deflate_level: 6,
            tls_available: false,
            auth_required: false,
        }
    }

    fn err(json: &str) -> String {
        match IdentifyRequest::parse(json.as_bytes()).and_then(|r| negotiate(&r, &limits())) {
            Err(e) => e.frame_text(),
            Ok(n) => panic!("expected error, got {n:?}"),
        }
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            err(r#"{"heartbeat_interval":300001}"#),
            "E_BAD_BODY IDENTIFY heartbeat interval (300001) is invalid"
        );
        assert_eq!(
            err(r#"{"heartbeat_interval":999}"#),
            "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid"
        );
        assert_eq!(
            err(r#"{"output_buffer_size":524289}"#),
            "E_BAD_BODY IDENTIFY output buffer size (524289) is invalid"
        );
        assert_eq!(
            err(r#"{"output_buffer_timeout":1}"#),
            "E_BAD_BODY IDENTIFY output buffer timeout (1) is invalid"
        );
        assert_eq!(
            err(r#"{"sample_rate":100}"#),
            "E_BAD_BODY IDENTIFY sample rate (100) is invalid"
        );
        assert_eq!(
            err(r#"{"msg_timeout":999}"#),
            "E_BAD_BODY IDENTIFY msg timeout (999) is invalid"
        );
        assert_eq!(
            err(r#"{"feature_negotiation":true,"snappy":true,"deflate":true}"#),
            "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression"
        );
    }

    #[test]
    fn negotiation() {
        let n = IdentifyRequest::parse(br#"{"heartbeat_interval":-1,"output_buffer_size":-1,"output_buffer_timeout":100,"deflate":true,"deflate_level":9}"#)
            .and_then(|r| negotiate(&r, &limits()))
            .expect("valid");
        assert_eq!(n.heartbeat, None);
        assert_eq!(n.output_buffer_size, 1);
        assert_eq!(n.output_buffer_timeout, Duration::ZERO);
        assert!(!n.deflate, "no feature negotiation, no deflate");
        assert_eq!(n.deflate_level, 6);
        let n = IdentifyRequest::parse(
            br#"{"feature_negotiation":true,"deflate":true,"deflate_level":9}"#,
        )
        .and_then(|r| negotiate(&r, &limits()))
        .expect("valid");
        assert!(n.deflate);
        assert_eq!(n.deflate_level, 6, "capped at max");
    }

    #[test]
    fn response_key_order() {
        let n = negotiate(&IdentifyRequest::default(), &limits()).expect("valid");
        let json = serde_json::to_string(&response(&n, &limits())).expect("json");
        assert_eq!(
            json,
            r#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}"#
        );
    }
}
