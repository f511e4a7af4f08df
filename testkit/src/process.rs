//! One running daemon process: spawned with its arguments verbatim (optionally under a
//! wrapper such as `perf record --`), its stdout and stderr captured on threads of their
//! own (each alone and both interleaved), its bound addresses read from the startup log lines (`TCP: listening on ...`,
//! `HTTP: listening on ...`, the same words in Go's daemons and ours), ready once
//! `GET /ping` on its HTTP address answers 200. Killed on drop; if the thread is
//! panicking (a failing test) its output is printed first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{procfs, Error, Result};

/// Log text that precedes the bound TCP address.
pub const TCP_MARKER: &str = "TCP: listening on ";
/// Log text that precedes the bound HTTP address (does not match `HTTPS: ...`).
pub const HTTP_MARKER: &str = "HTTP: listening on ";
/// Pause between two checks while waiting for the process.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Default failure bound from spawn to ready; generous because tests and benchmarks
/// share a small machine with compilers.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a process; [`Spec::start`] runs it.
#[derive(Debug, Clone)]
pub struct Spec {
    bin: PathBuf,
    args: Vec<String>,
    wrap: Vec<String>,
    markers: Vec<&'static str>,
    startup_timeout: Duration,
}

impl Spec {
    /// `bin` with no arguments, expecting a TCP and an HTTP listener (the daemons).
    pub fn new(bin: &Path) -> Spec {
        Spec {
            bin: bin.to_path_buf(),
            args: Vec::new(),
            wrap: Vec::new(),
            markers: vec![TCP_MARKER, HTTP_MARKER],
            startup_timeout: STARTUP_TIMEOUT,
        }
    }

    /// Appends arguments, passed verbatim.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Spec {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Runs `wrap... bin args...`; the process measured is the first descendant running
    /// `bin`, and [`Process::stop`] sends SIGINT to the wrapper (on which `perf record`
    /// writes its data) instead of SIGTERM.
    pub fn wrap(mut self, wrap: &[String]) -> Spec {
        self.wrap = wrap.to_vec();
        self
    }

    /// The log markers whose addresses must all appear before the process is ready
    /// (default: TCP and HTTP). `/ping` is checked when [`HTTP_MARKER`] is one of them.
    pub fn markers(mut self, markers: &[&'static str]) -> Spec {
        self.markers = markers.to_vec();
        self
    }

    pub fn startup_timeout(mut self, timeout: Duration) -> Spec {
        self.startup_timeout = timeout;
        self
    }

    /// Spawns the process and waits until it is ready (every marker logged, `/ping`).
    pub fn start(self) -> Result<Process> {
        let mut process = self.spawn()?;
        process.await_ready()?;
        Ok(process)
    }

    /// Spawns the process without waiting (for a command expected to exit, such as
    /// `--version`, or to wait with [`Process::await_ready`] later).
    pub fn spawn(self) -> Result<Process> {
        let mut cmd = match self.wrap.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.args(&self.args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error(format!("cannot spawn {}: {e}", self.bin.display())))?;
        let log = Arc::new(Mutex::new(String::new()));
        let (stdout, stderr) = Default::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(capture(out, [&log, &stdout]));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(capture(err, [&log, &stderr]));
        }
        Ok(Process {
            label: format!("{} (pid {})", self.bin.display(), child.id()),
            pid: child.id(),
            stop_signal: if self.wrap.is_empty() { "TERM" } else { "INT" },
            child,
            exit: None,
            addrs: Vec::new(),
            log,
            stdout,
            stderr,
            readers,
            spec: self,
        })
    }
}

/// A running process.
pub struct Process {
    child: Child,
    /// The daemon itself (below the wrapper, if any): RSS and CPU come from here.
    pid: u32,
    /// SIGINT for a wrapper, else SIGTERM.
    stop_signal: &'static str,
    exit: Option<ExitStatus>,
    label: String,
    addrs: Vec<(&'static str, SocketAddr)>,
    log: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr into `log` and their own buffers.
    readers: Vec<thread::JoinHandle<()>>,
    /// How it was started: what readiness means, where the binary is.
    spec: Spec,
}

impl Process {
    /// Waits until every marker of the spec is logged and, if HTTP is one of them,
    /// `GET /ping` answers 200.
    pub fn await_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.spec.startup_timeout;
        let markers = self.spec.markers.clone();
        self.await_markers(&markers, deadline)?;
        if let Some(http) = self.addr(HTTP_MARKER) {
            self.await_ping(http, deadline)?;
        }
        if !self.spec.wrap.is_empty() {
            self.pid = procfs::find_descendant(self.pid, &self.spec.bin);
        }
        Ok(())
    }

    /// The address logged after `marker`, if it was one the process waited for.
    pub fn addr(&self, marker: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(m, _)| *m == marker)
            .map(|(_, addr)| *addr)
    }

    /// The daemon's pid (below the wrapper, if any).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `<binary> (pid N)`, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Everything printed so far (stdout and stderr interleaved).
    pub fn output(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// What the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// What the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits up to `timeout` for the process to exit by itself (and for its output);
    /// past it the process is killed and this is an error.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill9()?;
                return Err(Error(format!(
                    "{} did not exit within {timeout:?} (killed); output:\n{}",
                    self.label,
                    self.output_tail(60)
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// The last `lines` lines printed.
    pub fn output_tail(&self, lines: usize) -> String {
        let out = self.output();
        let all: Vec<&str> = out.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The exit status if the process has ended. Once it has, the output it printed
    /// is collected too (for at most a second: a grandchild may hold the pipes open).
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait()?;
            if self.exit.is_some() {
                let deadline = Instant::now() + Duration::from_secs(1);
                while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
            }
        }
        Ok(self.exit)
    }

    /// Sends `signal` (`TERM`, `INT`, ...) and waits up to `timeout` for the exit
    /// status (not checked); past it the process is killed and this is an error.
    pub fn signal_and_wait(&mut self, signal: &str, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.try_exit()? {
            return Ok(status);
        }
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()?;
        if !sent.success() {
            return Err(Error(format!("kill -{signal} {} failed", self.child.id())));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill9()?;
                return Err(Error(format!(
                    "{} did not exit within {timeout:?} of SIG{signal} (killed); output:\n{}",
                    self.label,
                    self.output_tail(60)
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Graceful shutdown: SIGTERM (SIGINT to a wrapper) and wait up to `timeout`.
    pub fn stop(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let signal = self.stop_signal;
        self.signal_and_wait(signal, timeout)
    }

    /// Crash: SIGKILL and reap.
    pub fn kill9(&mut self) -> Result<()> {
        if self.try_exit()?.is_none() {
            let _ = self.child.kill();
            self.exit = Some(self.child.wait()?);
        }
        Ok(())
    }

    fn await_markers(&mut self, markers: &[&'static str], deadline: Instant) -> Result<()> {
        loop {
            let log = self.output();
            let found: Vec<_> = markers
                .iter()
                .filter_map(|m| find_addr(&log, m).map(|a| (*m, a)))
                .collect();
            if found.len() == markers.len() {
                self.addrs = found;
                return Ok(());
            }
            if let Some(status) = self.try_exit()? {
                return Err(Error(format!(
                    "{} exited with {status} before listening; output:\n{}",
                    self.label,
                    self.output()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "{} did not log {markers:?} in time; output:\n{log}",
                    self.label
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn await_ping(&mut self, http: SocketAddr, deadline: Instant) -> Result<()> {
        loop {
            if ping(http).unwrap_or(false) {
                return Ok(());
            }
            if let Some(status) = self.try_exit()? {
                return Err(Error(format!(
                    "{} exited with {status} before answering /ping; output:\n{}",
                    self.label,
                    self.output()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Error(format!(
                    "{} GET /ping never answered 200; output:\n{}",
                    self.label,
                    self.output()
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !matches!(self.try_exit(), Ok(Some(_))) {
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

/// Copies everything `source` produces, line by line, into both `sinks`, on a thread of
/// its own so the child never blocks on a full pipe.
fn capture(
    source: impl Read + Send + 'static,
    sinks: [&Arc<Mutex<String>>; 2],
) -> thread::JoinHandle<()> {
    let sinks = sinks.map(Arc::clone);
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            for sink in &sinks {
                if let Ok(mut sink) = sink.lock() {
                    sink.push_str(&text);
                }
            }
            line.clear();
        }
    })
}

/// The `ip:port` following `marker` in `log`, if present. Only address characters are
/// taken, so trailing punctuation or colour escape codes do not matter.
pub fn find_addr(log: &str, marker: &str) -> Option<SocketAddr> {
    let start = log.find(marker)? + marker.len();
    let token: String = log[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    token.parse().ok()
}

/// One `GET /ping` over HTTP/1.0: true on a 200.
fn ping(addr: SocketAddr) -> Result<bool> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    Ok(resp.starts_with(b"HTTP/1.0 200") || resp.starts_with(b"HTTP/1.1 200"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_in_go_and_our_log_lines() {
        let log = "[nsqd] 2024/01/01 00:00:00.000000 INFO: HTTPS: listening on 127.0.0.1:9\n\
                   [nsqd] 2024/01/01 00:00:00.000000 INFO: TCP: listening on 127.0.0.1:41234\n\
                   [nsqd] 2026/11/23 10:00:00.123456 INFO: HTTP: listening on 127.0.0.1:41235\n";
        assert_eq!(
            find_addr(log, TCP_MARKER),
            Some(([127, 0, 0, 1], 41234).into())
        );
        assert_eq!(
            find_addr(log, HTTP_MARKER),
            Some(([127, 0, 0, 1], 41235).into())
        );
        assert_eq!(find_addr("nothing", TCP_MARKER), None);
        assert_eq!(
            find_addr("HTTPS: listening on 1.2.3.4:1", HTTP_MARKER),
            None
        );
        assert_eq!(
            find_addr("TCP: listening on [::1]:4150, ok", TCP_MARKER),
            Some("[::1]:4150".parse().expect("literal"))
        );
    }

    #[test]
    fn a_process_that_exits_before_listening_is_an_error_with_its_output() {
        let err = Spec::new(Path::new("/bin/sh"))
            .args(["-c", "echo boom; exit 3"])
            .start()
            .err()
            .expect("sh never listens");
        assert!(err.0.contains("exited with"), "{err}");
        assert!(err.0.contains("boom"), "{err}");
    }

    #[test]
    fn keeps_stdout_and_stderr_apart_and_waits_for_exit() {
        let mut p = Spec::new(Path::new("/bin/sh"))
            .args(["-c", "echo out; echo err >&2; exit 2"])
            .spawn()
            .expect("spawn");
        let status = p.wait_exit(Duration::from_secs(10)).expect("exits");
        assert_eq!(status.code(), Some(2));
        assert_eq!(
            (p.stdout().as_str(), p.stderr().as_str()),
            ("out\n", "err\n")
        );
        assert!(p.output().contains("out\n") && p.output().contains("err\n"));
    }

    #[test]
    fn learns_addresses_from_the_log_and_stops_on_sigterm() {
        // A stand-in daemon: logs two listen lines (nothing answers there, so no HTTP
        // marker is waited for), then sleeps until signalled.
        let mut p = Spec::new(Path::new("/bin/sh"))
            .args([
                "-c",
                "echo 'TCP: listening on 127.0.0.1:4150'; exec sleep 30",
            ])
            .markers(&[TCP_MARKER])
            .start()
            .expect("start");
        assert_eq!(p.addr(TCP_MARKER), Some(([127, 0, 0, 1], 4150).into()));
        assert_eq!(p.addr(HTTP_MARKER), None);
        assert!(p.try_exit().expect("try_wait").is_none());
        let status = p.stop(Duration::from_secs(10)).expect("stop");
        assert!(!status.success(), "sleep ends by the signal: {status}");
    }
}
