//! The client half of server frames: `[4-byte size][4-byte type][data]` read back into
//! responses, errors and messages. [`parse_frame`] looks at a buffer without copying (the
//! load generator's path); [`FrameDecoder`] takes frames off a `BytesMut` as owned values.
//! Both say "need more" (`Ok(None)`) apart from "bad" (`Err`), and check the size field
//! against the limit as soon as it is read, before the frame's data is buffered.

use crate::frame::{FRAME_TYPE_ERROR, FRAME_TYPE_MESSAGE, FRAME_TYPE_RESPONSE};
use crate::message::{Message, MessageId, MESSAGE_HEADER_LEN};
use bytes::{Buf, Bytes, BytesMut};

/// The largest frame nsqd sends with its default `--max-msg-size` (1 MiB): a message
/// frame's type, header and body. Clients of servers with a larger limit raise it.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 4 + MESSAGE_HEADER_LEN + 1_048_576;

/// Why the bytes are not a frame; the connection cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The size field is below 4, the type field's own length.
    #[error("bad frame size {0}")]
    TooShort(u32),
    #[error("frame size {size} > {max}")]
    TooBig { size: u32, max: usize },
    #[error("unknown frame type {0}")]
    UnknownType(u32),
    /// A message frame too short for the 26-byte message header.
    #[error("short message frame ({0} bytes)")]
    ShortMessage(usize),
}

/// One frame, borrowed from the buffer it was read into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRef<'a> {
    Response(&'a [u8]),
    Error(&'a [u8]),
    Message {
        timestamp: i64,
        attempts: u16,
        id: MessageId,
        body: &'a [u8],
    },
}

/// One frame, owning its data (shared with the read buffer, not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Response(Bytes),
    Error(Bytes),
    Message(Message),
}

#[inline]
fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The size field of the frame at the start of `buf`, checked; `None` until 4 bytes.
#[inline]
fn frame_size(buf: &[u8], max_size: usize) -> Result<Option<usize>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = be_u32(buf);
    if size < 4 {
        return Err(FrameError::TooShort(size));
    }
    if size as usize > max_size {
        return Err(FrameError::TooBig {
            size,
            max: max_size,
        });
    }
    Ok(Some(size as usize))
}

/// The frame at the start of `buf` and the bytes it takes, or `None` until it is whole.
/// `max_size` bounds the size field (type + data). Inlined across crates: it is a
/// consumer's per-frame path.
#[inline]
pub fn parse_frame(
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(FrameRef<'_>, usize)>, FrameError> {
    let Some(size) = frame_size(buf, max_size)? else {
        return Ok(None);
    };
    if buf.len() < 4 + size {
        return Ok(None);
    }
    let kind = be_u32(&buf[4..]);
    let data = &buf[8..4 + size];
    let frame = match kind {
        FRAME_TYPE_RESPONSE => FrameRef::Response(data),
        FRAME_TYPE_ERROR => FrameRef::Error(data),
        FRAME_TYPE_MESSAGE => {
            if data.len() < MESSAGE_HEADER_LEN {
                return Err(FrameError::ShortMessage(data.len()));
            }
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&data[..8]);
            let mut id = [0u8; 16];
            id.copy_from_slice(&data[10..MESSAGE_HEADER_LEN]);
            FrameRef::Message {
                timestamp: i64::from_be_bytes(ts),
                attempts: u16::from_be_bytes([data[8], data[9]]),
                id: MessageId(id),
                body: &data[MESSAGE_HEADER_LEN..],
            }
        }
        other => return Err(FrameError::UnknownType(other)),
    };
    Ok(Some((frame, 4 + size)))
}

/// Takes whole frames off a read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_size: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl FrameDecoder {
    /// `max_size` bounds a frame's size field (type + data).
    pub fn new(max_size: usize) -> FrameDecoder {
        FrameDecoder { max_size }
    }

    /// The next frame, consuming its bytes; `Ok(None)` (nothing consumed) until it is
    /// whole, having reserved room in `buf` for the rest of it.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(size) = frame_size(buf, self.max_size)? else {
            return Ok(None);
        };
        if buf.len() < 4 + size {
            buf.reserve(4 + size - buf.len());
            return Ok(None);
        }
        let mut data = buf.split_to(4 + size).freeze();
        data.advance(4);
        let kind = data.get_u32();
        Ok(Some(match kind {
            FRAME_TYPE_RESPONSE => Frame::Response(data),
            FRAME_TYPE_ERROR => Frame::Error(data),
            FRAME_TYPE_MESSAGE => {
                Frame::Message(Message::decode(data).map_err(|e| FrameError::ShortMessage(e.len))?)
            }
            other => return Err(FrameError::UnknownType(other)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{put_error, put_frame, put_message, put_response, HEARTBEAT, OK};

    fn frames() -> Vec<Frame> {
        vec![
            Frame::Response(Bytes::from_static(OK)),
            Frame::Message(Message {
                id: MessageId::from_u64(7),
                timestamp: 1_700_000_000_000_000_001,
                attempts: 3,
                body: Bytes::from_static(b"hello"),
            }),
            Frame::Error(Bytes::from_static(b"E_INVALID invalid command ")),
            Frame::Message(Message {
                id: MessageId::from_u64(8),
                timestamp: -1,
                attempts: 0,
                body: Bytes::new(),
            }),
            Frame::Response(Bytes::from_static(HEARTBEAT)),
            Frame::Response(Bytes::new()),
        ]
    }

    fn encode(frames: &[Frame]) -> BytesMut {
        let mut out = BytesMut::new();
        for f in frames {
            match f {
                Frame::Response(d) => put_response(&mut out, d),
                Frame::Error(d) => put_error(&mut out, d),
                Frame::Message(m) => put_message(&mut out, m),
            }
        }
        out
    }

    fn owned(f: FrameRef<'_>) -> Frame {
        match f {
            FrameRef::Response(d) => Frame::Response(Bytes::copy_from_slice(d)),
            FrameRef::Error(d) => Frame::Error(Bytes::copy_from_slice(d)),
            FrameRef::Message {
                timestamp,
                attempts,
                id,
                body,
            } => Frame::Message(Message {
                id,
                timestamp,
                attempts,
                body: Bytes::copy_from_slice(body),
            }),
        }
    }

    #[test]
    fn round_trip_at_every_split() {
        let want = frames();
        let wire = encode(&want);
        let dec = FrameDecoder::default();
        for cut in 0..=wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(f) = dec.decode(&mut buf).expect("valid") {
                got.push(f);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(f) = dec.decode(&mut buf).expect("valid") {
                got.push(f);
            }
            assert_eq!(got, want, "split at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn borrowed_parse_matches_and_keeps_partial_tail() {
        let want = frames();
        let wire = encode(&want);
        for cut in 0..=wire.len() {
            let part = &wire[..cut];
            let mut pos = 0;
            let mut got = Vec::new();
            while let Some((f, used)) =
                parse_frame(&part[pos..], DEFAULT_MAX_FRAME_SIZE).expect("valid")
            {
                got.push(owned(f));
                pos += used;
            }
            assert_eq!(&got[..], &want[..got.len()], "split at {cut}");
            if cut == wire.len() {
                assert_eq!(got.len(), want.len());
                assert_eq!(pos, wire.len());
            }
        }
    }

    #[test]
    fn bad_frames() {
        let dec = FrameDecoder::new(100);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3][..]);
        assert_eq!(dec.decode(&mut buf), Err(FrameError::TooShort(3)));
        // Too big is known from the size field alone, before any data arrives.
        let mut buf = BytesMut::from(&101u32.to_be_bytes()[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(FrameError::TooBig {
                size: 101,
                max: 100
            })
        );
        assert_eq!(
            parse_frame(&buf, 100),
            Err(FrameError::TooBig {
                size: 101,
                max: 100
            })
        );
        let mut buf = BytesMut::new();
        put_frame(&mut buf, 9, b"x");
        assert_eq!(dec.decode(&mut buf), Err(FrameError::UnknownType(9)));
        let mut buf = BytesMut::new();
        put_frame(&mut buf, FRAME_TYPE_MESSAGE, &[0u8; 25]);
        assert_eq!(parse_frame(&buf, 100), Err(FrameError::ShortMessage(25)));
        assert_eq!(dec.decode(&mut buf), Err(FrameError::ShortMessage(25)));
    }

    #[test]
    fn need_more_reserves_the_rest() {
        let mut wire = BytesMut::new();
        put_response(&mut wire, &[b'x'; 5000]);
        let mut buf = BytesMut::from(&wire[..10]);
        assert_eq!(FrameDecoder::default().decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= wire.len());
        assert_eq!(buf.len(), 10, "nothing consumed");
    }
}
