//! What a producer or consumer is configured with: the IDENTIFY options sent to nsqd,
//! TLS, AUTH, and the consumer's flow-control settings, with go-nsq's defaults.

use protocol::json::identify::IdentifyRequest;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a connection upgrades to TLS when nsqd agrees (`tls_v1` in IDENTIFY).
#[derive(Clone, Default)]
pub enum Tls {
    /// No TLS (the default).
    #[default]
    Off,
    /// Verify nsqd's certificate against the roots in a PEM file (go-nsq's
    /// `tls_root_ca_file`); `server_name` overrides the host part of the address for
    /// verification. `client_cert`: PEM files of a certificate chain and its key, for
    /// nsqd's `--tls-client-auth-policy`. (System roots: build a [`Tls::Custom`].)
    Verify {
        root_ca_file: PathBuf,
        server_name: Option<String>,
        client_cert: Option<(PathBuf, PathBuf)>,
    },
    /// Accept any certificate (go-nsq's `InsecureSkipVerify`), optionally presenting a
    /// client certificate.
    InsecureSkipVerify {
        client_cert: Option<(PathBuf, PathBuf)>,
    },
    /// A ready rustls configuration; `server_name` as for `Verify`.
    Custom {
        config: Arc<rustls::ClientConfig>,
        server_name: Option<String>,
    },
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tls::Off => f.write_str("Off"),
            Tls::Verify { root_ca_file, .. } => write!(f, "Verify({root_ca_file:?})"),
            Tls::InsecureSkipVerify { .. } => f.write_str("InsecureSkipVerify"),
            Tls::Custom { .. } => f.write_str("Custom"),
        }
    }
}

/// Stream compression to ask for in IDENTIFY.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Snappy,
    /// Raw DEFLATE at this level (1-9; nsqd caps it at its `--max-deflate-level`).
    Deflate(u32),
}

/// Settings for a [`Producer`](crate::Producer) or [`Consumer`](crate::Consumer). Defaults
/// are go-nsq's (`nsq.NewConfig()`).
#[derive(Clone, Debug)]
pub struct Config {
    /// IDENTIFY `client_id`; default: the short host name.
    pub client_id: String,
    /// IDENTIFY `hostname`; default: the host name.
    pub hostname: String,
    /// IDENTIFY `user_agent`; default `nsq-client/<version>`.
    pub user_agent: String,
    /// Heartbeats from nsqd (default 30 s); `None` disables them.
    pub heartbeat_interval: Option<Duration>,
    /// IDENTIFY `output_buffer_size` in bytes (default 16384); `Some(0)` leaves it to the
    /// server, `None` disables output buffering.
    pub output_buffer_size: Option<u64>,
    /// IDENTIFY `output_buffer_timeout` (default 250 ms); `None` disables it.
    pub output_buffer_timeout: Option<Duration>,
    /// IDENTIFY `sample_rate` (0-99, 0 = all messages).
    pub sample_rate: u8,
    /// IDENTIFY `msg_timeout`; `None`: the server's `--msg-timeout`.
    pub msg_timeout: Option<Duration>,
    pub tls: Tls,
    pub compression: Compression,
    /// Sent with AUTH when nsqd says auth is required.
    pub auth_secret: Option<String>,
    /// Connecting (default 1 s, as go-nsq's `DialTimeout`); the handshake after it is
    /// bounded by `read_timeout`.
    pub dial_timeout: Duration,
    /// A connection with nothing read for this long is dead (default 60 s, go-nsq's
    /// `ReadTimeout`); must exceed the heartbeat interval.
    pub read_timeout: Duration,
    /// A single write to nsqd (default 1 s, go-nsq's `WriteTimeout`).
    pub write_timeout: Duration,
    /// The largest frame accepted from nsqd (nsqd's `--max-msg-size` plus headers).
    pub max_frame_size: usize,

    // Consumer settings.
    /// Messages in flight over all connections (default 1).
    pub max_in_flight: u64,
    /// Give up on a message delivered more than this many times: FIN it and log
    /// (default 5; 0 = never).
    pub max_attempts: u16,
    /// REQ delay on a failed handler: this times the message's attempts (default 90 s),
    /// capped by `max_requeue_delay` (default 15 min).
    pub default_requeue_delay: Duration,
    pub max_requeue_delay: Duration,
    /// Backoff after a failure: `backoff_multiplier * 2^level` (default 1 s), at most
    /// `max_backoff_duration` (default 2 min; zero disables backoff).
    pub backoff_multiplier: Duration,
    pub max_backoff_duration: Duration,
    /// How often nsqlookupd is polled (default 60 s), the first poll delayed by a random
    /// fraction of `lookupd_poll_jitter` (default 0.3) of it.
    pub lookupd_poll_interval: Duration,
    pub lookupd_poll_jitter: f64,
    /// RDY redistribution when connections outnumber `max_in_flight` or during backoff
    /// (default every 5 s): a connection idle for `low_rdy_idle_timeout` (10 s) or holding
    /// RDY for `low_rdy_timeout` (30 s) gives it up to another.
    pub rdy_redistribute_interval: Duration,
    pub low_rdy_idle_timeout: Duration,
    pub low_rdy_timeout: Duration,
    /// How long `Consumer::stop` waits for handlers before closing anyway (default 30 s).
    pub stop_timeout: Duration,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

impl Default for Config {
    fn default() -> Self {
        let hostname = host_name();
        Config {
            client_id: hostname.split('.').next().unwrap_or_default().to_string(),
            hostname,
            user_agent: concat!("nsq-client/", env!("CARGO_PKG_VERSION")).to_string(),
            heartbeat_interval: Some(Duration::from_secs(30)),
            output_buffer_size: Some(16384),
            output_buffer_timeout: Some(Duration::from_millis(250)),
            sample_rate: 0,
            msg_timeout: None,
            tls: Tls::Off,
            compression: Compression::None,
            auth_secret: None,
            dial_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(1),
            max_frame_size: protocol::frame_decode::DEFAULT_MAX_FRAME_SIZE,
            max_in_flight: 1,
            max_attempts: 5,
            default_requeue_delay: Duration::from_secs(90),
            max_requeue_delay: Duration::from_secs(15 * 60),
            backoff_multiplier: Duration::from_secs(1),
            max_backoff_duration: Duration::from_secs(120),
            lookupd_poll_interval: Duration::from_secs(60),
            lookupd_poll_jitter: 0.3,
            rdy_redistribute_interval: Duration::from_secs(5),
            low_rdy_idle_timeout: Duration::from_secs(10),
            low_rdy_timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(30),
        }
    }
}

/// Milliseconds for an IDENTIFY field: `None` is -1 (disabled), as go-nsq sends it.
fn ms_or_disabled(d: Option<Duration>) -> i64 {
    d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Config {
    /// The IDENTIFY body, with feature negotiation on (the answer tells what was agreed).
    pub(crate) fn identify(&self) -> IdentifyRequest {
        IdentifyRequest {
            client_id: Some(self.client_id.clone()),
            hostname: Some(self.hostname.clone()),
            user_agent: Some(self.user_agent.clone()),
            feature_negotiation: true,
            heartbeat_interval: ms_or_disabled(self.heartbeat_interval),
            output_buffer_size: self
                .output_buffer_size
                .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            output_buffer_timeout: ms_or_disabled(self.output_buffer_timeout),
            tls_v1: !matches!(self.tls, Tls::Off),
            snappy: self.compression == Compression::Snappy,
            deflate: matches!(self.compression, Compression::Deflate(_)),
            deflate_level: match self.compression {
                Compression::Deflate(l) => i64::from(l),
                _ => 0,
            },
            sample_rate: i64::from(self.sample_rate),
            msg_timeout: self
                .msg_timeout
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// go-nsq's exponential backoff: `multiplier * 2^level`.
    pub(crate) fn backoff_duration(&self, level: u32) -> Duration {
        match 1u32.checked_shl(level) {
            Some(factor) => self
                .backoff_multiplier
                .checked_mul(factor)
                .unwrap_or(Duration::MAX),
            None => Duration::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_as_go_nsq_sends_it() {
        let c = Config {
            client_id: "c".into(),
            hostname: "h".into(),
            user_agent: "ua".into(),
            compression: Compression::Deflate(3),
            msg_timeout: Some(Duration::from_secs(5)),
            heartbeat_interval: None,
            ..Config::default()
        };
        let json = serde_json::to_string(&c.identify()).expect("json");
        assert_eq!(
            json,
            r#"{"client_id":"c","hostname":"h","heartbeat_interval":-1,"output_buffer_size":16384,"output_buffer_timeout":250,"feature_negotiation":true,"deflate":true,"deflate_level":3,"user_agent":"ua","msg_timeout":5000}"#
        );
    }

    #[test]
    fn exponential_backoff() {
        let c = Config::default();
        assert_eq!(c.backoff_duration(1), Duration::from_secs(2));
        assert_eq!(c.backoff_duration(6), Duration::from_secs(64));
        assert_eq!(c.backoff_duration(40), Duration::MAX);
    }
}
