//! nsqd's configuration: command line + `--config` TOML file -> one validated [`Config`].
//!
//! Resolution follows Go nsqd 1.3.0 (nsqd.md §1.1, §10): a flag given on the command line
//! beats the config file, which beats the built-in default. The file's `tls_required`,
//! `tls_min_version` and `log_level` are checked first even when a flag overrides them;
//! then the Go startup checks run (`--max-deflate-level`, `--node-id`, TLS, auth method,
//! percentiles), plus two of ours: a zero `--sync-timeout`, or a zero `--statsd-interval`
//! with statsd on, is refused (Go would panic in `time.NewTicker`). The result is never changed afterwards; runtime-mutable options
//! (`PUT /config/...`) and values learned at bind time (broadcast ports, the expanded statsd
//! prefix) are the server's to keep.
//!
//! Layout: `flags.rs` (Go flag syntax + clap), `file.rs` (TOML coercions), `resolve.rs`
//! (flag > file > default), `duration.rs` (Go duration text), `literal.rs` (Go
//! bool/int/float text), `setting.rs` (typed values), `error.rs` ([`ConfigError`]).

use daemon::duration;
mod error;
mod file;
mod flags;
mod literal;
mod resolve;
mod setting;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

pub use duration::{format as format_go_duration, parse as parse_go_duration};
pub use error::ConfigError;
pub use setting::{AuthRequestMethod, LogLevel, TlsRequired, TlsVersion};

use file::ConfigFile;
use flags::CommandLine;

/// The NSQ release this daemon stands in for (`/info`, `/stats`, `nsqd.dat`, `--version`).
pub const VERSION: &str = "1.3.0";

/// Fixed in Go nsqd, not configurable: a client with no traffic for this long is dropped.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Fixed: the heartbeat interval a client gets unless it IDENTIFYs another.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Fixed: how often the queue scan loop samples channels (nsqd.md §4).
pub const QUEUE_SCAN_INTERVAL: Duration = Duration::from_millis(100);
/// Fixed: how often the queue scan loop refreshes its channel list.
pub const QUEUE_SCAN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Fixed: rescan at once if more than this fraction of sampled channels was dirty.
pub const QUEUE_SCAN_DIRTY_PERCENT: f64 = 0.25;

/// The one experiment nsqd 1.3.0 knows (`--enable-experiment`).
pub const EXPERIMENT_TOPOLOGY_AWARE_CONSUMPTION: &str = "topology-aware-consumption";

/// Every key `GET /config/<key>` answers, in Go's `Options` field order.
pub const OPTION_KEYS: &[&str] = &[
    "id",
    "log_level",
    "log_prefix",
    "tcp_address",
    "http_address",
    "https_address",
    "broadcast_address",
    "broadcast_tcp_port",
    "broadcast_http_port",
    "nsqlookupd_tcp_addresses",
    "auth_http_addresses",
    "auth_http_request_method",
    "http_client_connect_timeout",
    "http_client_request_timeout",
    "topology_region",
    "topology_zone",
    "data_path",
    "mem_queue_size",
    "max_bytes_per_file",
    "sync_every",
    "sync_timeout",
    "queue_scan_selection_count",
    "queue_scan_worker_pool_max",
    "msg_timeout",
    "max_msg_timeout",
    "max_msg_size",
    "max_body_size",
    "max_req_timeout",
    "max_heartbeat_interval",
    "max_rdy_count",
    "max_output_buffer_size",
    "max_output_buffer_timeout",
    "min_output_buffer_timeout",
    "output_buffer_timeout",
    "max_channel_consumers",
    "statsd_address",
    "statsd_prefix",
    "statsd_interval",
    "statsd_mem_stats",
    "statsd_udp_packet_size",
    "statsd_exclude_ephemeral",
    "e2e_processing_latency_window_time",
    "e2e_processing_latency_percentiles",
    "tls_cert",
    "tls_key",
    "tls_client_auth_policy",
    "tls_root_ca_file",
    "tls_required",
    "tls_min_version",
    "deflate",
    "max_deflate_level",
    "snappy",
    "enable_experiment",
];

/// What the command line asks `main` to do.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    /// `--version`: the line to print on stdout, then exit 0.
    Version(String),
    /// `-h`/`--help`: the usage text to print, then exit 0.
    Help(String),
}

/// Every nsqd option, resolved and validated. Field names are the config-file keys
/// (except `node_id`, key `id`). Go `int`/`int64` options are `i64` and, as in Go, may be
/// negative; only `node_id`, the broadcast ports and `max_deflate_level` have narrower,
/// checked types.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Always [`VERSION`]; not an option (`GET /config/version` is unknown, as in Go).
    pub version: &'static str,
    pub log_level: LogLevel,
    /// Prepended to every log line (`[nsqd] `).
    pub log_prefix: String,
    /// Node part of message IDs, 0..1024.
    pub node_id: u16,
    /// `host:port`, or a unix socket path when it is not `host:port`.
    pub tcp_address: String,
    /// Like `tcp_address`; empty disables the HTTP listener.
    pub http_address: String,
    /// Only bound when `tls_cert` and `tls_key` are set; empty disables it.
    pub https_address: String,
    /// Registered with nsqlookupd; defaults to the hostname.
    pub broadcast_address: String,
    /// 0 = the bound TCP port.
    pub broadcast_tcp_port: u16,
    /// 0 = the bound HTTP port.
    pub broadcast_http_port: u16,
    pub nsqlookupd_tcp_addresses: Vec<String>,
    /// `host:port` or full URLs; auth is enabled when non-empty.
    pub auth_http_addresses: Vec<String>,
    pub auth_http_request_method: AuthRequestMethod,
    pub http_client_connect_timeout: Duration,
    pub http_client_request_timeout: Duration,
    pub topology_region: String,
    pub topology_zone: String,
    /// Empty = the current working directory.
    pub data_path: String,
    /// Messages kept in memory per topic/channel; `<= 0` = always disk.
    pub mem_queue_size: i64,
    pub max_bytes_per_file: i64,
    pub sync_every: i64,
    pub sync_timeout: Duration,
    pub queue_scan_worker_pool_max: i64,
    pub queue_scan_selection_count: i64,
    pub msg_timeout: Duration,
    pub max_msg_timeout: Duration,
    pub max_msg_size: i64,
    pub max_req_timeout: Duration,
    pub max_body_size: i64,
    pub max_heartbeat_interval: Duration,
    pub max_rdy_count: i64,
    pub max_output_buffer_size: i64,
    pub max_output_buffer_timeout: Duration,
    pub min_output_buffer_timeout: Duration,
    pub output_buffer_timeout: Duration,
    /// 0 = unlimited (in Go a negative value refuses every consumer).
    pub max_channel_consumers: i64,
    /// Empty = no statsd.
    pub statsd_address: String,
    pub statsd_interval: Duration,
    pub statsd_mem_stats: bool,
    /// As configured; `%s` is expanded by the server once the HTTP port is known.
    pub statsd_prefix: String,
    pub statsd_udp_packet_size: i64,
    pub statsd_exclude_ephemeral: bool,
    /// Each in (0, 1]; flag values sorted descending, file values in file order.
    pub e2e_processing_latency_percentiles: Vec<f64>,
    pub e2e_processing_latency_window_time: Duration,
    pub tls_cert: String,
    pub tls_key: String,
    /// `require` or `require-verify`; any other non-empty value means "no client cert"
    /// (Go's switch default) but still makes TLS required.
    pub tls_client_auth_policy: String,
    pub tls_root_ca_file: String,
    pub tls_required: TlsRequired,
    pub tls_min_version: TlsVersion,
    pub deflate: bool,
    pub max_deflate_level: u32,
    pub snappy: bool,
    /// `--enable-experiment` values, unvalidated as in Go.
    pub enable_experiment: Vec<String>,
    /// Command-line arguments Go's flag parser would have ignored (everything from the
    /// first non-flag argument, or after `--`); `main` may warn about them.
    pub ignored_args: Vec<String>,
}

impl Default for Config {
    /// The built-in defaults of nsqd.md §10 for this host.
    fn default() -> Config {
        let host = hostname();
        Config {
            version: VERSION,
            log_level: LogLevel::Info,
            log_prefix: "[nsqd] ".to_string(),
            node_id: default_node_id(&host),
            tcp_address: "0.0.0.0:4150".to_string(),
            http_address: "0.0.0.0:4151".to_string(),
            https_address: "0.0.0.0:4152".to_string(),
            broadcast_address: host,
            broadcast_tcp_port: 0,
            broadcast_http_port: 0,
            nsqlookupd_tcp_addresses: Vec::new(),
            auth_http_addresses: Vec::new(),
            auth_http_request_method: AuthRequestMethod::Get,
            http_client_connect_timeout: Duration::from_secs(2),
            http_client_request_timeout: Duration::from_secs(5),
            topology_region: String::new(),
            topology_zone: String::new(),
            data_path: String::new(),
            mem_queue_size: 10_000,
            max_bytes_per_file: 100 * 1024 * 1024,
            sync_every: 2500,
            sync_timeout: Duration::from_secs(2),
            queue_scan_worker_pool_max: 4,
            queue_scan_selection_count: 20,
            msg_timeout: Duration::from_secs(60),
            max_msg_timeout: Duration::from_secs(15 * 60),
            max_msg_size: 1024 * 1024,
            max_req_timeout: Duration::from_secs(3600),
            max_body_size: 5 * 1024 * 1024,
            max_heartbeat_interval: Duration::from_secs(60),
            max_rdy_count: 2500,
            max_output_buffer_size: 64 * 1024,
            max_output_buffer_timeout: Duration::from_secs(30),
            min_output_buffer_timeout: Duration::from_millis(25),
            output_buffer_timeout: Duration::from_millis(250),
            max_channel_consumers: 0,
            statsd_address: String::new(),
            statsd_interval: Duration::from_secs(60),
            statsd_mem_stats: true,
            statsd_prefix: "nsq.%s".to_string(),
            statsd_udp_packet_size: 508,
            statsd_exclude_ephemeral: false,
            e2e_processing_latency_percentiles: Vec::new(),
            e2e_processing_latency_window_time: Duration::from_secs(600),
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_client_auth_policy: String::new(),
            tls_root_ca_file: String::new(),
            tls_required: TlsRequired::No,
            tls_min_version: TlsVersion::Tls10,
            deflate: true,
            max_deflate_level: 6,
            snappy: true,
            enable_experiment: Vec::new(),
            ignored_args: Vec::new(),
        }
    }
}

/// Parses the process arguments (`args` includes `argv[0]`) and the `--config` file.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, ConfigError> {
    let mut args = args.into_iter();
    let argv0 = args.next().unwrap_or_else(|| "nsqd".to_string());
    let rest: Vec<String> = args.collect();
    let (flags, ignored) = match flags::parse(argv0, &rest)? {
        CommandLine::Help => return Ok(Parsed::Help(flags::usage())),
        CommandLine::Flags { flags, ignored } => (flags, ignored),
    };
    if flags.version == Some(true) {
        return Ok(Parsed::Version(version_line()));
    }
    let file = match flags.config.as_deref() {
        Some(path) if !path.is_empty() => ConfigFile::load(path)?,
        _ => ConfigFile::default(),
    };
    let mut config = resolve::resolve(*flags, &file)?;
    config.ignored_args = ignored;
    Ok(Parsed::Run(Box::new(config.validate()?)))
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

    /// `GET /config/<key>` (nsqd-http.md §2.8): the option under its config-file key, as
    /// Go's JSON encoding of its `Options` field. `None` for an unknown key.
    pub fn get_option_json(&self, key: &str) -> Option<Value> {
        let value = match key {
            "id" => json!(self.node_id),
            "log_level" => json!(self.log_level.as_int()),
            "log_prefix" => json!(self.log_prefix),
            "tcp_address" => json!(self.tcp_address),
            "http_address" => json!(self.http_address),
            "https_address" => json!(self.https_address),
            "broadcast_address" => json!(self.broadcast_address),
            "broadcast_tcp_port" => json!(self.broadcast_tcp_port),
            "broadcast_http_port" => json!(self.broadcast_http_port),
            "nsqlookupd_tcp_addresses" => json!(self.nsqlookupd_tcp_addresses),
            "auth_http_addresses" => json!(self.auth_http_addresses),
            "auth_http_request_method" => json!(self.auth_http_request_method.as_str()),
            "http_client_connect_timeout" => nanos(self.http_client_connect_timeout),
            "http_client_request_timeout" => nanos(self.http_client_request_timeout),
            "topology_region" => json!(self.topology_region),
            "topology_zone" => json!(self.topology_zone),
            "data_path" => json!(self.data_path),
            "mem_queue_size" => json!(self.mem_queue_size),
            "max_bytes_per_file" => json!(self.max_bytes_per_file),
            "sync_every" => json!(self.sync_every),
            "sync_timeout" => nanos(self.sync_timeout),
            "queue_scan_selection_count" => json!(self.queue_scan_selection_count),
            "queue_scan_worker_pool_max" => json!(self.queue_scan_worker_pool_max),
            "msg_timeout" => nanos(self.msg_timeout),
            "max_msg_timeout" => nanos(self.max_msg_timeout),
            "max_msg_size" => json!(self.max_msg_size),
            "max_body_size" => json!(self.max_body_size),
            "max_req_timeout" => nanos(self.max_req_timeout),
            "max_heartbeat_interval" => nanos(self.max_heartbeat_interval),
            "max_rdy_count" => json!(self.max_rdy_count),
            "max_output_buffer_size" => json!(self.max_output_buffer_size),
            "max_output_buffer_timeout" => nanos(self.max_output_buffer_timeout),
            "min_output_buffer_timeout" => nanos(self.min_output_buffer_timeout),
            "output_buffer_timeout" => nanos(self.output_buffer_timeout),
            "max_channel_consumers" => json!(self.max_channel_consumers),
            "statsd_address" => json!(self.statsd_address),
            "statsd_prefix" => json!(self.statsd_prefix),
            "statsd_interval" => nanos(self.statsd_interval),
            "statsd_mem_stats" => json!(self.statsd_mem_stats),
            "statsd_udp_packet_size" => json!(self.statsd_udp_packet_size),
            "statsd_exclude_ephemeral" => json!(self.statsd_exclude_ephemeral),
            "e2e_processing_latency_window_time" => nanos(self.e2e_processing_latency_window_time),
            "e2e_processing_latency_percentiles" => Value::Array(
                self.e2e_processing_latency_percentiles
                    .iter()
                    .map(|p| go_float(*p))
                    .collect(),
            ),
            "tls_cert" => json!(self.tls_cert),
            "tls_key" => json!(self.tls_key),
            "tls_client_auth_policy" => json!(self.tls_client_auth_policy),
            "tls_root_ca_file" => json!(self.tls_root_ca_file),
            "tls_required" => json!(self.tls_required.as_int()),
            "tls_min_version" => json!(self.tls_min_version.as_u16()),
            "deflate" => json!(self.deflate),
            "max_deflate_level" => json!(self.max_deflate_level),
            "snappy" => json!(self.snappy),
            "enable_experiment" => json!(self.enable_experiment),
            _ => return None,
        };
        Some(value)
    }
}

/// Go's `time.Duration` marshals as integer nanoseconds.
fn nanos(d: Duration) -> Value {
    json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Go's encoding/json writes a whole float64 without a fraction (`1`, not `1.0`).
fn go_float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        // Whole and well inside i64's exact range.
        json!(f as i64)
    } else {
        json!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        let argv = std::iter::once("nsqd").chain(args.iter().copied());
        match parse_args(argv.map(String::from)) {
            Ok(Parsed::Run(config)) => *config,
            other => panic!("{args:?}: expected a config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_spec_table() {
        let c = run(&[]);
        let host = hostname();
        assert_eq!(c, Config::default());
        assert_eq!(c.version, "1.3.0");
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.log_prefix, "[nsqd] ");
        assert_eq!(c.node_id, default_node_id(&host));
        assert_eq!(c.tcp_address, "0.0.0.0:4150");
        assert_eq!(c.http_address, "0.0.0.0:4151");
        assert_eq!(c.https_address, "0.0.0.0:4152");
        assert_eq!(c.broadcast_address, host);
        assert_eq!((c.broadcast_tcp_port, c.broadcast_http_port), (0, 0));
        assert!(c.nsqlookupd_tcp_addresses.is_empty() && c.auth_http_addresses.is_empty());
        assert_eq!(c.auth_http_request_method, AuthRequestMethod::Get);
        assert_eq!(c.http_client_connect_timeout, Duration::from_secs(2));
        assert_eq!(c.http_client_request_timeout, Duration::from_secs(5));
        assert_eq!(
            (c.topology_region.as_str(), c.topology_zone.as_str()),
            ("", "")
        );
        assert_eq!(c.data_path, "");
        assert_eq!(c.mem_queue_size, 10000);
        assert_eq!(c.max_bytes_per_file, 104_857_600);
        assert_eq!(c.sync_every, 2500);
        assert_eq!(c.sync_timeout, Duration::from_secs(2));
        assert_eq!(c.queue_scan_worker_pool_max, 4);
        assert_eq!(c.queue_scan_selection_count, 20);
        assert_eq!(c.msg_timeout, Duration::from_secs(60));
        assert_eq!(c.max_msg_timeout, Duration::from_secs(900));
        assert_eq!(c.max_msg_size, 1_048_576);
        assert_eq!(c.max_req_timeout, Duration::from_secs(3600));
        assert_eq!(c.max_body_size, 5_242_880);
        assert_eq!(c.max_heartbeat_interval, Duration::from_secs(60));
        assert_eq!(c.max_rdy_count, 2500);
        assert_eq!(c.max_output_buffer_size, 65536);
        assert_eq!(c.max_output_buffer_timeout, Duration::from_secs(30));
        assert_eq!(c.min_output_buffer_timeout, Duration::from_millis(25));
        assert_eq!(c.output_buffer_timeout, Duration::from_millis(250));
        assert_eq!(c.max_channel_consumers, 0);
        assert_eq!(c.statsd_address, "");
        assert_eq!(c.statsd_interval, Duration::from_secs(60));
        assert!(c.statsd_mem_stats);
        assert_eq!(c.statsd_prefix, "nsq.%s");
        assert_eq!(c.statsd_udp_packet_size, 508);
        assert!(!c.statsd_exclude_ephemeral);
        assert!(c.e2e_processing_latency_percentiles.is_empty());
        assert_eq!(
            c.e2e_processing_latency_window_time,
            Duration::from_secs(600)
        );
        assert_eq!(c.tls_cert, "");
        assert_eq!(c.tls_key, "");
        assert_eq!(c.tls_client_auth_policy, "");
        assert_eq!(c.tls_root_ca_file, "");
        assert_eq!(c.tls_required, TlsRequired::No);
        assert_eq!(c.tls_min_version, TlsVersion::Tls10);
        assert!(c.deflate && c.snappy);
        assert_eq!(c.max_deflate_level, 6);
        assert!(c.enable_experiment.is_empty() && !c.topology_aware_consumption());
        assert!(c.ignored_args.is_empty());
        assert!(!c.tls_configured());
    }

    #[test]
    fn node_id_is_crc32_of_md5_of_hostname() {
        // Reference values: zlib.crc32(hashlib.md5(name).digest()) % 1024.
        assert_eq!(default_node_id("localhost"), 16);
        assert_eq!(default_node_id("myhost"), 255);
        assert_eq!(default_node_id("nsq-1.example.com"), 851);
        let host = hostname();
        assert!(!host.is_empty() && host.trim() == host);
    }

    #[test]
    fn default_for_tests_uses_loopback_port_zero() {
        let c = Config::default_for_tests();
        assert_eq!(c.tcp_address, "127.0.0.1:0");
        assert_eq!(c.http_address, "127.0.0.1:0");
        assert_eq!(c.https_address, "127.0.0.1:0");
        assert_eq!(c.msg_timeout, Config::default().msg_timeout);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn version_and_help() {
        let argv = |args: &[&str]| {
            let all = std::iter::once("nsqd").chain(args.iter().copied());
            parse_args(all.map(String::from).collect::<Vec<_>>())
        };
        let Ok(Parsed::Version(line)) = argv(&["--version"]) else {
            panic!("expected version");
        };
        let rest = line
            .strip_prefix("nsqd v1.3.0 (built w/")
            .and_then(|r| r.strip_suffix(')'))
            .expect("Go's version layout");
        assert!(rest.starts_with("rustc"));
        assert!(rest
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'));
        assert_eq!(line, version_line());
        // --version wins before the config file is read, as in Go.
        assert!(matches!(
            argv(&["-version", "--config=/nonexistent/nsqd.toml"]),
            Ok(Parsed::Version(_))
        ));
        assert!(matches!(argv(&["--version=false"]), Ok(Parsed::Run(_))));
        let Ok(Parsed::Help(text)) = argv(&["-h"]) else {
            panic!("expected help");
        };
        assert!(text.contains("-lookupd-tcp-address value"));
        assert!(matches!(
            argv(&["--bogus", "--help"]),
            Err(ConfigError::UnknownFlag(_))
        ));
        assert!(matches!(parse_args(Vec::new()), Ok(Parsed::Run(_))));
    }

    #[test]
    fn option_json_encodings() {
        let c = Config::default();
        let get = |key: &str| c.get_option_json(key).map(|v| v.to_string());
        assert_eq!(get("msg_timeout").as_deref(), Some("60000000000"));
        assert_eq!(get("nsqlookupd_tcp_addresses").as_deref(), Some("[]"));
        assert_eq!(get("log_level").as_deref(), Some("2"));
        assert_eq!(get("mem_queue_size").as_deref(), Some("10000"));
        assert_eq!(get("tls_min_version").as_deref(), Some("769"));
        assert_eq!(get("tls_required").as_deref(), Some("0"));
        assert_eq!(
            get("min_output_buffer_timeout").as_deref(),
            Some("25000000")
        );
        assert_eq!(get("id"), Some(c.node_id.to_string()));
        assert_eq!(get("log_prefix").as_deref(), Some("\"[nsqd] \""));
        assert_eq!(get("auth_http_request_method").as_deref(), Some("\"get\""));
        assert_eq!(get("snappy").as_deref(), Some("true"));
        assert_eq!(get("max_deflate_level").as_deref(), Some("6"));
        assert_eq!(
            get("e2e_processing_latency_percentiles").as_deref(),
            Some("[]")
        );
        assert_eq!(get("enable_experiment").as_deref(), Some("[]"));
        assert_eq!(get("statsd_prefix").as_deref(), Some("\"nsq.%s\""));

        let c = Config {
            nsqlookupd_tcp_addresses: vec!["10.0.0.1:4160".to_string()],
            e2e_processing_latency_percentiles: vec![1.0, 0.99],
            log_level: LogLevel::Fatal,
            tls_required: TlsRequired::TcpHttps,
            tls_min_version: TlsVersion::Tls12,
            ..Config::default()
        };
        let get = |key: &str| c.get_option_json(key).map(|v| v.to_string());
        assert_eq!(
            get("nsqlookupd_tcp_addresses").as_deref(),
            Some("[\"10.0.0.1:4160\"]")
        );
        assert_eq!(
            get("e2e_processing_latency_percentiles").as_deref(),
            Some("[1,0.99]")
        );
        assert_eq!(get("log_level").as_deref(), Some("5"));
        assert_eq!(get("tls_required").as_deref(), Some("1"));
        assert_eq!(get("tls_min_version").as_deref(), Some("771"));
    }

    #[test]
    fn every_option_key_answers_and_others_do_not() {
        let c = Config::default();
        assert_eq!(OPTION_KEYS.len(), 53);
        for key in OPTION_KEYS {
            assert!(c.get_option_json(key).is_some(), "{key}");
        }
        for key in [
            "nope",
            "version",
            "config",
            "verbose",
            "worker_id",
            "node_id",
            "",
            "ID",
        ] {
            assert_eq!(c.get_option_json(key), None, "{key}");
        }
    }

    #[test]
    fn validate_hand_built_configs() {
        let base = Config::default_for_tests;
        let err = |c: Config| c.validate().expect_err("invalid").to_string();
        assert_eq!(
            err(Config {
                max_deflate_level: 0,
                ..base()
            }),
            "--max-deflate-level must be [1,9]"
        );
        assert_eq!(
            err(Config {
                max_deflate_level: 10,
                ..base()
            }),
            "--max-deflate-level must be [1,9]"
        );
        assert_eq!(
            err(Config {
                node_id: 1024,
                ..base()
            }),
            "--node-id must be [0,1024)"
        );
        assert_eq!(
            err(Config {
                tls_required: TlsRequired::TcpHttps,
                ..base()
            }),
            "cannot require TLS client connections without TLS key and cert"
        );
        assert_eq!(
            err(Config {
                tls_client_auth_policy: "require".to_string(),
                ..base()
            }),
            "cannot require TLS client connections without TLS key and cert"
        );
        assert_eq!(
            err(Config {
                e2e_processing_latency_percentiles: vec![0.5, 0.0],
                ..base()
            }),
            "invalid E2E processing latency percentile: 0"
        );
        assert_eq!(
            err(Config {
                e2e_processing_latency_percentiles: vec![1.5],
                ..base()
            }),
            "invalid E2E processing latency percentile: 1.5"
        );
        assert_eq!(
            err(Config {
                e2e_processing_latency_percentiles: vec![f64::NAN],
                ..base()
            }),
            "invalid E2E processing latency percentile: NaN"
        );
        assert_eq!(
            err(Config {
                sync_timeout: Duration::ZERO,
                ..base()
            }),
            "--sync-timeout must be greater than 0 (got 0ns)"
        );
        assert_eq!(
            err(Config {
                statsd_address: "127.0.0.1:8125".to_string(),
                statsd_interval: Duration::ZERO,
                ..base()
            }),
            "--statsd-interval must be greater than 0 (got 0ns)"
        );
        // A zero statsd interval is harmless while statsd is off.
        assert!(Config {
            statsd_interval: Duration::ZERO,
            ..base()
        }
        .validate()
        .is_ok());
        assert!(Config {
            node_id: 1023,
            max_deflate_level: 9,
            ..base()
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn client_auth_policy_makes_tls_required() {
        let tls = || Config {
            tls_cert: "cert.pem".to_string(),
            tls_key: "key.pem".to_string(),
            tls_client_auth_policy: "require-verify".to_string(),
            ..Config::default_for_tests()
        };
        let c = tls().validate().expect("valid");
        assert_eq!(c.tls_required, TlsRequired::Yes);
        assert!(c.tls_configured());
        let c = Config {
            tls_required: TlsRequired::TcpHttps,
            ..tls()
        }
        .validate()
        .expect("valid");
        assert_eq!(c.tls_required, TlsRequired::TcpHttps);
    }

    #[test]
    fn data_path_falls_back_to_cwd() {
        let c = Config::default();
        assert_eq!(c.data_path_or_cwd(), std::env::current_dir().expect("cwd"));
        let c = Config {
            data_path: "/var/lib/nsq".to_string(),
            ..c
        };
        assert_eq!(c.data_path_or_cwd(), PathBuf::from("/var/lib/nsq"));
    }

    #[test]
    fn experiments() {
        let c = Config {
            enable_experiment: vec![EXPERIMENT_TOPOLOGY_AWARE_CONSUMPTION.to_string()],
            ..Config::default()
        };
        assert!(c.topology_aware_consumption());
    }
}
