//! A minimal blocking NSQ V2 client over `std::net::TcpStream` for black-box tests:
//! encodes commands, decodes server frames and
//! offers `expect_*` assertions. Every read has a deadline so a misbehaving server fails
//! the test instead of hanging it. No compression, TLS or AUTH: that is compat's job.
//!
//! Writes are buffered and sent when the client is about to wait for the server (or the
//! buffer grows large), so pipelined FINs cost few syscalls.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long `read_frame` and the `expect_*` helpers wait for the server.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Pending writes beyond this size are sent without waiting for a read.
const WRITE_BUFFER_LIMIT: usize = 64 * 1024;
/// Frame types.
pub const FRAME_RESPONSE: u32 = 0;
pub const FRAME_ERROR: u32 = 1;
pub const FRAME_MESSAGE: u32 = 2;
const HEARTBEAT: &[u8] = b"_heartbeat_";
/// Timestamp + attempts + id: the fixed part of a message frame.
const MESSAGE_HEADER_LEN: usize = 26;

/// A delivered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub ts: i64,
    pub attempts: u16,
    pub id: [u8; 16],
    pub body: Vec<u8>,
}

impl Message {
    pub fn id_str(&self) -> &str {
        std::str::from_utf8(&self.id).expect("message id is ASCII")
    }
}

/// One decoded server frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Response(Vec<u8>),
    Error(String),
    Message(Message),
}

pub struct Client {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    /// The last write failure, kept for error messages: a server that closes after a
    /// fatal error makes our writes fail while its error frame is still readable.
    write_error: Option<io::Error>,
    /// Answer `_heartbeat_` with NOP and hide it from callers (default true).
    pub answer_heartbeats: bool,
}

impl Client {
    /// Connects and sends the V2 magic.
    pub fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_raw(addr);
        client.send_raw(b"  V2");
        client
    }

    /// Connects and sends the V2 magic; `Err` if the server is gone (a crash test's
    /// load thread starting after the kill).
    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let mut client = Client::from_stream(TcpStream::connect(addr)?);
        client.send_raw(b"  V2");
        Ok(client)
    }

    /// Connects without sending anything.
    pub fn connect_raw(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Client::from_stream(stream)
    }

    fn from_stream(stream: TcpStream) -> Client {
        stream.set_nodelay(true).expect("set_nodelay");
        stream
            .set_write_timeout(Some(READ_TIMEOUT))
            .expect("set_write_timeout");
        Client {
            stream,
            rbuf: Vec::with_capacity(64 * 1024),
            rpos: 0,
            wbuf: Vec::new(),
            write_error: None,
            answer_heartbeats: true,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local_addr")
    }

    /// Queues raw bytes for sending.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
        if self.wbuf.len() >= WRITE_BUFFER_LIMIT {
            self.flush_quietly();
        }
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        result
    }

    fn flush_quietly(&mut self) {
        if let Err(e) = self.flush() {
            self.write_error = Some(e);
        }
    }

    /// Half-closes the connection (no more bytes from us) after sending what is queued.
    pub fn shutdown_write(&mut self) {
        self.flush_quietly();
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    fn command(&mut self, line: &str) {
        self.send_raw(line.as_bytes());
        self.send_raw(b"\n");
    }

    fn command_with_body(&mut self, line: &str, body: &[u8]) {
        self.command(line);
        self.send_raw(&body_len(body.len()));
        self.send_raw(body);
    }

    pub fn identify(&mut self, json: &serde_json::Value) {
        let body = serde_json::to_vec(json).expect("serialize IDENTIFY body");
        self.command_with_body("IDENTIFY", &body);
    }

    pub fn sub(&mut self, topic: &str, channel: &str) {
        self.command(&format!("SUB {topic} {channel}"));
    }

    pub fn rdy(&mut self, count: u32) {
        self.command(&format!("RDY {count}"));
    }

    pub fn pub_(&mut self, topic: &str, body: &[u8]) {
        self.command_with_body(&format!("PUB {topic}"), body);
    }

    pub fn mpub<B: AsRef<[u8]>>(&mut self, topic: &str, bodies: &[B]) {
        self.command_with_body(&format!("MPUB {topic}"), &mpub_body(bodies));
    }

    pub fn dpub(&mut self, topic: &str, defer_ms: u64, body: &[u8]) {
        self.command_with_body(&format!("DPUB {topic} {defer_ms}"), body);
    }

    pub fn fin(&mut self, id: &[u8]) {
        self.id_command("FIN", id, None);
    }

    pub fn req(&mut self, id: &[u8], timeout_ms: u64) {
        self.id_command("REQ", id, Some(timeout_ms));
    }

    pub fn touch(&mut self, id: &[u8]) {
        self.id_command("TOUCH", id, None);
    }

    fn id_command(&mut self, name: &str, id: &[u8], arg: Option<u64>) {
        self.send_raw(name.as_bytes());
        self.send_raw(b" ");
        self.send_raw(id);
        if let Some(arg) = arg {
            self.send_raw(format!(" {arg}").as_bytes());
        }
        self.send_raw(b"\n");
    }

    pub fn cls(&mut self) {
        self.command("CLS");
    }

    pub fn nop(&mut self) {
        self.command("NOP");
    }

    /// Next frame; heartbeats are answered and skipped when `answer_heartbeats` is set.
    /// Panics on timeout or a closed connection.
    pub fn read_frame(&mut self) -> Frame {
        match self.try_read_frame(READ_TIMEOUT) {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("no frame from server within {READ_TIMEOUT:?}"),
            Err(e) => panic!(
                "connection failed while waiting for a frame: {e} (last write error: {:?})",
                self.write_error
            ),
        }
    }

    /// Next frame within `timeout`: `Ok(None)` if none arrived, `Err` if the connection
    /// closed or failed. Partial frames stay buffered across timeouts.
    pub fn try_read_frame(&mut self, timeout: Duration) -> io::Result<Option<Frame>> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some((frame_type, data)) = self.take_buffered_frame() {
                let frame = decode_frame(frame_type, data);
                if self.answer_heartbeats && frame == Frame::Response(HEARTBEAT.to_vec()) {
                    self.nop();
                    continue;
                }
                return Ok(Some(frame));
            }
            if !self.fill(deadline)? {
                return Ok(None);
            }
        }
    }

    /// Next frame as (type, data) with no decoding and no heartbeat handling.
    pub fn read_raw_frame(&mut self) -> (u32, Vec<u8>) {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if let Some(frame) = self.take_buffered_frame() {
                return frame;
            }
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => panic!("no frame from server within {READ_TIMEOUT:?}"),
                Err(e) => panic!("connection failed while waiting for a frame: {e}"),
            }
        }
    }

    /// Sends pending writes, then reads more bytes before `deadline`.
    /// `Ok(false)` on timeout; `Err(UnexpectedEof)` when the server closed.
    fn fill(&mut self, deadline: Instant) -> io::Result<bool> {
        self.flush_quietly();
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(false);
        }
        self.stream.set_read_timeout(Some(remaining))?;
        if self.rpos > 0 && self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(io::Error::new(ErrorKind::UnexpectedEof, "server closed")),
            Ok(n) => {
                self.rbuf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn take_buffered_frame(&mut self) -> Option<(u32, Vec<u8>)> {
        let available = &self.rbuf[self.rpos..];
        if available.len() < 4 {
            return None;
        }
        let size = i32::from_be_bytes(available[..4].try_into().expect("4 bytes"));
        assert!(size >= 4, "server sent an invalid frame size {size}");
        let size = size as usize;
        if available.len() < 4 + size {
            return None;
        }
        let frame_type = u32::from_be_bytes(available[4..8].try_into().expect("4 bytes"));
        let data = available[8..4 + size].to_vec();
        self.rpos += 4 + size;
        if self.rpos > self.rbuf.len() / 2 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        Some((frame_type, data))
    }

    /// Reads a frame and requires the response `OK`.
    pub fn expect_ok(&mut self) {
        self.expect_response_eq(b"OK");
    }

    /// Reads a frame and requires exactly this response payload.
    pub fn expect_response_eq(&mut self, expected: &[u8]) {
        let data = self.expect_response();
        assert_eq!(
            String::from_utf8_lossy(&data),
            String::from_utf8_lossy(expected),
            "unexpected response"
        );
    }

    /// Reads a frame and requires a response; returns its payload.
    pub fn expect_response(&mut self) -> Vec<u8> {
        match self.read_frame() {
            Frame::Response(data) => data,
            other => panic!("expected a response frame, got {other:?}"),
        }
    }

    /// Reads a frame and requires an error whose text starts with `prefix`; returns the
    /// whole text.
    pub fn expect_error(&mut self, prefix: &str) -> String {
        match self.read_frame() {
            Frame::Error(text) => {
                assert!(
                    text.starts_with(prefix),
                    "expected an error starting with {prefix:?}, got {text:?}"
                );
                text
            }
            other => panic!("expected an error frame {prefix:?}, got {other:?}"),
        }
    }

    /// Reads a frame and requires a message.
    pub fn expect_message(&mut self) -> Message {
        match self.read_frame() {
            Frame::Message(message) => message,
            other => panic!("expected a message frame, got {other:?}"),
        }
    }

    /// Requires the server to close the connection (EOF or reset) without sending any
    /// frame other than heartbeats.
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            while let Some((frame_type, data)) = self.take_buffered_frame() {
                let frame = decode_frame(frame_type, data);
                assert!(
                    frame == Frame::Response(HEARTBEAT.to_vec()),
                    "expected the server to close the connection, got {frame:?}"
                );
            }
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => panic!("server kept the connection open for {READ_TIMEOUT:?}"),
                Err(e) if is_closed(&e) => return,
                Err(e) => panic!("unexpected error while waiting for close: {e}"),
            }
        }
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
    )
}

fn decode_frame(frame_type: u32, data: Vec<u8>) -> Frame {
    match frame_type {
        FRAME_RESPONSE => Frame::Response(data),
        FRAME_ERROR => Frame::Error(String::from_utf8_lossy(&data).into_owned()),
        FRAME_MESSAGE => Frame::Message(decode_message(&data)),
        other => panic!("unknown frame type {other}"),
    }
}

fn decode_message(data: &[u8]) -> Message {
    assert!(
        data.len() >= MESSAGE_HEADER_LEN,
        "message frame too short: {} bytes",
        data.len()
    );
    Message {
        ts: i64::from_be_bytes(data[..8].try_into().expect("8 bytes")),
        attempts: u16::from_be_bytes(data[8..10].try_into().expect("2 bytes")),
        id: data[10..26].try_into().expect("16 bytes"),
        body: data[MESSAGE_HEADER_LEN..].to_vec(),
    }
}

/// The 4-byte big-endian size prefix of a body.
pub fn body_len(len: usize) -> [u8; 4] {
    u32::try_from(len).expect("body fits u32").to_be_bytes()
}

/// MPUB body without its outer size: `[count][size][bytes]...`.
pub fn mpub_body<B: AsRef<[u8]>>(bodies: &[B]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&body_len(bodies.len()));
    for body in bodies {
        let body = body.as_ref();
        out.extend_from_slice(&body_len(body.len()));
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_message_frames() {
        let mut data = Vec::new();
        data.extend_from_slice(&7i64.to_be_bytes());
        data.extend_from_slice(&3u16.to_be_bytes());
        data.extend_from_slice(b"0123456789abcdef");
        data.extend_from_slice(b"body");
        let message = match decode_frame(FRAME_MESSAGE, data) {
            Frame::Message(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(message.ts, 7);
        assert_eq!(message.attempts, 3);
        assert_eq!(message.id_str(), "0123456789abcdef");
        assert_eq!(message.body, b"body");
    }

    #[test]
    fn encodes_mpub_bodies() {
        assert_eq!(
            mpub_body(&[b"a", b"b"]),
            [0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0, 0, 1, b'b']
        );
    }
}
