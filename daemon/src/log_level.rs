//! `--log-level`, as both daemons spell and number it.

use std::fmt;
use std::str::FromStr;

/// `--log-level`; the discriminant is the integer Go's `lg.LogLevel` has (and `/config` shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    Debug = 1,
    #[default]
    Info = 2,
    Warn = 3,
    Error = 4,
    Fatal = 5,
}

impl LogLevel {
    /// `debug`, `info`, `warn`, `error`, `fatal`, in any case.
    pub fn parse(s: &str) -> Option<LogLevel> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Some(LogLevel::Debug),
            "info" => Some(LogLevel::Info),
            "warn" => Some(LogLevel::Warn),
            "error" => Some(LogLevel::Error),
            "fatal" => Some(LogLevel::Fatal),
            _ => None,
        }
    }

    /// 1 (debug) ..= 5 (fatal).
    pub fn as_int(self) -> u8 {
        self as u8
    }

    /// The flag spelling, lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }

    /// The label a log line carries: `DEBUG`, `INFO`, `WARNING`, `ERROR`, `FATAL`.
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogLevel::parse(s)
            .ok_or_else(|| format!("invalid log level '{s}' (debug, info, warn, error, fatal)"))
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels() {
        assert_eq!(LogLevel::parse("DEBUG"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("Info"), Some(LogLevel::Info));
        assert_eq!(LogLevel::parse("warn"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("error"), Some(LogLevel::Error));
        assert_eq!(LogLevel::parse("fAtAl"), Some(LogLevel::Fatal));
        assert_eq!(LogLevel::parse("warning"), None);
        assert_eq!(LogLevel::parse("1"), None);
        assert_eq!(LogLevel::parse(""), None);
        let ints: Vec<u8> = [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Fatal,
        ]
        .iter()
        .map(|l| l.as_int())
        .collect();
        assert_eq!(ints, [1, 2, 3, 4, 5]);
        assert_eq!(LogLevel::default(), LogLevel::Info);
        assert_eq!(LogLevel::Warn.label(), "WARNING");
        assert_eq!(
            "loud".parse::<LogLevel>(),
            Err("invalid log level 'loud' (debug, info, warn, error, fatal)".to_string())
        );
        assert!(LogLevel::Debug < LogLevel::Error);
    }
}
