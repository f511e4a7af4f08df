//! Flag > file > default, the config file's keys and types, and the startup checks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::super::*;

/// A TOML file in the temp dir, removed on drop.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(text: &str) -> TempConfig {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("nsqd-config-test-{}-{n}.toml", std::process::id()));
        std::fs::write(&path, text).expect("write temp config");
        TempConfig(path)
    }

    fn flag(&self) -> String {
        format!("--config={}", self.0.display())
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn parse(args: &[&str]) -> Result<Config, ConfigError> {
    let argv = std::iter::once("nsqd").chain(args.iter().copied());
    match parse_args(argv.map(String::from))? {
        Parsed::Run(config) => Ok(*config),
        other => panic!("{args:?}: expected a config, got {other:?}"),
    }
}

fn run(args: &[&str]) -> Config {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn run_with_file(text: &str, args: &[&str]) -> Result<Config, ConfigError> {
    let file = TempConfig::new(text);
    let flag = file.flag();
    let mut all = vec![flag.as_str()];
    all.extend_from_slice(args);
    parse(&all)
}

fn error(args: &[&str]) -> String {
    parse(args).expect_err("should fail").to_string()
}

#[test]
fn each_syntax_form_reaches_the_config() {
    for args in [
        &["-msg-timeout", "2m30s"][..],
        &["-msg-timeout=2m30s"],
        &["--msg-timeout", "2m30s"],
        &["--msg-timeout=2m30s"],
    ] {
        assert_eq!(run(args).msg_timeout, Duration::from_secs(150), "{args:?}");
    }
}

#[test]
fn flags_of_every_kind() {
    let c = run(&[
        "--log-level=DEBUG",
        "--node-id=1023",
        "--broadcast-address=me.example",
        "--broadcast-tcp-port=14150",
        "--lookupd-tcp-address=a:4160",
        "--lookupd-tcp-address=b:4160",
        "--auth-http-address=auth:4181",
        "--auth-http-request-method=post",
        "--mem-queue-size=-1",
        "--max-msg-size=0x100",
        "--sync-timeout=1.5s",
        "--max-channel-consumers=3",
        "--statsd-mem-stats=false",
        "--statsd-exclude-ephemeral",
        "--e2e-processing-latency-percentile=0.5,1.0",
        "--e2e-processing-latency-percentile=0.99",
        "--tls-min-version=tls1.2",
        "--deflate=0",
        "--max-deflate-level=9",
        "--snappy=f",
        "--enable-experiment=topology-aware-consumption",
        "--verbose",
        "--worker-id",
    ]);
    assert_eq!(c.log_level, LogLevel::Debug);
    assert_eq!(c.node_id, 1023);
    assert_eq!(c.broadcast_address, "me.example");
    assert_eq!(c.broadcast_tcp_port, 14150);
    assert_eq!(c.nsqlookupd_tcp_addresses, ["a:4160", "b:4160"]);
    assert_eq!(c.auth_http_addresses, ["auth:4181"]);
    assert_eq!(c.auth_http_request_method, AuthRequestMethod::Post);
    assert_eq!(
        c.mem_queue_size, -1,
        "Go accepts it (and keeps no memory queue)"
    );
    assert_eq!(c.max_msg_size, 256);
    assert_eq!(c.sync_timeout, Duration::from_millis(1500));
    assert_eq!(c.max_channel_consumers, 3);
    assert!(!c.statsd_mem_stats && c.statsd_exclude_ephemeral);
    assert_eq!(c.e2e_processing_latency_percentiles, [1.0, 0.99, 0.5]);
    assert_eq!(c.tls_min_version, TlsVersion::Tls12);
    assert!(!c.deflate && !c.snappy);
    assert_eq!(c.max_deflate_level, 9);
    assert!(c.topology_aware_consumption());
}

#[test]
fn arguments_after_the_flags_are_ignored_like_go() {
    let c = run(&["--snappy", "false", "--tcp-address=x:1"]);
    assert!(c.snappy);
    assert_eq!(c.tcp_address, "0.0.0.0:4150");
    assert_eq!(c.ignored_args, ["false", "--tcp-address=x:1"]);
}

#[test]
fn flag_beats_file_beats_default() {
    let text = "mem_queue_size = 5\nmax_rdy_count = 7\nmsg_timeout = \"30s\"";
    let c = run_with_file(text, &["--mem-queue-size=20"]).expect("valid");
    assert_eq!(c.mem_queue_size, 20, "flag beats file");
    assert_eq!(c.max_rdy_count, 7, "file beats default");
    assert_eq!(c.msg_timeout, Duration::from_secs(30));
    assert_eq!(c.max_body_size, 5_242_880, "default");
    // A flag given with the default value still beats the file.
    let c = run_with_file(text, &["--mem-queue-size=10000", "--msg-timeout=1m0s"]).expect("valid");
    assert_eq!(c.mem_queue_size, 10000);
    assert_eq!(c.msg_timeout, Duration::from_secs(60));
    // Flag order relative to --config does not matter.
    let file = TempConfig::new(text);
    let flag = file.flag();
    let c = run(&["--mem-queue-size=10000", &flag]);
    assert_eq!((c.mem_queue_size, c.max_rdy_count), (10000, 7));
}

#[test]
fn repeatable_flag_replaces_the_file_list() {
    let text = "nsqlookupd_tcp_addresses = [\"f1:4160\", \"f2:4160\"]\n\
                e2e_processing_latency_percentiles = [0.5, 1.0]";
    let c = run_with_file(text, &[]).expect("valid");
    assert_eq!(c.nsqlookupd_tcp_addresses, ["f1:4160", "f2:4160"]);
    assert_eq!(
        c.e2e_processing_latency_percentiles,
        [0.5, 1.0],
        "file order kept"
    );
    let c = run_with_file(
        text,
        &[
            "--lookupd-tcp-address=c:4160",
            "--e2e-processing-latency-percentile=0.9",
        ],
    )
    .expect("valid");
    assert_eq!(c.nsqlookupd_tcp_addresses, ["c:4160"]);
    assert_eq!(c.e2e_processing_latency_percentiles, [0.9]);
}

#[test]
fn special_and_plain_file_keys() {
    let text = r#"
        id = 42
        nsqlookupd_tcp_addresses = "a:4160, b:4160"
        auth_http_addresses = ["http://auth:4181/auth"]
        e2e_processing_latency_percentiles = "1.0, 0.99, 0.95"
        enable_experiment = ["topology-aware-consumption"]
        log_level = "warn"
        log_prefix = "[x] "
        tls_min_version = "TLS1.1"
        tls_required = false
        http_address = ""
        broadcast_http_port = "4999"
        sync_every = 10
        sync_timeout = 250
        statsd_mem_stats = "false"
        deflate = false
        topology_zone = "z1"
        data_path = "/var/lib/nsq"
        unknown_key = { nested = true }
        node_id = "ignored: not a config key"
        lookupd_tcp_address = "ignored too"
    "#;
    let c = run_with_file(text, &[]).expect("valid");
    assert_eq!(c.node_id, 42);
    assert_eq!(c.nsqlookupd_tcp_addresses, ["a:4160", "b:4160"]);
    assert_eq!(c.auth_http_addresses, ["http://auth:4181/auth"]);
    assert_eq!(c.e2e_processing_latency_percentiles, [1.0, 0.99, 0.95]);
    assert!(c.topology_aware_consumption());
    assert_eq!(c.log_level, LogLevel::Warn);
    assert_eq!(c.log_prefix, "[x] ");
    assert_eq!(c.tls_min_version, TlsVersion::Tls11);
    assert_eq!(c.tls_required, TlsRequired::No);
    assert_eq!(c.http_address, "");
    assert_eq!(c.broadcast_http_port, 4999);
    assert_eq!(c.sync_every, 10);
    assert_eq!(
        c.sync_timeout,
        Duration::from_millis(250),
        "bare integer = ms"
    );
    assert!(!c.statsd_mem_stats && !c.deflate);
    assert_eq!(c.topology_zone, "z1");
    assert_eq!(c.data_path, "/var/lib/nsq");
}

#[test]
fn contrib_example_file() {
    let text = r#"
        log_level = "info"
        tcp_address = "0.0.0.0:4150"
        http_address = "0.0.0.0:4151"
        nsqlookupd_tcp_addresses = ["127.0.0.1:4160"]
        mem_queue_size = 10000
        sync_timeout = "2s"
        msg_timeout = "60s"
        e2e_processing_latency_percentiles = [1.0, 0.99, 0.95]
        tls_required = false
    "#;
    let c = run_with_file(text, &[]).expect("valid");
    assert_eq!(c.nsqlookupd_tcp_addresses, ["127.0.0.1:4160"]);
    assert_eq!(
        c.get_option_json("msg_timeout"),
        Some(serde_json::json!(60_000_000_000u64))
    );
    assert_eq!(
        c.get_option_json("e2e_processing_latency_percentiles")
            .map(|v| v.to_string()),
        Some("[1,0.99,0.95]".to_string())
    );
}

#[test]
fn file_tls_and_log_keys_are_checked_even_under_a_flag() {
    for (text, message) in [
        (
            "tls_required = \"sometimes\"",
            "failed parsing tls_required sometimes",
        ),
        (
            "tls_min_version = \"ssl3.0\"",
            "failed parsing tls_min_version ssl3.0",
        ),
        ("log_level = \"loud\"", "failed parsing log_level loud"),
    ] {
        let flags = [
            "--tls-required=false",
            "--tls-min-version=tls1.2",
            "--log-level=info",
        ];
        let err = run_with_file(text, &flags).expect_err(text);
        assert_eq!(err.to_string(), message);
    }
    let c = run_with_file(
        "tls_required = \"tcp-https\"\ntls_cert = \"c\"\ntls_key = \"k\"",
        &[],
    )
    .expect("valid");
    assert_eq!(c.tls_required, TlsRequired::TcpHttps);
    let c = run_with_file("tls_min_version = \"\"", &[]).expect("empty keeps default");
    assert_eq!(c.tls_min_version, TlsVersion::Tls10);
    let c = run_with_file("log_level = \"ERROR\"", &["--log-level=debug"]).expect("valid");
    assert_eq!(c.log_level, LogLevel::Debug);
}

#[test]
fn other_bad_file_values_only_matter_when_used() {
    let err = run_with_file("mem_queue_size = \"lots\"", &[]).expect_err("bad");
    assert_eq!(
        err.to_string(),
        "failed to coerce value lots for mem_queue_size - parse error"
    );
    assert!(run_with_file("mem_queue_size = \"lots\"", &["--mem-queue-size=1"]).is_ok());
    let err = run_with_file("msg_timeout = \"60\"", &[]).expect_err("bad");
    assert_eq!(
        err.to_string(),
        "failed to coerce value 60 for msg_timeout - time: missing unit in duration \"60\""
    );
    assert!(run_with_file("broadcast_tcp_port = 70000", &[]).is_err());
    assert!(run_with_file("id = \"x\"", &[]).is_err());
    assert!(run_with_file("nsqlookupd_tcp_addresses = [1, 2]", &[]).is_err());
}

#[test]
fn coercion_errors_come_before_range_checks() {
    let err = run_with_file("max_deflate_level = 0\nmsg_timeout = \"soon\"", &[])
        .expect_err("two errors");
    assert!(
        matches!(
            err,
            ConfigError::Options(options::Error::ConfigValue {
                key: "msg_timeout",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn unreadable_or_unparsable_file_is_an_error() {
    let err = error(&["--config=/nonexistent/nsqd.toml"]);
    assert!(
        err.starts_with("failed to load config file /nonexistent/nsqd.toml - "),
        "{err}"
    );
    let err = run_with_file("this is = = not toml", &[]).expect_err("bad toml");
    assert!(
        matches!(
            err,
            ConfigError::Options(options::Error::ParseConfigFile { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("failed to load config file "));
    // An empty --config means no file.
    assert_eq!(run(&["--config="]), run(&[]));
}

#[test]
fn startup_validation_errors() {
    let cases: [(&[&str], &str); 11] = [
        (
            &["--max-deflate-level=0"],
            "--max-deflate-level must be [1,9]",
        ),
        (
            &["--max-deflate-level=10"],
            "--max-deflate-level must be [1,9]",
        ),
        (&["--node-id=1024"], "--node-id must be [0,1024)"),
        (&["--node-id=-1"], "--node-id must be [0,1024)"),
        (
            &["--auth-http-request-method=GET"],
            "--auth-http-request-method must be post or get",
        ),
        (
            &["--auth-http-request-method=put"],
            "--auth-http-request-method must be post or get",
        ),
        (
            &["--e2e-processing-latency-percentile=0"],
            "invalid E2E processing latency percentile: 0",
        ),
        (
            &["--e2e-processing-latency-percentile=1.01"],
            "invalid E2E processing latency percentile: 1.01",
        ),
        (
            &["--tls-required"],
            "cannot require TLS client connections without TLS key and cert",
        ),
        (
            &["--tls-required=tcp-https"],
            "cannot require TLS client connections without TLS key and cert",
        ),
        (
            &["--tls-client-auth-policy=require"],
            "cannot require TLS client connections without TLS key and cert",
        ),
    ];
    for (args, message) in cases {
        assert_eq!(error(args), message, "{args:?}");
    }
    let file_cases = [
        ("max_deflate_level = 0", "--max-deflate-level must be [1,9]"),
        ("id = 5000", "--node-id must be [0,1024)"),
        (
            "auth_http_request_method = \"head\"",
            "--auth-http-request-method must be post or get",
        ),
        (
            "e2e_processing_latency_percentiles = [0.5, -1]",
            "invalid E2E processing latency percentile: -1",
        ),
        (
            "tls_required = true",
            "cannot require TLS client connections without TLS key and cert",
        ),
    ];
    for (text, message) in file_cases {
        let err = run_with_file(text, &[]).expect_err(text);
        assert_eq!(err.to_string(), message, "{text}");
    }
    assert_eq!(
        error(&["--sync-timeout=0"]),
        "--sync-timeout must be greater than 0 (got 0ns)"
    );
}

#[test]
fn tls_client_auth_policy_implies_tls_required() {
    let tls = [
        "--tls-cert=/c.pem",
        "--tls-key=/k.pem",
        "--tls-client-auth-policy=require",
    ];
    assert_eq!(run(&tls).tls_required, TlsRequired::Yes);
    let mut args = tls.to_vec();
    args.push("--tls-required=tcp-https");
    assert_eq!(run(&args).tls_required, TlsRequired::TcpHttps);
    let c = run(&["--tls-cert=/c.pem", "--tls-key=/k.pem"]);
    assert_eq!(c.tls_required, TlsRequired::No);
    assert!(c.tls_configured());
}

#[test]
fn flag_errors_surface() {
    assert_eq!(error(&["--bogus"]), "flag provided but not defined: -bogus");
    assert_eq!(
        error(&["--msg-timeout"]),
        "flag needs an argument: -msg-timeout"
    );
    assert_eq!(
        error(&["--msg-timeout=-1s"]),
        "invalid value \"-1s\" for flag -msg-timeout: negative duration \"-1s\" not allowed"
    );
    assert_eq!(
        error(&["--log-level=loud"]),
        "invalid value \"loud\" for flag -log-level: invalid log level 'loud' (debug, info, warn, error, fatal)"
    );
}
