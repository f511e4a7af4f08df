//! nsqadmin's configuration: command line + `--config` TOML file -> one [`Config`] (the
//! option table below, on the `options` crate, as nsqlookupd's), then [`Config::validate`]
//! with Go nsqadmin v1.3.0's startup checks and error texts: exactly one of
//! `--lookupd-http-address`/`--nsqd-http-address`, TLS cert and key together, a readable
//! CA file, resolvable addresses, a parseable graphite URL when proxying and a parseable
//! `--allow-config-from-cidr`. File keys are the flag names with `_`, but
//! `nsqlookupd_http_addresses`, `nsqd_http_addresses` and `admin_users`.
//!
//! Beyond Go: `--history-interval` (key `history_interval`, default 5s), how often the
//! history sampler reads every node's `/stats`.

use std::net::IpAddr;
use std::time::Duration;

pub use daemon::log_level::LogLevel;
pub use options::Error as ConfigError;

/// The NSQ release this stands in for.
pub const VERSION: &str = daemon::VERSION;

options::options! {
    /// Every option, resolved.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Config in OPTIONS {
        log_level: LogLevel = LogLevel::Info, "log-level" "log_level" shown
            "set log verbosity: debug, info, warn, error, or fatal";
        log_prefix: String = "[nsqadmin] ".to_string(), "log-prefix" "log_prefix" shown
            "log message prefix";
        http_address: String = "0.0.0.0:4171".to_string(), "http-address" "http_address" shown
            "<addr>:<port> to listen on for HTTP clients";
        base_path: String = "/".to_string(), "base-path" "base_path" shown
            "URL base path";
        dev_static_dir: String = String::new(), "dev-static-dir" "dev_static_dir" shown
            "(development use only)";
        graphite_url: String = String::new(), "graphite-url" "graphite_url" shown
            "graphite HTTP address";
        proxy_graphite: bool = false, "proxy-graphite" "proxy_graphite" shown
            "proxy HTTP requests to graphite";
        statsd_counter_format: String = "stats.counters.%s.count".to_string(),
            "statsd-counter-format" "statsd_counter_format" shown
            "The counter stats key formatting applied by the implementation of statsd. If no formatting is desired, set this to an empty string.";
        statsd_gauge_format: String = "stats.gauges.%s".to_string(),
            "statsd-gauge-format" "statsd_gauge_format" shown
            "The gauge stats key formatting applied by the implementation of statsd. If no formatting is desired, set this to an empty string.";
        statsd_prefix: String = "nsq.%s".to_string(), "statsd-prefix" "statsd_prefix" shown
            "prefix used for keys sent to statsd (%s for host replacement, must match nsqd)";
        statsd_interval: Duration = Duration::from_secs(60), "statsd-interval" "statsd_interval" shown
            "time interval nsqd is configured to push to statsd (must match nsqd)";
        notification_http_endpoint: String = String::new(),
            "notification-http-endpoint" "notification_http_endpoint" shown
            "HTTP endpoint (fully qualified) to which POST notifications of admin actions will be sent";
        http_client_connect_timeout: Duration = Duration::from_secs(2),
            "http-client-connect-timeout" "http_client_connect_timeout" shown
            "timeout for HTTP connect";
        http_client_request_timeout: Duration = Duration::from_secs(5),
            "http-client-request-timeout" "http_client_request_timeout" shown
            "timeout for HTTP request";
        http_client_tls_insecure_skip_verify: bool = false,
            "http-client-tls-insecure-skip-verify" "http_client_tls_insecure_skip_verify" shown
            "configure the HTTP client to skip verification of TLS certificates";
        http_client_tls_root_ca_file: String = String::new(),
            "http-client-tls-root-ca-file" "http_client_tls_root_ca_file" shown
            "path to CA file for the HTTP client";
        http_client_tls_cert: String = String::new(),
            "http-client-tls-cert" "http_client_tls_cert" shown
            "path to certificate file for the HTTP client";
        http_client_tls_key: String = String::new(),
            "http-client-tls-key" "http_client_tls_key" shown
            "path to key file for the HTTP client";
        allow_config_from_cidr: String = "127.0.0.1/8".to_string(),
            "allow-config-from-cidr" "allow_config_from_cidr" shown
            "A CIDR from which to allow HTTP requests to the /config endpoint";
        acl_http_header: String = "X-Forwarded-User".to_string(),
            "acl-http-header" "acl_http_header" shown
            "HTTP header to check for authenticated admin users";
        admin_users: Vec<String> = Vec::new(), "admin-user" "admin_users" shown
            "admin user (may be given multiple times; if specified, only these users will be able to perform privileged actions; acl-http-header is used to determine the authenticated user)";
        nsqlookupd_http_addresses: Vec<String> = Vec::new(),
            "lookupd-http-address" "nsqlookupd_http_addresses" shown
            "lookupd HTTP address (may be given multiple times)";
        nsqd_http_addresses: Vec<String> = Vec::new(),
            "nsqd-http-address" "nsqd_http_addresses" shown
            "nsqd HTTP address (may be given multiple times)";
        history_interval: Duration = Duration::from_secs(5),
            "history-interval" "history_interval" shown
            "how often to sample every nsqd's /stats for the history charts (not in Go nsqadmin)";
    }
    flags {
        "config" String "path to config file";
        "version" Bool "print version string";
        "verbose" Bool "[deprecated] has no effect, use --log-level";
    }
    extra {
        /// Arguments Go's flag parser ignores (from the first non-flag argument on).
        ignored_args: Vec<String> = Vec::new();
    }
}

/// What the command line asks `main` to do.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    Version(String),
    Help(String),
}

/// An IPv4 or IPv6 network (`--allow-config-from-cidr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Go's `net.ParseCIDR`: `<ip>/<bits>`, bits within the address length.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("invalid CIDR address: {s}");
        let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = ip.parse().map_err(|_| bad())?;
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
            return Err(bad());
        }
        let prefix: u8 = bits.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as IPv4, as in Go).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Go's `path.Clean` for an absolute path.
pub fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Go's `normalizeBasePath`: empty is `/`, a leading `/` is added, then cleaned.
pub fn normalize_base_path(p: &str) -> String {
    if p.is_empty() {
        return "/".to_string();
    }
    clean_path(p)
}

impl Config {
    /// Go's startup checks (`nsqadmin.New`), in Go's order; the error is the FATAL text
    /// after `failed to instantiate nsqadmin - `.
    pub fn validate(&mut self) -> Result<cluster::ClientConfig, String> {
        if self.nsqd_http_addresses.is_empty() && self.nsqlookupd_http_addresses.is_empty() {
            return Err("--nsqd-http-address or --lookupd-http-address required".into());
        }
        if !self.nsqd_http_addresses.is_empty() && !self.nsqlookupd_http_addresses.is_empty() {
            return Err("use --nsqd-http-address or --lookupd-http-address not both".into());
        }
        if !self.http_client_tls_cert.is_empty() && self.http_client_tls_key.is_empty() {
            return Err(
                "--http-client-tls-key must be specified with --http-client-tls-cert".into(),
            );
        }
        if !self.http_client_tls_key.is_empty() && self.http_client_tls_cert.is_empty() {
            return Err(
                "--http-client-tls-cert must be specified with --http-client-tls-key".into(),
            );
        }
        let client = self.client_config();
        cluster::Client::new(&client)?;
        for (flag, list) in [
            ("--lookupd-http-address", &self.nsqlookupd_http_addresses),
            ("--nsqd-http-address", &self.nsqd_http_addresses),
        ] {
            for address in list {
                resolve(address)
                    .map_err(|e| format!("failed to resolve {flag} ({address}) - {e}"))?;
            }
        }
        if self.proxy_graphite {
            reqwest::Url::parse(&self.graphite_url).map_err(|e| {
                format!(
                    "failed to parse --graphite-url ({}) - {e}",
                    self.graphite_url
                )
            })?;
        }
        if !self.allow_config_from_cidr.is_empty() {
            Cidr::parse(&self.allow_config_from_cidr).map_err(|e| {
                format!(
                    "failed to parse --allow-config-from-cidr ({}) - {e}",
                    self.allow_config_from_cidr
                )
            })?;
        }
        self.base_path = normalize_base_path(&self.base_path);
        Ok(client)
    }

    /// The upstream client's options.
    pub fn client_config(&self) -> cluster::ClientConfig {
        let path = |s: &str| (!s.is_empty()).then(|| std::path::PathBuf::from(s));
        cluster::ClientConfig {
            connect_timeout: self.http_client_connect_timeout,
            request_timeout: self.http_client_request_timeout,
            tls_insecure_skip_verify: self.http_client_tls_insecure_skip_verify,
            tls_root_ca_file: path(&self.http_client_tls_root_ca_file),
            tls_cert_key: path(&self.http_client_tls_cert).zip(path(&self.http_client_tls_key)),
        }
    }

    /// Defaults for tests: listening on 127.0.0.1, port 0.
    pub fn default_for_tests() -> Config {
        Config {
            http_address: "127.0.0.1:0".to_string(),
            ..Config::default()
        }
    }
}

/// Go's `net.ResolveTCPAddr("tcp", addr)`: `host:port` with a numeric or named port and a
/// host that resolves (empty means any).
fn resolve(address: &str) -> Result<(), String> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("address {address}: missing port in address"))?;
    if port.parse::<u16>().is_err() && !port.is_empty() {
        return Err(format!("lookup tcp/{port}: unknown port"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .map(|_| ())
        .map_err(|_| format!("lookup {host}: no such host"))
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
            Ok(Parsed::Run(Box::new(config)))
        }
    }
}

/// The usage text `-h` prints.
pub fn usage() -> String {
    options::usage("nsqadmin", OPTIONS, &Config::default())
}

/// `nsqadmin v1.3.0 (built w/rustc1.95.0)`.
pub fn version_line() -> String {
    daemon::version_line("nsqadmin", VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        let argv = std::iter::once("nsqadmin")
            .chain(args.iter().copied())
            .map(String::from);
        match parse_args(argv).expect("parses") {
            Parsed::Run(c) => *c,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    fn invalid(args: &[&str]) -> String {
        run(args).validate().expect_err("invalid")
    }

    #[test]
    fn table_is_consistent() {
        assert_eq!(options::check(OPTIONS), Ok(()));
    }

    #[test]
    fn defaults_are_gos() {
        let c = run(&[]);
        assert_eq!(c.http_address, "0.0.0.0:4171");
        assert_eq!(c.base_path, "/");
        assert_eq!(c.statsd_interval, Duration::from_secs(60));
        assert_eq!(c.allow_config_from_cidr, "127.0.0.1/8");
        assert_eq!(c.acl_http_header, "X-Forwarded-User");
        assert_eq!(c.history_interval, Duration::from_secs(5));
        assert_eq!(
            options::option_json(OPTIONS, &c, "admin_users"),
            Some(serde_json::json!([]))
        );
        assert_eq!(
            options::option_json(OPTIONS, &c, "http_client_request_timeout"),
            Some(serde_json::json!(5_000_000_000u64))
        );
    }

    #[test]
    fn startup_errors_are_gos() {
        assert_eq!(
            invalid(&[]),
            "--nsqd-http-address or --lookupd-http-address required"
        );
        assert_eq!(
            invalid(&[
                "--lookupd-http-address=127.0.0.1:4161",
                "--nsqd-http-address=127.0.0.1:4151"
            ]),
            "use --nsqd-http-address or --lookupd-http-address not both"
        );
        assert_eq!(
            invalid(&[
                "--nsqd-http-address=127.0.0.1:4151",
                "--http-client-tls-cert=a"
            ]),
            "--http-client-tls-key must be specified with --http-client-tls-cert"
        );
        assert_eq!(
            invalid(&[
                "--nsqd-http-address=127.0.0.1:4151",
                "--http-client-tls-key=a"
            ]),
            "--http-client-tls-cert must be specified with --http-client-tls-key"
        );
        assert!(invalid(&[
            "--nsqd-http-address=127.0.0.1:4151",
            "--http-client-tls-root-ca-file=/nonexistent"
        ])
        .starts_with("failed to read TLS root CA file /nonexistent - "));
        assert!(invalid(&["--lookupd-http-address=nohostport"])
            .starts_with("failed to resolve --lookupd-http-address (nohostport) - "));
        assert!(invalid(&[
            "--nsqd-http-address=127.0.0.1:4151",
            "--allow-config-from-cidr=x"
        ])
        .starts_with("failed to parse --allow-config-from-cidr (x) - "));
        let mut ok = run(&["--lookupd-http-address=127.0.0.1:4161", "--base-path=a//b/"]);
        ok.validate().expect("valid");
        assert_eq!(ok.base_path, "/a/b");
    }

    #[test]
    fn cidr_like_go() {
        let c = Cidr::parse("127.0.0.1/8").expect("cidr");
        assert!(c.contains("127.9.9.9".parse().expect("ip")));
        assert!(c.contains("::ffff:127.0.0.2".parse().expect("ip")));
        assert!(!c.contains("10.0.0.1".parse().expect("ip")));
        assert!(!c.contains("::1".parse().expect("ip")));
        let all = Cidr::parse("0.0.0.0/0").expect("cidr");
        assert!(all.contains("8.8.8.8".parse().expect("ip")));
        let v6 = Cidr::parse("::1/128").expect("cidr");
        assert!(v6.contains("::1".parse().expect("ip")));
        for bad in ["127.0.0.1", "127.0.0.1/33", "x/8", "1.2.3.4/-1", "1.2.3.4/"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn base_paths_like_go() {
        assert_eq!(normalize_base_path(""), "/");
        assert_eq!(normalize_base_path("admin"), "/admin");
        assert_eq!(normalize_base_path("/admin/"), "/admin");
        assert_eq!(normalize_base_path("/a/../b"), "/b");
    }
}
