//! nsqlookupd's V1 TCP protocol as pure bytes, as Go nsqlookupd v1.3.0 speaks it: the `"  V1"` magic,
//! command lines (trimmed like Go's `strings.TrimSpace`, split on single spaces), the
//! IDENTIFY body (4-byte big-endian signed size + JSON), and responses, which are
//! length-prefixed only (`[u32 size][data]`, no frame type). Errors carry the reference's
//! exact texts; every error of this protocol closes the connection.
//!
//! Server side: [`read_line`], [`Command::parse`], [`read_body`], [`topic_channel`],
//! [`response`]. Client side (what nsqd sends): [`MAGIC_V1`], [`identify`], [`register`],
//! [`unregister`], [`PING`], [`read_response`] / [`read_response_limited`]. The IDENTIFY
//! JSON is `json::lookupd::Identify`; acting on commands is nsqlookupd's job; no sockets
//! here.

use crate::error::ErrorCode;
use crate::names;
use bytes::{Buf, Bytes, BytesMut};

pub use crate::MAGIC_V1;

/// Longest accepted command line, newline included. The reference reads lines without
/// bound; no valid command is longer than ~150 bytes, so a longer line closes the
/// connection without a response (our guard against unbounded buffering).
pub const MAX_LINE_LEN: usize = 16 * 1024;

/// Largest IDENTIFY body accepted. The reference allocates whatever size is sent (and
/// panics on a negative one); nsqd's IDENTIFY JSON is a few hundred bytes.
pub const MAX_BODY_LEN: i32 = 1024 * 1024;

/// The command line nsqd sends every 15 s.
pub const PING: &[u8] = b"PING\n";
/// The success response data of PING, REGISTER and UNREGISTER.
pub const OK: &[u8] = b"OK";

/// One command line, split. Parameters are raw bytes: names are checked by
/// [`topic_channel`] only after the connection's state checks, as in the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ping,
    /// The body follows the line; read it with [`read_body`].
    Identify,
    Register(Vec<Bytes>),
    Unregister(Vec<Bytes>),
    /// Anything else (also the empty line): the word as sent.
    Invalid(Bytes),
}

impl Command {
    /// Parses one line (without its `\n`): trimmed of Unicode whitespace at both ends,
    /// then split on every single space (so `REGISTER  t` has an empty first parameter).
    /// Command words are case-sensitive.
    pub fn parse(line: &[u8]) -> Command {
        let line = trim_space(line);
        let mut parts = line.split(|&b| b == b' ');
        let word = parts.next().unwrap_or_default();
        let params = || parts.map(Bytes::copy_from_slice).collect();
        match word {
            b"PING" => Command::Ping,
            b"IDENTIFY" => Command::Identify,
            b"REGISTER" => Command::Register(params()),
            b"UNREGISTER" => Command::Unregister(params()),
            _ => Command::Invalid(Bytes::copy_from_slice(word)),
        }
    }
}

/// An error response: the code plus a description that may hold client bytes verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
    pub code: ErrorCode,
    pub desc: Vec<u8>,
}

impl LookupError {
    fn new(code: ErrorCode, desc: impl Into<Vec<u8>>) -> LookupError {
        LookupError {
            code,
            desc: desc.into(),
        }
    }

    /// `E_BAD_PROTOCOL` (no description): the first four bytes were not `"  V1"`.
    pub fn bad_protocol() -> LookupError {
        LookupError::new(ErrorCode::BadProtocol, Vec::new())
    }

    /// `E_INVALID invalid command <word>`.
    pub fn invalid_command(word: &[u8]) -> LookupError {
        let mut desc = b"invalid command ".to_vec();
        desc.extend_from_slice(word);
        LookupError::new(ErrorCode::Invalid, desc)
    }

    /// REGISTER/UNREGISTER on a connection that has not identified.
    pub fn must_identify() -> LookupError {
        LookupError::new(ErrorCode::Invalid, "client must IDENTIFY")
    }

    pub fn identify_again() -> LookupError {
        LookupError::new(ErrorCode::Invalid, "cannot IDENTIFY again")
    }

    /// The connection ended before the body size was complete.
    pub fn body_size_unreadable() -> LookupError {
        LookupError::new(ErrorCode::BadBody, "IDENTIFY failed to read body size")
    }

    /// The connection ended before the body was complete.
    pub fn body_unreadable() -> LookupError {
        LookupError::new(ErrorCode::BadBody, "IDENTIFY failed to read body")
    }

    pub fn bad_json() -> LookupError {
        LookupError::new(ErrorCode::BadBody, "IDENTIFY failed to decode JSON body")
    }

    /// `broadcast_address`, `tcp_port`, `http_port` or `version` missing (empty / 0).
    pub fn missing_fields() -> LookupError {
        LookupError::new(ErrorCode::BadBody, "IDENTIFY missing fields")
    }

    /// The response data as sent: `CODE desc`, or just the code without a description.
    pub fn response_data(&self) -> Vec<u8> {
        let mut v = self.code.as_str().as_bytes().to_vec();
        if !self.desc.is_empty() {
            v.push(b' ');
            v.extend_from_slice(&self.desc);
        }
        v
    }
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.response_data()))
    }
}

impl std::error::Error for LookupError {}

/// A line longer than [`MAX_LINE_LEN`] without a newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("command line too long")]
pub struct LineTooLong;

/// Takes the next complete line off `buf` (without its `\n`); `Ok(None)` until one is
/// there. A trailing partial line at end of input is never a command (the reference
/// stops reading without answering).
pub fn read_line(buf: &mut BytesMut) -> Result<Option<Bytes>, LineTooLong> {
    let scan = buf.len().min(MAX_LINE_LEN);
    match buf[..scan].iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let mut line = buf.split_to(nl + 1);
            line.truncate(nl);
            Ok(Some(line.freeze()))
        }
        None if buf.len() >= MAX_LINE_LEN => Err(LineTooLong),
        None => Ok(None),
    }
}

/// Takes the IDENTIFY body (size + data) off `buf`; `Ok(None)` (nothing consumed) until
/// it is complete. A negative or oversized size is `E_BAD_BODY IDENTIFY invalid body size
/// <n>` (the reference panics on a negative one). A zero size yields an empty body, which
/// then fails to decode as JSON, as in the reference.
pub fn read_body(buf: &mut BytesMut) -> Result<Option<Bytes>, LookupError> {
    let Some(size) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
    if !(0..=MAX_BODY_LEN).contains(&size) {
        return Err(LookupError::new(
            ErrorCode::BadBody,
            format!("IDENTIFY invalid body size {size}"),
        ));
    }
    // Non-negative and at most MAX_BODY_LEN, so it fits in usize.
    let size = size as usize;
    if buf.len() < 4 + size {
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// The error for input that ended while [`read_body`] still wanted bytes.
pub fn body_eof_error(buf: &[u8]) -> LookupError {
    if buf.len() < 4 {
        LookupError::body_size_unreadable()
    } else {
        LookupError::body_unreadable()
    }
}

/// REGISTER/UNREGISTER parameters: topic, then an optional channel (empty = none; extra
/// parameters ignored). `command` names the command in the error texts.
pub fn topic_channel(
    command: &str,
    params: &[Bytes],
) -> Result<(String, Option<String>), LookupError> {
    let Some(topic) = params.first() else {
        return Err(LookupError::new(
            ErrorCode::Invalid,
            format!("{command} insufficient number of params"),
        ));
    };
    let channel = params.get(1).filter(|c| !c.is_empty());
    if !names::is_valid(topic) {
        return Err(quoted_name_error(
            ErrorCode::BadTopic,
            command,
            "topic",
            topic,
        ));
    }
    if let Some(channel) = channel {
        if !names::is_valid(channel) {
            return Err(quoted_name_error(
                ErrorCode::BadChannel,
                command,
                "channel",
                channel,
            ));
        }
    }
    // Valid names are ASCII.
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    Ok((text(topic), channel.map(text)))
}

/// `<CMD> <what> name '<name>' is not valid`, the name's bytes verbatim.
fn quoted_name_error(code: ErrorCode, command: &str, what: &str, name: &[u8]) -> LookupError {
    let mut desc = format!("{command} {what} name '").into_bytes();
    desc.extend_from_slice(name);
    desc.extend_from_slice(b"' is not valid");
    LookupError::new(code, desc)
}

/// A response as sent: `[u32 big-endian size][data]`.
pub fn response(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + data.len());
    // Responses are a few hundred bytes at most.
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Client side: takes one response's data off `buf`; `None` until complete.
pub fn read_response(buf: &mut BytesMut) -> Option<Bytes> {
    let size = buf.get(..4)?;
    let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
    if buf.len() < 4 + size {
        return None;
    }
    buf.advance(4);
    Some(buf.split_to(size).freeze())
}

/// A response size field that is negative (read as a signed 32-bit number) or above the
/// client's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad response size {0}")]
pub struct BadResponseSize(pub i32);

/// Client side: takes one response's data off `buf`; `Ok(None)` (nothing consumed) until
/// complete. The size is checked as soon as it is read, before the data is buffered.
pub fn read_response_limited(
    buf: &mut BytesMut,
    max_size: i64,
) -> Result<Option<Bytes>, BadResponseSize> {
    let Some(size) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
    if size < 0 || i64::from(size) > max_size {
        return Err(BadResponseSize(size));
    }
    // Non-negative, so it fits in usize.
    let size = size as usize;
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Client side: `IDENTIFY\n` + size + `json`.
pub fn identify(json: &[u8]) -> Vec<u8> {
    let mut out = b"IDENTIFY\n".to_vec();
    // An IDENTIFY body is a few hundred bytes.
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(json);
    out
}

/// Client side: `REGISTER <topic>[ <channel>]\n`.
pub fn register(topic: &str, channel: Option<&str>) -> Vec<u8> {
    command_line("REGISTER", topic, channel)
}

/// Client side: `UNREGISTER <topic>[ <channel>]\n`.
pub fn unregister(topic: &str, channel: Option<&str>) -> Vec<u8> {
    command_line("UNREGISTER", topic, channel)
}

fn command_line(word: &str, topic: &str, channel: Option<&str>) -> Vec<u8> {
    match channel {
        Some(c) => format!("{word} {topic} {c}\n").into_bytes(),
        None => format!("{word} {topic}\n").into_bytes(),
    }
}

/// Go's `bytes.TrimSpace`: strips Unicode white space (ASCII `\t\n\v\f\r `, U+0085,
/// U+00A0 and the other `White_Space` characters) from both ends; invalid UTF-8 is
/// never space.
pub fn trim_space(mut s: &[u8]) -> &[u8] {
    while let Some(n) = leading_space_len(s) {
        s = &s[n..];
    }
    while let Some(n) = trailing_space_len(s) {
        s = &s[..s.len() - n];
    }
    s
}

fn leading_space_len(s: &[u8]) -> Option<usize> {
    (1..=4.min(s.len())).find(|&n| space_char(&s[..n]))
}

fn trailing_space_len(s: &[u8]) -> Option<usize> {
    (1..=4.min(s.len())).find(|&n| space_char(&s[s.len() - n..]))
}

/// True if `b` is exactly one UTF-8 encoded white-space character.
fn space_char(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        // Rust's `char::is_whitespace` is the `White_Space` property, the same set as
        // Go's `unicode.IsSpace`.
        Ok(s) => {
            let mut chars = s.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if c.is_whitespace())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: &LookupError) -> String {
        String::from_utf8_lossy(&e.response_data()).into_owned()
    }

    fn params(p: &[&str]) -> Vec<Bytes> {
        p.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn parses_commands() {
        assert_eq!(Command::parse(b"PING"), Command::Ping);
        assert_eq!(Command::parse(b"  PING extra\r"), Command::Ping);
        assert_eq!(Command::parse(b"IDENTIFY"), Command::Identify);
        assert_eq!(
            Command::parse(b"REGISTER t c"),
            Command::Register(params(&["t", "c"]))
        );
        assert_eq!(
            Command::parse(b"UNREGISTER  t"),
            Command::Unregister(params(&["", "t"]))
        );
        assert_eq!(Command::parse(b"REGISTER"), Command::Register(vec![]));
        assert_eq!(Command::parse(b"ping"), Command::Invalid("ping".into()));
        assert_eq!(Command::parse(b""), Command::Invalid(Bytes::new()));
        assert_eq!(
            text(&LookupError::invalid_command(b"")),
            "E_INVALID invalid command "
        );
    }

    #[test]
    fn trims_like_go() {
        assert_eq!(trim_space(b" \t\x0b\x0cA B\r\n"), b"A B");
        assert_eq!(trim_space("\u{a0}X\u{3000}".as_bytes()), b"X");
        assert_eq!(trim_space(b"\xffX\xc2"), b"\xffX\xc2");
        assert_eq!(trim_space(b"   "), b"");
        assert_eq!(trim_space("\u{85}".as_bytes()), b"");
    }

    #[test]
    fn lines_split_at_every_byte() {
        let input = b"PING\nREGISTER a b\n";
        for cut in 0..=input.len() {
            let mut buf = BytesMut::from(&input[..cut]);
            let mut lines = Vec::new();
            while let Some(l) = read_line(&mut buf).expect("short") {
                lines.push(l);
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(l) = read_line(&mut buf).expect("short") {
                lines.push(l);
            }
            assert_eq!(
                lines,
                vec![Bytes::from("PING"), Bytes::from("REGISTER a b")]
            );
        }
        let mut long = BytesMut::from(&vec![b'x'; MAX_LINE_LEN][..]);
        assert_eq!(read_line(&mut long), Err(LineTooLong));
        let mut fits = BytesMut::from(&vec![b'x'; MAX_LINE_LEN - 1][..]);
        assert_eq!(read_line(&mut fits), Ok(None));
        fits.extend_from_slice(b"\n");
        assert!(read_line(&mut fits).expect("fits").is_some());
    }

    #[test]
    fn bodies_need_all_bytes_and_a_sane_size() {
        let full = identify(br#"{"a":1}"#);
        let body = &full[b"IDENTIFY\n".len()..];
        for cut in 0..body.len() {
            let mut buf = BytesMut::from(&body[..cut]);
            assert_eq!(read_body(&mut buf), Ok(None));
            assert_eq!(buf.len(), cut, "nothing consumed");
            let expected = if cut < 4 {
                "E_BAD_BODY IDENTIFY failed to read body size"
            } else {
                "E_BAD_BODY IDENTIFY failed to read body"
            };
            assert_eq!(text(&body_eof_error(&buf)), expected);
        }
        let mut buf = BytesMut::from(body);
        buf.extend_from_slice(b"PING\n");
        assert_eq!(read_body(&mut buf), Ok(Some(Bytes::from(r#"{"a":1}"#))));
        assert_eq!(&buf[..], b"PING\n");

        let mut empty = BytesMut::from(&[0u8, 0, 0, 0][..]);
        assert_eq!(read_body(&mut empty), Ok(Some(Bytes::new())));
        for (size, shown) in [(-1i32, "-1"), (MAX_BODY_LEN + 1, "1048577")] {
            let mut buf = BytesMut::from(&size.to_be_bytes()[..]);
            let err = read_body(&mut buf).expect_err("bad size");
            assert_eq!(
                text(&err),
                format!("E_BAD_BODY IDENTIFY invalid body size {shown}")
            );
        }
    }

    #[test]
    fn topic_and_channel_rules() {
        assert_eq!(
            topic_channel("REGISTER", &params(&["t"])),
            Ok(("t".to_string(), None))
        );
        assert_eq!(
            topic_channel("REGISTER", &params(&["t", "c", "extra"])),
            Ok(("t".to_string(), Some("c".to_string())))
        );
        assert_eq!(
            topic_channel("REGISTER", &params(&["t", "", "c"])),
            Ok(("t".to_string(), None))
        );
        let err = |p: &[&str]| text(&topic_channel("UNREGISTER", &params(p)).expect_err("bad"));
        assert_eq!(
            err(&[]),
            "E_INVALID UNREGISTER insufficient number of params"
        );
        assert_eq!(
            err(&["a!", "c"]),
            "E_BAD_TOPIC UNREGISTER topic name 'a!' is not valid"
        );
        assert_eq!(
            err(&["", "c"]),
            "E_BAD_TOPIC UNREGISTER topic name '' is not valid"
        );
        assert_eq!(
            err(&["t", "c*"]),
            "E_BAD_CHANNEL UNREGISTER channel name 'c*' is not valid"
        );
        let raw = topic_channel("REGISTER", &[Bytes::from_static(b"\xff")]).expect_err("bad");
        assert_eq!(
            raw.response_data(),
            b"E_BAD_TOPIC REGISTER topic name '\xff' is not valid"
        );
    }

    #[test]
    fn responses_and_client_side() {
        assert_eq!(response(b"OK"), b"\0\0\0\x02OK");
        assert_eq!(
            LookupError::bad_protocol().response_data(),
            b"E_BAD_PROTOCOL"
        );
        let mut buf = BytesMut::from(&response(b"OK")[..3]);
        assert_eq!(read_response(&mut buf), None);
        buf.extend_from_slice(&response(b"OK")[3..]);
        assert_eq!(read_response(&mut buf), Some(Bytes::from("OK")));
        assert_eq!(register("t", Some("c")), b"REGISTER t c\n");
        assert_eq!(unregister("t", None), b"UNREGISTER t\n");
        assert_eq!(identify(b"{}"), b"IDENTIFY\n\0\0\0\x02{}");
    }

    #[test]
    fn limited_responses_at_every_split() {
        let mut wire = response(b"OK");
        wire.extend_from_slice(&response(br#"{"tcp_port":4160}"#));
        for cut in 0..=wire.len() {
            let mut buf = BytesMut::from(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(r) = read_response_limited(&mut buf, 100).expect("valid") {
                got.push(r);
            }
            buf.extend_from_slice(&wire[cut..]);
            while let Some(r) = read_response_limited(&mut buf, 100).expect("valid") {
                got.push(r);
            }
            assert_eq!(got, [&b"OK"[..], br#"{"tcp_port":4160}"#]);
        }
        let mut big = BytesMut::from(&101u32.to_be_bytes()[..]);
        assert_eq!(
            read_response_limited(&mut big, 100),
            Err(BadResponseSize(101))
        );
        let mut neg = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        let err = read_response_limited(&mut neg, 100).expect_err("negative");
        assert_eq!(err.to_string(), "bad response size -1");
    }

    /// What nsqd sends, read back by the server half: magic, IDENTIFY with its body,
    /// REGISTER / UNREGISTER with and without a channel, PING.
    #[test]
    fn client_commands_round_trip_through_the_server_half() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(MAGIC_V1);
        wire.extend_from_slice(&identify(br#"{"tcp_port":1}"#));
        wire.extend_from_slice(&register("t", Some("c")));
        wire.extend_from_slice(&register("t", None));
        wire.extend_from_slice(&unregister("t", Some("c")));
        wire.extend_from_slice(&unregister("t", None));
        wire.extend_from_slice(PING);
        assert_eq!(&wire.split_to(4)[..], MAGIC_V1);
        let line = read_line(&mut wire).expect("line").expect("whole");
        assert_eq!(Command::parse(&line), Command::Identify);
        let body = read_body(&mut wire).expect("body").expect("whole");
        assert_eq!(&body[..], br#"{"tcp_port":1}"#);
        let mut seen = Vec::new();
        while let Some(line) = read_line(&mut wire).expect("line") {
            seen.push(match Command::parse(&line) {
                Command::Register(p) => ("REGISTER", topic_channel("REGISTER", &p)),
                Command::Unregister(p) => ("UNREGISTER", topic_channel("UNREGISTER", &p)),
                Command::Ping => ("PING", Ok((String::new(), None))),
                other => panic!("unexpected {other:?}"),
            });
        }
        let tc = |c: Option<&str>| Ok(("t".to_string(), c.map(String::from)));
        assert_eq!(
            seen,
            [
                ("REGISTER", tc(Some("c"))),
                ("REGISTER", tc(None)),
                ("UNREGISTER", tc(Some("c"))),
                ("UNREGISTER", tc(None)),
                ("PING", Ok((String::new(), None))),
            ]
        );
    }
}
