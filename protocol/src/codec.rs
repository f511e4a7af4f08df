//! Incremental decoder for V2 client commands: a `\n`-terminated line, then for IDENTIFY,
//! AUTH, PUB, DPUB and MPUB a 4-byte signed size and the body. Input may arrive split at
//! any byte: "need more" returns `Ok(None)` and keeps what was read. Every size is checked
//! against its limit before the body is buffered, and errors carry the reference's exact
//! texts in the reference's order.

use crate::command::{Command, CommandName};
use crate::error::{DecodeError, ErrorCode, ProtocolError};
use crate::message::MessageId;
use crate::names;
use crate::quote::go_quote;
use bytes::{Buf, Bytes, BytesMut};

/// The reference reads lines through a 16 KiB buffer; a longer line cannot be read.
pub const MAX_LINE_LEN: usize = 16 * 1024;

/// Limits from nsqd's flags that the decoder enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_msg_size: i64,
    pub max_body_size: i64,
    pub max_rdy_count: u64,
    pub max_req_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_msg_size: 1_048_576,
            max_body_size: 5_242_880,
            max_rdy_count: 2500,
            max_req_timeout_ms: 3_600_000,
        }
    }
}

impl Limits {
    /// Bytes of the largest command these limits accept: a full line, the size and the
    /// largest body (IDENTIFY, AUTH and MPUB are bound by the body size, PUB and DPUB by
    /// the message size).
    pub fn max_command_len(&self) -> usize {
        let body = self.max_msg_size.max(self.max_body_size).max(0);
        MAX_LINE_LEN
            .saturating_add(4)
            .saturating_add(usize::try_from(body).unwrap_or(usize::MAX))
    }
}

/// A body-carrying command whose line has been read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Head {
    Identify,
    Auth,
    Pub(String),
    Dpub(String, u64),
    Mpub(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Size(Head),
    Body(Head, usize),
}

#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    pending: Option<Pending>,
    mpub_topic: Option<String>,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            pending: None,
            mpub_topic: None,
        }
    }

    /// Decode the next command from `buf`, consuming its bytes.
    ///
    /// `check` runs once per command line, right after the command word is known and before
    /// parameters or body are examined: the connection applies its TLS and state rules
    /// there, so their errors win over syntax errors exactly as in the reference.
    pub fn decode<F>(
        &mut self,
        buf: &mut BytesMut,
        check: F,
    ) -> Result<Option<Command>, DecodeError>
    where
        F: FnOnce(CommandName, &[u8]) -> Result<(), ProtocolError>,
    {
        if self.pending.is_none() {
            let scan = buf.len().min(MAX_LINE_LEN);
            let Some(nl) = buf[..scan].iter().position(|&b| b == b'\n') else {
                if buf.len() >= MAX_LINE_LEN {
                    return Err(DecodeError::LineTooLong);
                }
                return Ok(None);
            };
            let line = buf.split_to(nl + 1);
            let mut line = &line[..nl];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            let mut parts = line.split(|&b| b == b' ');
            let word = parts.next().unwrap_or_default();
            let params: Vec<&[u8]> = parts.collect();
            let name = CommandName::parse(word);
            check(name, word)?;
            self.mpub_topic = None;
            match self.parse_line(name, word, &params)? {
                Line::Done(cmd) => return Ok(Some(cmd)),
                Line::Body(head) => {
                    if let Head::Mpub(topic) = &head {
                        self.mpub_topic = Some(topic.clone());
                    }
                    self.pending = Some(Pending::Size(head));
                }
            }
        }
        self.decode_body(buf)
    }

    /// The peer closed its side. If a command was cut short in its size or body, this is
    /// the error the reference reports for it (sent before closing); `None` otherwise.
    pub fn eof_error(&mut self, buf: &BytesMut) -> Option<ProtocolError> {
        let (head, size_read) = match self.pending.take()? {
            Pending::Size(head) => (head, false),
            Pending::Body(head, _) => (head, true),
        };
        let (code, cmd, what) = match &head {
            Head::Identify => (ErrorCode::BadBody, "IDENTIFY", "body"),
            Head::Auth => (ErrorCode::BadBody, "AUTH", "body"),
            Head::Pub(_) => (ErrorCode::BadMessage, "PUB", "message body"),
            Head::Dpub(..) => (ErrorCode::BadMessage, "DPUB", "message body"),
            Head::Mpub(_) if size_read => {
                return split_mpub(Bytes::copy_from_slice(buf), &self.limits).err();
            }
            Head::Mpub(_) => (ErrorCode::BadBody, "MPUB", "body"),
        };
        let suffix = if size_read { "" } else { " size" };
        Some(ProtocolError::new(
            code,
            format!("{cmd} failed to read {what}{suffix}"),
        ))
    }

    /// The topic of the MPUB whose body is being read or failed to decode: the reference
    /// creates that topic before it reads the body, so a malformed MPUB still creates it.
    pub fn mpub_topic(&self) -> Option<&str> {
        self.mpub_topic.as_deref()
    }

    fn decode_body(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, DecodeError> {
        loop {
            match self.pending.take() {
                None => return Ok(None),
                Some(Pending::Size(head)) => {
                    if buf.len() < 4 {
                        self.pending = Some(Pending::Size(head));
                        return Ok(None);
                    }
                    let size = buf.get_i32();
                    let size = self.check_size(&head, size)?;
                    self.pending = Some(Pending::Body(head, size));
                }
                Some(Pending::Body(head, size)) => {
                    if buf.len() < size {
                        buf.reserve(size - buf.len());
                        self.pending = Some(Pending::Body(head, size));
                        return Ok(None);
                    }
                    let body = buf.split_to(size).freeze();
                    return self.finish(head, body).map(Some);
                }
            }
        }
    }

    fn parse_line(
        &self,
        name: CommandName,
        word: &[u8],
        params: &[&[u8]],
    ) -> Result<Line, ProtocolError> {
        let l = &self.limits;
        let cmd = match name {
            CommandName::Unknown => {
                return Err(ProtocolError::invalid("invalid command ").with_raw(word))
            }
            CommandName::Identify => return Ok(Line::Body(Head::Identify)),
            CommandName::Auth => {
                if !params.is_empty() {
                    return Err(ProtocolError::invalid("AUTH invalid number of parameters"));
                }
                return Ok(Line::Body(Head::Auth));
            }
            CommandName::Pub => {
                let topic = topic_param(params, "PUB", "")?;
                return Ok(Line::Body(Head::Pub(topic)));
            }
            CommandName::Mpub => {
                let topic = topic_param(params, "MPUB", "E_BAD_TOPIC ")?;
                return Ok(Line::Body(Head::Mpub(topic)));
            }
            CommandName::Dpub => {
                if params.len() < 2 {
                    return Err(ProtocolError::invalid(
                        "DPUB insufficient number of parameters",
                    ));
                }
                let topic = topic_param(params, "DPUB", "")?;
                let ms = parse_digits(params[1]).ok_or_else(|| {
                    ProtocolError::invalid(format!(
                        "DPUB could not parse timeout {}",
                        lossy(params[1])
                    ))
                })?;
                // Checked as Go does: the wrapped duration, the parsed count in the text.
                let ns = go_duration_ns(ms);
                if ns < 0 || ns as u64 > l.max_req_timeout_ms.saturating_mul(1_000_000) {
                    return Err(ProtocolError::invalid(format!(
                        "DPUB timeout {ms} out of range 0-{}",
                        l.max_req_timeout_ms
                    )));
                }
                return Ok(Line::Body(Head::Dpub(topic, ns as u64 / 1_000_000)));
            }
            CommandName::Sub => {
                if params.len() < 2 {
                    return Err(ProtocolError::invalid(
                        "SUB insufficient number of parameters",
                    ));
                }
                if !names::is_valid(params[0]) {
                    return Err(ProtocolError::new(
                        ErrorCode::BadTopic,
                        format!("SUB topic name {} is not valid", go_quote(params[0])),
                    ));
                }
                if !names::is_valid(params[1]) {
                    return Err(ProtocolError::new(
                        ErrorCode::BadChannel,
                        format!("SUB channel name {} is not valid", go_quote(params[1])),
                    ));
                }
                Command::Sub {
                    topic: lossy(params[0]),
                    channel: lossy(params[1]),
                }
            }
            CommandName::Rdy => {
                let count = match params.first() {
                    None => 1,
                    Some(p) => parse_digits(p).ok_or_else(|| {
                        ProtocolError::invalid("RDY could not parse count ").with_raw(p)
                    })?,
                };
                // Go converts the parsed count to int64: past 2^63 it is negative.
                let signed = count as i64;
                if signed < 0 || count > l.max_rdy_count {
                    return Err(ProtocolError::invalid(format!(
                        "RDY count {signed} out of range 0-{}",
                        l.max_rdy_count
                    )));
                }
                Command::Rdy(count)
            }
            CommandName::Fin => Command::Fin(id_param(params, "FIN")?),
            CommandName::Touch => Command::Touch(id_param(params, "TOUCH")?),
            CommandName::Req => {
                if params.len() < 2 {
                    return Err(ProtocolError::invalid("REQ insufficient number of params"));
                }
                let id = id_param(params, "REQ")?;
                let ms = parse_digits(params[1]).ok_or_else(|| {
                    ProtocolError::invalid(format!(
                        "REQ could not parse timeout {}",
                        lossy(params[1])
                    ))
                })?;
                // Clamped as Go does, on the wrapped duration: below 0 is 0.
                let ns = go_duration_ns(ms);
                let timeout_ms = if ns < 0 {
                    0
                } else {
                    (ns as u64 / 1_000_000).min(l.max_req_timeout_ms)
                };
                Command::Req { id, timeout_ms }
            }
            CommandName::Cls => Command::Cls,
            CommandName::Nop => Command::Nop,
        };
        Ok(Line::Done(cmd))
    }

    /// Check a body size field against the limits (reference order: too big, then ≤ 0
    /// for IDENTIFY/AUTH; ≤ 0, then too big for the publish commands).
    fn check_size(&self, head: &Head, size: i32) -> Result<usize, ProtocolError> {
        let l = &self.limits;
        let size64 = i64::from(size);
        match head {
            Head::Identify | Head::Auth => {
                let cmd = if *head == Head::Identify {
                    "IDENTIFY"
                } else {
                    "AUTH"
                };
                if size64 > l.max_body_size {
                    return Err(ProtocolError::new(
                        ErrorCode::BadBody,
                        format!("{cmd} body too big {size} > {}", l.max_body_size),
                    ));
                }
                if size <= 0 {
                    return Err(ProtocolError::new(
                        ErrorCode::BadBody,
                        format!("{cmd} invalid body size {size}"),
                    ));
                }
            }
            Head::Pub(_) | Head::Dpub(..) => {
                let cmd = if matches!(head, Head::Pub(_)) {
                    "PUB"
                } else {
                    "DPUB"
                };
                if size <= 0 {
                    return Err(ProtocolError::new(
                        ErrorCode::BadMessage,
                        format!("{cmd} invalid message body size {size}"),
                    ));
                }
                if size64 > l.max_msg_size {
                    return Err(ProtocolError::new(
                        ErrorCode::BadMessage,
                        format!("{cmd} message too big {size} > {}", l.max_msg_size),
                    ));
                }
            }
            Head::Mpub(_) => {
                if size <= 0 {
                    return Err(ProtocolError::new(
                        ErrorCode::BadBody,
                        format!("MPUB invalid body size {size}"),
                    ));
                }
                if size64 > l.max_body_size {
                    return Err(ProtocolError::new(
                        ErrorCode::BadBody,
                        format!("MPUB body too big {size} > {}", l.max_body_size),
                    ));
                }
            }
        }
        // size > 0 was checked in every arm above, so the conversion cannot fail.
        Ok(usize::try_from(size).unwrap_or(0))
    }

    fn finish(&self, head: Head, body: Bytes) -> Result<Command, DecodeError> {
        Ok(match head {
            Head::Identify => Command::Identify(body),
            Head::Auth => Command::Auth(body),
            Head::Pub(topic) => Command::Pub { topic, body },
            Head::Dpub(topic, defer_ms) => Command::Dpub {
                topic,
                defer_ms,
                body,
            },
            Head::Mpub(topic) => Command::Mpub {
                topic,
                bodies: split_mpub(body, &self.limits)?,
            },
        })
    }
}

enum Line {
    Done(Command),
    Body(Head),
}

/// Split an MPUB body (`[count][size][bytes]...`) into message bodies that share its
/// buffer. Also used for HTTP `/mpub?binary=true`, whose body has the same layout.
pub fn split_mpub(mut body: Bytes, limits: &Limits) -> Result<Vec<Bytes>, ProtocolError> {
    let bad_body = |d: String| ProtocolError::new(ErrorCode::BadBody, d);
    let bad_msg = |d: String| ProtocolError::new(ErrorCode::BadMessage, d);
    if body.len() < 4 {
        return Err(bad_body("MPUB failed to read message count".into()));
    }
    let count = body.get_i32();
    let max_count = (limits.max_body_size - 4) / 5;
    if count <= 0 || i64::from(count) > max_count {
        return Err(bad_body(format!("MPUB invalid message count {count}")));
    }
    // Each message takes at least 5 bytes of the body (size + 1 byte), so a count the body
    // cannot hold does not get its room reserved up front.
    let mut out = Vec::with_capacity((count as usize).min(body.len() / 5));
    for i in 0..count {
        if body.len() < 4 {
            return Err(bad_msg(format!(
                "MPUB failed to read message({i}) body size"
            )));
        }
        let size = body.get_i32();
        if size <= 0 {
            return Err(bad_msg(format!(
                "MPUB invalid message({i}) body size {size}"
            )));
        }
        if i64::from(size) > limits.max_msg_size {
            return Err(bad_msg(format!(
                "MPUB message too big {size} > {}",
                limits.max_msg_size
            )));
        }
        let size = size as usize;
        if body.len() < size {
            return Err(bad_msg("MPUB failed to read message body".into()));
        }
        out.push(body.split_to(size));
    }
    Ok(out)
}

fn topic_param(params: &[&[u8]], cmd: &str, code_echo: &str) -> Result<String, ProtocolError> {
    let Some(topic) = params.first() else {
        return Err(ProtocolError::invalid(format!(
            "{cmd} insufficient number of parameters"
        )));
    };
    if !names::is_valid(topic) {
        return Err(ProtocolError::new(
            ErrorCode::BadTopic,
            format!(
                "{code_echo}{cmd} topic name {} is not valid",
                go_quote(topic)
            ),
        ));
    }
    Ok(lossy(topic))
}

fn id_param(params: &[&[u8]], cmd: &str) -> Result<MessageId, ProtocolError> {
    let Some(raw) = params.first() else {
        return Err(ProtocolError::invalid(format!(
            "{cmd} insufficient number of params"
        )));
    };
    MessageId::from_slice(raw).ok_or_else(|| ProtocolError::invalid("invalid message ID"))
}

/// The reference's base-10 parse: ASCII digits only, empty means 0, and an overflow
/// wraps modulo 2^64 as Go nsqd v1.3.0's `ByteToBase10` does (so `RDY 99999999999999999999`
/// is a count of 7766279631452241919, as there).
pub fn parse_digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit()
            .then(|| acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0')))
    })
}

/// A parsed millisecond count as Go nsqd v1.3.0 turns it into a duration:
/// `time.Duration(ms) * time.Millisecond`, an int64 of nanoseconds that wraps.
fn go_duration_ns(ms: u64) -> i64 {
    (ms as i64).wrapping_mul(1_000_000)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    fn limits() -> Limits {
        Limits {
            max_msg_size: 100,
            max_body_size: 1000,
            max_rdy_count: 50,
            max_req_timeout_ms: 3_600_000,
        }
    }

    fn ok(_: CommandName, _: &[u8]) -> Result<(), ProtocolError> {
        Ok(())
    }

    /// Decode everything in `input`, feeding it in pieces split at `split`.
    fn decode_all(input: &[u8], split: usize) -> Result<Vec<Command>, DecodeError> {
        let mut dec = Decoder::new(limits());
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in [&input[..split], &input[split..]] {
            buf.extend_from_slice(piece);
            while let Some(cmd) = dec.decode(&mut buf, ok)? {
                out.push(cmd);
            }
        }
        assert!(buf.is_empty(), "unconsumed bytes");
        Ok(out)
    }

    fn decode_one_err(input: &[u8]) -> String {
        match decode_all(input, input.len()) {
            Err(DecodeError::Protocol(e)) => e.frame_text(),
            other => panic!("expected protocol error, got {other:?}"),
        }
    }

    fn body(cmd: &str, data: &[u8]) -> Vec<u8> {
        let mut v = cmd.as_bytes().to_vec();
        v.put_i32(data.len() as i32);
        v.extend_from_slice(data);
        v
    }

    fn mpub_body(msgs: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        v.put_i32(msgs.len() as i32);
        for m in msgs {
            v.put_i32(m.len() as i32);
            v.extend_from_slice(m);
        }
        v
    }

    #[test]
    fn every_split_gives_the_same_commands() {
        let mut input = Vec::new();
        input.extend(body("IDENTIFY\n", br#"{"client_id":"x"}"#));
        input.extend_from_slice(b"SUB t c\r\n");
        input.extend_from_slice(b"RDY 10\n");
        input.extend(body("PUB t\n", b"hello"));
        input.extend(body("MPUB t\n", &mpub_body(&[b"a", b"bc"])));
        input.extend(body("DPUB t 500\n", b"later"));
        input.extend_from_slice(b"FIN 0123456789abcdef\n");
        input.extend_from_slice(b"REQ 0123456789abcdef 99999999999\n");
        input.extend_from_slice(b"TOUCH 0123456789abcdef\nNOP\nCLS\n");
        input.extend(body("AUTH\n", b"secret"));
        let id = MessageId(*b"0123456789abcdef");
        let expected = vec![
            Command::Identify(Bytes::from_static(br#"{"client_id":"x"}"#)),
            Command::Sub {
                topic: "t".into(),
                channel: "c".into(),
            },
            Command::Rdy(10),
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
                defer_ms: 500,
                body: Bytes::from_static(b"later"),
            },
            Command::Fin(id),
            Command::Req {
                id,
                timeout_ms: 3_600_000,
            },
            Command::Touch(id),
            Command::Nop,
            Command::Cls,
            Command::Auth(Bytes::from_static(b"secret")),
        ];
        for split in 0..=input.len() {
            assert_eq!(
                decode_all(&input, split).expect("decodes"),
                expected,
                "split at {split}"
            );
        }
    }

    #[test]
    fn byte_by_byte() {
        let input = body("PUB topic\n", b"payload");
        let mut dec = Decoder::new(limits());
        let mut buf = BytesMut::new();
        let mut got = None;
        for (i, b) in input.iter().enumerate() {
            buf.put_u8(*b);
            let r = dec.decode(&mut buf, ok).expect("no error");
            if i + 1 < input.len() {
                assert!(r.is_none(), "complete too early at {i}");
            } else {
                got = r;
            }
        }
        assert_eq!(
            got,
            Some(Command::Pub {
                topic: "topic".into(),
                body: Bytes::from_static(b"payload")
            })
        );
    }

    #[test]
    fn line_errors() {
        assert_eq!(decode_one_err(b"\n"), "E_INVALID invalid command ");
        assert_eq!(decode_one_err(b"ASDF\n"), "E_INVALID invalid command ASDF");
        assert_eq!(decode_one_err(b"pub t\n"), "E_INVALID invalid command pub");
        assert_eq!(
            decode_one_err(b"PUB\n"),
            "E_INVALID PUB insufficient number of parameters"
        );
        assert_eq!(
            decode_one_err(b"PUB bad!name\n"),
            "E_BAD_TOPIC PUB topic name \"bad!name\" is not valid"
        );
        assert_eq!(
            decode_one_err(b"MPUB a#b\n"),
            "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"a#b\" is not valid"
        );
        assert_eq!(
            decode_one_err(b"DPUB t\n"),
            "E_INVALID DPUB insufficient number of parameters"
        );
        assert_eq!(
            decode_one_err(b"DPUB t -1\n"),
            "E_INVALID DPUB could not parse timeout -1"
        );
        assert_eq!(
            decode_one_err(b"DPUB t 3600001\n"),
            "E_INVALID DPUB timeout 3600001 out of range 0-3600000"
        );
        assert_eq!(
            decode_one_err(b"SUB t\n"),
            "E_INVALID SUB insufficient number of parameters"
        );
        assert_eq!(
            decode_one_err(b"SUB  t c\n"),
            "E_BAD_TOPIC SUB topic name \"\" is not valid"
        );
        assert_eq!(
            decode_one_err(b"SUB t c!\n"),
            "E_BAD_CHANNEL SUB channel name \"c!\" is not valid"
        );
        assert_eq!(
            decode_one_err(b"RDY x\n"),
            "E_INVALID RDY could not parse count x"
        );
        assert_eq!(
            decode_one_err(b"RDY 51\n"),
            "E_INVALID RDY count 51 out of range 0-50"
        );
        assert_eq!(
            decode_one_err(b"FIN\n"),
            "E_INVALID FIN insufficient number of params"
        );
        assert_eq!(decode_one_err(b"FIN abc\n"), "E_INVALID invalid message ID");
        assert_eq!(
            decode_one_err(b"TOUCH\n"),
            "E_INVALID TOUCH insufficient number of params"
        );
        assert_eq!(
            decode_one_err(b"REQ 0123456789abcdef\n"),
            "E_INVALID REQ insufficient number of params"
        );
        assert_eq!(
            decode_one_err(b"REQ 0123456789abcdef 1.5\n"),
            "E_INVALID REQ could not parse timeout 1.5"
        );
        assert_eq!(
            decode_one_err(b"AUTH x\n"),
            "E_INVALID AUTH invalid number of parameters"
        );
    }

    /// Counts and timeouts past 64 bits wrap, and past 2^63 turn negative, as in Go.
    #[test]
    fn numbers_wrap_as_go_does() {
        assert_eq!(
            decode_one_err(b"RDY 99999999999999999999\n"),
            "E_INVALID RDY count 7766279631452241919 out of range 0-50"
        );
        assert_eq!(
            decode_one_err(b"RDY 18446744073709551615\n"),
            "E_INVALID RDY count -1 out of range 0-50"
        );
        assert_eq!(
            decode_one_err(&body("DPUB t 18446744073709551615\n", b"x")),
            "E_INVALID DPUB timeout 18446744073709551615 out of range 0-3600000"
        );
        // 18446744073710 ms is 2^64 + 448384 ns: Go's duration wraps to 0.4 ms.
        let cmds = decode_all(&body("DPUB t 18446744073710\n", b"x"), 0).expect("ok");
        assert!(
            matches!(cmds[..], [Command::Dpub { defer_ms: 0, .. }]),
            "{cmds:?}"
        );
        let req = |t: &str| {
            let line = format!("REQ 0123456789abcdef {t}\n");
            match decode_all(line.as_bytes(), 0).expect("ok")[..] {
                [Command::Req { timeout_ms, .. }] => timeout_ms,
                ref other => panic!("{other:?}"),
            }
        };
        assert_eq!(req("3600001"), 3_600_000);
        assert_eq!(req("18446744073709551615"), 0);
        assert_eq!(req("18446744073710"), 0);
    }

    #[test]
    fn rdy_defaults() {
        assert_eq!(decode_all(b"RDY\n", 0).expect("ok"), vec![Command::Rdy(1)]);
        assert_eq!(decode_all(b"RDY \n", 0).expect("ok"), vec![Command::Rdy(0)]);
    }

    #[test]
    fn size_errors() {
        assert_eq!(
            decode_one_err(&body("PUB t\n", b"")),
            "E_BAD_MESSAGE PUB invalid message body size 0"
        );
        assert_eq!(
            decode_one_err(&body("PUB t\n", &[b'x'; 101])),
            "E_BAD_MESSAGE PUB message too big 101 > 100"
        );
        assert_eq!(
            decode_one_err(&body("DPUB t 1\n", &[b'x'; 101])),
            "E_BAD_MESSAGE DPUB message too big 101 > 100"
        );
        let mut neg = b"IDENTIFY\n".to_vec();
        neg.put_i32(-5);
        assert_eq!(
            decode_one_err(&neg),
            "E_BAD_BODY IDENTIFY invalid body size -5"
        );
        let mut big = b"IDENTIFY\n".to_vec();
        big.put_i32(1001);
        assert_eq!(
            decode_one_err(&big),
            "E_BAD_BODY IDENTIFY body too big 1001 > 1000"
        );
        let mut big = b"MPUB t\n".to_vec();
        big.put_i32(1148);
        assert_eq!(
            decode_one_err(&big),
            "E_BAD_BODY MPUB body too big 1148 > 1000"
        );
        assert_eq!(
            decode_one_err(&body("MPUB t\n", b"")),
            "E_BAD_BODY MPUB invalid body size 0"
        );
        assert_eq!(
            decode_one_err(&body("MPUB t\n", &0i32.to_be_bytes())),
            "E_BAD_BODY MPUB invalid message count 0"
        );
        assert_eq!(
            decode_one_err(&body("MPUB t\n", &200i32.to_be_bytes())),
            "E_BAD_BODY MPUB invalid message count 200"
        );
        let mut m = mpub_body(&[b"a", b"b", b"c", b"d", b"e"]);
        m.put_i32(0);
        m[3] = 6;
        assert_eq!(
            decode_one_err(&body("MPUB t\n", &m)),
            "E_BAD_MESSAGE MPUB invalid message(5) body size 0"
        );
        let m = mpub_body(&[&[b'x'; 101]]);
        assert_eq!(
            decode_one_err(&body("MPUB t\n", &m)),
            "E_BAD_MESSAGE MPUB message too big 101 > 100"
        );
    }

    #[test]
    fn raw_bytes_are_echoed() {
        let mut dec = Decoder::new(limits());
        let mut buf = BytesMut::from(&[0xde, 0xad, 0xbe, 0xef, 0x00, b'\n'][..]);
        let Err(DecodeError::Protocol(e)) = dec.decode(&mut buf, ok) else {
            panic!("expected error")
        };
        let mut want = b"E_INVALID invalid command ".to_vec();
        want.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x00]);
        assert_eq!(e.frame_bytes(), want);
    }

    #[test]
    fn eof_in_the_middle_of_a_command() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"PUB t\n\x00\x00".to_vec(),
                "E_BAD_MESSAGE PUB failed to read message body size",
            ),
            (
                body("PUB t\n", b"abc")[..11].to_vec(),
                "E_BAD_MESSAGE PUB failed to read message body",
            ),
            (
                b"IDENTIFY\n".to_vec(),
                "E_BAD_BODY IDENTIFY failed to read body size",
            ),
            (
                b"MPUB t\n".to_vec(),
                "E_BAD_BODY MPUB failed to read body size",
            ),
            (
                body("MPUB t\n", &mpub_body(&[b"abc"]))[..13].to_vec(),
                "E_BAD_BODY MPUB failed to read message count",
            ),
            (
                body("MPUB t\n", &mpub_body(&[b"abc"]))[..17].to_vec(),
                "E_BAD_MESSAGE MPUB failed to read message(0) body size",
            ),
            (
                body("MPUB t\n", &mpub_body(&[b"abc"]))[..20].to_vec(),
                "E_BAD_MESSAGE MPUB failed to read message body",
            ),
        ];
        for (input, want) in cases {
            let mut dec = Decoder::new(limits());
            let mut buf = BytesMut::from(&input[..]);
            assert_eq!(dec.decode(&mut buf, ok), Ok(None));
            let e = dec.eof_error(&buf).expect("an error");
            assert_eq!(e.frame_text(), want);
        }
        let mut dec = Decoder::new(limits());
        let mut buf = BytesMut::from(&b"NOP"[..]);
        assert_eq!(dec.decode(&mut buf, ok), Ok(None));
        assert_eq!(dec.eof_error(&buf), None);
    }

    #[test]
    fn mpub_topic_is_remembered_for_errors() {
        let mut dec = Decoder::new(limits());
        let mut buf = BytesMut::from(&body("MPUB events\n", b"")[..]);
        assert!(dec.decode(&mut buf, ok).is_err());
        assert_eq!(dec.mpub_topic(), Some("events"));
    }

    #[test]
    fn long_lines() {
        let mut ok_line = vec![b'N'; MAX_LINE_LEN - 1];
        ok_line.push(b'\n');
        assert!(matches!(
            decode_all(&ok_line, 0),
            Err(DecodeError::Protocol(_))
        ));
        let long = vec![b'N'; MAX_LINE_LEN + 1];
        assert_eq!(decode_all(&long, 0), Err(DecodeError::LineTooLong));
    }

    #[test]
    fn check_runs_before_params_and_body() {
        let mut dec = Decoder::new(limits());
        let mut buf = BytesMut::from(&b"SUB\n"[..]);
        let err = dec
            .decode(&mut buf, |name, word| {
                assert_eq!(name, CommandName::Sub);
                assert_eq!(word, b"SUB");
                Err(ProtocolError::invalid("cannot SUB in current state"))
            })
            .expect_err("check error wins");
        assert_eq!(
            err,
            DecodeError::Protocol(ProtocolError::invalid("cannot SUB in current state"))
        );
    }

    #[test]
    fn digits() {
        assert_eq!(parse_digits(b""), Some(0));
        assert_eq!(parse_digits(b"0042"), Some(42));
        assert_eq!(parse_digits(b"-1"), None);
        // Wraps modulo 2^64, as Go's ByteToBase10.
        assert_eq!(
            parse_digits(b"99999999999999999999999"),
            Some(200376420520689663)
        );
    }
}
