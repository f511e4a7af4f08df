//! `ConfigError`: everything that stops nsqd before it binds a socket: the command line and
//! config file (`options`' errors, Go's texts) and Go nsqd's startup checks. `main` prints
//! the error and exits 1.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line or the config file.
    #[error(transparent)]
    Options(#[from] options::Error),

    #[error("--max-deflate-level must be [1,9]")]
    MaxDeflateLevel,

    #[error("--node-id must be [0,1024)")]
    NodeId,

    #[error("cannot require TLS client connections without TLS key and cert")]
    TlsRequiredWithoutCert,

    #[error("invalid E2E processing latency percentile: {0}")]
    Percentile(f64),

    /// A period Go hands to `time.NewTicker`, which panics on zero; we refuse to start.
    #[error("--{flag} must be greater than 0 (got {value:?})")]
    ZeroInterval { flag: &'static str, value: Duration },

    /// Beyond Go: attempts are a u16 on the wire.
    #[error("--max-attempts must be [0,65535] (got {0})")]
    MaxAttempts(i64),

    /// Beyond Go: `--max-msg-age-action` is `drop` or `dead`.
    #[error("--max-msg-age-action must be 'drop' or 'dead' (got {0:?})")]
    MaxMsgAgeAction(String),
}
