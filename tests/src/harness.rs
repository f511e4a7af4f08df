//! Runs real nsqd processes for black-box tests: finds the binaries, starts one on
//! port 0 with its own data directory, learns the bound addresses from the startup log,
//! waits for `/ping`, and stops it (SIGTERM, exit 0 expected) or kills it (SIGKILL).
//! Everything the process prints is kept and dumped when a test fails.
//! Talking to the daemon is left to `client` (TCP) and `http`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::http;
use crate::poll::{wait_until, POLL_INTERVAL};

/// Time allowed between spawn and both listen lines appearing; generous because the
/// suite shares a small machine with compilers.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Time allowed for a graceful shutdown, which may flush a large backlog to disk.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
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

/// A running nsqd process. Dropping it kills the process (and prints its output if the
/// test is panicking).
pub struct Nsqd {
    child: Child,
    exit: Option<ExitStatus>,
    label: String,
    tcp: SocketAddr,
    http: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Nsqd {
    /// Spawns `bin` on 127.0.0.1 port 0 with `data_dir`, plus `extra_args`, and waits
    /// until both listeners are logged and `GET /ping` answers 200.
    pub fn start(bin: &Path, data_dir: &Path, extra_args: &[&str]) -> Nsqd {
        let mut child = Command::new(bin)
            .arg("--tcp-address=127.0.0.1:0")
            .arg("--http-address=127.0.0.1:0")
            .arg(format!("--data-path={}", data_dir.display()))
            .args(extra_args)
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
        let mut nsqd = Nsqd {
            label: format!("{} (pid {})", bin.display(), child.id()),
            child,
            exit: None,
            tcp: unbound,
            http: unbound,
            log,
        };
        nsqd.await_listeners();
        nsqd.await_ping();
        nsqd
    }

    /// Starts the nsqd under test ([`nsqd_bin`]) in a fresh temp dir. Bind the result as
    /// `let (_dir, nsqd) = ...` so the process is killed before the dir is removed.
    pub fn start_in_temp(label: &str, extra_args: &[&str]) -> (TempDir, Nsqd) {
        let dir = TempDir::new(label);
        let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), extra_args);
        (dir, nsqd)
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

    /// Everything the process has printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Graceful shutdown: SIGTERM, wait, and require exit status 0.
    pub fn stop(&mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
        let exit = self.wait_exit(SHUTDOWN_TIMEOUT);
        assert!(
            exit.success(),
            "{} exited with {exit} after SIGTERM; output:\n{}",
            self.label,
            self.output()
        );
    }

    /// Crash: SIGKILL and reap.
    pub fn kill9(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = Some(self.child.wait().expect("wait for killed nsqd"));
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}; output:\n{}",
                self.label,
                self.output()
            );
            thread::sleep(POLL_INTERVAL);
        }
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
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(status);
                panic!(
                    "{} exited with {status} before listening; output:\n{log}",
                    self.label
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log `{TCP_MARKER}` and `{HTTP_MARKER}` within {STARTUP_TIMEOUT:?}; \
                 output:\n{log}",
                self.label
            );
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn await_ping(&self) {
        let addr = self.http;
        wait_until(
            &format!("{} GET /ping -> 200", self.label),
            STARTUP_TIMEOUT,
            || matches!(http::request(addr, "GET", "/ping", b""), Ok(r) if r.status == 200),
        );
    }
}

impl Drop for Nsqd {
    fn drop(&mut self) {
        self.kill9();
        if thread::panicking() {
            eprintln!(
                "----- output of {} -----\n{}\n----- end of output -----",
                self.label,
                self.output()
            );
        }
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
