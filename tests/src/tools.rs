//! Running the command-line tools, ours and Go's side by side: where they are (ours built
//! beside the tests or `$<TOOL>_BIN`, e.g. `$TO_NSQ_BIN`; Go's from `make reference` or
//! `$GO_<TOOL>_BIN`), a bounded run with stdin and captured output under a chosen
//! `argv[0]` (Go prints it in the usage), a long-running tool whose output is read while
//! it runs, and the normalisation of Go's log time stamps.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::daemon::{reference_bin, workspace_bin};
use crate::poll::POLL_INTERVAL;

/// Failure bound for one tool run (the machine is shared with builds).
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// Our `tool` binary.
pub fn ours(tool: &str) -> PathBuf {
    workspace_bin(tool, &format!("{}_BIN", tool.to_uppercase()))
}

/// Go's `tool` v1.3.0. Missing is a failure: `make test` builds it (`make reference`).
pub fn gos(tool: &str) -> PathBuf {
    let var = format!("GO_{}_BIN", tool.to_uppercase());
    reference_bin(tool, &var)
        .unwrap_or_else(|| panic!("Go {tool} not found: run `make reference` or set {var}"))
}

/// Both, labelled, ours first.
pub fn both(tool: &str) -> [(&'static str, PathBuf); 2] {
    [("ours", ours(tool)), ("go", gos(tool))]
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// stderr with Go's `log` time stamps (`2006/01/02 15:04:05 `) taken off each line.
    pub fn log(&self) -> String {
        strip_log_times(&self.stderr)
    }

    /// The last line of [`log`](Run::log).
    pub fn last_log_line(&self) -> String {
        self.log().lines().last().unwrap_or_default().to_string()
    }
}

/// Takes a leading `YYYY/MM/DD HH:MM:SS ` off every line.
pub fn strip_log_times(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let b = line.as_bytes();
        let stamped = b.len() >= 20
            && b[4] == b'/'
            && b[7] == b'/'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b' ';
        out.push_str(if stamped { &line[20..] } else { line });
        out.push('\n');
    }
    out
}

fn command(bin: &Path, arg0: &str, args: &[String]) -> Command {
    let mut c = Command::new(bin);
    c.arg0(arg0).args(args);
    c
}

/// Runs `bin` as `arg0` with `args` and `stdin`, to its end (killed and a panic after
/// [`RUN_LIMIT`]).
pub fn run(bin: &Path, arg0: &str, args: &[String], stdin: &[u8]) -> Run {
    let mut child = command(bin, arg0, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let input = stdin.to_vec();
    let mut pipe = child.stdin.take().expect("stdin");
    let writer = thread::spawn(move || {
        // The tool may exit before reading everything (a fatal error): ignore EPIPE.
        let _ = pipe.write_all(&input);
    });
    let out = reader(child.stdout.take().expect("stdout"));
    let err = reader(child.stderr.take().expect("stderr"));
    let status = wait(&mut child, RUN_LIMIT, bin);
    let _ = writer.join();
    Run {
        status,
        stdout: collect(out),
        stderr: collect(err),
    }
}

/// [`run`] with string arguments.
pub fn run_args(bin: &Path, arg0: &str, args: &[&str], stdin: &[u8]) -> Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run(bin, arg0, &args, stdin)
}

fn reader<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn collect(h: thread::JoinHandle<Vec<u8>>) -> String {
    String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
}

fn wait(child: &mut Child, limit: Duration, bin: &Path) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} still running after {limit:?}", bin.display());
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// A tool left running: stdin kept open until [`close_stdin`](Running::close_stdin),
/// stdout and stderr collected as they come. Killed on drop.
pub struct Running {
    child: Child,
    bin: PathBuf,
    stdin: Option<std::process::ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

fn pump<R: Read + Send + 'static>(mut r: R, into: Arc<Mutex<Vec<u8>>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().expect("output").extend_from_slice(&buf[..n]);
        }
    });
}

impl Running {
    pub fn start(bin: &Path, args: &[String]) -> Running {
        let arg0 = bin.file_name().and_then(|n| n.to_str()).unwrap_or("tool");
        let mut child = command(bin, arg0, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        pump(child.stdout.take().expect("stdout"), Arc::clone(&stdout));
        pump(child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        Running {
            stdin: child.stdin.take(),
            child,
            bin: bin.to_path_buf(),
            stdout,
            stderr,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to the tool's stdin");
        stdin.flush().expect("flush");
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("stdout")).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr")).into_owned()
    }

    /// Waits (bounded) until stdout has `n` lines.
    pub fn wait_lines(&self, n: usize, limit: Duration) -> String {
        crate::poll::wait_for(
            &format!("{n} lines from {}", self.bin.display()),
            limit,
            || {
                let out = self.stdout();
                (out.lines().count() >= n, (out, self.stderr()))
            },
        )
        .0
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits (bounded) for the exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{signal}");
        wait(&mut self.child, RUN_LIMIT, &self.bin)
    }

    /// Waits (bounded) for the exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.stdin.take();
        wait(&mut self.child, RUN_LIMIT, &self.bin)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "--- {} stdout:\n{}\n--- stderr:\n{}",
                self.bin.display(),
                self.stdout(),
                self.stderr()
            );
        }
    }
}

/// A loopback address nothing listens on (a port just bound and released).
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}
