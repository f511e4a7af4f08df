//! The process harness that the black-box tests (`tests/`) and the benchmark (`bench/`)
//! share: run a real NSQ binary (ours or the Go reference) as a child process, learn its
//! bound addresses from its startup log, wait until `GET /ping` answers 200, stop it
//! with a signal or kill it, and read its resource use from `/proc`.
//!
//! * `process`: [`Process`], one running daemon, killed on drop.
//! * `bins`: where the binaries under test are ([`workspace_bin`], [`reference_bin`]).
//! * `procfs`: peak RSS and CPU time of a process.
//! * `tempdir`: [`TempDir`], kept when a test fails.
//!
//! Errors are [`Error`] (a message, with the daemon's output where it helps): the
//! benchmark reports them, the tests panic with them. Talking NSQ to the daemon is left
//! to the callers.

mod bins;
mod process;
mod procfs;
mod tempdir;

pub use bins::{is_go_build, reference_bin, workspace_bin};
pub use process::{find_addr, Process, Spec, HTTP_MARKER, TCP_MARKER};
pub use procfs::{cpu_secs, find_descendant, proc_status_kib};
pub use tempdir::TempDir;

/// What went wrong starting, watching or stopping a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
