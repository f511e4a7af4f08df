//! A fresh nsqd per run: `127.0.0.1:0` listeners (the bound addresses come from the
//! `TCP: listening on` / `HTTP: listening on` log lines), a new temporary data directory,
//! `/ping` before any load, peak RSS and CPU time from `/proc/<pid>`, SIGTERM after.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TCP_MARKER: &str = "TCP: listening on ";
const HTTP_MARKER: &str = "HTTP: listening on ";
/// Generous: the machine is shared with compilers.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines kept for error reports.
const LOG_TAIL: usize = 60;

#[derive(Default)]
struct Log {
    tcp: Option<SocketAddr>,
    http: Option<SocketAddr>,
    tail: VecDeque<String>,
}

pub struct Nsqd {
    child: Child,
    /// The nsqd process itself (below the wrapper, if any): RSS and CPU come from here.
    pid: u32,
    /// SIGINT for a wrapper (perf record writes its data on SIGINT), else SIGTERM.
    stop_signal: &'static str,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
    data_dir: PathBuf,
    log: Arc<Mutex<Log>>,
    exited: bool,
}

impl Nsqd {
    /// Starts `wrap... bin --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0
    /// --data-path=<fresh dir> flags...` and waits for both listeners and `/ping`.
    pub fn start(bin: &Path, flags: &[String], wrap: &[String]) -> Result<Nsqd> {
        let data_dir = fresh_data_dir()?;
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("--tcp-address=127.0.0.1:0")
            .arg("--http-address=127.0.0.1:0")
            .arg(format!("--data-path={}", data_dir.display()))
            .args(flags)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot spawn {}", bin.display()))?;
        let pid = child.id();
        let log = Arc::new(Mutex::new(Log::default()));
        if let Some(out) = child.stdout.take() {
            capture(out, &log);
        }
        if let Some(err) = child.stderr.take() {
            capture(err, &log);
        }
        let unbound: SocketAddr = ([0, 0, 0, 0], 0).into();
        let mut nsqd = Nsqd {
            child,
            pid,
            stop_signal: if wrap.is_empty() { "TERM" } else { "INT" },
            tcp: unbound,
            http: unbound,
            data_dir,
            log,
            exited: false,
        };
        nsqd.await_listeners(bin)?;
        nsqd.await_ping()?;
        if !wrap.is_empty() {
            nsqd.pid = find_descendant(pid, bin);
        }
        Ok(nsqd)
    }

    fn await_listeners(&mut self, bin: &Path) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            {
                let log = self.log.lock().expect("log lock");
                if let (Some(t), Some(h)) = (log.tcp, log.http) {
                    self.tcp = t;
                    self.http = h;
                    return Ok(());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                self.exited = true;
                bail!(
                    "{} exited with {status} before listening; output:\n{}",
                    bin.display(),
                    self.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not log `{TCP_MARKER}` and `{HTTP_MARKER}` within {STARTUP_TIMEOUT:?}; output:\n{}",
                    bin.display(),
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn await_ping(&self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match ping(self.http) {
                Ok(true) => return Ok(()),
                _ if Instant::now() > deadline => {
                    bail!("GET /ping never answered 200; output:\n{}", self.log_tail())
                }
                _ => thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// The last lines nsqd printed (stdout and stderr interleaved).
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().expect("log lock");
        log.tail.iter().map(String::as_str).collect()
    }

    /// Peak resident set size in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Result<u64> {
        proc_status_kib(self.pid, "VmHWM:")
    }

    /// User + system CPU seconds the process has used so far.
    pub fn cpu_secs(&self) -> Result<f64> {
        cpu_secs(self.pid)
    }

    /// Fails if the process is no longer running (it crashed under load).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            self.exited = true;
            bail!(
                "nsqd exited with {status} during the run; output:\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// SIGTERM (SIGINT to a wrapper), wait (SIGKILL after a minute); the data directory is
    /// removed on drop.
    pub fn stop(mut self) -> Result<()> {
        if self.exited {
            return Ok(());
        }
        let _ = Command::new("kill")
            .arg(format!("-{}", self.stop_signal))
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.exited = true;
                if !status.success() && self.stop_signal == "TERM" {
                    eprintln!("note: nsqd exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.exited = true;
                return Err(anyhow!(
                    "nsqd did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM (killed)"
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nsqd {
    fn drop(&mut self) {
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn capture(source: impl Read + Send + 'static, log: &Arc<Mutex<Log>>) {
    let log = Arc::clone(log);
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line).into_owned();
            let mut log = log.lock().expect("log lock");
            if log.tcp.is_none() {
                log.tcp = find_addr(&text, TCP_MARKER);
            }
            if log.http.is_none() {
                log.http = find_addr(&text, HTTP_MARKER);
            }
            if log.tail.len() == LOG_TAIL {
                log.tail.pop_front();
            }
            log.tail.push_back(text);
            line.clear();
        }
    });
}

/// The address that follows `marker` in a log line.
pub fn find_addr(line: &str, marker: &str) -> Option<SocketAddr> {
    let start = line.find(marker)? + marker.len();
    let token: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    token.parse().ok()
}

fn ping(addr: SocketAddr) -> Result<bool> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    Ok(resp.starts_with(b"HTTP/1.0 200") || resp.starts_with(b"HTTP/1.1 200"))
}

/// The first process at or below `pid` (following first children) running `bin`; `pid`
/// itself when none does (e.g. valgrind, which runs the program in its own process).
fn find_descendant(pid: u32, bin: &Path) -> u32 {
    let Ok(want) = bin.canonicalize() else {
        return pid;
    };
    let mut cur = pid;
    for _ in 0..8 {
        if std::fs::read_link(format!("/proc/{cur}/exe")).is_ok_and(|exe| exe == want) {
            return cur;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{cur}/task/{cur}/children")).unwrap_or_default();
        match children
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
        {
            Some(child) => cur = child,
            None => break,
        }
    }
    pid
}

static DIR_SEQ: AtomicU64 = AtomicU64::new(0);

fn fresh_data_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "nsq-bench-{}-{}",
        std::process::id(),
        DIR_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

/// utime + stime from `/proc/<pid>/stat`, in seconds.
pub fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after its `)` are fixed.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("bad /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let tick = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("bad /proc/{pid}/stat"))
    };
    let ticks = tick(14 - 3)? + tick(15 - 3)?;
    Ok(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_in_both_log_styles() {
        let ours = "[nsqd] 2026/11/23 10:00:00.123456 INFO: TCP: listening on 127.0.0.1:41234\n";
        let go = "[nsqd] 2024/01/01 12:00:00.000000 INFO: HTTP: listening on 127.0.0.1:41235\n";
        assert_eq!(
            find_addr(ours, TCP_MARKER),
            Some(([127, 0, 0, 1], 41234).into())
        );
        assert_eq!(
            find_addr(go, HTTP_MARKER),
            Some(([127, 0, 0, 1], 41235).into())
        );
        assert_eq!(
            find_addr("HTTPS: listening on 1.2.3.4:1", HTTP_MARKER),
            None
        );
    }

    #[test]
    fn reads_own_proc_stats() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmHWM:").expect("VmHWM") > 0);
        assert!(cpu_secs(pid).expect("cpu") >= 0.0);
    }
}
