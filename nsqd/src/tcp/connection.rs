//! The connection layer under a V2 session: the byte stream (plain, unix or TLS), the
//! snappy/deflate codec once negotiated, the plain read and write buffers, flushing with a
//! deadline, and the two mid-stream upgrades IDENTIFY can ask for (TLS, then compression).
//! It knows nothing of commands: the session decodes `input` and appends frames to `out`.

use crate::tcp::compress::Codec;
use crate::tcp::transport::Transport;
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

/// Initial read buffer; grows as large bodies need.
const READ_BUF: usize = 64 * 1024;
/// Initial write buffer.
const WRITE_BUF: usize = 16 * 1024;
/// How long a client may take over the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a read ended the connection.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed its side.
    Eof,
    Io,
    /// The compressed stream could not be decoded.
    Codec(String),
}

/// Why a TLS upgrade failed (the words go into `E_IDENTIFY_FAILED`).
#[derive(Debug)]
pub(crate) enum UpgradeError {
    NotPlain,
    Handshake(String),
    TimedOut,
}

/// What the TLS handshake agreed, for `/stats`.
pub(crate) struct TlsInfo {
    pub(crate) version: String,
    pub(crate) cipher_suite: String,
}

pub(crate) struct Connection {
    stream: Transport,
    /// Plain bytes read and not yet decoded.
    pub(crate) input: BytesMut,
    /// Plain frames waiting for `flush`.
    pub(crate) out: BytesMut,
    /// Snappy or deflate once negotiated; `raw_in`/`raw_out` hold the compressed side.
    codec: Option<Codec>,
    raw_in: BytesMut,
    raw_out: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(stream: Transport) -> Connection {
        Connection {
            stream,
            input: BytesMut::with_capacity(READ_BUF),
            out: BytesMut::with_capacity(WRITE_BUF),
            codec: None,
            raw_in: BytesMut::new(),
            raw_out: Vec::new(),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Transport::Tls(_))
    }

    pub(crate) fn is_unix(&self) -> bool {
        matches!(self.stream, Transport::Unix(_))
    }

    /// Read what the peer sent into `input` (decompressed when a codec is on). Cancel-safe:
    /// nothing is consumed unless the read completes.
    pub(crate) async fn read(&mut self) -> Result<(), ReadError> {
        let buf = if self.codec.is_some() {
            &mut self.raw_in
        } else {
            &mut self.input
        };
        match self.stream.read_buf(buf).await {
            Ok(0) => return Err(ReadError::Eof),
            Err(_) => return Err(ReadError::Io),
            Ok(_) => {}
        }
        if let Some(codec) = self.codec.as_mut() {
            codec
                .decode(&mut self.raw_in, &mut self.input)
                .map_err(|e| ReadError::Codec(e.to_string()))?;
        }
        Ok(())
    }

    /// Write `out` (compressed when a codec is on) and flush, within `limit` and unless
    /// `kick` fires first, so shutdown never waits on a peer that stopped reading. `out` is
    /// cleared either way; false means the connection is gone.
    pub(crate) async fn flush(&mut self, limit: Duration, kick: &CancellationToken) -> bool {
        if self.out.is_empty() {
            return true;
        }
        let data: &[u8] = match self.codec.as_mut() {
            None => &self.out,
            Some(codec) => {
                self.raw_out.clear();
                if codec.encode(&self.out, &mut self.raw_out).is_err() {
                    self.out.clear();
                    return false;
                }
                &self.raw_out
            }
        };
        let result = tokio::select! {
            r = timeout(limit, write_and_flush(&mut self.stream, data)) => match r {
                Ok(r) => r.is_ok(),
                Err(_) => false,
            },
            _ = kick.cancelled() => false,
        };
        self.out.clear();
        result
    }

    /// Close the write side (after a fatal error was flushed).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Replace the plain TCP stream by TLS (server side), handshake bounded by 5 s. On
    /// failure the stream is unusable and the connection must end.
    pub(crate) async fn upgrade_tls(
        &mut self,
        acceptor: &tokio_rustls::TlsAcceptor,
    ) -> Result<TlsInfo, UpgradeError> {
        let Transport::Plain(tcp) = std::mem::replace(&mut self.stream, Transport::Upgrading)
        else {
            return Err(UpgradeError::NotPlain);
        };
        let tls = match timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return Err(UpgradeError::Handshake(e.to_string())),
            Err(_) => return Err(UpgradeError::TimedOut),
        };
        let info = {
            let (_, session) = tls.get_ref();
            TlsInfo {
                version: crate::tls::version_name(session.protocol_version()),
                cipher_suite: crate::tls::suite_name(session.negotiated_cipher_suite()),
            }
        };
        self.stream = Transport::Tls(Box::new(tls));
        Ok(info)
    }

    /// Compress everything from now on, both ways. Call after flushing what must go out
    /// plain; bytes already read past that point were sent compressed, so they go back
    /// through the codec.
    pub(crate) fn start_compression(&mut self, codec: Codec) {
        self.codec = Some(codec);
        let pending = self.input.split();
        self.raw_in.extend_from_slice(&pending);
    }
}

/// Write everything and flush (TLS buffers inside the session until flushed).
async fn write_and_flush(stream: &mut Transport, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(data).await?;
    stream.flush().await
}
