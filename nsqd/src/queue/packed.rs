//! `Packed`: a run of queued messages stored back to back in one buffer, in the disk
//! queue's record form (`[4-byte BE length][8 ts][2 attempts][16 id][body]` each).
//!
//! This is how messages wait in memory. A published batch is encoded once into one
//! allocation (about 30 bytes of header per body, no per-message heap object), fan-out to
//! N channels clones a refcount per batch, a topic's backlog moves to its channels a whole
//! run at a time, spilling to disk is a copy of the bytes as they are, and a disk read
//! comes back as one run. Messages are decoded only when handed to a consumer, their
//! bodies slicing the shared buffer.
//!
//! Records are only ever built here, so their lengths are trusted; decoding still checks
//! them and stops at anything malformed rather than panicking.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use protocol::{Message, MessageId, MESSAGE_HEADER_LEN};

/// The record length prefix.
const PREFIX: usize = 4;

/// Messages in record form; cloning shares the buffer.
#[derive(Clone, Debug, Default)]
pub struct Packed {
    data: Bytes,
    count: usize,
}

/// Builds a `Packed` in one buffer.
#[derive(Debug, Default)]
pub struct PackedBuilder {
    buf: BytesMut,
    count: usize,
}

impl PackedBuilder {
    /// A builder with room for `bytes` bytes of records (see `record_len`).
    pub fn with_capacity(bytes: usize) -> PackedBuilder {
        PackedBuilder {
            buf: BytesMut::with_capacity(bytes),
            count: 0,
        }
    }

    /// Appends one message.
    pub fn push(&mut self, id: &MessageId, timestamp: i64, attempts: u16, body: &[u8]) {
        self.buf.reserve(record_len(body.len()));
        self.buf.put_u32((MESSAGE_HEADER_LEN + body.len()) as u32);
        self.buf.put_i64(timestamp);
        self.buf.put_u16(attempts);
        self.buf.put_slice(&id.0);
        self.buf.put_slice(body);
        self.count += 1;
    }

    pub fn push_message(&mut self, msg: &Message) {
        self.push(&msg.id, msg.timestamp, msg.attempts, &msg.body);
    }

    /// Appends a record payload (header + body) as the disk queue stores it. Payloads
    /// shorter than a header cannot be messages and are skipped; returns whether it was kept.
    pub fn push_payload(&mut self, payload: &[u8]) -> bool {
        if payload.len() < MESSAGE_HEADER_LEN {
            return false;
        }
        self.buf.reserve(PREFIX + payload.len());
        self.buf.put_u32(payload.len() as u32);
        self.buf.put_slice(payload);
        self.count += 1;
        true
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(self) -> Packed {
        Packed {
            data: self.buf.freeze(),
            count: self.count,
        }
    }
}

/// Bytes one message of `body_len` takes in a `Packed`.
pub fn record_len(body_len: usize) -> usize {
    PREFIX + MESSAGE_HEADER_LEN + body_len
}

impl Packed {
    /// Copies `msgs` into one run (requeues, timeouts, deferred messages coming due): the
    /// copy lets the buffers they were sliced from go.
    pub fn from_messages(msgs: &[Message]) -> Packed {
        let bytes = msgs.iter().map(|m| record_len(m.body.len())).sum();
        let mut b = PackedBuilder::with_capacity(bytes);
        for m in msgs {
            b.push_message(m);
        }
        b.finish()
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The records, framed as the disk queue writes them.
    pub fn framed(&self) -> &[u8] {
        &self.data
    }

    /// Byte length of the first `n` records (all of them if there are fewer).
    fn prefix_bytes(&self, n: usize) -> (usize, usize) {
        let data = &self.data[..];
        let (mut off, mut taken) = (0, 0);
        while taken < n && off + PREFIX <= data.len() {
            let len = u32::from_be_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]])
                as usize;
            if off + PREFIX + len > data.len() {
                break;
            }
            off += PREFIX + len;
            taken += 1;
        }
        (off, taken)
    }

    /// Splits off and returns the first `n` messages (all if there are fewer). Should the
    /// records end early (never for runs built here), the unreadable rest is dropped, as
    /// `pop_front` does, so callers always make progress.
    pub fn split_to(&mut self, n: usize) -> Packed {
        if n >= self.count {
            return std::mem::take(self);
        }
        let (bytes, taken) = self.prefix_bytes(n);
        let head = Packed {
            data: self.data.split_to(bytes),
            count: taken,
        };
        self.count -= taken;
        if taken < n {
            self.clear();
        }
        head
    }

    /// Removes and decodes the first message; its body shares this run's buffer.
    pub fn pop_front(&mut self) -> Option<Message> {
        if self.count == 0 || self.data.len() < PREFIX {
            self.clear();
            return None;
        }
        let len =
            u32::from_be_bytes([self.data[0], self.data[1], self.data[2], self.data[3]]) as usize;
        if PREFIX + len > self.data.len() || len < MESSAGE_HEADER_LEN {
            // Cannot happen for records built here; drop the rest rather than misparse.
            self.clear();
            return None;
        }
        self.data.advance(PREFIX);
        let payload = self.data.split_to(len);
        self.count -= 1;
        Message::decode(payload).ok()
    }

    /// A run over `data` as found, claimed to hold `count` records (fuzzing the decoder:
    /// runs built here are always well formed).
    #[cfg(feature = "fuzzing")]
    pub fn from_raw(data: Bytes, count: usize) -> Packed {
        Packed { data, count }
    }

    fn clear(&mut self) {
        self.data = Bytes::new();
        self.count = 0;
    }

    /// Decodes every message (tests).
    #[cfg(test)]
    pub fn to_messages(&self) -> Vec<Message> {
        let mut copy = self.clone();
        let mut out = Vec::with_capacity(copy.len());
        while let Some(m) = copy.pop_front() {
            out.push(m);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: u64, body: &'static [u8]) -> Message {
        Message {
            id: MessageId::from_u64(i),
            timestamp: 1_000 + i as i64,
            attempts: i as u16,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn round_trip_and_split() {
        let msgs = vec![msg(1, b"a"), msg(2, b""), msg(3, b"ccc"), msg(4, b"dddd")];
        let mut p = Packed::from_messages(&msgs);
        assert_eq!(p.len(), 4);
        assert_eq!(
            p.framed().len(),
            msgs.iter().map(|m| record_len(m.body.len())).sum::<usize>()
        );
        assert_eq!(p.to_messages(), msgs);
        let head = p.split_to(3);
        assert_eq!(head.to_messages(), msgs[..3].to_vec());
        assert_eq!(p.to_messages(), msgs[3..].to_vec());
        assert_eq!(p.split_to(10).len(), 1);
        assert!(p.is_empty());
        assert_eq!(p.pop_front(), None);
    }

    #[test]
    fn payloads_as_the_disk_queue_stores_them() {
        let m = msg(7, b"body");
        let mut framed = Vec::new();
        m.encode_into(&mut framed);
        let mut b = PackedBuilder::default();
        assert!(b.push_payload(&framed));
        assert!(!b.push_payload(b"too short"));
        let mut p = b.finish();
        assert_eq!(p.len(), 1);
        assert_eq!(p.pop_front(), Some(m));
    }

    #[test]
    fn bodies_share_the_buffer() {
        let mut p = Packed::from_messages(&[msg(1, b"xyz")]);
        let base = p.framed().as_ptr() as usize;
        let m = p.pop_front().expect("one message");
        assert_eq!(m.body.as_ptr() as usize, base + PREFIX + MESSAGE_HEADER_LEN);
    }
}
