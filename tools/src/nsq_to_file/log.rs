//! nsq_to_file's own log lines, as Go NSQ's `lg` package writes them through a logger
//! made with `--log-prefix` and `log.Ldate|log.Ltime|log.Lmicroseconds`:
//! `[nsq_to_file] 2006/01/02 15:04:05.000000 INFO: message`, below `--log-level` dropped.

use super::localtime::LocalTime;

/// `lg`'s levels, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// `lg.ParseLogLevel`.
    pub(crate) fn parse(s: &str) -> Option<Level> {
        match s.to_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            "fatal" => Some(Level::Fatal),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

/// The tool's logger.
#[derive(Debug, Clone)]
pub(crate) struct Log {
    pub prefix: String,
    pub level: Level,
}

impl Log {
    /// The line for `message` at `level` (without the level check).
    pub(crate) fn line(&self, level: Level, message: &str) -> String {
        let mut out = format!(
            "{}{}{}: {message}",
            self.prefix,
            LocalTime::now().log_stamp(),
            level.word()
        );
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    pub(crate) fn log(&self, level: Level, message: &str) {
        if level >= self.level {
            eprint!("{}", self.line(level, message));
        }
    }

    pub(crate) fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    pub(crate) fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }

    pub(crate) fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }

    /// A FATAL line (always written, as `lg` writes FATAL at every level), then exit
    /// status 1 as Go's `os.Exit(1)` after it.
    pub(crate) fn fatal(&self, message: &str) -> ! {
        self.log(Level::Fatal, message);
        std::process::exit(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_shape() {
        assert_eq!(Level::parse("WARN"), Some(Level::Warn));
        assert_eq!(Level::parse("warning"), None);
        let log = Log {
            prefix: "[nsq_to_file] ".into(),
            level: Level::Info,
        };
        let line = log.line(Level::Warn, "x");
        // [nsq_to_file] 2026/12/03 16:30:04.123456 WARNING: x
        assert!(line.starts_with("[nsq_to_file] "), "{line}");
        assert_eq!(
            line.len(),
            "[nsq_to_file] 2026/12/03 16:30:04.123456 WARNING: x\n".len()
        );
        assert!(line.ends_with(" WARNING: x\n"), "{line}");
    }
}
