//! nsqlookupd's configuration: command line + `--config` TOML file -> one [`Config`].
//!
//! Every option is declared once in the table below ([`options::options!`]); the `options`
//! crate parses Go flag syntax, reads the file and applies flag > file > default as Go
//! nsqlookupd v1.3.0 does (the file's `log_level` is checked even when a flag overrides
//! it). File keys are the flag names with `_`; durations are Go strings or integer ms;
//! unknown keys are ignored. The result is never changed afterwards.

use std::time::Duration;

use daemon::VERSION;

pub use daemon::log_level::LogLevel;
pub use options::Error as ConfigError;

options::options! {
    /// Every option, resolved.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Config in OPTIONS {
        log_level: LogLevel = LogLevel::Info, "log-level" "log_level" shown
            "set log verbosity: debug, info, warn, error, or fatal";
        /// Prepended to every log line (`[nsqlookupd] `).
        log_prefix: String = "[nsqlookupd] ".to_string(), "log-prefix" "log_prefix" shown
            "log message prefix";
        /// `host:port` (an empty host means every interface, as in Go).
        tcp_address: String = "0.0.0.0:4160".to_string(), "tcp-address" "tcp_address" shown
            "<addr>:<port> to listen on for TCP clients";
        http_address: String = "0.0.0.0:4161".to_string(), "http-address" "http_address" shown
            "<addr>:<port> to listen on for HTTP clients";
        /// Returned in IDENTIFY replies; defaults to the OS hostname.
        broadcast_address: String = hostname(), "broadcast-address" "broadcast_address" shown
            "address of this lookupd node, (default to the OS hostname)";
        inactive_producer_timeout: Duration = Duration::from_secs(300),
            "inactive-producer-timeout" "inactive_producer_timeout" shown
            "duration of time a producer will remain in the active list since its last ping";
        tombstone_lifetime: Duration = Duration::from_secs(45),
            "tombstone-lifetime" "tombstone_lifetime" shown
            "duration of time a producer will remain tombstoned if registration remains";
    }
    flags {
        "config" String "path to config file";
        "version" Bool "print version string";
        "verbose" Bool "[deprecated] has no effect, use --log-level";
    }
    extra {
        /// Arguments Go's flag parser ignores (from the first non-flag argument on).
        ignored_args: Vec<String> = Vec::new();
    }
}

/// What the command line asks `main` to do.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Config>),
    /// `--version`: the line to print on stdout, then exit 0.
    Version(String),
    /// `-h`/`--help`: the usage text (Go prints it on stderr), then exit 0.
    Help(String),
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

/// Parses the process arguments (`args` includes `argv[0]`) and the `--config` file.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, ConfigError> {
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    match options::parse(OPTIONS, Config::default(), &rest)? {
        options::Outcome::Help => Ok(Parsed::Help(usage())),
        options::Outcome::Version => Ok(Parsed::Version(version_line())),
        options::Outcome::Run {
            mut config,
            ignored,
        } => {
            config.ignored_args = ignored;
            Ok(Parsed::Run(Box::new(config)))
        }
    }
}

/// The usage text `-h` prints, in Go's layout.
pub fn usage() -> String {
    options::usage("nsqlookupd", OPTIONS, &Config::default())
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

    fn error(args: &[&str]) -> String {
        run(args).expect_err("should fail").to_string()
    }

    #[test]
    fn table_is_consistent() {
        assert_eq!(options::check(OPTIONS), Ok(()));
    }

    #[test]
    fn four_syntax_forms() {
        for args in [
            &["-tcp-address", "1.2.3.4:5"][..],
            &["-tcp-address=1.2.3.4:5"],
            &["--tcp-address", "1.2.3.4:5"],
            &["--tcp-address=1.2.3.4:5"],
        ] {
            let c = run(args).expect("parses");
            assert_eq!(c.tcp_address, "1.2.3.4:5", "{args:?}");
            assert!(c.ignored_args.is_empty());
        }
    }

    #[test]
    fn values_and_kinds() {
        let c = run(&[
            "--log-prefix",
            "-x-",
            "--log-level=WARN",
            "--tombstone-lifetime=1m30s",
            "--inactive-producer-timeout",
            "2s",
            "--verbose",
            "--version=false",
            "rest",
            "--bogus",
        ])
        .expect("parses");
        assert_eq!(c.log_prefix, "-x-");
        assert_eq!(c.log_level, LogLevel::Warn);
        assert_eq!(c.tombstone_lifetime, Duration::from_secs(90));
        assert_eq!(c.inactive_producer_timeout, Duration::from_secs(2));
        assert_eq!(
            c.ignored_args,
            vec!["rest".to_string(), "--bogus".to_string()]
        );
        let c = run(&["--http-address=a:1", "--", "--http-address=b:2"]).expect("ok");
        assert_eq!(c.http_address, "a:1");
        assert_eq!(c.ignored_args, vec!["--http-address=b:2".to_string()]);
    }

    #[test]
    fn go_error_texts() {
        assert_eq!(error(&["--bogus"]), "flag provided but not defined: -bogus");
        assert_eq!(error(&["---x"]), "bad flag syntax: ---x");
        assert_eq!(error(&["-=x"]), "bad flag syntax: -=x");
        assert_eq!(
            error(&["--tcp-address"]),
            "flag needs an argument: -tcp-address"
        );
        assert_eq!(
            error(&["--tombstone-lifetime=5"]),
            "invalid value \"5\" for flag -tombstone-lifetime: parse error"
        );
        assert_eq!(
            error(&["--log-level=nope"]),
            "invalid value \"nope\" for flag -log-level: \
             invalid log level 'nope' (debug, info, warn, error, fatal)"
        );
        assert_eq!(
            error(&["--verbose=yes"]),
            "invalid boolean value \"yes\" for -verbose: parse error"
        );
        assert!(error(&["--tombstone-lifetime=-1s"]).contains("negative"));
    }

    #[test]
    fn help_forms() {
        for arg in ["-h", "--help", "-help"] {
            let argv = ["nsqlookupd".to_string(), arg.to_string()];
            assert!(matches!(parse_args(argv), Ok(Parsed::Help(_))), "{arg}");
        }
    }

    #[test]
    fn usage_lists_every_flag_like_go() {
        let text = usage();
        let host = hostname();
        assert!(text.starts_with(&format!(
            "Usage of nsqlookupd:\n  -broadcast-address string\n    \taddress of this lookupd \
             node, (default to the OS hostname) (default {host:?})\n"
        )));
        assert!(text.contains("\n  -verbose\n    \t[deprecated]"));
        assert!(text.ends_with("  -version\n    \tprint version string\n"));
    }
}
