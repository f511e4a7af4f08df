//! A process's resource use as Linux reports it in `/proc`: peak RSS, CPU seconds, and
//! the real daemon below a wrapper such as `perf record`.

use std::path::Path;
use std::process::Command;

use crate::{Error, Result};

/// A `kB` field of `/proc/<pid>/status` (`VmHWM:` is the peak RSS).
pub fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error(format!("no {field} in /proc/{pid}/status")))
}

/// utime + stime from `/proc/<pid>/stat`, in seconds.
pub fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bad = || Error(format!("bad /proc/{pid}/stat"));
    // The command name (field 2) may contain spaces; fields after its `)` are fixed.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(bad)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14, stime field 15.
    let tick =
        |i: usize| -> Result<u64> { fields.get(i).and_then(|v| v.parse().ok()).ok_or_else(bad) };
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

/// The first process at or below `pid` (following first children) running `bin`; `pid`
/// itself when none does (e.g. valgrind, which runs the program in its own process).
pub fn find_descendant(pid: u32, bin: &Path) -> u32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_stats() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmHWM:").expect("VmHWM") > 0);
        assert!(cpu_secs(pid).expect("cpu") >= 0.0);
        assert!(proc_status_kib(pid, "NoSuchField:").is_err());
    }
}
