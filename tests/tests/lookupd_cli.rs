//! nsqlookupd's command line as an operator meets it: `--version`,
//! `-h`, rejected flags and values (a message and a non-zero exit, never a panic), the
//! config file and flag-over-file priority, a port already in use, the log prefix, and
//! SIGTERM/SIGINT exiting 0. The binary is `$NSQLOOKUPD_BIN`.

use std::process::{Command, Output};

use nsq_tests::harness::TempDir;
use nsq_tests::lookupd::{self, identify_body, nsqlookupd_bin, LookupClient};

fn run(args: &[&str]) -> Output {
    Command::new(nsqlookupd_bin())
        .args(args)
        .output()
        .expect("run nsqlookupd")
}

/// The IDENTIFY reply's `broadcast_address` of a running nsqlookupd.
fn broadcast_address(d: &nsq_tests::daemon::Daemon) -> String {
    let mut c = LookupClient::connect(d.tcp_addr());
    let reply: serde_json::Value =
        serde_json::from_slice(&c.identify(&identify_body("n", 1, 2))).expect("JSON reply");
    reply["broadcast_address"]
        .as_str()
        .expect("string")
        .to_string()
}

#[test]
fn version_prints_one_line() {
    let out = run(&["--version"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let line = text.strip_suffix('\n').expect("newline-terminated");
    assert!(!line.contains('\n'), "{text:?}");
    let toolchain = line
        .strip_prefix("nsqlookupd v1.3.0 (built w/")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected version line {line:?}"));
    assert!(
        !toolchain.is_empty()
            && toolchain
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c)),
        "{line:?}"
    );
}

#[test]
fn help_exits_zero_with_usage() {
    let out = run(&["-h"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.starts_with("Usage of nsqlookupd:\n"), "{text}");
    for flag in [
        "-tcp-address string",
        "-tombstone-lifetime duration",
        "-version\n",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn bad_flags_are_refused() {
    for (args, message) in [
        (&["--bogus"][..], "flag provided but not defined: -bogus"),
        (&["--tcp-address"], "flag needs an argument: -tcp-address"),
        (
            &["--tombstone-lifetime=5"],
            "invalid value \"5\" for flag -tombstone-lifetime: parse error",
        ),
        (
            &["-inactive-producer-timeout", "soon"],
            "invalid value \"soon\" for flag -inactive-producer-timeout: parse error",
        ),
        (
            &["--log-level=loud"],
            "invalid value \"loud\" for flag -log-level: invalid log level 'loud'",
        ),
        (
            &["--verbose=maybe"],
            "invalid boolean value \"maybe\" for -verbose: parse error",
        ),
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} exited 0");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            stderr.contains("Usage of nsqlookupd:"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn go_flag_syntax_forms() {
    let d = lookupd::start(&["-broadcast-address", "single-dash", "--verbose"]);
    assert_eq!(broadcast_address(&d), "single-dash");
}

#[test]
fn config_file_with_flag_priority() {
    let dir = TempDir::new("lookupd-config");
    let path = dir.path().join("nsqlookupd.toml");
    std::fs::write(
        &path,
        "broadcast_address = \"from-file\"\ntombstone_lifetime = 60000\n\
         inactive_producer_timeout = \"10m\"\nlog_prefix = \"[from-file] \"\n\
         some_unknown_key = true\n",
    )
    .expect("write config");
    let config = format!("--config={}", path.display());
    let d = lookupd::start(&[&config]);
    assert_eq!(broadcast_address(&d), "from-file");
    assert!(d.output().contains("[from-file] "), "{}", d.output());
    drop(d);
    let d = lookupd::start(&[&config, "--broadcast-address=from-flag"]);
    assert_eq!(broadcast_address(&d), "from-flag");
}

#[test]
fn bad_config_files_are_refused() {
    let dir = TempDir::new("lookupd-bad-config");
    let missing = dir.path().join("missing.toml");
    let bad_level = dir.path().join("level.toml");
    std::fs::write(&bad_level, "log_level = \"loud\"\n").expect("write");
    let bad_toml = dir.path().join("syntax.toml");
    std::fs::write(&bad_toml, "tcp_address = [\n").expect("write");
    for (path, message) in [
        (&missing, "failed to load config file"),
        (&bad_level, "failed parsing log_level loud"),
        (&bad_toml, "failed to load config file"),
    ] {
        let out = run(&[&format!("--config={}", path.display())]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path:?} exited 0");
        assert!(stderr.contains(message), "{path:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn port_in_use_fails_startup() {
    let first = lookupd::start(&[]);
    for args in [
        [
            format!("--tcp-address={}", first.tcp_addr()),
            "--http-address=127.0.0.1:0".to_string(),
        ],
        [
            "--tcp-address=127.0.0.1:0".to_string(),
            format!("--http-address={}", first.http_addr()),
        ],
    ] {
        let out = run(&[&args[0], &args[1]]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} exited 0");
        assert!(stderr.contains("listen ("), "{stderr}");
        assert!(stderr.contains(") failed"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn startup_log_and_signals() {
    for signal in ["TERM", "INT"] {
        let mut d = lookupd::start(&["--log-prefix=[custom] "]);
        let log = d.output();
        assert!(log.contains("nsqlookupd v1.3.0 (built w/"), "{log}");
        assert!(
            log.lines()
                .filter(|l| l.contains("listening on"))
                .all(|l| l.starts_with("[custom] ")),
            "{log}"
        );
        // An identified nsqd connection does not hold up shutdown.
        let mut peer = LookupClient::connect(d.tcp_addr());
        peer.identify(&identify_body("n", 1, 2));
        peer.send(b"REGISTER t\n");
        peer.expect_ok();
        let status = d.signal_and_wait(signal);
        peer.expect_closed();
        assert_eq!(status.code(), Some(0), "exit after SIG{signal}");
    }
}
