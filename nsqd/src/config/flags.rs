//! The command line: Go `flag` syntax in front of a clap derive of nsqd 1.3.0's flags.
//!
//! Go accepts `-name value`, `-name=value`, `--name value`, `--name=value`; bool flags take
//! a value only after `=` and never consume the next argument; parsing stops at the first
//! non-flag argument (or after `--`) and the rest is ignored. [`parse`] rewrites that
//! into `--name` / `--name=value`, which clap then types. Every field is an `Option` (or an
//! empty `Vec`) so `mod.rs` can tell "given on the command line" from "not given".

use std::time::Duration;

use clap::error::{ContextKind, ContextValue};
use clap::{ArgAction, Command, CommandFactory, Parser};

use super::error::ConfigError;
use super::setting::{LogLevel, TlsRequired, TlsVersion};
use super::{duration, literal};

/// nsqd's flags. Help texts are Go's; `value_name` is the type word Go's usage prints.
#[derive(Debug, Parser)]
#[command(
    name = "nsqd",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Flags {
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool, help = "print version string")]
    pub version: Option<bool>,
    #[arg(long, value_name = "string", help = "path to config file")]
    pub config: Option<String>,

    #[arg(long, value_name = "value", value_parser = parse_log_level,
        help = "set log verbosity: debug, info, warn, error, or fatal (default INFO)")]
    pub log_level: Option<LogLevel>,
    #[arg(
        long,
        value_name = "string",
        help = "log message prefix (default \"[nsqd] \")"
    )]
    pub log_prefix: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool, help = "[deprecated] has no effect, use --log-level")]
    pub verbose: Option<bool>,

    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)")]
    pub node_id: Option<i64>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool, help = "[deprecated] use --node-id")]
    pub worker_id: Option<bool>,

    #[arg(
        long,
        value_name = "string",
        help = "<addr>:<port> to listen on for HTTPS clients (default \"0.0.0.0:4152\")"
    )]
    pub https_address: Option<String>,
    #[arg(
        long,
        value_name = "string",
        help = "<addr>:<port> to listen on for HTTP clients (default \"0.0.0.0:4151\")"
    )]
    pub http_address: Option<String>,
    #[arg(
        long,
        value_name = "string",
        help = "<addr>:<port> to listen on for TCP clients (default \"0.0.0.0:4150\")"
    )]
    pub tcp_address: Option<String>,
    #[arg(long, value_name = "value", action = ArgAction::Append,
        help = "<addr>:<port> or a full url to query auth server (may be given multiple times)")]
    pub auth_http_address: Vec<String>,
    #[arg(
        long,
        value_name = "string",
        help = "HTTP method to use for auth server requests (default \"get\")"
    )]
    pub auth_http_request_method: Option<String>,
    #[arg(
        long,
        value_name = "string",
        help = "address that will be registered with lookupd (defaults to the OS hostname)"
    )]
    pub broadcast_address: Option<String>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int_as::<u16>,
        help = "TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)")]
    pub broadcast_tcp_port: Option<u16>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int_as::<u16>,
        help = "HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)")]
    pub broadcast_http_port: Option<u16>,
    #[arg(long, value_name = "value", action = ArgAction::Append,
        help = "lookupd TCP address (may be given multiple times)")]
    pub lookupd_tcp_address: Vec<String>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "timeout for HTTP connect (default 2s)")]
    pub http_client_connect_timeout: Option<Duration>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "timeout for HTTP request (default 5s)")]
    pub http_client_request_timeout: Option<Duration>,
    #[arg(
        long,
        value_name = "string",
        help = "A region represents a larger domain, made up of one or more zones for preferring closer consumer connections"
    )]
    pub topology_region: Option<String>,
    #[arg(
        long,
        value_name = "string",
        help = "A zone represents a logical failure domain close to the consumer"
    )]
    pub topology_zone: Option<String>,

    #[arg(
        long,
        value_name = "string",
        help = "path to store disk-backed messages"
    )]
    pub data_path: Option<String>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "number of messages to keep in memory (per topic/channel) (default 10000)")]
    pub mem_queue_size: Option<i64>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "number of bytes per diskqueue file before rolling (default 104857600)")]
    pub max_bytes_per_file: Option<i64>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "number of messages per diskqueue fsync (default 2500)")]
    pub sync_every: Option<i64>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "duration of time per diskqueue fsync (default 2s)")]
    pub sync_timeout: Option<Duration>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "max concurrency for checking in-flight and deferred message timeouts (default 4)")]
    pub queue_scan_worker_pool_max: Option<i64>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "number of channels to check per cycle (every 100ms) for in-flight and deferred timeouts (default 20)")]
    pub queue_scan_selection_count: Option<i64>,

    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "default duration to wait before auto-requeing a message (default 1m0s)")]
    pub msg_timeout: Option<Duration>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "maximum duration before a message will timeout (default 15m0s)")]
    pub max_msg_timeout: Option<Duration>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "maximum size of a single message in bytes (default 1048576)")]
    pub max_msg_size: Option<i64>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "maximum requeuing timeout for a message (default 1h0m0s)")]
    pub max_req_timeout: Option<Duration>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "maximum size of a single command body (default 5242880)")]
    pub max_body_size: Option<i64>,

    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "maximum client configurable duration of time between client heartbeats (default 1m0s)")]
    pub max_heartbeat_interval: Option<Duration>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "maximum RDY count for a client (default 2500)")]
    pub max_rdy_count: Option<i64>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "maximum client configurable size (in bytes) for a client output buffer (default 65536)")]
    pub max_output_buffer_size: Option<i64>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "maximum client configurable duration of time between flushing to a client (default 30s)")]
    pub max_output_buffer_timeout: Option<Duration>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "minimum client configurable duration of time between flushing to a client (default 25ms)")]
    pub min_output_buffer_timeout: Option<Duration>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "default duration of time between flushing data to clients (default 250ms)")]
    pub output_buffer_timeout: Option<Duration>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)")]
    pub max_channel_consumers: Option<i64>,

    #[arg(
        long,
        value_name = "string",
        help = "UDP <addr>:<port> of a statsd daemon for pushing stats"
    )]
    pub statsd_address: Option<String>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "duration between pushing to statsd (default 1m0s)")]
    pub statsd_interval: Option<Duration>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool,
        help = "toggle sending memory and GC stats to statsd (default true)")]
    pub statsd_mem_stats: Option<bool>,
    #[arg(
        long,
        value_name = "string",
        help = "prefix used for keys sent to statsd (%s for host replacement) (default \"nsq.%s\")"
    )]
    pub statsd_prefix: Option<String>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "the size in bytes of statsd UDP packets (default 508)")]
    pub statsd_udp_packet_size: Option<i64>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool,
        help = "Skip ephemeral topics and channels when sending stats to statsd")]
    pub statsd_exclude_ephemeral: Option<bool>,

    #[arg(long, value_name = "value", action = ArgAction::Append, value_delimiter = ',',
        value_parser = literal::parse_float,
        help = "message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)")]
    pub e2e_processing_latency_percentile: Vec<f64>,
    #[arg(long, value_name = "duration", value_parser = duration::parse,
        help = "calculate end to end latency quantiles for this duration of time (ie: 60s would only show quantile calculations from the past 60 seconds) (default 10m0s)")]
    pub e2e_processing_latency_window_time: Option<Duration>,

    #[arg(long, value_name = "string", help = "path to certificate file")]
    pub tls_cert: Option<String>,
    #[arg(long, value_name = "string", help = "path to key file")]
    pub tls_key: Option<String>,
    #[arg(
        long,
        value_name = "string",
        help = "client certificate auth policy ('require' or 'require-verify')"
    )]
    pub tls_client_auth_policy: Option<String>,
    #[arg(
        long,
        value_name = "string",
        help = "path to certificate authority file"
    )]
    pub tls_root_ca_file: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = parse_tls_required,
        help = "require TLS for client connections (true, false, tcp-https)")]
    pub tls_required: Option<TlsRequired>,
    #[arg(long, value_name = "value", value_parser = parse_tls_min_version,
        help = "minimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3') (default 769)")]
    pub tls_min_version: Option<TlsVersion>,

    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool,
        help = "enable deflate feature negotiation (client compression) (default true)")]
    pub deflate: Option<bool>,
    #[arg(long, value_name = "int", value_parser = literal::parse_int,
        help = "max deflate compression level a client can negotiate (> values == > nsqd CPU usage) (default 6)")]
    pub max_deflate_level: Option<i64>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = literal::parse_bool,
        help = "enable snappy feature negotiation (client compression) (default true)")]
    pub snappy: Option<bool>,

    #[arg(long, value_name = "value", action = ArgAction::Append,
        help = "enable experimental feature (may be given multiple times) (valid options: 'topology-aware-consumption')")]
    pub enable_experiment: Vec<String>,
}

fn parse_log_level(s: &str) -> Result<LogLevel, String> {
    s.parse()
}

fn parse_tls_required(s: &str) -> Result<TlsRequired, String> {
    TlsRequired::parse(s).ok_or_else(|| "expected true, false or tcp-https".to_string())
}

/// Go's `tlsMinVersionOption.Set("")` leaves the default in place (and the flag still
/// counts as given, so it beats the config file).
fn parse_tls_min_version(s: &str) -> Result<TlsVersion, String> {
    if s.is_empty() {
        return Ok(TlsVersion::default());
    }
    TlsVersion::parse(s).ok_or_else(|| format!("unknown tlsVersionOption {:?}", s.to_lowercase()))
}

/// What the command line asked for.
#[derive(Debug)]
pub enum CommandLine {
    /// `-h`, `-help`, `--help` (Go's `flag.ErrHelp`).
    Help,
    Flags {
        flags: Box<Flags>,
        /// Arguments after the first non-flag argument or `--`, which Go ignores.
        ignored: Vec<String>,
    },
}

/// Parses `args` (without `argv[0]`) the way Go's `flag.FlagSet.Parse` does.
pub fn parse(argv0: String, args: &[String]) -> Result<CommandLine, ConfigError> {
    let command = Flags::command();
    let mut tokens = vec![argv0];
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break; // first non-flag argument ("-" included) ends the flags
        }
        if arg == "--" {
            i += 1; // "--" ends the flags and is consumed
            break;
        }
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .unwrap_or(arg);
        if body.starts_with('-') || body.starts_with('=') {
            return Err(ConfigError::BadFlagSyntax(arg.clone()));
        }
        i += 1;
        let (name, inline_value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(spec) = command.get_arguments().find(|a| a.get_long() == Some(name)) else {
            if name == "help" || name == "h" {
                return Ok(CommandLine::Help);
            }
            return Err(ConfigError::UnknownFlag(name.to_string()));
        };
        let is_bool = spec.get_num_args().is_some_and(|n| n.min_values() == 0);
        let token = match (is_bool, inline_value) {
            (_, Some(value)) => format!("--{name}={value}"),
            (true, None) => format!("--{name}"),
            (false, None) => {
                let Some(value) = args.get(i) else {
                    return Err(ConfigError::MissingFlagValue(name.to_string()));
                };
                i += 1;
                format!("--{name}={value}")
            }
        };
        tokens.push(token);
    }
    let flags = Flags::try_parse_from(tokens).map_err(clap_error)?;
    Ok(CommandLine::Flags {
        flags: Box::new(flags),
        ignored: args[i..].to_vec(),
    })
}

/// Maps clap's errors (after [`parse`] they can only be bad values) to Go's wording.
fn clap_error(err: clap::Error) -> ConfigError {
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    // clap names the argument as "--name <string>" or "--name[=<NAME>]".
    let flag = arg.and_then(|a| {
        let name: String = a
            .trim_start_matches('-')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        (!name.is_empty()).then_some(name)
    });
    match (flag, value) {
        (Some(flag), Some(value)) => {
            let reason = std::error::Error::source(&err)
                .map(|source| source.to_string())
                .unwrap_or_else(|| literal::LiteralError::Syntax.to_string());
            ConfigError::InvalidFlagValue {
                flag,
                value,
                reason,
            }
        }
        _ => {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            ConfigError::Flags(first.trim_start_matches("error: ").to_string())
        }
    }
}

/// Usage text in the layout of Go's `flag.PrintDefaults`, flags sorted by name.
pub fn usage() -> String {
    let command: Command = Flags::command();
    let mut args: Vec<_> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(|long| (long, a)))
        .collect();
    args.sort_by_key(|(long, _)| *long);
    let mut out = String::from("Usage of nsqd:\n");
    for (long, arg) in args {
        out.push_str("  -");
        out.push_str(long);
        let is_bool = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        if let (false, Some(names)) = (is_bool, arg.get_value_names()) {
            for name in names {
                out.push(' ');
                out.push_str(name.as_str());
            }
        }
        out.push_str("\n    \t");
        if let Some(help) = arg.get_help() {
            out.push_str(&help.to_string());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn flags(args: &[&str]) -> Result<(Flags, Vec<String>), ConfigError> {
        match parse("nsqd".to_string(), &strings(args))? {
            CommandLine::Flags { flags, ignored } => Ok((*flags, ignored)),
            CommandLine::Help => Err(ConfigError::Flags("help".to_string())),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Flags::command().debug_assert();
    }

    #[test]
    fn four_syntax_forms() {
        for args in [
            &["-tcp-address", "1.2.3.4:5"][..],
            &["-tcp-address=1.2.3.4:5"],
            &["--tcp-address", "1.2.3.4:5"],
            &["--tcp-address=1.2.3.4:5"],
        ] {
            let (f, ignored) = flags(args).expect("parses");
            assert_eq!(f.tcp_address.as_deref(), Some("1.2.3.4:5"), "{args:?}");
            assert!(ignored.is_empty());
        }
    }

    #[test]
    fn values_may_look_like_flags_or_be_empty() {
        let (f, _) = flags(&["--log-prefix", "-x-", "--http-address="]).expect("parses");
        assert_eq!(f.log_prefix.as_deref(), Some("-x-"));
        assert_eq!(f.http_address.as_deref(), Some(""));
        let (f, _) = flags(&["--http-address", "", "--statsd-prefix=a=b"]).expect("parses");
        assert_eq!(f.http_address.as_deref(), Some(""));
        assert_eq!(f.statsd_prefix.as_deref(), Some("a=b"));
    }

    #[test]
    fn bool_flags() {
        let (f, _) = flags(&["--snappy", "-deflate=false", "--statsd-mem-stats=0"]).expect("ok");
        assert_eq!(
            (f.snappy, f.deflate, f.statsd_mem_stats),
            (Some(true), Some(false), Some(false))
        );
        let (f, _) = flags(&["--snappy=F", "--snappy=T"]).expect("last one wins");
        assert_eq!(f.snappy, Some(true));
        let err = flags(&["--snappy=yes"]).expect_err("bad bool");
        assert_eq!(
            err.to_string(),
            "invalid value \"yes\" for flag -snappy: parse error"
        );
    }

    #[test]
    fn bool_flag_does_not_consume_next_argument() {
        // Go: "false" is the first non-flag argument, so it and everything after are ignored.
        let (f, ignored) = flags(&["--snappy", "false", "--tcp-address=x:1"]).expect("ok");
        assert_eq!(f.snappy, Some(true));
        assert_eq!(f.tcp_address, None);
        assert_eq!(ignored, strings(&["false", "--tcp-address=x:1"]));
    }

    #[test]
    fn parsing_stops_at_terminator_and_non_flags() {
        let (f, ignored) = flags(&["--node-id=5", "--", "--node-id=6"]).expect("ok");
        assert_eq!(f.node_id, Some(5));
        assert_eq!(ignored, strings(&["--node-id=6"]));
        let (_, ignored) = flags(&["-", "x"]).expect("ok");
        assert_eq!(ignored, strings(&["-", "x"]));
    }

    #[test]
    fn tls_required_flag() {
        let cases: [(&[&str], TlsRequired); 4] = [
            (&["--tls-required"], TlsRequired::Yes),
            (&["--tls-required=false"], TlsRequired::No),
            (&["-tls-required=tcp-https"], TlsRequired::TcpHttps),
            (&["--tls-required=TRUE"], TlsRequired::Yes),
        ];
        for (args, want) in cases {
            let (f, _) = flags(args).expect("parses");
            assert_eq!(f.tls_required, Some(want), "{args:?}");
        }
        assert!(flags(&["--tls-required=maybe"]).is_err());
    }

    #[test]
    fn repeatable_flags_accumulate() {
        let (f, _) = flags(&[
            "--lookupd-tcp-address=a:4160",
            "-lookupd-tcp-address",
            "b:4160",
            "--auth-http-address=http://auth/x,y",
            "--enable-experiment=topology-aware-consumption",
            "--e2e-processing-latency-percentile=0.5,0.99",
            "--e2e-processing-latency-percentile",
            "1.0",
        ])
        .expect("parses");
        assert_eq!(f.lookupd_tcp_address, strings(&["a:4160", "b:4160"]));
        // Go's StringArray does not split on commas.
        assert_eq!(f.auth_http_address, strings(&["http://auth/x,y"]));
        assert_eq!(
            f.enable_experiment,
            strings(&["topology-aware-consumption"])
        );
        assert_eq!(f.e2e_processing_latency_percentile, vec![0.5, 0.99, 1.0]);
    }

    #[test]
    fn numbers_and_durations() {
        let (f, _) = flags(&[
            "--node-id=0x10",
            "--mem-queue-size=-1",
            "--msg-timeout=1m30s",
            "--broadcast-tcp-port=4150",
        ])
        .expect("parses");
        assert_eq!(f.node_id, Some(16));
        assert_eq!(f.mem_queue_size, Some(-1));
        assert_eq!(f.msg_timeout, Some(Duration::from_secs(90)));
        assert_eq!(f.broadcast_tcp_port, Some(4150));

        let err = flags(&["--mem-queue-size=lots"]).expect_err("bad int");
        assert_eq!(
            err.to_string(),
            "invalid value \"lots\" for flag -mem-queue-size: parse error"
        );
        let err = flags(&["--broadcast-tcp-port=70000"]).expect_err("too big");
        assert_eq!(
            err.to_string(),
            "invalid value \"70000\" for flag -broadcast-tcp-port: value out of range"
        );
        let err = flags(&["--msg-timeout", "60"]).expect_err("no unit");
        assert_eq!(
            err.to_string(),
            "invalid value \"60\" for flag -msg-timeout: time: missing unit in duration \"60\""
        );
        assert!(flags(&["--e2e-processing-latency-percentile=0.5,"]).is_err());
    }

    #[test]
    fn tls_min_version_flag() {
        let (f, _) = flags(&["--tls-min-version=TLS1.3"]).expect("parses");
        assert_eq!(f.tls_min_version, Some(TlsVersion::Tls13));
        let (f, _) = flags(&["--tls-min-version="]).expect("empty keeps default");
        assert_eq!(f.tls_min_version, Some(TlsVersion::Tls10));
        assert!(flags(&["--tls-min-version=ssl3.0"]).is_err());
    }

    #[test]
    fn syntax_errors() {
        let err = flags(&["--bogus"]).expect_err("unknown");
        assert_eq!(err.to_string(), "flag provided but not defined: -bogus");
        let err = flags(&["-bogus=1"]).expect_err("unknown");
        assert_eq!(err.to_string(), "flag provided but not defined: -bogus");
        let err = flags(&["---tcp-address=x"]).expect_err("bad syntax");
        assert_eq!(err.to_string(), "bad flag syntax: ---tcp-address=x");
        let err = flags(&["-=x"]).expect_err("bad syntax");
        assert_eq!(err.to_string(), "bad flag syntax: -=x");
        let err = flags(&["--tcp-address"]).expect_err("missing value");
        assert_eq!(err.to_string(), "flag needs an argument: -tcp-address");
        // Flag names are case-sensitive, as in Go.
        assert!(flags(&["--TCP-ADDRESS=x"]).is_err());
    }

    #[test]
    fn help_and_deprecated_flags() {
        for arg in ["-h", "--help", "-help", "--help=1"] {
            assert!(matches!(
                parse("nsqd".to_string(), &strings(&[arg])),
                Ok(CommandLine::Help)
            ));
        }
        let (f, _) = flags(&["--verbose", "--worker-id"]).expect("accepted");
        assert_eq!((f.verbose, f.worker_id), (Some(true), Some(true)));
    }

    #[test]
    fn usage_looks_like_go() {
        let text = usage();
        assert!(text.starts_with("Usage of nsqd:\n  -auth-http-address value\n"));
        assert!(text.contains("\n  -msg-timeout duration\n    \tdefault duration"));
        assert!(text.contains("\n  -snappy\n    \tenable snappy"));
        assert!(text.contains("\n  -tls-required\n"));
        assert!(!text.contains("\x1b["));
    }
}
