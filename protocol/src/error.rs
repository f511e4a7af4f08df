//! Error codes of the V2 protocol (`E_*`), which of them close the connection, and the
//! error type the decoder and command handlers return.

use std::fmt;

/// Every error code nsqd sends in an error frame. The name maps 1:1 to the wire text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Invalid,
    BadProtocol,
    BadBody,
    BadTopic,
    BadChannel,
    BadMessage,
    PubFailed,
    MpubFailed,
    DpubFailed,
    FinFailed,
    ReqFailed,
    TouchFailed,
    IdentifyFailed,
    SubFailed,
    AuthFailed,
    AuthFirst,
    AuthDisabled,
    AuthError,
    Unauthorized,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "E_INVALID",
            ErrorCode::BadProtocol => "E_BAD_PROTOCOL",
            ErrorCode::BadBody => "E_BAD_BODY",
            ErrorCode::BadTopic => "E_BAD_TOPIC",
            ErrorCode::BadChannel => "E_BAD_CHANNEL",
            ErrorCode::BadMessage => "E_BAD_MESSAGE",
            ErrorCode::PubFailed => "E_PUB_FAILED",
            ErrorCode::MpubFailed => "E_MPUB_FAILED",
            ErrorCode::DpubFailed => "E_DPUB_FAILED",
            ErrorCode::FinFailed => "E_FIN_FAILED",
            ErrorCode::ReqFailed => "E_REQ_FAILED",
            ErrorCode::TouchFailed => "E_TOUCH_FAILED",
            ErrorCode::IdentifyFailed => "E_IDENTIFY_FAILED",
            ErrorCode::SubFailed => "E_SUB_FAILED",
            ErrorCode::AuthFailed => "E_AUTH_FAILED",
            ErrorCode::AuthFirst => "E_AUTH_FIRST",
            ErrorCode::AuthDisabled => "E_AUTH_DISABLED",
            ErrorCode::AuthError => "E_AUTH_ERROR",
            ErrorCode::Unauthorized => "E_UNAUTHORIZED",
        }
    }

    /// The code a client reads at the start of an error frame (`E_INVALID ...`); `None`
    /// for text no nsqd sends.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        const ALL: [ErrorCode; 19] = [
            ErrorCode::Invalid,
            ErrorCode::BadProtocol,
            ErrorCode::BadBody,
            ErrorCode::BadTopic,
            ErrorCode::BadChannel,
            ErrorCode::BadMessage,
            ErrorCode::PubFailed,
            ErrorCode::MpubFailed,
            ErrorCode::DpubFailed,
            ErrorCode::FinFailed,
            ErrorCode::ReqFailed,
            ErrorCode::TouchFailed,
            ErrorCode::IdentifyFailed,
            ErrorCode::SubFailed,
            ErrorCode::AuthFailed,
            ErrorCode::AuthFirst,
            ErrorCode::AuthDisabled,
            ErrorCode::AuthError,
            ErrorCode::Unauthorized,
        ];
        let code = text.split(' ').next().unwrap_or_default();
        ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Only FIN/REQ/TOUCH failures leave the connection open (checked against v1.3.0).
    pub fn is_fatal(self) -> bool {
        !matches!(
            self,
            ErrorCode::FinFailed | ErrorCode::ReqFailed | ErrorCode::TouchFailed
        )
    }
}

/// An error the server reports to the client in an error frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub desc: String,
    /// Client bytes echoed verbatim after `desc` (the reference prints them raw).
    pub raw: Vec<u8>,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, desc: impl Into<String>) -> Self {
        ProtocolError {
            code,
            desc: desc.into(),
            raw: Vec::new(),
        }
    }

    /// Append client-supplied bytes to the description, unchanged.
    pub fn with_raw(mut self, raw: &[u8]) -> Self {
        self.raw = raw.to_vec();
        self
    }

    /// The error frame's data, bytes exactly as the reference writes them.
    pub fn frame_bytes(&self) -> Vec<u8> {
        if self.desc.is_empty() && self.raw.is_empty() && self.code == ErrorCode::BadProtocol {
            return self.code.as_str().as_bytes().to_vec();
        }
        let mut v = format!("{} {}", self.code.as_str(), self.desc).into_bytes();
        v.extend_from_slice(&self.raw);
        v
    }

    pub fn invalid(desc: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, desc)
    }

    pub fn is_fatal(&self) -> bool {
        self.code.is_fatal()
    }

    /// The error frame's data as text: `CODE desc` (just `CODE` when there is no
    /// description); raw client bytes, if any, are shown lossily.
    pub fn frame_text(&self) -> String {
        if self.desc.is_empty() && self.code == ErrorCode::BadProtocol {
            return self.code.as_str().to_string();
        }
        format!(
            "{} {}{}",
            self.code.as_str(),
            self.desc,
            String::from_utf8_lossy(&self.raw)
        )
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.frame_text())
    }
}

/// What the decoder can fail with: an error frame to send (then close if fatal), or a
/// condition on which the reference closes without sending anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// A command line longer than the reference's 16 KiB line buffer.
    #[error("command line too long")]
    LineTooLong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fin_req_touch_are_non_fatal() {
        assert!(!ErrorCode::FinFailed.is_fatal());
        assert!(!ErrorCode::ReqFailed.is_fatal());
        assert!(!ErrorCode::TouchFailed.is_fatal());
        assert!(ErrorCode::Invalid.is_fatal());
        assert!(ErrorCode::BadBody.is_fatal());
        assert!(ErrorCode::Unauthorized.is_fatal());
    }

    #[test]
    fn codes_parse_back_from_error_frames() {
        assert_eq!(
            ErrorCode::parse("E_PUB_FAILED topic is exiting"),
            Some(ErrorCode::PubFailed)
        );
        assert_eq!(
            ErrorCode::parse("E_BAD_PROTOCOL"),
            Some(ErrorCode::BadProtocol)
        );
        assert_eq!(ErrorCode::parse("E_NOPE x"), None);
        assert_eq!(ErrorCode::parse(""), None);
    }

    #[test]
    fn frame_text_formats() {
        assert_eq!(
            ProtocolError::invalid("invalid command ").frame_text(),
            "E_INVALID invalid command "
        );
        assert_eq!(
            ProtocolError::new(ErrorCode::BadProtocol, "").frame_text(),
            "E_BAD_PROTOCOL"
        );
    }
}
