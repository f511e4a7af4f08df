//! The connection layer under a V2 session: the byte stream (plain, unix or TLS), the
//! snappy/deflate codec once negotiated, the plain read and write buffers, flushing with a
//! deadline, and the two mid-stream upgrades IDENTIFY can ask for (TLS, then compression).
//! It knows nothing of commands: the session decodes `input` and appends frames to `out`.

use crate::tcp::transport::Transport;
use bytes::BytesMut;
use protocol::compress::{Codec, Decoded};
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep_until, timeout};
use tokio_util::sync::CancellationToken;

/// Initial read buffer; grows as large bodies need.
const READ_BUF: usize = 64 * 1024;
/// Plain bytes a decode may leave beyond the largest command.
const DECODE_SLACK: usize = 64 * 1024;
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
    /// Most plain bytes one decode may leave in `input` (the largest command plus slack):
    /// a small compressed frame cannot inflate past it.
    max_plain: usize,
    /// The last decode stopped at `max_plain`: decode the rest before reading more.
    capped: bool,
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
            max_plain: usize::MAX,
            capped: false,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Transport::Tls(_))
    }

    /// The subject common name of the client's TLS certificate; `""` without TLS or a
    /// certificate.
    pub(crate) fn peer_common_name(&self) -> String {
        match &self.stream {
            Transport::Tls(s) => s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| crate::tls::common_name(c))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    pub(crate) fn is_unix(&self) -> bool {
        matches!(self.stream, Transport::Unix(_))
    }

    /// Read what the peer sent into `input` (decompressed when a codec is on). Cancel-safe:
    /// nothing is consumed unless the read completes.
    pub(crate) async fn read(&mut self) -> Result<(), ReadError> {
        if self.capped {
            // Decoded output was held back at the cap; the caller consumed what it could.
            return self.decode();
        }
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
        self.decode()
    }

    /// Decompress what `raw_in` holds into `input`, at most up to `max_plain` bytes.
    fn decode(&mut self) -> Result<(), ReadError> {
        self.capped = false;
        if let Some(codec) = self.codec.as_mut() {
            let decoded = codec
                .decode_limited(&mut self.raw_in, &mut self.input, self.max_plain)
                .map_err(|e| ReadError::Codec(e.to_string()))?;
            self.capped = decoded == Decoded::Capped;
        }
        Ok(())
    }

    /// Write `out` (compressed when a codec is on) and flush, within `limit` and unless
    /// `kick` fires first, so shutdown never waits on a peer that stopped reading. `out` is
    /// cleared either way; false means the connection is gone.
    ///
    /// A write that has to wait (the peer is not reading) keeps the caller's timers
    /// running: `timers(now)` is called when the wait starts and again whenever the
    /// deadline it returned passes; it does what is due and returns its next deadline.
    /// A write that completes at once never calls it.
    pub(crate) async fn flush(
        &mut self,
        limit: Duration,
        kick: &CancellationToken,
        mut timers: impl FnMut(Instant) -> Option<Instant>,
    ) -> bool {
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
        let result = write_with_timers(&mut self.stream, data, limit, kick, &mut timers).await;
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
    /// `max_command` is the largest command the connection accepts: one decode leaves at
    /// most that (plus slack) in `input`.
    pub(crate) fn start_compression(&mut self, codec: Codec, max_command: usize) {
        self.codec = Some(codec);
        self.max_plain = max_command.saturating_add(DECODE_SLACK);
        if self.raw_in.capacity() < READ_BUF {
            // Read compressed input in large pieces, not the 64 bytes an empty buffer gets.
            self.raw_in.reserve(READ_BUF);
        }
        let pending = self.input.split();
        self.raw_in.extend_from_slice(&pending);
    }
}

/// `write_and_flush` within `limit`, unless `kick` fires first, running `timers` while
/// the write waits (see `Connection::flush`). True if everything was written.
async fn write_with_timers(
    stream: &mut Transport,
    data: &[u8],
    limit: Duration,
    kick: &CancellationToken,
    timers: &mut impl FnMut(Instant) -> Option<Instant>,
) -> bool {
    let write = timeout(limit, write_and_flush(stream, data));
    tokio::pin!(write);
    // Most writes complete at once: only one that has to wait looks at the timers.
    let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    if let Poll::Ready(r) = first {
        return matches!(r, Ok(Ok(())));
    }
    let mut next = timers(Instant::now());
    loop {
        tokio::select! {
            biased;
            _ = kick.cancelled() => return false,
            r = &mut write => return matches!(r, Ok(Ok(()))),
            _ = sleep_until(next.unwrap_or_else(Instant::now).into()), if next.is_some() => {
                next = timers(Instant::now());
            }
        }
    }
}

/// Write everything and flush (TLS buffers inside the session until flushed).
async fn write_and_flush(stream: &mut Transport, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(data).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// A connection over a real loopback socket, and the client's end.
    async fn pair() -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (server, _) = accepted.expect("accept");
        (
            Connection::new(Transport::Plain(server)),
            client.expect("connect"),
        )
    }

    fn no_timers(_: Instant) -> Option<Instant> {
        None
    }

    async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
            .await
            .expect("in time")
            .expect("read");
        buf
    }

    /// Read until `input` holds `want` bytes (a write may arrive in pieces).
    async fn read_until(conn: &mut Connection, want: usize) {
        while conn.input.len() < want {
            tokio::time::timeout(Duration::from_secs(10), conn.read())
                .await
                .expect("in time")
                .expect("read");
        }
    }

    #[tokio::test]
    async fn plain_read_flush_and_eof() {
        let (mut conn, mut client) = pair().await;
        assert!(!conn.is_tls() && !conn.is_unix());
        client.write_all(b"NOP\n").await.expect("write");
        read_until(&mut conn, 4).await;
        assert_eq!(&conn.input[..], b"NOP\n");
        conn.out.extend_from_slice(b"pong");
        assert!(
            conn.flush(Duration::from_secs(5), &CancellationToken::new(), no_timers)
                .await
        );
        assert!(conn.out.is_empty());
        assert_eq!(read_n(&mut client, 4).await, b"pong");
        drop(client);
        assert!(matches!(conn.read().await, Err(ReadError::Eof)));
    }

    #[tokio::test]
    async fn compression_starts_mid_stream_both_ways() {
        let codecs: [fn() -> Codec; 2] = [Codec::snappy, || Codec::deflate(6)];
        for codec in codecs {
            // The client's two directions.
            let (mut client_out, mut client_in) = (codec(), codec());
            let (mut conn, mut client) = pair().await;
            // The client compresses from right after IDENTIFY; its first compressed bytes
            // may arrive before the server switched, in the same read as the plain ones.
            let mut raw = b"IDENTIFY\n".to_vec();
            client_out.encode(b"first ", &mut raw).expect("encode");
            client.write_all(&raw).await.expect("write");
            read_until(&mut conn, raw.len()).await;
            let _ = conn.input.split_to(b"IDENTIFY\n".len());
            conn.start_compression(codec(), 1 << 20);
            let mut more = Vec::new();
            client_out.encode(b"second", &mut more).expect("encode");
            client.write_all(&more).await.expect("write");
            read_until(&mut conn, b"first second".len()).await;
            assert_eq!(&conn.input[..], b"first second");

            // Output is compressed; the client's codec reads it back.
            conn.out.extend_from_slice(b"reply");
            assert!(
                conn.flush(Duration::from_secs(5), &CancellationToken::new(), no_timers)
                    .await
            );
            let mut plain = BytesMut::new();
            let mut got = BytesMut::new();
            while plain.len() < 5 {
                let mut chunk = [0u8; 256];
                let n = client.read(&mut chunk).await.expect("read");
                assert!(n > 0, "closed");
                got.extend_from_slice(&chunk[..n]);
                client_in.decode(&mut got, &mut plain).expect("decode");
            }
            assert_eq!(&plain[..], b"reply");
        }
    }

    #[tokio::test]
    async fn flush_gives_up_when_kicked() {
        let (mut conn, _client) = pair().await;
        let kick = CancellationToken::new();
        kick.cancel();
        // More than the socket buffers take: the write cannot finish, the kick ends it.
        conn.out.extend_from_slice(&vec![0u8; 64 << 20]);
        assert!(
            !conn
                .flush(Duration::from_secs(3600), &kick, no_timers)
                .await
        );
        assert!(conn.out.is_empty());
    }

    #[tokio::test]
    async fn timers_run_while_the_write_waits() {
        let (mut conn, _client) = pair().await;
        let kick = CancellationToken::new();
        let mut calls = 0u32;
        // The client never reads: the write waits until the kick, the timers keep firing.
        conn.out.extend_from_slice(&vec![0u8; 64 << 20]);
        let flushed = conn
            .flush(Duration::from_secs(3600), &kick, |now| {
                calls += 1;
                if calls == 3 {
                    kick.cancel();
                }
                Some(now + Duration::from_millis(5))
            })
            .await;
        assert!(!flushed);
        assert_eq!(calls, 3);
        assert!(conn.out.is_empty());
    }

    #[tokio::test]
    async fn a_write_that_completes_at_once_skips_the_timers() {
        let (mut conn, mut client) = pair().await;
        conn.out.extend_from_slice(b"pong");
        let flushed = conn
            .flush(Duration::from_secs(5), &CancellationToken::new(), |_| {
                panic!("timers called for a write that did not wait")
            })
            .await;
        assert!(flushed);
        assert_eq!(read_n(&mut client, 4).await, b"pong");
    }
}
