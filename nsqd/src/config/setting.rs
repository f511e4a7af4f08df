//! Typed values of the options that are not plain strings or numbers: log level (shared
//! with nsqlookupd, from `daemon`), TLS requirement, TLS minimum version and auth request
//! method, with their Go spellings and the integers `GET /config/<key>` reports for them.

use super::literal;

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
