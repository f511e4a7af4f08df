//! nsqd's configuration: command line + `--config` TOML file -> one validated [`Config`].
//!
//! Every option is declared once in the table below ([`options::options!`]); the `options`
//! crate parses Go flag syntax, reads the file and applies flag > file > default as Go
//! nsqd v1.3.0 does (the file's `tls_required`, `tls_min_version` and `log_level` are
//! checked even when a flag overrides them). Then Go's startup checks run
//! ([`Config::validate`]: `--max-deflate-level`, `--node-id`, TLS, percentiles), plus two of
//! ours: a zero `--sync-timeout`, or a zero `--statsd-interval` with statsd on, is refused
//! (Go would panic in `time.NewTicker`). The result is never changed afterwards;
//! runtime-mutable options (`PUT /config/...`) and values learned at bind time (broadcast
//! ports, the expanded statsd prefix) are the server's to keep.
//!
//! Layout: this file (the table, parsing, checks), `setting.rs` (nsqd's enum-like option
//! types), `error.rs` ([`ConfigError`]).

mod error;
mod setting;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use daemon::duration::{format as format_go_duration, parse as parse_go_duration};
pub use error::ConfigError;
pub use setting::{AuthRequestMethod, LogLevel, TlsRequired, TlsVersion};

use daemon::VERSION;

/// Fixed in Go nsqd, not configurable: a client with no traffic for this long is dropped.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Fixed: the heartbeat interval a client gets unless it IDENTIFYs another.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Fixed: how often the queue scan loop samples channels (as Go nsqd's `scanInterval`).
pub const QUEUE_SCAN_INTERVAL: Duration = Duration::from_millis(100);
/// Fixed: how often the queue scan loop refreshes its channel list.
pub const QUEUE_SCAN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Fixed: rescan at once if more than this fraction of sampled channels was dirty.
pub const QUEUE_SCAN_DIRTY_PERCENT: f64 = 0.25;

/// The one experiment nsqd 1.3.0 knows (`--enable-experiment`).
pub const EXPERIMENT_TOPOLOGY_AWARE_CONSUMPTION: &str = "topology-aware-consumption";

options::options! {
    let host = hostname();
    /// Every nsqd option, resolved and validated, in Go's `Options` field order (which is
    /// the order of [`option_keys`]). Field names are the config-file keys (except
    /// `node_id`, key `id`). Go `int`/`int64` options are `i64` and, as in Go, may be
    /// negative; only `node_id`, the broadcast ports and `max_deflate_level` have narrower,
    /// checked types.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Config in OPTIONS {
        /// Node part of message IDs, 0..1024 (Go reads an int64 and checks the range).
        node_id: u16 as i64 = default_node_id(&host), "node-id" "id" hidden
            "unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)";
        log_level: LogLevel = LogLevel::Info, "log-level" "log_level" shown
            "set log verbosity: debug, info, warn, error, or fatal";
        /// Prepended to every log line (`[nsqd] `).
        log_prefix: String = "[nsqd] ".to_string(), "log-prefix" "log_prefix" shown
            "log message prefix";
        /// `host:port`, or a unix socket path when it is not `host:port`.
        tcp_address: String = "0.0.0.0:4150".to_string(), "tcp-address" "tcp_address" shown
            "<addr>:<port> to listen on for TCP clients";
        /// Like `tcp_address`; empty disables the HTTP listener.
        http_address: String = "0.0.0.0:4151".to_string(), "http-address" "http_address" shown
            "<addr>:<port> to listen on for HTTP clients";
        /// Only bound when `tls_cert` and `tls_key` are set; empty disables it.
        https_address: String = "0.0.0.0:4152".to_string(), "https-address" "https_address"
            shown "<addr>:<port> to listen on for HTTPS clients";
        /// Registered with nsqlookupd; defaults to the hostname.
        broadcast_address: String = host.clone(), "broadcast-address" "broadcast_address"
            hidden "address that will be registered with lookupd (defaults to the OS hostname)";
        /// 0 = the bound TCP port.
        broadcast_tcp_port: u16 = 0, "broadcast-tcp-port" "broadcast_tcp_port" shown
            "TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)";
        /// 0 = the bound HTTP port.
        broadcast_http_port: u16 = 0, "broadcast-http-port" "broadcast_http_port" shown
            "HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)";
        nsqlookupd_tcp_addresses: Vec<String> = Vec::new(),
            "lookupd-tcp-address" "nsqlookupd_tcp_addresses" shown
            "lookupd TCP address (may be given multiple times)";
        /// `host:port` or full URLs; auth is enabled when non-empty.
        auth_http_addresses: Vec<String> = Vec::new(),
            "auth-http-address" "auth_http_addresses" shown
            "<addr>:<port> or a full url to query auth server (may be given multiple times)";
        auth_http_request_method: AuthRequestMethod = AuthRequestMethod::Get,
            "auth-http-request-method" "auth_http_request_method" shown
            "HTTP method to use for auth server requests";
        http_client_connect_timeout: Duration = Duration::from_secs(2),
            "http-client-connect-timeout" "http_client_connect_timeout" shown
            "timeout for HTTP connect";
        http_client_request_timeout: Duration = Duration::from_secs(5),
            "http-client-request-timeout" "http_client_request_timeout" shown
            "timeout for HTTP request";
        topology_region: String = String::new(), "topology-region" "topology_region" shown
            "A region represents a larger domain, made up of one or more zones for preferring closer consumer connections";
        topology_zone: String = String::new(), "topology-zone" "topology_zone" shown
            "A zone represents a logical failure domain close to the consumer";
        /// Empty = the current working directory.
        data_path: String = String::new(), "data-path" "data_path" shown
            "path to store disk-backed messages";
        /// Messages kept in memory per topic/channel; `<= 0` = always disk.
        mem_queue_size: i64 = 10_000, "mem-queue-size" "mem_queue_size" shown
            "number of messages to keep in memory (per topic/channel)";
        max_bytes_per_file: i64 = 100 * 1024 * 1024, "max-bytes-per-file" "max_bytes_per_file"
            shown "number of bytes per diskqueue file before rolling";
        sync_every: i64 = 2500, "sync-every" "sync_every" shown
            "number of messages per diskqueue fsync";
        sync_timeout: Duration = Duration::from_secs(2), "sync-timeout" "sync_timeout" shown
            "duration of time per diskqueue fsync";
        queue_scan_selection_count: i64 = 20,
            "queue-scan-selection-count" "queue_scan_selection_count" shown
            "number of channels to check per cycle (every 100ms) for in-flight and deferred timeouts";
        queue_scan_worker_pool_max: i64 = 4,
            "queue-scan-worker-pool-max" "queue_scan_worker_pool_max" shown
            "max concurrency for checking in-flight and deferred message timeouts";
        msg_timeout: Duration = Duration::from_secs(60), "msg-timeout" "msg_timeout" shown
            "default duration to wait before auto-requeing a message";
        max_msg_timeout: Duration = Duration::from_secs(15 * 60),
            "max-msg-timeout" "max_msg_timeout" shown
            "maximum duration before a message will timeout";
        max_msg_size: i64 = 1024 * 1024, "max-msg-size" "max_msg_size" shown
            "maximum size of a single message in bytes";
        max_body_size: i64 = 5 * 1024 * 1024, "max-body-size" "max_body_size" shown
            "maximum size of a single command body";
        max_req_timeout: Duration = Duration::from_secs(3600),
            "max-req-timeout" "max_req_timeout" shown "maximum requeuing timeout for a message";
        max_heartbeat_interval: Duration = Duration::from_secs(60),
            "max-heartbeat-interval" "max_heartbeat_interval" shown
            "maximum client configurable duration of time between client heartbeats";
        max_rdy_count: i64 = 2500, "max-rdy-count" "max_rdy_count" shown
            "maximum RDY count for a client";
        max_output_buffer_size: i64 = 64 * 1024,
            "max-output-buffer-size" "max_output_buffer_size" shown
            "maximum client configurable size (in bytes) for a client output buffer";
        max_output_buffer_timeout: Duration = Duration::from_secs(30),
            "max-output-buffer-timeout" "max_output_buffer_timeout" shown
            "maximum client configurable duration of time between flushing to a client";
        min_output_buffer_timeout: Duration = Duration::from_millis(25),
            "min-output-buffer-timeout" "min_output_buffer_timeout" shown
            "minimum client configurable duration of time between flushing to a client";
        output_buffer_timeout: Duration = Duration::from_millis(250),
            "output-buffer-timeout" "output_buffer_timeout" shown
            "default duration of time between flushing data to clients";
        /// 0 = unlimited (in Go a negative value refuses every consumer).
        max_channel_consumers: i64 = 0, "max-channel-consumers" "max_channel_consumers" shown
            "maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)";
        /// Empty = no statsd.
        statsd_address: String = String::new(), "statsd-address" "statsd_address" shown
            "UDP <addr>:<port> of a statsd daemon for pushing stats";
        /// As configured; `%s` is expanded by the server once the HTTP port is known.
        statsd_prefix: String = "nsq.%s".to_string(), "statsd-prefix" "statsd_prefix" shown
            "prefix used for keys sent to statsd (%s for host replacement)";
        statsd_interval: Duration = Duration::from_secs(60),
            "statsd-interval" "statsd_interval" shown "duration between pushing to statsd";
        statsd_mem_stats: bool = true, "statsd-mem-stats" "statsd_mem_stats" shown
            "toggle sending memory and GC stats to statsd";
        statsd_udp_packet_size: i64 = 508,
            "statsd-udp-packet-size" "statsd_udp_packet_size" shown
            "the size in bytes of statsd UDP packets";
        statsd_exclude_ephemeral: bool = false,
            "statsd-exclude-ephemeral" "statsd_exclude_ephemeral" shown
            "Skip ephemeral topics and channels when sending stats to statsd";
        e2e_processing_latency_window_time: Duration = Duration::from_secs(600),
            "e2e-processing-latency-window-time" "e2e_processing_latency_window_time" shown
            "calculate end to end latency quantiles for this duration of time (ie: 60s would only show quantile calculations from the past 60 seconds)";
        /// Each in (0, 1]; flag values sorted descending, file values in file order.
        e2e_processing_latency_percentiles: Vec<f64> = Vec::new(),
            "e2e-processing-latency-percentile" "e2e_processing_latency_percentiles" shown
            "message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)";
        tls_cert: String = String::new(), "tls-cert" "tls_cert" shown "path to certificate file";
        tls_key: String = String::new(), "tls-key" "tls_key" shown "path to key file";
        /// `require` or `require-verify`; any other non-empty value means "no client cert"
        /// (Go's switch default) but still makes TLS required.
        tls_client_auth_policy: String = String::new(),
            "tls-client-auth-policy" "tls_client_auth_policy" shown
            "client certificate auth policy ('require' or 'require-verify')";
        tls_root_ca_file: String = String::new(), "tls-root-ca-file" "tls_root_ca_file" shown
            "path to certificate authority file";
        tls_required: TlsRequired = TlsRequired::No, "tls-required" "tls_required" shown
            "require TLS for client connections (true, false, tcp-https)";
        tls_min_version: TlsVersion = TlsVersion::Tls10, "tls-min-version" "tls_min_version"
            shown "minimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3')";
        deflate: bool = true, "deflate" "deflate" shown
            "enable deflate feature negotiation (client compression)";
        max_deflate_level: u32 as i64 = 6, "max-deflate-level" "max_deflate_level" shown
            "max deflate compression level a client can negotiate (> values == > nsqd CPU usage)";
        snappy: bool = true, "snappy" "snappy" shown
            "enable snappy feature negotiation (client compression)";
        /// `--enable-experiment` values, unvalidated as in Go.
        enable_experiment: Vec<String> = Vec::new(), "enable-experiment" "enable_experiment"
            shown "enable experimental feature (may be given multiple times) (valid options: 'topology-aware-consumption')";
        /// Beyond Go (after Go's options, so `/config` and the usage keep Go's order): a
        /// message that would be delivered for the N+1th time goes to its dead-letter topic
        /// instead. 0 = off; 1..=65535 (attempts are a u16 on the wire).
        max_attempts: i64 = 0, "max-attempts" "max_attempts" shown
            "dead-letter a message to <topic>.dead instead of delivering it for the N+1th time (0 = off; not in Go nsqd)";
        /// Beyond Go: a message older than this when it would be delivered is not delivered
        /// (see `max_msg_age_action`). 0 = off.
        max_msg_age: Duration = Duration::ZERO, "max-msg-age" "max_msg_age" shown
            "drop or dead-letter a message older than this when it would be delivered (0 = off; not in Go nsqd)";
        /// Beyond Go: `drop` or `dead` (to the dead-letter topic).
        max_msg_age_action: String = "drop".to_string(),
            "max-msg-age-action" "max_msg_age_action" shown
            "what happens to a message older than --max-msg-age: 'drop' or 'dead' (to <topic>.dead) (not in Go nsqd)";
    }
    flags {
        "config" String "path to config file";
        "version" Bool "print version string";
        "verbose" Bool "[deprecated] has no effect, use --log-level";
        "worker-id" Bool "[deprecated] use --node-id";
    }
    extra {
        /// Always [`VERSION`]; not an option (`GET /config/version` is unknown, as in Go).
        version: &'static str = VERSION;
        /// Command-line arguments Go's flag parser would have ignored (everything from the
        /// first non-flag argument, or after `--`); `main` may warn about them.
        ignored_args: Vec<String> = Vec::new();
    }
}

/// Every key `GET /config/<key>` answers, in Go's `Options` field order.
pub fn option_keys() -> impl Iterator<Item = &'static str> {
    options::keys(OPTIONS)
}

/// What the command line asks `main` to do.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    /// `--version`: the line to print on stdout, then exit 0.
    Version(String),
    /// `-h`/`--help`: the usage text to print, then exit 0.
    Help(String),
}

/// Parses the process arguments (`args` includes `argv[0]`) and the `--config` file.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, ConfigError> {
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    match options::parse(OPTIONS, Config::default(), &rest)? {
        options::Outcome::Help => Ok(Parsed::Help(usage())),
        options::Outcome::Version => Ok(Parsed::Version(version_line())),
        options::Outcome::Run {
            mut config,
            ignored,
        } => {
            config.ignored_args = ignored;
            Ok(Parsed::Run(Box::new(config.validate()?)))
        }
    }
}

/// The usage text `-h` prints, in Go's layout.
pub fn usage() -> String {
    options::usage("nsqd", OPTIONS, &Config::default())
}

/// `nsqd v1.3.0 (built w/rustc1.95.0)`.
pub fn version_line() -> String {
    daemon::version_line("nsqd", VERSION)
}

pub use daemon::hostname;

/// Go's default `--node-id`: `crc32(IEEE) of md5(hostname)` (the 16 raw bytes), mod 1024.
pub fn default_node_id(hostname: &str) -> u16 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(hostname.as_bytes());
    // The remainder is below 1024, so it always fits in a u16.
    (crc32fast::hash(&digest) % 1024) as u16
}

impl Config {
    /// Defaults, but listening on 127.0.0.1 with OS-assigned ports (read the real address
    /// from the bound listener).
    pub fn default_for_tests() -> Config {
        Config {
            tcp_address: "127.0.0.1:0".to_string(),
            http_address: "127.0.0.1:0".to_string(),
            https_address: "127.0.0.1:0".to_string(),
            ..Config::default()
        }
    }

    /// Go nsqd's startup checks (`nsqd.New`), for a `Config` built by hand as well as one
    /// from [`parse_args`]. A client auth policy with TLS not required makes TLS required.
    pub fn validate(mut self) -> Result<Config, ConfigError> {
        if !(1..=9).contains(&self.max_deflate_level) {
            return Err(ConfigError::MaxDeflateLevel);
        }
        if self.node_id >= 1024 {
            return Err(ConfigError::NodeId);
        }
        if !self.tls_client_auth_policy.is_empty() && self.tls_required == TlsRequired::No {
            self.tls_required = TlsRequired::Yes;
        }
        // Go builds a TLS config when either file is named (and then fails to load a pair
        // with one half missing); "no TLS config" is both empty.
        if !self.tls_configured() && self.tls_required != TlsRequired::No {
            return Err(ConfigError::TlsRequiredWithoutCert);
        }
        if let Some(p) = self
            .e2e_processing_latency_percentiles
            .iter()
            .find(|p| !(**p > 0.0 && **p <= 1.0))
        {
            return Err(ConfigError::Percentile(*p));
        }
        // Go would panic in time.NewTicker on these; refuse to start instead.
        if self.sync_timeout.is_zero() {
            return Err(ConfigError::ZeroInterval {
                flag: "sync-timeout",
                value: self.sync_timeout,
            });
        }
        if !self.statsd_address.is_empty() && self.statsd_interval.is_zero() {
            return Err(ConfigError::ZeroInterval {
                flag: "statsd-interval",
                value: self.statsd_interval,
            });
        }
        if !(0..=i64::from(u16::MAX)).contains(&self.max_attempts) {
            return Err(ConfigError::MaxAttempts(self.max_attempts));
        }
        if crate::deadletter::AgeAction::parse(&self.max_msg_age_action).is_none() {
            return Err(ConfigError::MaxMsgAgeAction(
                self.max_msg_age_action.clone(),
            ));
        }
        Ok(self)
    }

    /// `--data-path`, or the current working directory when it is empty (Go's `os.Getwd`;
    /// `.` if even that fails).
    pub fn data_path_or_cwd(&self) -> PathBuf {
        if self.data_path.is_empty() {
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
        } else {
            PathBuf::from(&self.data_path)
        }
    }

    /// A TLS server config is to be built (`--tls-cert` or `--tls-key` given).
    pub fn tls_configured(&self) -> bool {
        !self.tls_cert.is_empty() || !self.tls_key.is_empty()
    }

    /// `--enable-experiment=topology-aware-consumption` was given.
    pub fn topology_aware_consumption(&self) -> bool {
        self.enable_experiment
            .iter()
            .any(|e| e == EXPERIMENT_TOPOLOGY_AWARE_CONSUMPTION)
    }

    /// `GET /config/<key>`: the option under its config-file key, as Go's JSON encoding of
    /// its `Options` field. `None` for an unknown key.
    pub fn get_option_json(&self, key: &str) -> Option<Value> {
        options::option_json(OPTIONS, self, key)
    }
}
