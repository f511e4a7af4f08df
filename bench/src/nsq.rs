//! The client side of protocol V2, just what the load generator needs: command encoding
//! (IDENTIFY, SUB, RDY, PUB, MPUB, FIN, NOP) and a zero-copy scan of server frames.

use anyhow::{bail, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use protocol::frame::{FRAME_TYPE_ERROR, FRAME_TYPE_MESSAGE, FRAME_TYPE_RESPONSE, HEARTBEAT, OK};
use protocol::{MAGIC_V2, MESSAGE_HEADER_LEN};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One server frame, borrowed from the read buffer.
pub enum Frame<'a> {
    Response(&'a [u8]),
    Error(&'a [u8]),
    Message {
        attempts: u16,
        id: &'a [u8],
        body: &'a [u8],
    },
}

/// Calls `on` for every complete frame at the start of `buf`; returns the bytes consumed.
pub fn scan_frames(buf: &[u8], mut on: impl FnMut(Frame<'_>) -> Result<()>) -> Result<usize> {
    let mut pos = 0;
    while buf.len() - pos >= 8 {
        let size = u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
        let size = size as usize;
        if size < 4 {
            bail!("bad frame size {size}");
        }
        if buf.len() - pos < 4 + size {
            break;
        }
        let kind = u32::from_be_bytes([buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]]);
        let data = &buf[pos + 8..pos + 4 + size];
        pos += 4 + size;
        match kind {
            FRAME_TYPE_RESPONSE => on(Frame::Response(data))?,
            FRAME_TYPE_ERROR => on(Frame::Error(data))?,
            FRAME_TYPE_MESSAGE => {
                if data.len() < MESSAGE_HEADER_LEN {
                    bail!("short message frame ({} bytes)", data.len());
                }
                // [8 timestamp][2 attempts][16 id][body]
                on(Frame::Message {
                    attempts: u16::from_be_bytes([data[8], data[9]]),
                    id: &data[10..26],
                    body: &data[26..],
                })?
            }
            other => bail!("unknown frame type {other}"),
        }
    }
    Ok(pos)
}

/// Reads until one whole frame is buffered and returns it as (type, data); later bytes
/// stay in `buf`.
pub async fn read_frame(s: &mut TcpStream, buf: &mut BytesMut) -> Result<(u32, Bytes)> {
    loop {
        if buf.len() >= 8 {
            let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if size < 4 {
                bail!("bad frame size {size}");
            }
            if buf.len() >= 4 + size {
                let mut frame = buf.split_to(4 + size).freeze();
                frame.advance(4);
                let kind = frame.get_u32();
                return Ok((kind, frame));
            }
            buf.reserve(4 + size - buf.len());
        } else {
            buf.reserve(4096);
        }
        if s.read_buf(buf).await? == 0 {
            bail!("connection closed by nsqd");
        }
    }
}

/// Reads the next response, answering heartbeats with NOP; an error frame is an error.
pub async fn expect_ok(s: &mut TcpStream, buf: &mut BytesMut) -> Result<()> {
    loop {
        let (kind, data) = read_frame(s, buf).await?;
        match kind {
            FRAME_TYPE_RESPONSE if &data[..] == HEARTBEAT => s.write_all(b"NOP\n").await?,
            FRAME_TYPE_RESPONSE if &data[..] == OK => return Ok(()),
            FRAME_TYPE_RESPONSE => bail!("expected OK, got {:?}", String::from_utf8_lossy(&data)),
            FRAME_TYPE_ERROR => bail!("nsqd error: {}", String::from_utf8_lossy(&data)),
            other => bail!("unexpected frame type {other} while waiting for OK"),
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
    let body = serde_json::json!({
        "client_id": client_id,
        "hostname": client_id,
        "user_agent": concat!("nsq-bench/", env!("CARGO_PKG_VERSION")),
    })
    .to_string();
    let mut out = BytesMut::new();
    out.put_slice(MAGIC_V2);
    out.put_slice(b"IDENTIFY\n");
    out.put_u32(body.len() as u32);
    out.put_slice(body.as_bytes());
    s.write_all(&out).await?;
    expect_ok(&mut s, buf).await.context("IDENTIFY")?;
    Ok(s)
}

/// `MPUB <topic>\n[size][count]([len][body])*`.
pub fn mpub(topic: &str, bodies: &[&[u8]]) -> Bytes {
    let payload: usize = 4 + bodies.iter().map(|b| 4 + b.len()).sum::<usize>();
    let mut out = BytesMut::with_capacity(6 + topic.len() + 4 + payload);
    out.put_slice(b"MPUB ");
    out.put_slice(topic.as_bytes());
    out.put_u8(b'\n');
    out.put_u32(payload as u32);
    out.put_u32(bodies.len() as u32);
    for b in bodies {
        out.put_u32(b.len() as u32);
        out.put_slice(b);
    }
    out.freeze()
}

/// `PUB <topic>\n[len][body]`.
pub fn put_pub(out: &mut BytesMut, topic: &str, body: &[u8]) {
    out.put_slice(b"PUB ");
    out.put_slice(topic.as_bytes());
    out.put_u8(b'\n');
    out.put_u32(body.len() as u32);
    out.put_slice(body);
}

/// `FIN <id>\n`.
pub fn put_fin(out: &mut BytesMut, id: &[u8]) {
    out.put_slice(b"FIN ");
    out.put_slice(id);
    out.put_u8(b'\n');
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
                Frame::Message { attempts, id, body } => format!(
                    "M:{attempts}:{}:{}",
                    String::from_utf8_lossy(id),
                    String::from_utf8_lossy(body)
                ),
            });
            Ok(())
        })
        .expect("scan");
        assert_eq!(used, full);
        assert_eq!(seen, ["R:OK", "M:1:0000000000000007:hello", "E:E_BAD"]);
    }
}
