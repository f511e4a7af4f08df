//! nsqlookupd's configuration: command line + `--config` TOML file -> one [`Config`]
//! (nsqlookupd.md §4). A flag given on the command line beats the file, which beats the
//! built-in default; the file's `log_level` is checked even when a flag overrides it, as in
//! Go. File keys are the flag names with `_`; durations are Go strings or integer ms;
//! unknown keys are ignored. The result is never changed afterwards.
//!
//! Layout: `flags.rs` (Go flag syntax), `duration.rs` (Go duration text).

use daemon::duration;
mod flags;

use std::time::Duration;

use flags::{CommandLine, Flags};

/// The NSQ release this daemon stands in for (`/info`, IDENTIFY reply, `--version`).
pub const VERSION: &str = "1.3.0";

/// What the command line asks `main` to do.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    /// `--version`: the line to print on stdout, then exit 0.
    Version(String),
    /// `-h`/`--help`: the usage text (Go prints it on stderr), then exit 0.
    Help(String),
}

pub use daemon::log_level::LogLevel;

/// Every option, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub log_level: LogLevel,
    /// Prepended to every log line (`[nsqlookupd] `).
    pub log_prefix: String,
    /// `host:port` (an empty host means every interface, as in Go).
    pub tcp_address: String,
    pub http_address: String,
    /// Returned in IDENTIFY replies; defaults to the OS hostname.
    pub broadcast_address: String,
    pub inactive_producer_timeout: Duration,
    pub tombstone_lifetime: Duration,
    /// Arguments Go's flag parser ignores (from the first non-flag argument on).
    pub ignored_args: Vec<String>,
}

impl Default for Config {
    /// The defaults of nsqlookupd.md §4 for this host.
    fn default() -> Config {
        Config {
            log_level: LogLevel::Info,
            log_prefix: "[nsqlookupd] ".to_string(),
            tcp_address: "0.0.0.0:4160".to_string(),
            http_address: "0.0.0.0:4161".to_string(),
            broadcast_address: hostname(),
            inactive_producer_timeout: Duration::from_secs(300),
            tombstone_lifetime: Duration::from_secs(45),
            ignored_args: Vec::new(),
        }
    }
}

impl Config {
    /// Defaults, but on 127.0.0.1 with OS-assigned ports.
    pub fn default_for_tests() -> Config {
        Config {
            tcp_address: "127.0.0.1:0".to_string(),
            http_address: "127.0.0.1:0".to_string(),
            ..Config::default()
        }
    }
}

/// Why the configuration was refused; the texts are Go's where Go has one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bad flag syntax: {0}")]
    BadFlagSyntax(String),
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),
    #[error("flag needs an argument: -{0}")]
    MissingFlagValue(String),
    #[error("invalid boolean value {value:?} for -{flag}: parse error")]
    InvalidBool { flag: &'static str, value: String },
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidFlagValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("failed to load config file {path} - {reason}")]
    ConfigFile { path: String, reason: String },
    #[error("failed parsing log_level {0}")]
    ConfigLogLevel(String),
    #[error("option resolution failed to coerce {value} for {key} - {reason}")]
    ConfigValue {
        key: &'static str,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    /// Command-line errors, after which Go prints the usage text.
    pub fn is_usage_error(&self) -> bool {
        !matches!(
            self,
            ConfigError::ConfigFile { .. }
                | ConfigError::ConfigLogLevel(_)
                | ConfigError::ConfigValue { .. }
        )
    }
}

/// Parses the process arguments (`args` includes `argv[0]`) and the `--config` file.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, ConfigError> {
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    let (flags, ignored) = match flags::parse(&rest)? {
        CommandLine::Help => return Ok(Parsed::Help(usage())),
        CommandLine::Flags { flags, ignored } => (flags, ignored),
    };
    if flags.version == Some(true) {
        return Ok(Parsed::Version(version_line()));
    }
    let file = match flags.config.as_deref() {
        Some(path) if !path.is_empty() => load_file(path)?,
        _ => toml::Table::new(),
    };
    let mut config = resolve(flags, &file)?;
    config.ignored_args = ignored;
    Ok(Parsed::Run(Box::new(config)))
}

/// The usage text `-h` prints.
pub fn usage() -> String {
    flags::usage(&hostname())
}

fn load_file(path: &str) -> Result<toml::Table, ConfigError> {
    let failed = |reason: String| ConfigError::ConfigFile {
        path: path.to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    text.parse::<toml::Table>()
        .map_err(|e| failed(e.to_string().trim_end().to_string()))
}

/// Flag > file > default.
fn resolve(flags: Flags, file: &toml::Table) -> Result<Config, ConfigError> {
    let d = Config::default();
    // Go validates the file's log_level before anything else, even if a flag wins.
    let file_level = match file.get("log_level") {
        Some(v) => {
            let text = go_display(v);
            Some(
                text.parse::<LogLevel>()
                    .map_err(|_| ConfigError::ConfigLogLevel(text))?,
            )
        }
        None => None,
    };
    Ok(Config {
        log_level: flags.log_level.or(file_level).unwrap_or(d.log_level),
        log_prefix: pick(
            flags.log_prefix,
            file_string(file, "log_prefix")?,
            d.log_prefix,
        ),
        tcp_address: pick(
            flags.tcp_address,
            file_string(file, "tcp_address")?,
            d.tcp_address,
        ),
        http_address: pick(
            flags.http_address,
            file_string(file, "http_address")?,
            d.http_address,
        ),
        broadcast_address: pick(
            flags.broadcast_address,
            file_string(file, "broadcast_address")?,
            d.broadcast_address,
        ),
        inactive_producer_timeout: pick(
            flags.inactive_producer_timeout,
            file_duration(file, "inactive_producer_timeout")?,
            d.inactive_producer_timeout,
        ),
        tombstone_lifetime: pick(
            flags.tombstone_lifetime,
            file_duration(file, "tombstone_lifetime")?,
            d.tombstone_lifetime,
        ),
        ignored_args: Vec::new(),
    })
}

fn pick<T>(flag: Option<T>, file: Option<T>, default: T) -> T {
    flag.or(file).unwrap_or(default)
}

fn coerce_error(key: &'static str, v: &toml::Value, reason: impl Into<String>) -> ConfigError {
    ConfigError::ConfigValue {
        key,
        value: go_display(v),
        reason: reason.into(),
    }
}

fn file_string(file: &toml::Table, key: &'static str) -> Result<Option<String>, ConfigError> {
    match file.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(coerce_error(key, v, "expected a string")),
    }
}

/// A Go duration string, or an integer number of milliseconds (go-options' rule).
fn file_duration(file: &toml::Table, key: &'static str) -> Result<Option<Duration>, ConfigError> {
    match file.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => duration::parse(s)
            .map(Some)
            .map_err(|e| coerce_error(key, &toml::Value::String(s.clone()), e)),
        Some(v @ toml::Value::Integer(ms)) => u64::try_from(*ms)
            .ok()
            .filter(|ms| *ms <= i64::MAX as u64 / 1_000_000)
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or_else(|| coerce_error(key, v, "value out of range")),
        Some(v) => Err(coerce_error(key, v, "invalid value type")),
    }
}

/// A TOML value as Go's `%v` shows it (strings bare).
fn go_display(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `nsqlookupd v1.3.0 (built w/rustc1.95.0)`.
pub fn version_line() -> String {
    daemon::version_line("nsqlookupd", VERSION)
}

pub use daemon::hostname;

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = std::iter::once("nsqlookupd")
            .chain(args.iter().copied())
            .map(String::from);
        match parse_args(argv)? {
            Parsed::Run(c) => Ok(*c),
            other => panic!("expected a config, got {other:?}"),
        }
    }

    fn config_file(text: &str) -> (std::path::PathBuf, String) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "nsqlookupd-config-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).expect("write config");
        let arg = format!("--config={}", path.display());
        (path, arg)
    }

    #[test]
    fn defaults_are_go_defaults() {
        let c = run(&[]).expect("defaults");
        assert_eq!(c.tcp_address, "0.0.0.0:4160");
        assert_eq!(c.http_address, "0.0.0.0:4161");
        assert_eq!(c.broadcast_address, hostname());
        assert_eq!(c.log_prefix, "[nsqlookupd] ");
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.inactive_producer_timeout, Duration::from_secs(300));
        assert_eq!(c.tombstone_lifetime, Duration::from_secs(45));
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let (path, arg) = config_file(
            "tcp_address = \"127.0.0.1:1\"\nhttp_address = \"127.0.0.1:2\"\n\
             tombstone_lifetime = 1500\ninactive_producer_timeout = \"1m\"\n\
             log_level = \"debug\"\nunknown_key = 3\n",
        );
        let c = run(&[&arg, "--http-address=127.0.0.1:3", "--log-level=error"]).expect("ok");
        assert_eq!(c.tcp_address, "127.0.0.1:1");
        assert_eq!(c.http_address, "127.0.0.1:3");
        assert_eq!(c.tombstone_lifetime, Duration::from_millis(1500));
        assert_eq!(c.inactive_producer_timeout, Duration::from_secs(60));
        assert_eq!(c.log_level, LogLevel::Error);
        assert_eq!(c.log_prefix, "[nsqlookupd] ");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn bad_files_are_refused() {
        let (path, arg) = config_file("log_level = \"nope\"\n");
        let err = run(&[&arg, "--log-level=info"]).expect_err("checked even if overridden");
        assert_eq!(err.to_string(), "failed parsing log_level nope");
        assert!(!err.is_usage_error());
        std::fs::remove_file(path).ok();

        let (path, arg) = config_file("tombstone_lifetime = \"soon\"\n");
        let err = run(&[&arg]).expect_err("bad duration");
        assert!(err.to_string().contains("tombstone_lifetime"), "{err}");
        std::fs::remove_file(path).ok();

        let (path, arg) = config_file("tcp_address = [\n");
        assert!(run(&[&arg]).is_err(), "bad TOML");
        std::fs::remove_file(path).ok();

        let err = run(&["--config=/nonexistent/nsqlookupd.toml"]).expect_err("missing");
        assert!(err.to_string().starts_with("failed to load config file"));
    }

    #[test]
    fn version_and_help() {
        let argv = |a: &str| ["nsqlookupd".to_string(), a.to_string()];
        match parse_args(argv("--version")).expect("version") {
            Parsed::Version(v) => assert!(v.starts_with("nsqlookupd v1.3.0 (built w/rustc")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_args(argv("-h")).expect("help"),
            Parsed::Help(_)
        ));
        let err = parse_args(argv("--nope")).expect_err("unknown");
        assert!(err.is_usage_error());
    }
}
