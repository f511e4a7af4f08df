//! nsqlookupd's command line in Go `flag` package syntax (nsqlookupd.md §4): `-flag`,
//! `--flag`, `-flag=value`, `--flag value` (not for bools), the first non-flag argument or
//! `--` ends parsing, `-h`/`-help` asks for usage. Error texts are Go's. Only parsing
//! here: which source wins is `mod.rs`'s job.

use super::{duration, ConfigError, LogLevel};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Text,
    Duration,
    Level,
}

/// One flag: name, value kind, usage text as Go prints it (default included).
struct Spec {
    name: &'static str,
    kind: Kind,
    usage: &'static str,
}

/// Every flag, sorted by name (the order of Go's usage output).
const SPECS: &[Spec] = &[
    Spec {
        name: "broadcast-address",
        kind: Kind::Text,
        usage: "address of this lookupd node, (default to the OS hostname)",
    },
    Spec {
        name: "config",
        kind: Kind::Text,
        usage: "path to config file",
    },
    Spec {
        name: "http-address",
        kind: Kind::Text,
        usage: "<addr>:<port> to listen on for HTTP clients (default \"0.0.0.0:4161\")",
    },
    Spec {
        name: "inactive-producer-timeout",
        kind: Kind::Duration,
        usage: "duration of time a producer will remain in the active list since its last ping (default 5m0s)",
    },
    Spec {
        name: "log-level",
        kind: Kind::Level,
        usage: "set log verbosity: debug, info, warn, error, or fatal (default INFO)",
    },
    Spec {
        name: "log-prefix",
        kind: Kind::Text,
        usage: "log message prefix (default \"[nsqlookupd] \")",
    },
    Spec {
        name: "tcp-address",
        kind: Kind::Text,
        usage: "<addr>:<port> to listen on for TCP clients (default \"0.0.0.0:4160\")",
    },
    Spec {
        name: "tombstone-lifetime",
        kind: Kind::Duration,
        usage: "duration of time a producer will remain tombstoned if registration remains (default 45s)",
    },
    Spec {
        name: "verbose",
        kind: Kind::Bool,
        usage: "[deprecated] has no effect, use --log-level",
    },
    Spec {
        name: "version",
        kind: Kind::Bool,
        usage: "print version string",
    },
];

/// The flags given on the command line (`None` = not given; the last occurrence wins).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags {
    pub config: Option<String>,
    pub version: Option<bool>,
    pub verbose: Option<bool>,
    pub log_level: Option<LogLevel>,
    pub log_prefix: Option<String>,
    pub tcp_address: Option<String>,
    pub http_address: Option<String>,
    pub broadcast_address: Option<String>,
    pub inactive_producer_timeout: Option<Duration>,
    pub tombstone_lifetime: Option<Duration>,
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandLine {
    Help,
    Flags {
        flags: Flags,
        /// Everything from the first non-flag argument (or after `--`); Go ignores these.
        ignored: Vec<String>,
    },
}

/// Parses `args` (without `argv[0]`) as Go's `flag.FlagSet.Parse` does.
pub fn parse(args: &[String]) -> Result<CommandLine, ConfigError> {
    let mut flags = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        i += 1;
        if arg == "--" {
            break;
        }
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .unwrap_or(arg);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(ConfigError::BadFlagSyntax(arg.clone()));
        }
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            if name == "help" || name == "h" {
                return Ok(CommandLine::Help);
            }
            return Err(ConfigError::UnknownFlag(name.to_string()));
        };
        let value = match (spec.kind, inline) {
            (_, Some(v)) => v.to_string(),
            (Kind::Bool, None) => "true".to_string(),
            (_, None) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| ConfigError::MissingFlagValue(name.to_string()))?;
                i += 1;
                v.clone()
            }
        };
        set(&mut flags, spec, value)?;
    }
    Ok(CommandLine::Flags {
        flags,
        ignored: args[i..].to_vec(),
    })
}

fn set(flags: &mut Flags, spec: &Spec, value: String) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidFlagValue {
        flag: spec.name,
        value: value.clone(),
        reason,
    };
    match spec.name {
        "version" | "verbose" => {
            let b = parse_bool(&value).ok_or_else(|| ConfigError::InvalidBool {
                flag: spec.name,
                value: value.clone(),
            })?;
            if spec.name == "version" {
                flags.version = Some(b);
            } else {
                flags.verbose = Some(b);
            }
        }
        "log-level" => {
            flags.log_level = Some(value.parse::<LogLevel>().map_err(invalid)?);
        }
        "inactive-producer-timeout" | "tombstone-lifetime" => {
            // Go's flag package reports every duration error as "parse error"; a
            // negative duration (valid in Go) is refused with its own reason.
            let d = duration::parse(&value).map_err(|e| {
                invalid(if e.starts_with("negative") {
                    e
                } else {
                    "parse error".to_string()
                })
            })?;
            if spec.name == "tombstone-lifetime" {
                flags.tombstone_lifetime = Some(d);
            } else {
                flags.inactive_producer_timeout = Some(d);
            }
        }
        "config" => flags.config = Some(value),
        "log-prefix" => flags.log_prefix = Some(value),
        "tcp-address" => flags.tcp_address = Some(value),
        "http-address" => flags.http_address = Some(value),
        "broadcast-address" => flags.broadcast_address = Some(value),
        // SPECS and this match list the same names.
        _ => return Err(ConfigError::UnknownFlag(spec.name.to_string())),
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Usage text in the layout of Go's `flag.PrintDefaults`; `hostname` is the default of
/// `--broadcast-address`.
pub fn usage(hostname: &str) -> String {
    let mut out = String::from("Usage of nsqlookupd:\n");
    for spec in SPECS {
        let kind = match spec.kind {
            Kind::Bool => "",
            Kind::Text => " string",
            Kind::Duration => " duration",
            Kind::Level => " value",
        };
        out.push_str(&format!("  -{}{kind}\n    \t{}", spec.name, spec.usage));
        if spec.name == "broadcast-address" {
            out.push_str(&format!(" (default {hostname:?})"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<(Flags, Vec<String>), ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args)? {
            CommandLine::Flags { flags, ignored } => Ok((flags, ignored)),
            CommandLine::Help => Err(ConfigError::UnknownFlag("help".to_string())),
        }
    }

    fn error(args: &[&str]) -> String {
        parsed(args).expect_err("should fail").to_string()
    }

    #[test]
    fn four_syntax_forms() {
        for args in [
            &["-tcp-address", "1.2.3.4:5"][..],
            &["-tcp-address=1.2.3.4:5"],
            &["--tcp-address", "1.2.3.4:5"],
            &["--tcp-address=1.2.3.4:5"],
        ] {
            let (f, ignored) = parsed(args).expect("parses");
            assert_eq!(f.tcp_address.as_deref(), Some("1.2.3.4:5"), "{args:?}");
            assert!(ignored.is_empty());
        }
    }

    #[test]
    fn values_and_kinds() {
        let (f, ignored) = parsed(&[
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
        assert_eq!(f.log_prefix.as_deref(), Some("-x-"));
        assert_eq!(f.log_level, Some(LogLevel::Warn));
        assert_eq!(f.tombstone_lifetime, Some(Duration::from_secs(90)));
        assert_eq!(f.inactive_producer_timeout, Some(Duration::from_secs(2)));
        assert_eq!((f.verbose, f.version), (Some(true), Some(false)));
        assert_eq!(ignored, vec!["rest".to_string(), "--bogus".to_string()]);
        let (f, ignored) = parsed(&["--http-address=a:1", "--", "--http-address=b:2"]).expect("ok");
        assert_eq!(f.http_address.as_deref(), Some("a:1"));
        assert_eq!(ignored, vec!["--http-address=b:2".to_string()]);
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
            assert_eq!(parse(&[arg.to_string()]).expect("help"), CommandLine::Help);
        }
    }

    #[test]
    fn usage_lists_every_flag_like_go() {
        let text = usage("vm");
        assert!(text.starts_with(
            "Usage of nsqlookupd:\n  -broadcast-address string\n    \taddress of this lookupd \
             node, (default to the OS hostname) (default \"vm\")\n"
        ));
        assert!(text.contains("\n  -verbose\n    \t[deprecated]"));
        assert!(text.ends_with("  -version\n    \tprint version string\n"));
    }
}
