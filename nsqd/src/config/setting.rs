//! Typed values of the options that are not plain strings or numbers: log level (shared
//! with nsqlookupd, from `daemon`), TLS requirement, TLS minimum version and auth request
//! method, with their Go spellings, the integers `GET /config/<key>` reports for them, and
//! how each reads a flag and a config value ([`OptionValue`]).

use options::{OptionValue, SetError};
use serde_json::{json, Value};

pub use daemon::log_level::LogLevel;

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
        match options::parse_bool(&lower) {
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

/// A Go bool-like flag: `--tls-required` alone is `true`.
impl OptionValue for TlsRequired {
    const WORD: &'static str = "";
    const BOOL_FLAG: bool = true;
    const FILE_AS_TEXT: bool = true;

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = TlsRequired::parse(text).ok_or_else(|| {
            // Go's tlsRequiredOption.Set lowercases, then reports strconv.ParseBool's error.
            let lower = text.to_ascii_lowercase();
            format!("strconv.ParseBool: parsing {lower:?}: invalid syntax")
        })?;
        Ok(())
    }

    fn to_json(&self) -> Value {
        json!(self.as_int())
    }

    fn usage_default(&self) -> Option<String> {
        None
    }
}

impl OptionValue for TlsVersion {
    const WORD: &'static str = "value";
    const FILE_AS_TEXT: bool = true;

    /// Go's `tlsMinVersionOption.Set("")` leaves the default in place (and the flag still
    /// counts as given, so it beats the config file).
    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = if text.is_empty() {
            TlsVersion::default()
        } else {
            TlsVersion::parse(text)
                .ok_or_else(|| format!("unknown tlsVersionOption {:?}", text.to_lowercase()))?
        };
        Ok(())
    }

    fn to_json(&self) -> Value {
        json!(self.as_u16())
    }

    /// Go 1.3.0 prints the protocol number (`769`).
    fn usage_default(&self) -> Option<String> {
        Some(self.as_u16().to_string())
    }
}

/// A Go string option that `nsqd.New` checks: a bad value is a startup error, reported
/// after every other value was read.
impl OptionValue for AuthRequestMethod {
    const WORD: &'static str = "string";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = AuthRequestMethod::parse(text).ok_or_else(|| {
            SetError::Startup("--auth-http-request-method must be post or get".to_string())
        })?;
        Ok(())
    }

    fn from_file(value: &toml::Value) -> Result<AuthRequestMethod, SetError> {
        let mut method = AuthRequestMethod::default();
        method.set(true, &String::from_file(value)?)?;
        Ok(method)
    }

    fn to_json(&self) -> Value {
        json!(self.as_str())
    }

    fn usage_default(&self) -> Option<String> {
        Some(format!("{:?}", self.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
