//! What every NSQ binary (the daemons and the tools) shares so that it looks like the Go
//! one to users and scripts: the log line layout (`logging`), Go duration text
//! (`duration`), the wall clock and UTC times (`clock`), a server's runtime and fatal exit
//! (`runtime`), `--log-level` (`log_level`),
//! shutdown on SIGINT/SIGTERM (`signals`), the `--version` line and the hostname as Go
//! reads it; for the servers, listening with Go's accept backlog (`listen`). The servers'
//! HTTP conventions are in `httpapi`. Nothing here knows about topics or messages.

pub mod clock;
pub mod duration;
pub mod listen;
pub mod log_level;
pub mod logging;
pub mod runtime;
pub mod signals;

/// The NSQ release these binaries are a drop-in for (the workspace version): what
/// `--version`, `/info`, IDENTIFY replies and `nsqd.dat` report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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
