//! The NSQ message: 16-byte hex ID, publish timestamp (ns), delivery attempts and body, and
//! its 26-byte header encoding shared by message frames and disk-queue records.

use bytes::{Buf, Bytes};
use std::fmt;

/// `[8 ts][2 attempts][16 id]`.
pub const MESSAGE_HEADER_LEN: usize = 26;

/// A message ID: 16 lowercase hex ASCII bytes, echoed back verbatim by FIN/REQ/TOUCH.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// The hex form of a 64-bit value, as nsqd's GUIDs are written.
    pub fn from_u64(v: u64) -> MessageId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, byte) in v.to_be_bytes().iter().enumerate() {
            out[2 * i] = HEX[(byte >> 4) as usize];
            out[2 * i + 1] = HEX[(byte & 0xf) as usize];
        }
        MessageId(out)
    }

    /// Parse a client-supplied ID parameter; anything but exactly 16 bytes is invalid.
    pub fn from_slice(b: &[u8]) -> Option<MessageId> {
        <[u8; 16]>::try_from(b).ok().map(MessageId)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The ID's bytes as text (IDs from clients may be arbitrary bytes; shown lossily).
    pub fn as_str_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.as_str_lossy())
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str_lossy())
    }
}

/// A message as it travels through nsqd. Cloning is cheap: the body is a shared `Bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    /// Publish time, nanoseconds since the Unix epoch.
    pub timestamp: i64,
    pub attempts: u16,
    pub body: Bytes,
}

/// A disk record or message frame payload that is too short to hold a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid message data: {len} bytes < {MESSAGE_HEADER_LEN}")]
pub struct ShortMessage {
    pub len: usize,
}

impl Message {
    pub fn new(id: MessageId, timestamp: i64, body: Bytes) -> Message {
        Message {
            id,
            timestamp,
            attempts: 0,
            body,
        }
    }

    pub fn header(&self) -> [u8; MESSAGE_HEADER_LEN] {
        let mut h = [0u8; MESSAGE_HEADER_LEN];
        h[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        h[8..10].copy_from_slice(&self.attempts.to_be_bytes());
        h[10..26].copy_from_slice(&self.id.0);
        h
    }

    /// Length of the encoded form (header + body).
    pub fn encoded_len(&self) -> usize {
        MESSAGE_HEADER_LEN + self.body.len()
    }

    /// Append header + body (the disk record payload and message frame data).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.body);
    }

    /// Decode header + body; the body shares `data`'s allocation.
    pub fn decode(mut data: Bytes) -> Result<Message, ShortMessage> {
        if data.len() < MESSAGE_HEADER_LEN {
            return Err(ShortMessage { len: data.len() });
        }
        let timestamp = data.get_i64();
        let attempts = data.get_u16();
        let mut id = [0u8; 16];
        data.copy_to_slice(&mut id);
        Ok(Message {
            id: MessageId(id),
            timestamp,
            attempts,
            body: data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_hex() {
        assert_eq!(
            MessageId::from_u64(0x0a1b2c3d4e5f6071).0,
            *b"0a1b2c3d4e5f6071"
        );
        assert_eq!(MessageId::from_u64(0).0, *b"0000000000000000");
        assert!(MessageId::from_slice(b"abc").is_none());
    }

    #[test]
    fn encode_decode_round_trip() {
        let m = Message {
            id: MessageId::from_u64(42),
            timestamp: 1_700_000_000_123_456_789,
            attempts: 3,
            body: Bytes::from_static(b"hello"),
        };
        let mut v = Vec::new();
        m.encode_into(&mut v);
        assert_eq!(v.len(), m.encoded_len());
        assert_eq!(Message::decode(Bytes::from(v)).ok(), Some(m));
        assert!(Message::decode(Bytes::from_static(b"short")).is_err());
    }
}
