//! nsqd's command line in Go flag syntax (the generic syntax is the `options` crate's and
//! tested there), the usage text, and the config keys read as text.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::super::*;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
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

fn error(args: &[&str]) -> String {
    parse(args).expect_err("should fail").to_string()
}

/// `args` with a TOML file of `text` in front (removed afterwards).
fn run_with_file(text: &str, args: &[&str]) -> Result<Config, ConfigError> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("nsqd-flags-test-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write temp config");
    let flag = format!("--config={}", path.display());
    let mut all = vec![flag.as_str()];
    all.extend_from_slice(args);
    let result = parse(&all);
    let _ = std::fs::remove_file(&path);
    result
}

#[test]
fn table_is_consistent() {
    assert_eq!(options::check(OPTIONS), Ok(()));
}

#[test]
fn four_syntax_forms() {
    for args in [
        &["-tcp-address", "1.2.3.4:5"][..],
        &["-tcp-address=1.2.3.4:5"],
        &["--tcp-address", "1.2.3.4:5"],
        &["--tcp-address=1.2.3.4:5"],
    ] {
        let c = run(args);
        assert_eq!(c.tcp_address, "1.2.3.4:5", "{args:?}");
        assert!(c.ignored_args.is_empty());
    }
}

#[test]
fn values_may_look_like_flags_or_be_empty() {
    let c = run(&["--log-prefix", "-x-", "--http-address="]);
    assert_eq!(c.log_prefix, "-x-");
    assert_eq!(c.http_address, "");
    let c = run(&["--http-address", "", "--statsd-prefix=a=b"]);
    assert_eq!(c.http_address, "");
    assert_eq!(c.statsd_prefix, "a=b");
}

#[test]
fn bool_flags() {
    let c = run(&["--snappy", "-deflate=false", "--statsd-mem-stats=0"]);
    assert_eq!(
        (c.snappy, c.deflate, c.statsd_mem_stats),
        (true, false, false)
    );
    let c = run(&["--snappy=F", "--snappy=T"]);
    assert!(c.snappy, "last one wins");
    assert_eq!(
        error(&["--snappy=yes"]),
        "invalid boolean value \"yes\" for -snappy: parse error"
    );
}

#[test]
fn bool_flag_does_not_consume_next_argument() {
    // Go: "false" is the first non-flag argument, so it and everything after are ignored.
    let c = run(&["--snappy=false", "--snappy", "false", "--tcp-address=x:1"]);
    assert!(c.snappy);
    assert_eq!(c.tcp_address, "0.0.0.0:4150");
    assert_eq!(c.ignored_args, strings(&["false", "--tcp-address=x:1"]));
}

#[test]
fn parsing_stops_at_terminator_and_non_flags() {
    let c = run(&["--node-id=5", "--", "--node-id=6"]);
    assert_eq!(c.node_id, 5);
    assert_eq!(c.ignored_args, strings(&["--node-id=6"]));
    let c = run(&["-", "x"]);
    assert_eq!(c.ignored_args, strings(&["-", "x"]));
}

#[test]
fn tls_required_flag() {
    let tls = ["--tls-cert=/c.pem", "--tls-key=/k.pem"];
    let cases: [(&str, TlsRequired); 4] = [
        ("--tls-required", TlsRequired::Yes),
        ("--tls-required=false", TlsRequired::No),
        ("-tls-required=tcp-https", TlsRequired::TcpHttps),
        ("--tls-required=TRUE", TlsRequired::Yes),
    ];
    for (arg, want) in cases {
        let c = run(&[tls[0], tls[1], arg]);
        assert_eq!(c.tls_required, want, "{arg}");
    }
    // Go's tlsRequiredOption is a bool flag whose Set reports strconv.ParseBool's error.
    assert_eq!(
        error(&["--tls-required=Maybe"]),
        "invalid boolean value \"Maybe\" for -tls-required: \
         strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
}

#[test]
fn repeatable_flags_accumulate() {
    let c = run(&[
        "--lookupd-tcp-address=a:4160",
        "-lookupd-tcp-address",
        "b:4160",
        "--auth-http-address=http://auth/x,y",
        "--enable-experiment=topology-aware-consumption",
        "--e2e-processing-latency-percentile=0.5,0.99",
        "--e2e-processing-latency-percentile",
        "1.0",
    ]);
    assert_eq!(c.nsqlookupd_tcp_addresses, strings(&["a:4160", "b:4160"]));
    // Go's StringArray does not split on commas.
    assert_eq!(c.auth_http_addresses, strings(&["http://auth/x,y"]));
    assert_eq!(
        c.enable_experiment,
        strings(&["topology-aware-consumption"])
    );
    assert_eq!(c.e2e_processing_latency_percentiles, vec![1.0, 0.99, 0.5]);
}

#[test]
fn numbers_and_durations() {
    let c = run(&[
        "--node-id=0x10",
        "--mem-queue-size=-1",
        "--msg-timeout=1m30s",
        "--broadcast-tcp-port=4150",
    ]);
    assert_eq!(c.node_id, 16);
    assert_eq!(c.mem_queue_size, -1);
    assert_eq!(c.msg_timeout, Duration::from_secs(90));
    assert_eq!(c.broadcast_tcp_port, 4150);

    assert_eq!(
        error(&["--mem-queue-size=lots"]),
        "invalid value \"lots\" for flag -mem-queue-size: parse error"
    );
    assert_eq!(
        error(&["--broadcast-tcp-port=70000"]),
        "invalid value \"70000\" for flag -broadcast-tcp-port: value out of range"
    );
    // Go's flag package reports every duration syntax error as "parse error".
    assert_eq!(
        error(&["--msg-timeout", "60"]),
        "invalid value \"60\" for flag -msg-timeout: parse error"
    );
    assert_eq!(
        error(&["--e2e-processing-latency-percentile=0.5,"]),
        "invalid value \"0.5,\" for flag -e2e-processing-latency-percentile: parse error"
    );
    assert_eq!(
        error(&["--node-id=0x10000000000000000"]),
        "invalid value \"0x10000000000000000\" for flag -node-id: value out of range"
    );
}

#[test]
fn tls_min_version_flag() {
    let c = run(&["--tls-min-version=TLS1.3"]);
    assert_eq!(c.tls_min_version, TlsVersion::Tls13);
    let c = run(&["--tls-min-version="]);
    assert_eq!(c.tls_min_version, TlsVersion::Tls10, "empty keeps default");
    assert_eq!(
        error(&["--tls-min-version=SSL3.0"]),
        "invalid value \"SSL3.0\" for flag -tls-min-version: unknown tlsVersionOption \"ssl3.0\""
    );
    // The empty flag still counts as given, so it beats the file.
    let c = run_with_file("tls_min_version = \"tls1.2\"", &["--tls-min-version="]).expect("ok");
    assert_eq!(c.tls_min_version, TlsVersion::Tls10);
}

#[test]
fn syntax_errors() {
    assert_eq!(error(&["--bogus"]), "flag provided but not defined: -bogus");
    assert_eq!(
        error(&["-bogus=1"]),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        error(&["---tcp-address=x"]),
        "bad flag syntax: ---tcp-address=x"
    );
    assert_eq!(error(&["-=x"]), "bad flag syntax: -=x");
    assert_eq!(
        error(&["--tcp-address"]),
        "flag needs an argument: -tcp-address"
    );
    // Flag names are case-sensitive, as in Go.
    assert!(parse(&["--TCP-ADDRESS=x"]).is_err());
}

#[test]
fn help_and_deprecated_flags() {
    for arg in ["-h", "--help", "-help", "--help=1"] {
        let argv = ["nsqd".to_string(), arg.to_string()];
        assert!(matches!(parse_args(argv), Ok(Parsed::Help(_))), "{arg}");
    }
    assert_eq!(run(&["--verbose", "--worker-id"]), run(&[]));
    assert_eq!(
        error(&["--verbose=yes"]),
        "invalid boolean value \"yes\" for -verbose: parse error"
    );
}

#[test]
fn usage_looks_like_go() {
    let text = usage();
    assert!(text.starts_with("Usage of nsqd:\n  -auth-http-address value\n"));
    assert!(text.contains("\n  -msg-timeout duration\n    \tdefault duration"));
    assert!(text.contains("\n  -snappy\n    \tenable snappy"));
    assert!(text.contains("\n  -tls-required\n"));
    assert!(!text.contains("\x1b["));
    for line in [
        "\n  -log-level value\n    \tset log verbosity: debug, info, warn, error, or fatal (default INFO)\n",
        "\n  -log-prefix string\n    \tlog message prefix (default \"[nsqd] \")\n",
        "\n  -node-id int\n    \tunique part for message IDs, (int) in range [0,1024) (default is hash of hostname)\n",
        "\n  -broadcast-address string\n    \taddress that will be registered with lookupd (defaults to the OS hostname)\n",
        "\n  -auth-http-request-method string\n    \tHTTP method to use for auth server requests (default \"get\")\n",
        "\n  -tls-min-version value\n    \tminimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3') (default 769)\n",
        "\n  -max-channel-consumers int\n    \tmaximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)\n",
        "\n  -statsd-mem-stats\n    \ttoggle sending memory and GC stats to statsd (default true)\n",
        "\n  -max-req-timeout duration\n    \tmaximum requeuing timeout for a message (default 1h0m0s)\n",
        "\n  -worker-id\n    \t[deprecated] use --node-id\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    assert!(text.ends_with("  -worker-id\n    \t[deprecated] use --node-id\n"));
}

#[test]
fn file_keys_read_as_text() {
    let c = run_with_file(
        "tls_required = \"tcp-https\"\ntls_min_version = \"TLS1.2\"\nlog_level = \"WARN\"\n\
         tls_cert = \"c\"\ntls_key = \"k\"",
        &[],
    )
    .expect("valid");
    assert_eq!(c.tls_required, TlsRequired::TcpHttps);
    assert_eq!(c.tls_min_version, TlsVersion::Tls12);
    assert_eq!(c.log_level, LogLevel::Warn);
    let c = run_with_file("tls_required = true\ntls_cert = \"c\"", &[]).expect("valid");
    assert_eq!(c.tls_required, TlsRequired::Yes);
    let c = run_with_file("tls_required = 0", &[]).expect("valid");
    assert_eq!(c.tls_required, TlsRequired::No);
    let c = run_with_file("tls_min_version = \"\"", &[]).expect("valid");
    assert_eq!(c.tls_min_version, TlsVersion::Tls10);

    for (text, message) in [
        (
            "tls_required = \"maybe\"",
            "failed parsing tls_required maybe",
        ),
        (
            "tls_required = [true]",
            "failed parsing tls_required [true]",
        ),
        (
            "tls_min_version = \"ssl3.0\"",
            "failed parsing tls_min_version ssl3.0",
        ),
        (
            "tls_min_version = 769",
            "failed parsing tls_min_version 769",
        ),
        ("log_level = \"loud\"", "failed parsing log_level loud"),
        ("log_level = 1", "failed parsing log_level 1"),
    ] {
        let err = run_with_file(text, &[]).expect_err(text);
        assert_eq!(err.to_string(), message);
    }
}
