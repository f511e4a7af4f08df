//! Runs any NSQ daemon binary (nsqlookupd today; nsqadmin later) for black-box tests:
//! the arguments are passed verbatim, the bound addresses come from the startup log
//! (`TCP: listening on`, `HTTP: listening on`), readiness is `GET /ping` answering 200.
//! Like `harness::Nsqd`, it is killed on drop and its output printed if the test fails;
//! `Nsqd` stays as it is (it adds a data directory and its own flags).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{capture, find_addr, HTTP_MARKER, TCP_MARKER};
use crate::http;
use crate::poll::{wait_until, POLL_INTERVAL};

/// Failure bound between spawn and both listen lines plus `/ping`; generous because the
/// suite shares a small machine with compilers.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Failure bound for a graceful shutdown, which may flush a large backlog to disk.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// A binary built beside this test executable (`target/<profile>/<name>`), unless the
/// environment variable `var` names another one.
pub fn workspace_bin(name: &str, var: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{var}={} is not a file", path.display());
        return path;
    }
    // The test executable lives in target/<profile>/deps/; binaries in target/<profile>/.
    let exe = std::env::current_exe().expect("current_exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is not inside target/<profile>/deps")
        .join(name);
    assert!(
        bin.is_file(),
        "{name} binary not found at {}: build the workspace binaries first \
         (`cargo build --bins`, same profile as the tests) or set {var}",
        bin.display()
    );
    bin
}

/// The Go reference binary `name` from `make reference` (`tests/reference/bin/<name>`),
/// or the file named by `var`; `None` when neither exists (callers skip, saying so).
pub fn reference_bin(name: &str, var: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{var}={} is not a file", path.display());
        return Some(path);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reference/bin")
        .join(name);
    local.is_file().then_some(local)
}

/// True if `bin --version` says it was built with Go (the reference, not ours).
pub fn is_go_build(bin: &Path) -> bool {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", bin.display()));
    String::from_utf8_lossy(&out.stdout).contains("(built w/go")
}

/// A running daemon process.
pub struct Daemon {
    child: Child,
    exit: Option<ExitStatus>,
    label: String,
    tcp: SocketAddr,
    http: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Spawns `bin args...` and waits until both listeners are logged and `/ping` is 200.
    pub fn start(bin: &Path, args: &[&str]) -> Daemon {
        let mut child = Command::new(bin)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        let log = Arc::new(Mutex::new(String::new()));
        capture(child.stdout.take().expect("stdout piped"), &log);
        capture(child.stderr.take().expect("stderr piped"), &log);
        let unbound: SocketAddr = "0.0.0.0:0".parse().expect("literal address");
        let mut daemon = Daemon {
            label: format!("{} (pid {})", bin.display(), child.id()),
            child,
            exit: None,
            tcp: unbound,
            http: unbound,
            log,
        };
        daemon.await_listeners();
        let (addr, label) = (daemon.http, daemon.label.clone());
        wait_until(
            &format!("{label} GET /ping -> 200"),
            STARTUP_TIMEOUT,
            || matches!(http::request(addr, "GET", "/ping", b""), Ok(r) if r.status == 200),
        );
        daemon
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// The exit status if the process has ended.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("try_wait");
        }
        self.exit
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for the exit status (not checked).
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM; output:\n{}",
                self.label,
                self.output()
            );
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Crash: SIGKILL and reap.
    pub fn kill9(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exit = Some(self.child.wait().expect("wait for the killed process"));
        }
    }

    /// Graceful shutdown: SIGTERM, and require exit status 0.
    pub fn stop(&mut self) {
        let status = self.signal_and_wait("TERM");
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM; output:\n{}",
            self.label,
            self.output()
        );
    }

    fn await_listeners(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let log = self.output();
            if let (Some(tcp), Some(http)) =
                (find_addr(&log, TCP_MARKER), find_addr(&log, HTTP_MARKER))
            {
                self.tcp = tcp;
                self.http = http;
                return;
            }
            if let Some(status) = self.try_exit() {
                panic!(
                    "{} exited with {status} before listening; output:\n{log}",
                    self.label
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log `{TCP_MARKER}` and `{HTTP_MARKER}` within \
                 {STARTUP_TIMEOUT:?}; output:\n{log}",
                self.label
            );
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "----- output of {} -----\n{}\n----- end of output -----",
                self.label,
                self.output()
            );
        }
    }
}
