//! Typed values of the options that are not plain strings or numbers: log level, TLS
//! requirement, TLS minimum version and auth request method, with their Go spellings and
//! the integers `GET /config/<key>` reports for them.

use std::fmt;
use std::str::FromStr;

use super::literal;

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

    /// The label a log line carries (nsqd.md §11): `DEBUG`, `INFO`, `WARNING`, `ERROR`, `FATAL`.
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

/// `--tls-required`; the discriminant is Go's (`TLSNotRequired`, `TLSRequiredExceptHTTP`,
/// `TLSRequired`) and what `/config/tls_required` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TlsRequired {
    #[default]
    No = 0,
    /// TCP clients must upgrade to TLS; plain HTTP stays allowed.
    TcpHttps = 1,
    Yes = 2,
}

impl TlsRequired {
    /// Go's `tlsRequiredOption.Set`: lowercased, then `tcp-https` or a `strconv.ParseBool` spelling.
    pub fn parse(s: &str) -> Option<TlsRequired> {
        let lower = s.to_ascii_lowercase();
        if lower == "tcp-https" {
            return Some(TlsRequired::TcpHttps);
        }
        match literal::parse_bool(&lower) {
            Ok(true) => Some(TlsRequired::Yes),
            Ok(false) => Some(TlsRequired::No),
            Err(_) => None,
        }
    }

    /// 0, 1 or 2.
    pub fn as_int(self) -> u8 {
        self as u8
    }

    /// TCP clients must negotiate TLS before any command other than IDENTIFY.
    pub fn tcp(self) -> bool {
        self != TlsRequired::No
    }

    /// The plain HTTP listener refuses requests (HTTPS only).
    pub fn http(self) -> bool {
        self == TlsRequired::Yes
    }
}

/// `--tls-min-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TlsVersion {
    #[default]
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// `tls1.0` ..= `tls1.3`, any case. (The empty string, which Go reads as "keep the
    /// default", is handled by the callers.)
    pub fn parse(s: &str) -> Option<TlsVersion> {
        match s.to_ascii_lowercase().as_str() {
            "tls1.0" => Some(TlsVersion::Tls10),
            "tls1.1" => Some(TlsVersion::Tls11),
            "tls1.2" => Some(TlsVersion::Tls12),
            "tls1.3" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    /// The protocol version number: 769 (0x0301) for TLS 1.0 ..= 772 for TLS 1.3.
    pub fn as_u16(self) -> u16 {
        match self {
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
        }
    }
}

/// `--auth-http-request-method`: exactly `get` or `post` (case-sensitive, as in Go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthRequestMethod {
    #[default]
    Get,
    Post,
}

impl AuthRequestMethod {
    pub fn parse(s: &str) -> Option<AuthRequestMethod> {
        match s {
            "get" => Some(AuthRequestMethod::Get),
            "post" => Some(AuthRequestMethod::Post),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthRequestMethod::Get => "get",
            AuthRequestMethod::Post => "post",
        }
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

    #[test]
    fn tls_required_spellings() {
        for s in ["true", "TRUE", "True", "t", "T", "1", "tRuE"] {
            assert_eq!(TlsRequired::parse(s), Some(TlsRequired::Yes), "{s}");
        }
        for s in ["false", "F", "0", "FaLsE"] {
            assert_eq!(TlsRequired::parse(s), Some(TlsRequired::No), "{s}");
        }
        assert_eq!(TlsRequired::parse("tcp-https"), Some(TlsRequired::TcpHttps));
        assert_eq!(TlsRequired::parse("TCP-HTTPS"), Some(TlsRequired::TcpHttps));
        assert_eq!(TlsRequired::parse("yes"), None);
        assert_eq!(TlsRequired::parse(""), None);
        assert_eq!(TlsRequired::TcpHttps.as_int(), 1);
        assert!(TlsRequired::TcpHttps.tcp() && !TlsRequired::TcpHttps.http());
        assert!(TlsRequired::Yes.tcp() && TlsRequired::Yes.http());
        assert!(!TlsRequired::No.tcp());
    }

    #[test]
    fn tls_versions() {
        assert_eq!(
            TlsVersion::parse("TLS1.2").map(TlsVersion::as_u16),
            Some(771)
        );
        assert_eq!(
            TlsVersion::parse("tls1.0").map(TlsVersion::as_u16),
            Some(769)
        );
        assert_eq!(
            TlsVersion::parse("tls1.1").map(TlsVersion::as_u16),
            Some(770)
        );
        assert_eq!(
            TlsVersion::parse("tls1.3").map(TlsVersion::as_u16),
            Some(772)
        );
        assert_eq!(TlsVersion::parse("ssl3.0"), None);
        assert_eq!(TlsVersion::parse("tls1.4"), None);
        assert_eq!(TlsVersion::default(), TlsVersion::Tls10);
    }

    #[test]
    fn auth_methods() {
        assert_eq!(
            AuthRequestMethod::parse("get"),
            Some(AuthRequestMethod::Get)
        );
        assert_eq!(
            AuthRequestMethod::parse("post"),
            Some(AuthRequestMethod::Post)
        );
        assert_eq!(AuthRequestMethod::parse("GET"), None);
        assert_eq!(AuthRequestMethod::Post.as_str(), "post");
    }
}
