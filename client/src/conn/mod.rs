//! One connection to an nsqd, up to the point where commands flow: TCP connect, the
//! `"  V2"` magic, IDENTIFY with feature negotiation, the TLS upgrade and then the snappy
//! or deflate upgrade in the order nsqd performs them (each acknowledged by an `OK`), and
//! AUTH when nsqd requires it, as go-nsq's `Conn.Connect` does. The result is split into
//! a [`FrameReader`] and a [`FrameWriter`] so reads and writes never wait on each other.

mod tls;
mod transport;

use crate::config::Config;
use crate::error::{Error, Result};
use bytes::BytesMut;
use protocol::compress::Codec;
use protocol::encode;
use protocol::frame::OK;
use protocol::json::identify::IdentifyResponse;
use protocol::{Frame, FrameDecoder};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use transport::Transport;

/// The read side: raw bytes, decompressed if negotiated, cut into frames.
pub(crate) struct FrameReader {
    io: ReadHalf<Transport>,
    /// Compressed bytes not yet decoded (only with a codec).
    raw: BytesMut,
    /// Plain bytes not yet cut into frames.
    plain: BytesMut,
    codec: Option<Codec>,
    decoder: FrameDecoder,
    read_timeout: Duration,
    addr: String,
}

/// The write side: plain command bytes in, compressed if negotiated.
pub(crate) struct FrameWriter {
    io: WriteHalf<Transport>,
    codec: Option<Codec>,
    out: Vec<u8>,
    write_timeout: Duration,
    addr: String,
}

/// What the handshake leaves: both halves and nsqd's answer to IDENTIFY.
pub(crate) struct Connected {
    pub reader: FrameReader,
    pub writer: FrameWriter,
    pub negotiated: IdentifyResponse,
}

impl FrameReader {
    /// The next frame; heartbeats included (the caller answers them).
    pub(crate) async fn next(&mut self) -> Result<Frame> {
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.plain)
                .map_err(|e| Error::Protocol(e.to_string()))?
            {
                return Ok(frame);
            }
            let target = if self.codec.is_some() {
                &mut self.raw
            } else {
                &mut self.plain
            };
            target.reserve(16 * 1024);
            let n = match timeout(self.read_timeout, self.io.read_buf(target)).await {
                Err(_) => return Err(Error::lost(&self.addr, "read timeout")),
                Ok(Err(e)) => return Err(Error::lost(&self.addr, e)),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(Error::lost(&self.addr, "closed by nsqd"));
            }
            if let Some(codec) = &mut self.codec {
                codec
                    .decode(&mut self.raw, &mut self.plain)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
            }
        }
    }
}

impl FrameWriter {
    /// Writes `plain` (whole commands), compressed if negotiated.
    pub(crate) async fn write(&mut self, plain: &[u8]) -> Result<()> {
        let bytes: &[u8] = match &mut self.codec {
            Some(codec) => {
                self.out.clear();
                codec
                    .encode(plain, &mut self.out)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
                &self.out
            }
            None => plain,
        };
        match timeout(self.write_timeout, self.io.write_all(bytes)).await {
            Err(_) => Err(Error::lost(&self.addr, "write timeout")),
            Ok(Err(e)) => Err(Error::lost(&self.addr, e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Closes the write side (the TLS close_notify included).
    pub(crate) async fn shutdown(&mut self) {
        let _ = timeout(self.write_timeout, self.io.shutdown()).await;
    }
}

/// The unsplit stream during the handshake.
struct Handshake {
    io: Transport,
    plain: BytesMut,
    read_codec: Option<Codec>,
    raw: BytesMut,
    write_codec: Option<Codec>,
    decoder: FrameDecoder,
    addr: String,
}

impl Handshake {
    async fn send(&mut self, plain: &[u8]) -> Result<()> {
        let mut out = Vec::new();
        let bytes: &[u8] = match &mut self.write_codec {
            Some(c) => {
                c.encode(plain, &mut out)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
                &out
            }
            None => plain,
        };
        self.io
            .write_all(bytes)
            .await
            .map_err(|e| Error::connect(&self.addr, e))
    }

    async fn frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.plain)
                .map_err(|e| Error::Protocol(e.to_string()))?
            {
                return Ok(frame);
            }
            let target = if self.read_codec.is_some() {
                &mut self.raw
            } else {
                &mut self.plain
            };
            target.reserve(4096);
            let n = self
                .io
                .read_buf(target)
                .await
                .map_err(|e| Error::connect(&self.addr, e))?;
            if n == 0 {
                return Err(Error::connect(&self.addr, "closed by nsqd"));
            }
            if let Some(c) = &mut self.read_codec {
                c.decode(&mut self.raw, &mut self.plain)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
            }
        }
    }

    /// The next response's data; an error frame is an error, heartbeats are answered.
    async fn response(&mut self) -> Result<bytes::Bytes> {
        loop {
            match self.frame().await? {
                Frame::Response(d) if &d[..] == protocol::frame::HEARTBEAT => {
                    let mut nop = BytesMut::new();
                    encode::put_nop(&mut nop);
                    self.send(&nop).await?;
                }
                Frame::Response(d) => return Ok(d),
                Frame::Error(d) => return Err(Error::from_frame(&d)),
                Frame::Message(_) => {
                    return Err(Error::Protocol("message frame during handshake".into()))
                }
            }
        }
    }

    async fn expect_ok(&mut self, what: &str) -> Result<()> {
        let d = self.response().await?;
        if &d[..] != OK {
            return Err(Error::Protocol(format!(
                "{what}: expected OK, got {:?}",
                String::from_utf8_lossy(&d)
            )));
        }
        Ok(())
    }

    fn start_codec(&mut self, read: Codec, write: Codec) -> Result<()> {
        self.raw = self.plain.split();
        let mut read = read;
        read.decode(&mut self.raw, &mut self.plain)
            .map_err(|e| Error::Protocol(e.to_string()))?;
        self.read_codec = Some(read);
        self.write_codec = Some(write);
        Ok(())
    }
}

/// Connects to `addr` within `config.dial_timeout` and completes the handshake within
/// `config.read_timeout` (as go-nsq bounds the dial and then each read).
pub(crate) async fn connect(addr: &str, config: &Config) -> Result<Connected> {
    let tcp = match timeout(config.dial_timeout, TcpStream::connect(addr)).await {
        Err(_) => return Err(Error::connect(addr, "dial timed out")),
        Ok(r) => r.map_err(|e| Error::connect(addr, e))?,
    };
    tcp.set_nodelay(true).map_err(|e| Error::connect(addr, e))?;
    match timeout(config.read_timeout, handshake(tcp, addr, config)).await {
        Err(_) => Err(Error::connect(addr, "handshake timed out")),
        Ok(r) => r,
    }
}

async fn handshake(tcp: TcpStream, addr: &str, config: &Config) -> Result<Connected> {
    let mut hs = Handshake {
        io: Transport::Plain(tcp),
        plain: BytesMut::with_capacity(4096),
        read_codec: None,
        raw: BytesMut::new(),
        write_codec: None,
        decoder: FrameDecoder::new(config.max_frame_size),
        addr: addr.to_string(),
    };
    let body = serde_json::to_vec(&config.identify())
        .map_err(|e| Error::Invalid(format!("IDENTIFY body: {e}")))?;
    let mut out = BytesMut::new();
    encode::put_magic(&mut out);
    encode::put_identify(&mut out, &body);
    hs.send(&out).await?;
    let answer = hs.response().await?;
    let negotiated: IdentifyResponse = serde_json::from_slice(&answer).map_err(|e| {
        Error::Protocol(format!(
            "IDENTIFY answer {:?}: {e}",
            String::from_utf8_lossy(&answer)
        ))
    })?;
    if negotiated.tls_v1 {
        let (tls_config, name) =
            tls::client_config(&config.tls, addr).map_err(|e| Error::connect(addr, e))?;
        let Transport::Plain(tcp) = std::mem::replace(&mut hs.io, Transport::Upgrading) else {
            return Err(Error::connect(addr, "TLS upgrade on a non-TCP stream"));
        };
        let stream = tokio_rustls::TlsConnector::from(tls_config)
            .connect(name, tcp)
            .await
            .map_err(|e| Error::connect(addr, format!("TLS handshake: {e}")))?;
        hs.io = Transport::Tls(Box::new(stream));
        hs.expect_ok("TLS upgrade").await?;
    }
    if negotiated.deflate {
        let level = u32::try_from(negotiated.deflate_level.clamp(1, 9)).unwrap_or(6);
        hs.start_codec(Codec::deflate(level), Codec::deflate(level))?;
        hs.expect_ok("deflate upgrade").await?;
    }
    if negotiated.snappy {
        hs.start_codec(Codec::snappy(), Codec::snappy())?;
        hs.expect_ok("snappy upgrade").await?;
    }
    if negotiated.auth_required {
        let Some(secret) = &config.auth_secret else {
            return Err(Error::connect(
                addr,
                "nsqd requires AUTH and no secret is set",
            ));
        };
        let mut out = BytesMut::new();
        encode::put_auth(&mut out, secret.as_bytes());
        hs.send(&out).await?;
        // The answer is JSON ({"identity":...}); an error frame says it failed.
        hs.response().await?;
    }
    let Handshake {
        io,
        plain,
        read_codec,
        raw,
        write_codec,
        decoder,
        addr,
    } = hs;
    let (r, w) = tokio::io::split(io);
    let mut reader = FrameReader {
        io: r,
        raw,
        plain,
        codec: None,
        decoder,
        read_timeout: config.read_timeout,
        addr: addr.clone(),
    };
    if let Some(c) = read_codec {
        // Already started: keep the buffered raw bytes as they are.
        reader.codec = Some(c);
    }
    let writer = FrameWriter {
        io: w,
        codec: write_codec,
        out: Vec::new(),
        write_timeout: config.write_timeout,
        addr,
    };
    Ok(Connected {
        reader,
        writer,
        negotiated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_codec_switch_keeps_bytes_read_ahead() {
        // Bytes read past the last plain frame belong to the compressed stream.
        let mut c = Codec::snappy();
        let mut wire = Vec::new();
        let mut frame = BytesMut::new();
        protocol::frame::put_response(&mut frame, OK);
        c.encode(&frame, &mut wire).expect("encode");
        let mut plain = BytesMut::from(&wire[..]);
        let mut raw = plain.split();
        let mut read = Codec::snappy();
        read.decode(&mut raw, &mut plain).expect("decode");
        assert_eq!(&plain[..], &frame[..]);
    }
}
