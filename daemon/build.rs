//! Records the compiler version for the daemons' `--version` (`nsqd v1.3.0 (built
//! w/rustc1.95.0)`): runs `$RUSTC --version` and exports the number as
//! `NSQ_RUSTC_VERSION`, which `version_line` reads with `option_env!`. Anything unexpected (no rustc,
//! odd output) only drops the number; it never fails the build.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(&rustc).arg("--version").output() else {
        println!("cargo:warning=could not run `rustc --version`; --version will omit it");
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    match version_token(&stdout).filter(|_| output.status.success()) {
        Some(version) => println!("cargo:rustc-env=NSQ_RUSTC_VERSION={version}"),
        None => println!(
            "cargo:warning=unrecognised `rustc --version` output {:?}; --version will omit it",
            stdout.lines().next().unwrap_or_default()
        ),
    }
}

/// `1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`, `1.97.0-nightly` from a nightly:
/// the second word, if it starts with a digit and is one `[a-z0-9.-]+` token.
fn version_token(output: &str) -> Option<String> {
    let mut words = output.split_whitespace();
    if words.next() != Some("rustc") {
        return None;
    }
    let version = words.next()?.to_ascii_lowercase();
    let well_formed = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    well_formed.then_some(version)
}
