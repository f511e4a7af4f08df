//! The client side of protocol V2 as the load generator uses it, on `protocol`'s client
//! halves: connecting (magic + IDENTIFY), waiting for `OK`, and a zero-copy scan of the
//! server's frames. Commands are encoded with `protocol::encode`.
//!
//! Kept hand-rolled rather than on the `nsq-client` crate: the load generator must not be
//! what limits the figures, and through the client the same mem1m load (2 writers, MPUB
//! 200 x 200 B, one outstanding; then a drain) measured about 85% of this publish rate and
//! 70% of this drain rate (`client/examples/throughput.rs` beside `bench run --config
//! mem1m`, same nsqd): the client pays for per-call answers, handler tasks and FIN
//! bookkeeping that a generator does not need.

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use protocol::encode;
use protocol::frame::{HEARTBEAT, OK};
use protocol::json::identify::IdentifyRequest;
use protocol::{FrameDecoder, FrameRef};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One server frame, borrowed from the read buffer.
pub type Frame<'a> = FrameRef<'a>;

/// The bench trusts the nsqd it drives: no limit on frame sizes.
const MAX_FRAME: usize = usize::MAX;

/// Calls `on` for every complete frame at the start of `buf`; returns the bytes consumed.
pub fn scan_frames(buf: &[u8], mut on: impl FnMut(Frame<'_>) -> Result<()>) -> Result<usize> {
    let mut pos = 0;
    while let Some((frame, used)) = protocol::frame_decode::parse_frame(&buf[pos..], MAX_FRAME)? {
        pos += used;
        on(frame)?;
    }
    Ok(pos)
}

/// Reads until one whole frame is buffered and returns it; later bytes stay in `buf`.
pub async fn read_frame(s: &mut TcpStream, buf: &mut BytesMut) -> Result<protocol::Frame> {
    let decoder = FrameDecoder::new(MAX_FRAME);
    loop {
        if let Some(frame) = decoder.decode(buf)? {
            return Ok(frame);
        }
        buf.reserve(4096);
        if s.read_buf(buf).await? == 0 {
            bail!("connection closed by nsqd");
        }
    }
}

/// Reads the next response, answering heartbeats with NOP; an error frame is an error.
pub async fn expect_ok(s: &mut TcpStream, buf: &mut BytesMut) -> Result<()> {
    loop {
        match read_frame(s, buf).await? {
            protocol::Frame::Response(d) if &d[..] == HEARTBEAT => {
                let mut nop = BytesMut::new();
                encode::put_nop(&mut nop);
                s.write_all(&nop).await?
            }
            protocol::Frame::Response(d) if &d[..] == OK => return Ok(()),
            protocol::Frame::Response(d) => {
                bail!("expected OK, got {:?}", String::from_utf8_lossy(&d))
            }
            protocol::Frame::Error(d) => bail!("nsqd error: {}", String::from_utf8_lossy(&d)),
            protocol::Frame::Message(_) => bail!("unexpected message while waiting for OK"),
        }
    }
}

/// Connects, sends the magic and `IDENTIFY` (no feature negotiation, like NSQ's bench
/// tools, so the answer is a plain `OK`).
pub async fn connect(addr: SocketAddr, client_id: &str, buf: &mut BytesMut) -> Result<TcpStream> {
    let mut s = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    s.set_nodelay(true)?;
    let body = serde_json::to_vec(&IdentifyRequest {
        client_id: Some(client_id.to_string()),
        hostname: Some(client_id.to_string()),
        user_agent: Some(concat!("nsq-bench/", env!("CARGO_PKG_VERSION")).to_string()),
        ..IdentifyRequest::default()
    })?;
    let mut out = BytesMut::new();
    encode::put_magic(&mut out);
    encode::put_identify(&mut out, &body);
    s.write_all(&out).await?;
    expect_ok(&mut s, buf).await.context("IDENTIFY")?;
    Ok(s)
}

/// `MPUB <topic>\n[size][count]([len][body])*`, built once and sent many times.
pub fn mpub(topic: &str, bodies: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::with_capacity(6 + topic.len() + 4 + encode::mpub_body_len(bodies));
    encode::put_mpub(&mut out, topic, bodies);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::frame::{put_error, put_message, put_response};
    use protocol::{Message, MessageId};

    #[test]
    fn mpub_layout() {
        let f = mpub("t", &[b"ab", b"c"]);
        assert_eq!(
            &f[..],
            b"MPUB t\n\x00\x00\x00\x0f\x00\x00\x00\x02\x00\x00\x00\x02ab\x00\x00\x00\x01c"
        );
    }

    #[test]
    fn mpub_decodes_with_the_server_codec() {
        let f = mpub("sub_bench", &[&[0u8; 200][..]; 3]);
        let body = Bytes::copy_from_slice(&f[b"MPUB sub_bench\n".len() + 4..]);
        let bodies = protocol::codec::split_mpub(body, &protocol::Limits::default())
            .expect("valid MPUB body");
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|b| b.len() == 200));
    }

    #[test]
    fn scans_mixed_frames_and_keeps_partial_tail() {
        let mut b = BytesMut::new();
        put_response(&mut b, OK);
        let m = Message {
            id: MessageId::from_u64(7),
            timestamp: 99,
            attempts: 1,
            body: Bytes::from_static(b"hello"),
        };
        put_message(&mut b, &m);
        put_error(&mut b, b"E_BAD");
        let full = b.len();
        put_response(&mut b, HEARTBEAT);
        let partial = &b[..b.len() - 3];
        let mut seen = Vec::new();
        let used = scan_frames(partial, |f| {
            seen.push(match f {
                Frame::Response(d) => format!("R:{}", String::from_utf8_lossy(d)),
                Frame::Error(d) => format!("E:{}", String::from_utf8_lossy(d)),
                Frame::Message {
                    attempts, id, body, ..
                } => format!("M:{attempts}:{id}:{}", String::from_utf8_lossy(body)),
            });
            Ok(())
        })
        .expect("scan");
        assert_eq!(used, full);
        assert_eq!(seen, ["R:OK", "M:1:0000000000000007:hello", "E:E_BAD"]);
    }
}
