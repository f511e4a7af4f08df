//! Runs real nsqd processes for black-box tests: finds the binaries and starts one on
//! port 0 with its own data directory (the process handling itself, learning addresses
//! from the log, `/ping`, SIGTERM/SIGKILL and the output dump, is `daemon::Daemon` on
//! the shared `testkit`). Talking to the daemon is left to `client` (TCP) and `http`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use testkit::TempDir;

use crate::daemon::{reference_bin, workspace_bin, Daemon};

/// The nsqd under test: `$NSQD_BIN`, else the `nsqd` built beside this test executable.
pub fn nsqd_bin() -> PathBuf {
    workspace_bin("nsqd", "NSQD_BIN")
}

/// The Go reference nsqd v1.3.0: `$GO_NSQD_BIN`, else `tests/reference/bin/nsqd` (built
/// by `make reference`). Missing is a failure, not a skip: `make test` builds it.
pub fn go_nsqd_bin() -> PathBuf {
    reference_bin("nsqd", "GO_NSQD_BIN")
        .expect("Go reference nsqd not found: run `make reference` or set GO_NSQD_BIN")
}

/// A running nsqd on 127.0.0.1 port 0 with its own data directory: a [`Daemon`] started
/// with nsqd's arguments. Dropping it kills the process (and prints its output if the
/// test is panicking).
pub struct Nsqd(Daemon);

impl Nsqd {
    /// Spawns `bin` on 127.0.0.1 port 0 with `data_dir`, plus `extra_args`, and waits
    /// until both listeners are logged and `GET /ping` answers 200.
    pub fn start(bin: &Path, data_dir: &Path, extra_args: &[&str]) -> Nsqd {
        let data = format!("--data-path={}", data_dir.display());
        let mut args = vec![
            "--tcp-address=127.0.0.1:0",
            "--http-address=127.0.0.1:0",
            data.as_str(),
        ];
        args.extend_from_slice(extra_args);
        Nsqd(Daemon::start(bin, &args))
    }

    /// Starts the nsqd under test ([`nsqd_bin`]) in a fresh temp dir. Bind the result as
    /// `let (_dir, nsqd) = ...` so the process is killed before the dir is removed.
    pub fn start_in_temp(label: &str, extra_args: &[&str]) -> (TempDir, Nsqd) {
        let dir = TempDir::new(label);
        let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), extra_args);
        (dir, nsqd)
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.0.tcp_addr()
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.0.http_addr()
    }

    pub fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// Everything the process has printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.0.output()
    }

    /// Graceful shutdown: SIGTERM, wait, and require exit status 0.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Crash: SIGKILL and reap.
    pub fn kill9(&mut self) {
        self.0.kill9();
    }
}
