//! nsqd's option table through `parse_args`: defaults, `--version`/`-h`, `/config` JSON and
//! the startup checks; `resolve.rs` covers flag > file > default, `flags.rs` the command line.

mod flags;
mod resolve;

use std::path::PathBuf;
use std::time::Duration;

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
        Err(ConfigError::Options(options::Error::UnknownFlag(_)))
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
    assert_eq!(option_keys().count(), 56);
    for key in option_keys() {
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
