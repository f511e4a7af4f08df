//! The errors a producer or consumer call returns: nsqd's `E_*` answers as typed errors,
//! and the connection's own failures.

use protocol::ErrorCode;
use std::io;

/// What went wrong with a call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// nsqd answered with an error frame (`E_BAD_TOPIC ...`). `code` is `None` for a
    /// code this client does not know; `text` is the whole frame.
    #[error("nsqd error: {text}")]
    Nsqd {
        code: Option<ErrorCode>,
        text: String,
    },
    /// Connecting or the handshake failed.
    #[error("connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// The connection broke (read/write failure, timeout, closed by nsqd) before the
    /// answer came; the command may or may not have been applied.
    #[error("connection to {addr} lost: {reason}")]
    ConnectionLost { addr: String, reason: String },
    /// nsqd sent something that is not NSQ protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The producer or consumer was stopped.
    #[error("stopped")]
    Stopped,
    /// The argument is not valid (an empty MPUB, a bad topic name, ...).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// nsqlookupd could not be queried.
    #[error("nsqlookupd {addr}: {reason}")]
    Lookupd { addr: String, reason: String },
    /// The consumer is already connected to this nsqd.
    #[error("already connected to {0}")]
    AlreadyConnected(String),
}

impl Error {
    /// The error from an error frame's data.
    pub(crate) fn from_frame(data: &[u8]) -> Error {
        let text = String::from_utf8_lossy(data).into_owned();
        Error::Nsqd {
            code: ErrorCode::parse(&text),
            text,
        }
    }

    pub(crate) fn lost(addr: &str, e: impl std::fmt::Display) -> Error {
        Error::ConnectionLost {
            addr: addr.to_string(),
            reason: e.to_string(),
        }
    }

    pub(crate) fn connect(addr: &str, e: impl std::fmt::Display) -> Error {
        Error::Connect {
            addr: addr.to_string(),
            reason: e.to_string(),
        }
    }

    /// The `E_*` code if nsqd answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Nsqd { code, .. } => *code,
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::ConnectionLost {
            addr: String::new(),
            reason: e.to_string(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
