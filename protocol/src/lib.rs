//! The NSQ wire protocol as pure data: client commands (V2), server frames, the message
//! encoding, error codes and the topic/channel name rules. No sockets and no clocks here:
//! nsqd feeds bytes in and takes bytes out, so every rule can be tested byte by byte.

pub mod codec;
pub mod command;
pub mod error;
pub mod frame;
pub mod lookup;
pub mod message;
pub mod names;
pub mod quote;

pub use codec::{Decoder, Limits};
pub use command::{Command, CommandName};
pub use error::{DecodeError, ErrorCode, ProtocolError};
pub use message::{Message, MessageId, MESSAGE_HEADER_LEN};

/// The four bytes a V2 client sends first.
pub const MAGIC_V2: &[u8; 4] = b"  V2";
/// The four bytes an nsqd sends first to nsqlookupd.
pub const MAGIC_V1: &[u8; 4] = b"  V1";
