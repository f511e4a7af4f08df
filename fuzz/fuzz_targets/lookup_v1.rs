//! The V1 (nsqlookupd) protocol fed split at arbitrary points, as a session reads it:
//! lines, command parsing, REGISTER/UNREGISTER names, the IDENTIFY body and its JSON; and
//! a client reading size-prefixed responses. Asserts: splitting changes nothing, no body
//! or response exceeds its limit, and nothing panics.
#![no_main]

use bytes::BytesMut;
use fuzz_util::{pieces, seed_and_rest};
use libfuzzer_sys::fuzz_target;
use protocol::lookup::{self, Command};

/// What the session does with each command; stops where nsqlookupd closes.
fn session(parts: &[&[u8]]) -> Vec<String> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut want_body = false;
    for part in parts {
        buf.extend_from_slice(part);
        loop {
            if want_body {
                match lookup::read_body(&mut buf) {
                    Ok(None) => break,
                    Ok(Some(body)) => {
                        want_body = false;
                        assert!(body.len() <= 1 << 20);
                        out.push(match nsqlookupd::fuzzing::identify(&body) {
                            Ok(()) => "identified".into(),
                            Err(e) => String::from_utf8_lossy(&e).into_owned(),
                        });
                    }
                    Err(e) => {
                        out.push(e.to_string());
                        return out;
                    }
                }
                continue;
            }
            match lookup::read_line(&mut buf) {
                Ok(None) => break,
                Ok(Some(line)) => match Command::parse(&line) {
                    Command::Identify => want_body = true,
                    Command::Register(p) | Command::Unregister(p) => {
                        out.push(format!("{:?}", lookup::topic_channel("REGISTER", &p)))
                    }
                    other => out.push(format!("{other:?}")),
                },
                Err(e) => {
                    out.push(e.to_string());
                    return out;
                }
            }
        }
    }
    if want_body {
        out.push(lookup::body_eof_error(&buf).to_string());
    }
    out
}

fn responses(parts: &[&[u8]]) -> Vec<Result<Vec<u8>, String>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in parts {
        buf.extend_from_slice(part);
        loop {
            match lookup::read_response_limited(&mut buf, 4096) {
                Ok(None) => break,
                Ok(Some(r)) => {
                    assert!(r.len() <= 4096);
                    out.push(Ok(r.to_vec()));
                }
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
        assert_eq!(
            session(&[rest]),
            session(&split),
            "split changed the session"
        );
    } else {
        assert_eq!(
            responses(&[rest]),
            responses(&split),
            "split changed the responses"
        );
    }
});
