//! Where the binaries under test are: built beside the test executable, or named by an
//! environment variable; the Go reference ones from `make reference`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// A binary built beside the running test executable (`target/<profile>/<name>`), unless
/// the environment variable `var` names another one.
pub fn workspace_bin(name: &str, var: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return must_exist(PathBuf::from(path), var);
    }
    // A test executable lives in target/<profile>/deps/, binaries in target/<profile>/.
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| {
            Error(format!(
                "{} is not inside target/<profile>/deps",
                exe.display()
            ))
        })?
        .join(name);
    if !bin.is_file() {
        return Err(Error(format!(
            "{name} binary not found at {}: build the workspace binaries first \
             (`cargo build --bins`, same profile as the tests) or set {var}",
            bin.display()
        )));
    }
    Ok(bin)
}

/// The Go reference binary `name` in `reference_dir` (`tests/reference/bin`, built by
/// `make reference`), or the file named by `var`; `None` when neither exists.
pub fn reference_bin(reference_dir: &Path, name: &str, var: &str) -> Result<Option<PathBuf>> {
    if let Some(path) = std::env::var_os(var) {
        return must_exist(PathBuf::from(path), var).map(Some);
    }
    let local = reference_dir.join(name);
    Ok(local.is_file().then_some(local))
}

/// True if `bin --version` says it was built with Go (the reference, not ours).
pub fn is_go_build(bin: &Path) -> Result<bool> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| Error(format!("cannot run {} --version: {e}", bin.display())))?;
    Ok(String::from_utf8_lossy(&out.stdout).contains("(built w/go"))
}

fn must_exist(path: PathBuf, var: &str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error(format!("{var}={} is not a file", path.display())))
    }
}
