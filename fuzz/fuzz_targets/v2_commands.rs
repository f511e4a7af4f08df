//! The V2 protocol decoders fed split at arbitrary points: nsqd's command decoder (every
//! command, IDENTIFY/AUTH/PUB/DPUB/MPUB bodies, MPUB splitting) and a client's frame
//! decoder. Asserts: decoding in pieces gives exactly what decoding at once gives, no body
//! is larger than its limit, and nothing panics.
#![no_main]

use bytes::BytesMut;
use fuzz_util::{pieces, seed_and_rest};
use libfuzzer_sys::fuzz_target;
use protocol::codec::{split_mpub, Decoder, Limits};
use protocol::{Command, DecodeError, FrameDecoder};

/// Small limits so the fuzzer reaches them.
const LIMITS: Limits = Limits {
    max_msg_size: 1024,
    max_body_size: 4096,
    max_rdy_count: 2500,
    max_req_timeout_ms: 3_600_000,
};

type Outcome = Result<Command, String>;

/// Decodes the pieces as they arrive; stops after a line too long (nsqd closes then).
fn commands(parts: &[&[u8]]) -> (Vec<Outcome>, Option<String>) {
    let mut d = Decoder::new(LIMITS);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in parts {
        buf.extend_from_slice(part);
        loop {
            match d.decode(&mut buf, |_, _| Ok(())) {
                Ok(None) => break,
                Ok(Some(cmd)) => {
                    check(&cmd);
                    out.push(Ok(cmd));
                }
                Err(DecodeError::Protocol(e)) => out.push(Err(e.frame_text())),
                Err(DecodeError::LineTooLong) => {
                    out.push(Err("line too long".into()));
                    return (out, None);
                }
            }
        }
    }
    (out, d.eof_error(&buf).map(|e| e.frame_text()))
}

fn check(cmd: &Command) {
    match cmd {
        Command::Pub { body, .. } | Command::Dpub { body, .. } => {
            assert!(!body.is_empty() && body.len() as i64 <= LIMITS.max_msg_size)
        }
        Command::Mpub { bodies, .. } => {
            assert!(!bodies.is_empty());
            for b in bodies {
                assert!(!b.is_empty() && b.len() as i64 <= LIMITS.max_msg_size);
            }
        }
        Command::Identify(body) | Command::Auth(body) => {
            assert!(!body.is_empty() && body.len() as i64 <= LIMITS.max_body_size)
        }
        _ => {}
    }
}

fn frames(parts: &[&[u8]]) -> Vec<Result<protocol::Frame, String>> {
    let d = FrameDecoder::new(4096);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in parts {
        buf.extend_from_slice(part);
        loop {
            match d.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(f)) => out.push(Ok(f)),
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (seed, rest) = seed_and_rest(data);
    let split = pieces(rest, seed);
    if seed & (1 << 63) == 0 {
        let whole = commands(&[rest]);
        assert_eq!(whole, commands(&split), "split changed the commands");
        // Binary MPUB bodies (also HTTP /mpub?binary=true) on their own.
        if let Ok(bodies) = split_mpub(bytes::Bytes::copy_from_slice(rest), &LIMITS) {
            assert!(bodies.iter().all(|b| b.len() as i64 <= LIMITS.max_msg_size));
        }
    } else {
        assert_eq!(frames(&[rest]), frames(&split), "split changed the frames");
    }
});
