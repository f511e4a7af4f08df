//! The NSQ wire protocol as pure data, both halves: client commands (V2) decoded
//! ([`codec`]) and encoded ([`encode`]), server frames encoded ([`frame`]) and decoded
//! ([`frame_decode`]), the message encoding, error codes, the topic/channel name rules,
//! the V1 (nsqlookupd) protocol ([`lookup`]), the JSON bodies ([`json`]) and the
//! snappy/deflate stream layer ([`compress`]). No sockets and no clocks here: daemons and
//! clients feed bytes in and take bytes out, so every rule can be tested byte by byte.

pub mod codec;
pub mod command;
pub mod compress;
pub mod encode;
pub mod error;
pub mod frame;
pub mod frame_decode;
pub mod json;
pub mod lookup;
pub mod message;
pub mod names;
pub mod quote;

pub use codec::{Decoder, Limits};
pub use command::{Command, CommandName};
pub use error::{DecodeError, ErrorCode, ProtocolError};
pub use frame_decode::{Frame, FrameDecoder, FrameError, FrameRef};
pub use message::{Message, MessageId, MESSAGE_HEADER_LEN};

/// The four bytes a V2 client sends first.
pub const MAGIC_V2: &[u8; 4] = b"  V2";
/// The four bytes an nsqd sends first to nsqlookupd.
pub const MAGIC_V1: &[u8; 4] = b"  V1";
