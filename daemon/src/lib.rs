//! What nsqd and nsqlookupd share so that they look like the Go daemons to users and
//! tools: the log line layout (`logging`), Go duration text (`duration`), the V1 HTTP API
//! conventions (`http`: error bodies, query parsing, the router's 404/405/OPTIONS and
//! redirects), `--log-level` (`log_level`), shutdown on SIGINT/SIGTERM (`signals`), the
//! `--version` line and the hostname as Go reads it. Nothing here knows about topics or
//! messages.

pub mod duration;
pub mod http;
pub mod log_level;
pub mod logging;
pub mod signals;

/// `<name> v<version> (built w/rustc<toolchain>)`, the shape client test harnesses parse
/// (the toolchain is one token: `rustc1.95.0`, or just `rustc` when unknown).
pub fn version_line(name: &str, version: &str) -> String {
    let toolchain = option_env!("NSQ_RUSTC_VERSION").unwrap_or_default();
    format!("{name} v{version} (built w/rustc{toolchain})")
}

/// The OS hostname (`/proc/sys/kernel/hostname`, as Go's `os.Hostname` reads it), or
/// `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_line_shape() {
        let v = super::version_line("nsqd", "1.3.0");
        assert!(v.starts_with("nsqd v1.3.0 (built w/rustc"), "{v}");
        assert!(v.ends_with(')'), "{v}");
        assert_eq!(v.split(' ').count(), 4, "the toolchain is one token: {v}");
    }
}
