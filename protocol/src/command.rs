//! Client → server commands of protocol V2, as the decoder hands them to nsqd.

use crate::message::MessageId;
use bytes::Bytes;

/// The command word of a line, before its parameters are checked. `Unknown` still goes
/// through the connection's pre-dispatch checks (the TLS policy applies to it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    Identify,
    Auth,
    Sub,
    Pub,
    Mpub,
    Dpub,
    Rdy,
    Fin,
    Req,
    Touch,
    Cls,
    Nop,
    Unknown,
}

impl CommandName {
    /// Exact, case-sensitive match of the first token.
    pub fn parse(word: &[u8]) -> CommandName {
        match word {
            b"IDENTIFY" => CommandName::Identify,
            b"AUTH" => CommandName::Auth,
            b"SUB" => CommandName::Sub,
            b"PUB" => CommandName::Pub,
            b"MPUB" => CommandName::Mpub,
            b"DPUB" => CommandName::Dpub,
            b"RDY" => CommandName::Rdy,
            b"FIN" => CommandName::Fin,
            b"REQ" => CommandName::Req,
            b"TOUCH" => CommandName::Touch,
            b"CLS" => CommandName::Cls,
            b"NOP" => CommandName::Nop,
            _ => CommandName::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Identify => "IDENTIFY",
            CommandName::Auth => "AUTH",
            CommandName::Sub => "SUB",
            CommandName::Pub => "PUB",
            CommandName::Mpub => "MPUB",
            CommandName::Dpub => "DPUB",
            CommandName::Rdy => "RDY",
            CommandName::Fin => "FIN",
            CommandName::Req => "REQ",
            CommandName::Touch => "TOUCH",
            CommandName::Cls => "CLS",
            CommandName::Nop => "NOP",
            CommandName::Unknown => "",
        }
    }
}

/// A complete, syntactically valid command. Names are already checked against the name
/// rules and sizes against the limits; state rules are the connection's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The raw JSON body.
    Identify(Bytes),
    /// The secret.
    Auth(Bytes),
    Sub {
        topic: String,
        channel: String,
    },
    Pub {
        topic: String,
        body: Bytes,
    },
    /// Each body shares the one buffer the MPUB was read into.
    Mpub {
        topic: String,
        bodies: Vec<Bytes>,
    },
    Dpub {
        topic: String,
        defer_ms: u64,
        body: Bytes,
    },
    Rdy(u64),
    Fin(MessageId),
    /// `timeout_ms` is already clamped to `[0, max_req_timeout]`.
    Req {
        id: MessageId,
        timeout_ms: u64,
    },
    Touch(MessageId),
    Cls,
    Nop,
}

impl Command {
    pub fn name(&self) -> CommandName {
        match self {
            Command::Identify(_) => CommandName::Identify,
            Command::Auth(_) => CommandName::Auth,
            Command::Sub { .. } => CommandName::Sub,
            Command::Pub { .. } => CommandName::Pub,
            Command::Mpub { .. } => CommandName::Mpub,
            Command::Dpub { .. } => CommandName::Dpub,
            Command::Rdy(_) => CommandName::Rdy,
            Command::Fin(_) => CommandName::Fin,
            Command::Req { .. } => CommandName::Req,
            Command::Touch(_) => CommandName::Touch,
            Command::Cls => CommandName::Cls,
            Command::Nop => CommandName::Nop,
        }
    }
}
