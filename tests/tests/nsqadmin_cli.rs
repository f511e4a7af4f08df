//! nsqadmin's command line, ours against Go nsqadmin v1.3.0: `--version`, `-h` usage
//! (same text, same exit status), rejected flags and values (Go's flag texts and exit
//! status 2), and startup errors (exit status 1 with a `FATAL: failed to instantiate
//! nsqadmin - ...` line): no mode, both modes, TLS cert/key pairing, an unreadable CA
//! file, a bad CIDR, an unresolvable address, a bad graphite URL when proxying. Log
//! lines are compared without their `[nsqadmin] <date> <time> ` prefix; for errors that
//! end in a library's own text (`... - <Go's net/url or DNS error>`) only the part
//! before that detail is compared.

use std::process::{Command, Output};

use nsq_tests::daemon::is_go_build;
use nsq_tests::nsqadmin::{go_nsqadmin_bin, nsqadmin_bin};

fn run(bin: &std::path::Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()))
}

/// Both binaries with `args`: (ours, Go's).
fn both(args: &[&str]) -> (Output, Output) {
    (run(&nsqadmin_bin(), args), run(&go_nsqadmin_bin(), args))
}

/// A log line without its `[nsqadmin] YYYY/MM/DD HH:MM:SS.micro ` prefix.
fn strip_log_prefix(line: &str) -> &str {
    match line.strip_prefix("[nsqadmin] ") {
        Some(rest) => rest.splitn(3, ' ').nth(2).unwrap_or(rest),
        None => line,
    }
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| strip_log_prefix(l).to_string())
        .collect()
}

#[test]
fn version_prints_one_line() {
    let (ours, _) = both(&["--version"]);
    assert!(ours.status.success(), "{ours:?}");
    let text = String::from_utf8(ours.stdout).expect("utf-8");
    let line = text.strip_suffix('\n').expect("newline-terminated");
    assert!(!line.contains('\n'), "{text:?}");
    let toolchain = line
        .strip_prefix("nsqadmin v1.3.0 (built w/")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected version line {line:?}"));
    assert!(!toolchain.is_empty(), "{line:?}");
}

/// Ours has one flag Go's lacks, `-history-interval` (the history charts); with its two
/// usage lines taken out, the usage is Go's byte for byte.
const OUR_EXTRA_USAGE: &str = "  -history-interval duration\n    \thow often to sample every \
     nsqd's /stats for the history charts (not in Go nsqadmin) (default 5s)\n";

#[test]
fn help_is_gos_usage() {
    let (ours, go) = both(&["-h"]);
    assert_eq!(ours.status.code(), go.status.code(), "{ours:?}");
    let ours_text = String::from_utf8_lossy(&ours.stderr).into_owned();
    assert!(ours_text.contains(OUR_EXTRA_USAGE) || is_go_build(&nsqadmin_bin()));
    assert_eq!(
        ours_text.replace(OUR_EXTRA_USAGE, ""),
        String::from_utf8_lossy(&go.stderr)
    );
    assert_eq!(ours.stdout, go.stdout);
    assert!(ours_text.starts_with("Usage of nsqadmin:\n"));
}

#[test]
fn bad_flags_are_refused_as_go_does() {
    for args in [
        &["--bogus"][..],
        &["--http-address"],
        &["--statsd-interval=zz"],
        &["--http-client-request-timeout", "soon"],
        &["--log-level=loud"],
        &["--proxy-graphite=maybe"],
    ] {
        let (ours, go) = both(args);
        assert_eq!(ours.status.code(), go.status.code(), "{args:?}: {ours:?}");
        assert_eq!(go.status.code(), Some(2), "{args:?}");
        let (o, g) = (stderr_lines(&ours), stderr_lines(&go));
        assert_eq!(o.first(), g.first(), "{args:?}");
        assert!(
            o.iter().any(|l| l == "Usage of nsqadmin:"),
            "{args:?}: {o:?}"
        );
    }
}

#[test]
fn startup_errors_match_go() {
    let lookupd = "--lookupd-http-address=127.0.0.1:4161";
    let exact: [&[&str]; 5] = [
        &[],
        &["--http-address=127.0.0.1:0"],
        &[lookupd, "--nsqd-http-address=127.0.0.1:4151"],
        &[lookupd, "--http-client-tls-cert=/x.pem"],
        &[lookupd, "--http-client-tls-key=/x.key"],
    ];
    for args in exact {
        let (ours, go) = both(args);
        assert_eq!(ours.status.code(), Some(1), "{args:?}: {ours:?}");
        assert_eq!(go.status.code(), Some(1), "{args:?}: {go:?}");
        let (o, g) = (stderr_lines(&ours), stderr_lines(&go));
        let fatal = |lines: &[String]| {
            lines
                .iter()
                .find(|l| l.starts_with("FATAL: "))
                .cloned()
                .unwrap_or_else(|| panic!("{args:?}: no FATAL line in {lines:?}"))
        };
        assert_eq!(fatal(&o), fatal(&g), "{args:?}");
    }
    let (ours, _) = both(&[]);
    assert!(
        stderr_lines(&ours).contains(
            &"FATAL: failed to instantiate nsqadmin - --nsqd-http-address or \
              --lookupd-http-address required"
                .to_string()
        ),
        "{ours:?}"
    );
    // Errors ending in a library's own text: compared up to that detail.
    let up_to_detail: [&[&str]; 4] = [
        &[lookupd, "--allow-config-from-cidr=zz"],
        &["--lookupd-http-address=no.such.host.invalid:1"],
        &[
            lookupd,
            "--http-client-tls-root-ca-file=/nonexistent/ca.pem",
        ],
        &[lookupd, "--proxy-graphite", "--graphite-url=::"],
    ];
    for args in up_to_detail {
        let (ours, go) = both(args);
        assert_eq!(ours.status.code(), Some(1), "{args:?}: {ours:?}");
        assert_eq!(go.status.code(), Some(1), "{args:?}: {go:?}");
        let head = |out: &Output| {
            let lines = stderr_lines(out);
            let fatal = lines
                .iter()
                .find(|l| l.starts_with("FATAL: "))
                .cloned()
                .unwrap_or_else(|| panic!("{args:?}: no FATAL line in {lines:?}"));
            // "FATAL: failed to instantiate nsqadmin - <what> - <detail>"
            let parts: Vec<&str> = fatal.splitn(3, " - ").collect();
            parts[..parts.len().min(2)].join(" - ")
        };
        assert_eq!(head(&ours), head(&go), "{args:?}");
    }
}
