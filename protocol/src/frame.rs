//! Server → client frames: `[4-byte size][4-byte type][data]`, size = 4 + len(data).

use crate::message::{Message, MESSAGE_HEADER_LEN};
use bytes::{BufMut, BytesMut};

pub const FRAME_TYPE_RESPONSE: u32 = 0;
pub const FRAME_TYPE_ERROR: u32 = 1;
pub const FRAME_TYPE_MESSAGE: u32 = 2;

pub const OK: &[u8] = b"OK";
pub const HEARTBEAT: &[u8] = b"_heartbeat_";
pub const CLOSE_WAIT: &[u8] = b"CLOSE_WAIT";

/// Append one frame of `frame_type` carrying `data`.
pub fn put_frame(out: &mut BytesMut, frame_type: u32, data: &[u8]) {
    out.reserve(8 + data.len());
    out.put_u32((4 + data.len()) as u32);
    out.put_u32(frame_type);
    out.put_slice(data);
}

pub fn put_response(out: &mut BytesMut, data: &[u8]) {
    put_frame(out, FRAME_TYPE_RESPONSE, data);
}

pub fn put_error(out: &mut BytesMut, text: &[u8]) {
    put_frame(out, FRAME_TYPE_ERROR, text);
}

/// Append a message frame; the body is copied once, straight into the output buffer.
pub fn put_message(out: &mut BytesMut, msg: &Message) {
    let len = 4 + MESSAGE_HEADER_LEN + msg.body.len();
    out.reserve(4 + len);
    out.put_u32(len as u32);
    out.put_u32(FRAME_TYPE_MESSAGE);
    out.put_slice(&msg.header());
    out.put_slice(&msg.body);
}

/// Size in bytes of the frame `put_message` writes.
pub fn message_frame_len(msg: &Message) -> usize {
    8 + MESSAGE_HEADER_LEN + msg.body.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;
    use bytes::Bytes;

    #[test]
    fn ok_frame_bytes() {
        let mut b = BytesMut::new();
        put_response(&mut b, OK);
        assert_eq!(&b[..], &[0, 0, 0, 6, 0, 0, 0, 0, b'O', b'K']);
    }

    #[test]
    fn heartbeat_frame_bytes() {
        let mut b = BytesMut::new();
        put_response(&mut b, HEARTBEAT);
        assert_eq!(&b[..8], &[0, 0, 0, 0x0f, 0, 0, 0, 0]);
        assert_eq!(&b[8..], b"_heartbeat_");
    }

    #[test]
    fn message_frame_layout() {
        let m = Message {
            id: MessageId::from_u64(1),
            timestamp: 2,
            attempts: 1,
            body: Bytes::from_static(b"xyz"),
        };
        let mut b = BytesMut::new();
        put_message(&mut b, &m);
        assert_eq!(b.len(), message_frame_len(&m));
        assert_eq!(&b[..4], &(4u32 + 26 + 3).to_be_bytes());
        assert_eq!(&b[4..8], &2u32.to_be_bytes());
        assert_eq!(&b[8..16], &2i64.to_be_bytes());
        assert_eq!(&b[16..18], &1u16.to_be_bytes());
        assert_eq!(&b[18..34], b"0000000000000001");
        assert_eq!(&b[34..], b"xyz");
    }
}
