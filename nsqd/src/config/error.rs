//! `ConfigError`: everything that stops nsqd before it binds a socket. The texts follow Go
//! nsqd where the spec quotes them (nsqd.md §1.1, §10); `main` prints the error and exits 1.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag this nsqd does not have (Go: `flag provided but not defined: -foo`).
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),

    /// `---x`, `-=x` and the like.
    #[error("bad flag syntax: {0}")]
    BadFlagSyntax(String),

    /// A non-bool flag was the last argument.
    #[error("flag needs an argument: -{0}")]
    MissingFlagValue(String),

    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidFlagValue {
        flag: String,
        value: String,
        reason: String,
    },

    /// Any other command-line error (clap's text, first line).
    #[error("{0}")]
    Flags(String),

    #[error("failed to load config file {path} - {source}")]
    ReadConfigFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to load config file {path} - {source}")]
    ParseConfigFile {
        path: String,
        #[source]
        source: toml::de::Error,
    },

    /// An invalid `tls_required`, `tls_min_version` or `log_level` in the config file; the
    /// value is rendered as Go's `%v` would.
    #[error("failed parsing {key} {value}")]
    FailedParsing { key: &'static str, value: String },

    /// Any other config-file value of the wrong type or out of range.
    #[error("failed to coerce value {value} for {key} - {reason}")]
    ConfigValue {
        key: &'static str,
        value: String,
        reason: String,
    },

    #[error("--max-deflate-level must be [1,9]")]
    MaxDeflateLevel,

    #[error("--node-id must be [0,1024)")]
    NodeId,

    #[error("--auth-http-request-method must be post or get")]
    AuthHttpRequestMethod,

    #[error("cannot require TLS client connections without TLS key and cert")]
    TlsRequiredWithoutCert,

    #[error("invalid E2E processing latency percentile: {0}")]
    Percentile(f64),

    /// A period Go hands to `time.NewTicker`, which panics on zero; we refuse to start.
    #[error("--{flag} must be greater than 0 (got {value:?})")]
    ZeroInterval { flag: &'static str, value: Duration },
}
