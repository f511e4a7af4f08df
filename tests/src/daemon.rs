//! Any NSQ daemon binary (nsqlookupd today; nsqadmin later) run for a black-box test, on
//! the shared process harness (`testkit`): arguments verbatim, addresses from the startup
//! log, ready once `GET /ping` answers 200, killed on drop with its output printed if
//! the test fails. Every error here is a test failure, so this layer panics where
//! `testkit` returns errors. `harness::Nsqd` adds nsqd's data directory and flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use testkit::{Process, Spec, HTTP_MARKER, TCP_MARKER};

/// Failure bound for a graceful shutdown, which may flush a large backlog to disk.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// A binary built beside this test executable (`target/<profile>/<name>`), unless the
/// environment variable `var` names another one.
pub fn workspace_bin(name: &str, var: &str) -> PathBuf {
    testkit::workspace_bin(name, var).unwrap_or_else(|e| panic!("{e}"))
}

/// The Go reference binary `name` from `make reference` (`tests/reference/bin/<name>`),
/// or the file named by `var`; `None` when neither exists (callers skip, saying so).
pub fn reference_bin(name: &str, var: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/bin");
    testkit::reference_bin(&dir, name, var).unwrap_or_else(|e| panic!("{e}"))
}

/// True if `bin --version` says it was built with Go (the reference, not ours).
pub fn is_go_build(bin: &Path) -> bool {
    testkit::is_go_build(bin).unwrap_or_else(|e| panic!("{e}"))
}

/// A running daemon process with a TCP and an HTTP listener.
pub struct Daemon(Process);

impl Daemon {
    /// Spawns `bin args...` and waits until both listeners are logged and `/ping` is 200.
    pub fn start(bin: &Path, args: &[&str]) -> Daemon {
        Daemon(
            Spec::new(bin)
                .args(args)
                .start()
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.0.addr(TCP_MARKER).expect("waited for the TCP marker")
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.0
            .addr(HTTP_MARKER)
            .expect("waited for the HTTP marker")
    }

    pub fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// Everything printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.0.output()
    }

    /// The exit status if the process has ended.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.0.try_exit().expect("try_wait")
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for the exit status (not checked).
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        self.0
            .signal_and_wait(signal, SHUTDOWN_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Crash: SIGKILL and reap.
    pub fn kill9(&mut self) {
        self.0.kill9().expect("kill -9");
    }

    /// Graceful shutdown: SIGTERM, and require exit status 0.
    pub fn stop(&mut self) {
        let status = self.signal_and_wait("TERM");
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM; output:\n{}",
            self.0.label(),
            self.output()
        );
    }
}
