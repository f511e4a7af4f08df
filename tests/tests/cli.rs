//! The command line as an operator meets it: `--version`, rejected
//! flags and values, Go-style `-flag` and `--flag value` forms, `--config` files and
//! flag-over-file priority, the data-path lock, and SIGINT. Each check runs against our
//! binary and, when present, the Go reference (`$GO_NSQD_BIN`, else
//! `tests/reference/bin/nsqd` from `make reference`; missing is a skip unless
//! `GO_NSQD_BIN` is set). The harness's `Nsqd` always adds its own `--*-address` flags,
//! so these tests run the process through the small `Process` below, which passes the
//! arguments verbatim.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, TempDir};
use nsq_tests::http;
use testkit::{Spec, HTTP_MARKER};

/// Failure bound for a process that should exit by itself (bad flags, `--version`).
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Failure bound for both listen lines and `/ping`; generous on a shared machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Failure bound for a graceful shutdown.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The binaries under test: ours always, the Go reference when available.
fn binaries() -> Vec<(Flavor, PathBuf)> {
    let mut bins = vec![(Flavor::Ours, nsqd_bin())];
    if std::env::var_os("GO_NSQD_BIN").is_some() {
        bins.push((Flavor::Go, go_nsqd_bin()));
    } else {
        let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/bin/nsqd");
        if local.is_file() {
            bins.push((Flavor::Go, local));
        } else {
            eprintln!(
                "Go reference nsqd not found at {} and GO_NSQD_BIN unset: \
                 checking ours only (`make reference` builds it)",
                local.display()
            );
        }
    }
    bins
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavor {
    Ours,
    Go,
}

/// A child process with its arguments verbatim, stdout and stderr captured separately
/// (the shared `testkit` harness); killed on drop, and its output printed if the test is
/// failing. Every error is a test failure here.
struct Process(testkit::Process);

impl Process {
    fn spawn<S: AsRef<str>>(bin: &Path, args: &[S]) -> Process {
        let spec = Spec::new(bin).args(args).startup_timeout(STARTUP_TIMEOUT);
        Process(spec.spawn().unwrap_or_else(|e| panic!("{e}")))
    }

    fn stdout(&self) -> String {
        self.0.stdout()
    }

    fn stderr(&self) -> String {
        self.0.stderr()
    }

    /// Waits for the process to exit on its own, then for its output to be fully read.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.0.wait_exit(timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits for both listen lines and `GET /ping` → 200; returns the HTTP address.
    fn await_ready(&mut self) -> SocketAddr {
        self.0.await_ready().unwrap_or_else(|e| panic!("{e}"));
        self.0
            .addr(HTTP_MARKER)
            .expect("waited for the HTTP marker")
    }

    /// Sends `signal` (a `kill` name such as `INT`) and waits for the exit status.
    fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        self.0
            .signal_and_wait(signal, SHUTDOWN_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// SIGTERM and require a clean exit.
    fn stop(&mut self) {
        let status = self.signal_and_wait("TERM");
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM",
            self.0.label()
        );
    }
}

/// The toolchain token if `line` matches `^nsqd v1\.3\.0 \(built w/[a-z0-9.-]+\)$`.
fn version_toolchain(line: &str) -> Option<&str> {
    let token = line
        .strip_prefix("nsqd v1.3.0 (built w/")?
        .strip_suffix(')')?;
    let well_formed = !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    well_formed.then_some(token)
}

/// `GET /config/<key>` as JSON.
fn config_value(addr: SocketAddr, key: &str) -> serde_json::Value {
    let response = http::get(addr, &format!("/config/{key}"));
    assert_eq!(
        response.status,
        200,
        "GET /config/{key}: {}",
        response.text()
    );
    response.json()
}

/// Runs `bin` with `args` (which must not start a daemon) and requires a non-zero exit
/// (exactly 1 for ours), `needle` in stderr, and no panic.
fn expect_rejected(flavor: Flavor, bin: &Path, args: &[String], needle: &str) {
    let mut process = Process::spawn(bin, args);
    let status = process.wait_exit(EXIT_TIMEOUT);
    let stderr = process.stderr();
    assert!(!status.success(), "{flavor:?} {args:?} exited 0");
    if flavor == Flavor::Ours {
        assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
    }
    assert!(
        stderr.contains(needle),
        "{flavor:?} {args:?}: stderr lacks {needle:?}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "{flavor:?} {args:?}: {stderr}"
    );
}

/// Listeners on 127.0.0.1 port 0 and `dir` as data path, in `--flag=value` form.
fn local_args(dir: &Path) -> Vec<String> {
    vec![
        "--tcp-address=127.0.0.1:0".to_string(),
        "--http-address=127.0.0.1:0".to_string(),
        format!("--data-path={}", dir.display()),
    ]
}

#[test]
fn version_prints_one_line_and_exits_zero() {
    for (flavor, bin) in binaries() {
        let mut process = Process::spawn(&bin, &["--version"]);
        let status = process.wait_exit(EXIT_TIMEOUT);
        let stdout = process.stdout();
        assert!(status.success(), "{flavor:?} --version exited {status}");
        let line = stdout.strip_suffix('\n').unwrap_or(&stdout);
        assert!(
            !line.contains('\n'),
            "{flavor:?} --version printed more than one line: {stdout:?}"
        );
        let toolchain = version_toolchain(line).unwrap_or_else(|| {
            panic!("{flavor:?} --version line {line:?} does not match the pattern")
        });
        if flavor == Flavor::Ours {
            // The build script recorded the compiler version (`rustc1.95.0`).
            let number = toolchain.strip_prefix("rustc").unwrap_or("");
            assert!(
                number.starts_with(|c: char| c.is_ascii_digit()),
                "toolchain {toolchain:?} lacks the rustc version (nsqd/build.rs)"
            );
        }
    }
}

#[test]
fn unknown_flag_is_rejected() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-unknown");
        let mut args = local_args(dir.path());
        args.push("--no-such-flag=1".to_string());
        expect_rejected(
            flavor,
            &bin,
            &args,
            "flag provided but not defined: -no-such-flag",
        );
    }
}

#[test]
fn bad_flag_values_are_rejected() {
    let cases = [
        (
            "--mem-queue-size=abc",
            r#"invalid value "abc" for flag -mem-queue-size"#,
        ),
        (
            "--max-deflate-level=10",
            "--max-deflate-level must be [1,9]",
        ),
        ("--node-id=5000", "--node-id must be [0,1024)"),
        (
            "--msg-timeout=xyz",
            r#"invalid value "xyz" for flag -msg-timeout"#,
        ),
    ];
    for (flavor, bin) in binaries() {
        for (flag, needle) in cases {
            let dir = TempDir::new("cli-bad-value");
            let mut args = local_args(dir.path());
            args.push(flag.to_string());
            expect_rejected(flavor, &bin, &args, needle);
        }
    }
}

#[test]
fn go_style_single_dash_flags_start_the_daemon() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-single-dash");
        let args = [
            "-tcp-address=127.0.0.1:0".to_string(),
            "-http-address=127.0.0.1:0".to_string(),
            format!("-data-path={}", dir.path().display()),
            "-mem-queue-size=6".to_string(),
        ];
        let mut process = Process::spawn(&bin, &args);
        let addr = process.await_ready();
        assert_eq!(config_value(addr, "mem_queue_size"), 6, "{flavor:?}");
        process.stop();
    }
}

#[test]
fn space_separated_flag_values_start_the_daemon() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-space");
        let data_path = dir.path().display().to_string();
        let args = [
            "--tcp-address",
            "127.0.0.1:0",
            "--http-address",
            "127.0.0.1:0",
            "--data-path",
            &data_path,
            "-msg-timeout",
            "3s",
            "--mem-queue-size",
            "7",
        ];
        let mut process = Process::spawn(&bin, &args);
        let addr = process.await_ready();
        assert_eq!(config_value(addr, "mem_queue_size"), 7, "{flavor:?}");
        assert_eq!(
            config_value(addr, "msg_timeout"),
            3_000_000_000u64,
            "{flavor:?}"
        );
        process.stop();
    }
}

/// Writes an `nsqd.toml` into `dir` that sets listeners, data path and two options.
fn write_config_file(dir: &Path) -> PathBuf {
    let data_path = dir.display().to_string();
    assert!(
        !data_path.contains(['"', '\\']),
        "temp path needs TOML escaping: {data_path}"
    );
    let text = format!(
        "# written by tests/tests/cli.rs\n\
         tcp_address = \"127.0.0.1:0\"\n\
         http_address = \"127.0.0.1:0\"\n\
         data_path = \"{data_path}\"\n\
         mem_queue_size = 5\n\
         msg_timeout = \"5s\"\n\
         nsqlookupd_tcp_addresses = []\n"
    );
    let path = dir.join("nsqd.toml");
    std::fs::write(&path, text).expect("write config file");
    path
}

#[test]
fn config_file_is_applied() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-config");
        let file = write_config_file(dir.path());
        let mut process = Process::spawn(&bin, &[format!("--config={}", file.display())]);
        let addr = process.await_ready();
        assert_eq!(config_value(addr, "mem_queue_size"), 5, "{flavor:?}");
        assert_eq!(
            config_value(addr, "msg_timeout"),
            5_000_000_000u64,
            "{flavor:?}"
        );
        process.stop();
    }
}

#[test]
fn flag_overrides_config_file() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-config-override");
        let file = write_config_file(dir.path());
        let args = [
            "--mem-queue-size=9".to_string(),
            format!("--config={}", file.display()),
        ];
        let mut process = Process::spawn(&bin, &args);
        let addr = process.await_ready();
        assert_eq!(config_value(addr, "mem_queue_size"), 9, "{flavor:?}");
        // Options the flags leave alone still come from the file.
        assert_eq!(
            config_value(addr, "msg_timeout"),
            5_000_000_000u64,
            "{flavor:?}"
        );
        process.stop();
    }
}

#[test]
fn second_instance_on_same_data_path_fails_and_first_keeps_serving() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-lock");
        let mut first = Process::spawn(&bin, &local_args(dir.path()));
        let addr = first.await_ready();
        expect_rejected(
            flavor,
            &bin,
            &local_args(dir.path()),
            "failed to lock data-path",
        );
        let ping = http::get(addr, "/ping");
        assert_eq!(
            ping.status, 200,
            "{flavor:?} first instance after the second failed"
        );
        http::post_ok(addr, "/topic/create?topic=still_here");
        first.stop();
    }
}

#[test]
fn sigint_shuts_down_cleanly() {
    for (flavor, bin) in binaries() {
        let dir = TempDir::new("cli-sigint");
        let mut process = Process::spawn(&bin, &local_args(dir.path()));
        let addr = process.await_ready();
        http::post_ok(addr, "/topic/create?topic=sigint");
        let status = process.signal_and_wait("INT");
        assert_eq!(status.code(), Some(0), "{flavor:?} exit after SIGINT");
        let stderr = process.stderr();
        assert!(!stderr.contains("panicked"), "{flavor:?}: {stderr}");
        // Shutdown persisted the metadata (written last on shutdown).
        let metadata = std::fs::read_to_string(dir.path().join("nsqd.dat"))
            .unwrap_or_else(|e| panic!("{flavor:?}: nsqd.dat after SIGINT: {e}"));
        assert!(metadata.contains("sigint"), "{flavor:?}: {metadata}");
    }
}

#[test]
fn version_pattern_matcher() {
    assert_eq!(
        version_toolchain("nsqd v1.3.0 (built w/rustc1.95.0)"),
        Some("rustc1.95.0")
    );
    assert_eq!(
        version_toolchain("nsqd v1.3.0 (built w/go1.21.1)"),
        Some("go1.21.1")
    );
    assert_eq!(version_toolchain("nsqd v1.3.0 (built w/)"), None);
    assert_eq!(version_toolchain("nsqd v1.3.0 (built w/rustc 1.95)"), None);
    assert_eq!(version_toolchain("nsqd v1.3.0 (built w/Rustc1)"), None);
    assert_eq!(version_toolchain("nsqd v1.3.0 (built w/rustc1) "), None);
}
