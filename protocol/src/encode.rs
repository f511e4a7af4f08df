//! The client half of protocol V2 commands: the `"  V2"` magic and every command line (with
//! its size-prefixed body where there is one), appended to a buffer exactly as go-nsq writes
//! them, so that nsqd's [`Decoder`](crate::Decoder) reads back the same [`Command`].
//!
//! Sizes are written as 4-byte big-endian integers; bodies are expected to be within the
//! server's limits (far below 4 GiB), as any client must keep them.

use crate::command::Command;
use crate::message::MessageId;
use crate::MAGIC_V2;
use bytes::{BufMut, BytesMut};

/// A body's length as the 4-byte size field.
#[inline]
fn size(len: usize) -> u32 {
    len as u32
}

/// `"  V2"`: the first four bytes of a connection.
pub fn put_magic(out: &mut BytesMut) {
    out.put_slice(MAGIC_V2);
}

fn put_line(out: &mut BytesMut, parts: &[&[u8]]) {
    out.reserve(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.put_u8(b' ');
        }
        out.put_slice(p);
    }
    out.put_u8(b'\n');
}

fn put_body(out: &mut BytesMut, body: &[u8]) {
    out.reserve(4 + body.len());
    out.put_u32(size(body.len()));
    out.put_slice(body);
}

/// `IDENTIFY\n[size][json]`.
pub fn put_identify(out: &mut BytesMut, json: &[u8]) {
    put_line(out, &[b"IDENTIFY"]);
    put_body(out, json);
}

/// `AUTH\n[size][secret]`.
pub fn put_auth(out: &mut BytesMut, secret: &[u8]) {
    put_line(out, &[b"AUTH"]);
    put_body(out, secret);
}

/// `SUB <topic> <channel>\n`.
pub fn put_sub(out: &mut BytesMut, topic: &str, channel: &str) {
    put_line(out, &[b"SUB", topic.as_bytes(), channel.as_bytes()]);
}

/// `PUB <topic>\n[size][body]`.
#[inline]
pub fn put_pub(out: &mut BytesMut, topic: &str, body: &[u8]) {
    // Written out (not through `put_line`): the load generator's publish path.
    out.reserve(4 + topic.len() + 1 + 4 + body.len());
    out.put_slice(b"PUB ");
    out.put_slice(topic.as_bytes());
    out.put_u8(b'\n');
    out.put_u32(size(body.len()));
    out.put_slice(body);
}

/// Size of the MPUB body [`put_mpub`] writes: `[count]([size][body])*`.
pub fn mpub_body_len<B: AsRef<[u8]>>(bodies: &[B]) -> usize {
    4 + bodies.iter().map(|b| 4 + b.as_ref().len()).sum::<usize>()
}

/// `MPUB <topic>\n[size][count]([size][body])*`.
pub fn put_mpub<B: AsRef<[u8]>>(out: &mut BytesMut, topic: &str, bodies: &[B]) {
    put_line(out, &[b"MPUB", topic.as_bytes()]);
    let len = mpub_body_len(bodies);
    out.reserve(4 + len);
    out.put_u32(size(len));
    out.put_u32(size(bodies.len()));
    for b in bodies {
        put_body(out, b.as_ref());
    }
}

/// `DPUB <topic> <defer_ms>\n[size][body]`.
pub fn put_dpub(out: &mut BytesMut, topic: &str, defer_ms: u64, body: &[u8]) {
    put_line(
        out,
        &[b"DPUB", topic.as_bytes(), defer_ms.to_string().as_bytes()],
    );
    put_body(out, body);
}

/// `RDY <count>\n`.
pub fn put_rdy(out: &mut BytesMut, count: u64) {
    put_line(out, &[b"RDY", count.to_string().as_bytes()]);
}

/// `FIN <id>\n`.
#[inline]
pub fn put_fin(out: &mut BytesMut, id: &MessageId) {
    // Written out (not through `put_line`): the consumer's per-message path.
    out.reserve(4 + 16 + 1);
    out.put_slice(b"FIN ");
    out.put_slice(id.as_bytes());
    out.put_u8(b'\n');
}

/// `REQ <id> <timeout_ms>\n`.
pub fn put_req(out: &mut BytesMut, id: &MessageId, timeout_ms: u64) {
    put_line(
        out,
        &[b"REQ", id.as_bytes(), timeout_ms.to_string().as_bytes()],
    );
}

/// `TOUCH <id>\n`.
pub fn put_touch(out: &mut BytesMut, id: &MessageId) {
    put_line(out, &[b"TOUCH", id.as_bytes()]);
}

/// `CLS\n`.
pub fn put_cls(out: &mut BytesMut) {
    put_line(out, &[b"CLS"]);
}

/// `NOP\n`: also the answer to a heartbeat.
pub fn put_nop(out: &mut BytesMut) {
    put_line(out, &[b"NOP"]);
}

impl Command {
    /// Append this command as a client sends it.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Command::Identify(json) => put_identify(out, json),
            Command::Auth(secret) => put_auth(out, secret),
            Command::Sub { topic, channel } => put_sub(out, topic, channel),
            Command::Pub { topic, body } => put_pub(out, topic, body),
            Command::Mpub { topic, bodies } => put_mpub(out, topic, bodies),
            Command::Dpub {
                topic,
                defer_ms,
                body,
            } => put_dpub(out, topic, *defer_ms, body),
            Command::Rdy(count) => put_rdy(out, *count),
            Command::Fin(id) => put_fin(out, id),
            Command::Req { id, timeout_ms } => put_req(out, id, *timeout_ms),
            Command::Touch(id) => put_touch(out, id),
            Command::Cls => put_cls(out),
            Command::Nop => put_nop(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Decoder, Limits};
    use crate::command::CommandName;
    use crate::error::ProtocolError;
    use bytes::Bytes;

    fn ok(_: CommandName, _: &[u8]) -> Result<(), ProtocolError> {
        Ok(())
    }

    fn every_command() -> Vec<Command> {
        let id = MessageId::from_u64(0xabc);
        vec![
            Command::Identify(Bytes::from_static(br#"{"client_id":"c"}"#)),
            Command::Auth(Bytes::from_static(b"secret")),
            Command::Sub {
                topic: "t".into(),
                channel: "c#ephemeral".into(),
            },
            Command::Pub {
                topic: "t".into(),
                body: Bytes::from_static(b"hello"),
            },
            Command::Mpub {
                topic: "t".into(),
                bodies: vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")],
            },
            Command::Dpub {
                topic: "t".into(),
                defer_ms: 1500,
                body: Bytes::from_static(b"later"),
            },
            Command::Rdy(100),
            Command::Fin(id),
            Command::Req { id, timeout_ms: 0 },
            Command::Req {
                id,
                timeout_ms: 60_000,
            },
            Command::Touch(id),
            Command::Nop,
            Command::Cls,
        ]
    }

    #[test]
    fn bytes_as_go_nsq_writes_them() {
        let id = MessageId::from_u64(1);
        type Put<'a> = Box<dyn Fn(&mut BytesMut) + 'a>;
        let cases: Vec<(Put<'_>, &[u8])> = vec![
            (Box::new(put_magic), b"  V2"),
            (
                Box::new(|o| put_identify(o, b"{}")),
                b"IDENTIFY\n\0\0\0\x02{}",
            ),
            (Box::new(|o| put_auth(o, b"s")), b"AUTH\n\0\0\0\x01s"),
            (Box::new(|o| put_sub(o, "t", "c")), b"SUB t c\n"),
            (Box::new(|o| put_pub(o, "t", b"ab")), b"PUB t\n\0\0\0\x02ab"),
            (
                Box::new(|o| put_mpub(o, "t", &[&b"ab"[..], b"c"])),
                b"MPUB t\n\0\0\0\x0f\0\0\0\x02\0\0\0\x02ab\0\0\0\x01c",
            ),
            (
                Box::new(|o| put_dpub(o, "t", 250, b"x")),
                b"DPUB t 250\n\0\0\0\x01x",
            ),
            (Box::new(|o| put_rdy(o, 0)), b"RDY 0\n"),
            (Box::new(|o| put_fin(o, &id)), b"FIN 0000000000000001\n"),
            (
                Box::new(|o| put_req(o, &id, 10)),
                b"REQ 0000000000000001 10\n",
            ),
            (Box::new(|o| put_touch(o, &id)), b"TOUCH 0000000000000001\n"),
            (Box::new(put_cls), b"CLS\n"),
            (Box::new(put_nop), b"NOP\n"),
        ];
        for (put, want) in cases {
            let mut out = BytesMut::new();
            put(&mut out);
            assert_eq!(&out[..], want, "{}", String::from_utf8_lossy(want));
        }
        assert_eq!(mpub_body_len(&[&b"ab"[..], b"c"]), 15);
    }

    /// Encode every command into one stream, feed it to the server's decoder split at
    /// every byte, and get the same commands back.
    #[test]
    fn round_trip_through_the_server_decoder_at_every_split() {
        let cmds = every_command();
        let mut wire = BytesMut::new();
        for c in &cmds {
            c.encode(&mut wire);
        }
        for cut in 0..=wire.len() {
            let mut dec = Decoder::new(Limits::default());
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(c) = dec.decode(&mut buf, ok).expect("valid") {
                got.push(c);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(c) = dec.decode(&mut buf, ok).expect("valid") {
                got.push(c);
            }
            assert_eq!(got, cmds, "split at {cut}");
            assert!(buf.is_empty());
        }
    }
}
