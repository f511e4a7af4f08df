//! The V1 (nsqlookupd) protocol: what nsqd writes (`identify`, `register`,
//! `unregister`, `PING`) read back the way nsqlookupd reads it (`read_line`,
//! `Command::parse`, `read_body`, `topic_channel`), and the length-prefixed responses
//! read back by `read_response`/`read_response_limited`, all in arbitrary pieces; and
//! the readers on arbitrary bytes.

use crate::common::{config, cuts, name, noise, pieces};
use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::lookup::{
    identify, read_body, read_line, read_response, read_response_limited, register, response,
    topic_channel, trim_space, unregister, Command, PING,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Ping,
    Identify(Bytes),
    Register(String, Option<String>),
    Unregister(String, Option<String>),
}

fn sent() -> impl Strategy<Value = Sent> {
    prop_oneof![
        Just(Sent::Ping),
        vec(any::<u8>(), 0..64).prop_map(|b| Sent::Identify(b.into())),
        (name(), proptest::option::of(name())).prop_map(|(t, c)| Sent::Register(t, c)),
        (name(), proptest::option::of(name())).prop_map(|(t, c)| Sent::Unregister(t, c)),
    ]
}

fn encode(s: &Sent) -> Vec<u8> {
    match s {
        Sent::Ping => PING.to_vec(),
        Sent::Identify(b) => identify(b),
        Sent::Register(t, c) => register(t, c.as_deref()),
        Sent::Unregister(t, c) => unregister(t, c.as_deref()),
    }
}

/// Read `pieces` as nsqlookupd does: a line, then for IDENTIFY a sized body. Stops at
/// the first error (nsqlookupd answers it and closes).
fn read_all(pieces: &[&[u8]]) -> (Vec<Sent>, bool) {
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut want_body = false;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            if want_body {
                match read_body(&mut buf) {
                    Ok(Some(b)) => {
                        got.push(Sent::Identify(b));
                        want_body = false;
                        continue;
                    }
                    Ok(None) => break,
                    Err(_) => return (got, false),
                }
            }
            let line = match read_line(&mut buf) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(_) => return (got, false),
            };
            match Command::parse(&line) {
                Command::Ping => got.push(Sent::Ping),
                Command::Identify => want_body = true,
                Command::Register(p) => match topic_channel("REGISTER", &p) {
                    Ok((t, c)) => got.push(Sent::Register(t, c)),
                    Err(_) => return (got, false),
                },
                Command::Unregister(p) => match topic_channel("UNREGISTER", &p) {
                    Ok((t, c)) => got.push(Sent::Unregister(t, c)),
                    Err(_) => return (got, false),
                },
                Command::Invalid(_) => return (got, false),
            }
        }
    }
    (got, buf.is_empty() && !want_body)
}

/// Read length-prefixed responses from `pieces`, with `read_response` or, given a
/// maximum, `read_response_limited`.
fn responses(pieces: &[&[u8]], max: Option<i64>) -> (Vec<Bytes>, bool) {
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let next = match max {
                None => read_response(&mut buf),
                Some(max) => match read_response_limited(&mut buf, max) {
                    Ok(r) => r,
                    Err(_) => return (got, false),
                },
            };
            match next {
                Some(r) => got.push(r),
                None => break,
            }
        }
    }
    (got, buf.is_empty())
}

const HEADS: &[&[u8]] = &[
    b"",
    b"IDENTIFY\n",
    b"REGISTER ",
    b"UNREGISTER t ",
    b"PING\n",
    b"IDENTIFY\n\0\0\0\x20",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn v1_commands_round_trip_in_any_pieces(sends in vec(sent(), 1..8), cuts in cuts()) {
        let wire: Vec<u8> = sends.iter().flat_map(encode).collect();
        prop_assert_eq!(read_all(&pieces(&wire, &cuts)), (sends, true));
    }

    #[test]
    fn v1_responses_round_trip_in_any_pieces(
        datas in vec(vec(any::<u8>(), 0..64), 1..8),
        cuts in cuts(),
    ) {
        let wire: Vec<u8> = datas.iter().flat_map(|d| response(d)).collect();
        let want: Vec<Bytes> = datas.into_iter().map(Bytes::from).collect();
        let parts = pieces(&wire, &cuts);
        prop_assert_eq!(responses(&parts, None), (want.clone(), true));
        prop_assert_eq!(responses(&parts, Some(64)), (want, true));
    }

    #[test]
    fn v1_readers_survive_arbitrary_bytes(wire in noise(HEADS), cuts in cuts()) {
        let parts = pieces(&wire, &cuts);
        let _ = read_all(&parts);
        let _ = responses(&parts, None);
        let _ = responses(&parts, Some(16));
        let t = trim_space(&wire);
        prop_assert!(t.len() <= wire.len());
        if let Command::Register(p) | Command::Unregister(p) = Command::parse(&wire) {
            let _ = topic_channel("REGISTER", &p);
        }
    }
}
