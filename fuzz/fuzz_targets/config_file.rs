//! nsqd's `--config` TOML file through the real command-line path (file read, go-options
//! coercions per option, validation). Asserts that a file which parses as TOML either
//! configures nsqd or is refused with an error, never a panic; and that the options crate's
//! TOML reader agrees with the toml crate on what parses.
#![no_main]

use fuzz_util::{scratch_dir, write};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = options::ConfigFile::parse(text).is_ok();
    let dir = DIR.get_or_init(|| scratch_dir("config"));
    write(dir, "nsqd.toml", data);
    let result = nsqd::fuzzing::config_file(&dir.join("nsqd.toml"));
    if !parsed {
        assert!(result.is_err(), "a file that is not TOML was accepted");
    }
});
