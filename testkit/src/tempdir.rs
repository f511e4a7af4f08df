//! Temporary directories for data paths: unique per call, removed on drop unless the
//! thread is panicking (a failed test keeps its data for inspection).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::Result;

/// A unique directory under the system temp dir.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `<tmp>/nsq-<label>-<pid>-<n>-<nanos>`, created empty; panics if it cannot be
    /// (test support: there is nothing to test without it).
    pub fn new(label: &str) -> TempDir {
        match TempDir::try_new(label) {
            Ok(dir) => dir,
            Err(e) => panic!("cannot create a temp dir for {label}: {e}"),
        }
    }

    /// Like [`TempDir::new`], for callers that report errors.
    pub fn try_new(label: &str) -> Result<TempDir> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("nsq-{label}-{}-{n}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
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
