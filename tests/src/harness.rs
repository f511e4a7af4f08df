//! Runs real nsqd processes for black-box tests: finds the binaries and starts one on
//! port 0 with its own data directory (the process handling itself, learning addresses
//! from the log, `/ping`, SIGTERM/SIGKILL and the output dump, is `daemon::Daemon`).
//! Also the log scanning both use, and temp dirs.
//! Talking to the daemon is left to `client` (TCP) and `http`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::daemon::Daemon;
/// Log text that precedes the bound TCP address (nsqd.md §1.1).
pub(crate) const TCP_MARKER: &str = "TCP: listening on ";
/// Log text that precedes the bound HTTP address (does not match `HTTPS: ...`).
pub(crate) const HTTP_MARKER: &str = "HTTP: listening on ";

/// The nsqd under test: `$NSQD_BIN`, else the `nsqd` built beside this test executable.
pub fn nsqd_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("NSQD_BIN") {
        return must_exist(PathBuf::from(path), "NSQD_BIN");
    }
    // The test executable lives in target/<profile>/deps/; binaries in target/<profile>/.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is not inside target/<profile>/deps");
    let bin = profile_dir.join("nsqd");
    assert!(
        bin.is_file(),
        "nsqd binary not found at {}: build the workspace binaries first \
         (`cargo build --bins`, same profile as the tests) or set NSQD_BIN",
        bin.display()
    );
    bin
}

/// The Go reference nsqd v1.3.0: `$GO_NSQD_BIN`, else `tests/reference/bin/nsqd` (built
/// by `make reference`). Missing is a failure, not a skip: `make test` builds it.
pub fn go_nsqd_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("GO_NSQD_BIN") {
        return must_exist(PathBuf::from(path), "GO_NSQD_BIN");
    }
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference/bin/nsqd");
    assert!(
        bin.is_file(),
        "Go reference nsqd not found at {}: run `make reference` or set GO_NSQD_BIN",
        bin.display()
    );
    bin
}

fn must_exist(path: PathBuf, var: &str) -> PathBuf {
    assert!(path.is_file(), "{var}={} is not a file", path.display());
    path
}

/// A unique directory under the system temp dir; removed on drop unless the test is
/// failing (then kept for inspection and its path printed).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock before 1970")
            .subsec_nanos();
        let name = format!("nsq-tests-{label}-{}-{n}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("kept data dir of failed test: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
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

/// Copies everything `source` produces into `log`, on a thread of its own so the child
/// never blocks on a full pipe.
pub(crate) fn capture(source: impl Read + Send + 'static, log: &Arc<Mutex<String>>) {
    let log = Arc::clone(log);
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            log.lock()
                .expect("log lock")
                .push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    });
}

/// The `ip:port` following `marker` in `log`, if present. Only address characters are
/// taken, so trailing punctuation or colour escape codes do not matter.
pub(crate) fn find_addr(log: &str, marker: &str) -> Option<SocketAddr> {
    let start = log.find(marker)? + marker.len();
    let token: String = log[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_in_go_log_lines() {
        let log = "[nsqd] 2024/01/01 00:00:00.000000 INFO: HTTPS: listening on 127.0.0.1:9\n\
                   [nsqd] 2024/01/01 00:00:00.000000 INFO: TCP: listening on 127.0.0.1:41234\n\
                   [nsqd] 2024/01/01 00:00:00.000000 INFO: HTTP: listening on 127.0.0.1:41235\n";
        assert_eq!(
            find_addr(log, TCP_MARKER),
            Some("127.0.0.1:41234".parse().unwrap())
        );
        assert_eq!(
            find_addr(log, HTTP_MARKER),
            Some("127.0.0.1:41235".parse().unwrap())
        );
        assert_eq!(find_addr("nothing", TCP_MARKER), None);
        assert_eq!(
            find_addr("TCP: listening on [::1]:4150, ok", TCP_MARKER),
            Some("[::1]:4150".parse().unwrap())
        );
    }
}
