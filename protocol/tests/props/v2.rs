//! V2 commands: `Command::encode` (the client side) read back by the server's `Decoder`
//! in arbitrary pieces; the decoder and `split_mpub` on arbitrary and damaged bytes.

use crate::common::{body, config, cuts, flips, line_id, mutate, name, noise, pieces};
use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::codec::split_mpub;
use protocol::{Command, CommandName, DecodeError, Decoder, Limits, ProtocolError};

fn ok(_: CommandName, _: &[u8]) -> Result<(), ProtocolError> {
    Ok(())
}

/// Any command a client may send within the default limits; a REQ timeout may be any
/// value (the decoder clamps it, see [`expected`]).
fn command() -> impl Strategy<Value = Command> {
    let l = Limits::default();
    prop_oneof![
        body().prop_map(Command::Identify),
        body().prop_map(Command::Auth),
        (name(), name()).prop_map(|(topic, channel)| Command::Sub { topic, channel }),
        (name(), body()).prop_map(|(topic, body)| Command::Pub { topic, body }),
        (name(), vec(body(), 1..6)).prop_map(|(topic, bodies)| Command::Mpub { topic, bodies }),
        (name(), 0..=l.max_req_timeout_ms, body()).prop_map(|(topic, defer_ms, body)| {
            Command::Dpub {
                topic,
                defer_ms,
                body,
            }
        }),
        (0..=l.max_rdy_count).prop_map(Command::Rdy),
        line_id().prop_map(Command::Fin),
        (line_id(), any::<u64>()).prop_map(|(id, timeout_ms)| Command::Req { id, timeout_ms }),
        line_id().prop_map(Command::Touch),
        Just(Command::Cls),
        Just(Command::Nop),
    ]
}

/// What the server reads for `cmd`: the same, with a REQ timeout clamped to the maximum
/// as Go nsqd v1.3.0 does, on its duration `time.Duration(ms) * time.Millisecond` (an
/// int64 of nanoseconds that wraps; below 0 is 0).
fn expected(cmd: &Command, l: &Limits) -> Command {
    match cmd {
        Command::Req { id, timeout_ms } => Command::Req {
            id: *id,
            timeout_ms: match (*timeout_ms as i64).wrapping_mul(1_000_000) {
                ns if ns < 0 => 0,
                ns => (ns as u64 / 1_000_000).min(l.max_req_timeout_ms),
            },
        },
        other => other.clone(),
    }
}

/// Feed `pieces` to a fresh decoder, reading every command as soon as it is complete;
/// the commands, what is left buffered, and the decoder's end-of-stream verdict.
fn decode_pieces(
    pieces: &[&[u8]],
    limits: Limits,
) -> (Vec<Command>, Result<(), DecodeError>, usize, bool) {
    let mut dec = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match dec.decode(&mut buf, ok) {
                Ok(Some(c)) => got.push(c),
                Ok(None) => break,
                Err(e) => return (got, Err(e), buf.len(), false),
            }
            assert!(buf.len() <= before, "the decoder only consumes");
        }
    }
    let eof = dec.eof_error(&buf).is_some();
    (got, Ok(()), buf.len(), eof)
}

const HEADS: &[&[u8]] = &[
    b"",
    b"IDENTIFY\n",
    b"AUTH\n",
    b"PUB t\n",
    b"DPUB t 10\n",
    b"MPUB t\n",
    b"MPUB t\n\0\0\0\x10",
    b"SUB t c\n",
    b"RDY ",
    b"REQ 0000000000000001 ",
];

fn small_limits() -> Limits {
    Limits {
        max_msg_size: 16,
        max_body_size: 64,
        max_rdy_count: 50,
        max_req_timeout_ms: 1000,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn commands_round_trip_in_any_pieces(cmds in vec(command(), 1..8), cuts in cuts()) {
        let l = Limits::default();
        let mut wire = BytesMut::new();
        for c in &cmds {
            c.encode(&mut wire);
        }
        let (got, res, left, eof) = decode_pieces(&pieces(&wire, &cuts), l);
        prop_assert_eq!(res, Ok(()));
        let want: Vec<Command> = cmds.iter().map(|c| expected(c, &l)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(left, 0);
        prop_assert!(!eof, "nothing pending at the end");
    }

    #[test]
    fn a_cut_stream_reads_a_prefix_without_error(
        cmds in vec(command(), 1..6),
        cuts in cuts(),
        keep in any::<proptest::sample::Index>(),
    ) {
        let l = Limits::default();
        let mut wire = BytesMut::new();
        for c in &cmds {
            c.encode(&mut wire);
        }
        let wire = &wire[..keep.index(wire.len() + 1)];
        let (got, res, _, _) = decode_pieces(&pieces(wire, &cuts), l);
        prop_assert_eq!(res, Ok(()));
        let want: Vec<Command> = cmds.iter().take(got.len()).map(|c| expected(c, &l)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn decoder_survives_arbitrary_bytes(
        wire in noise(HEADS),
        cuts in cuts(),
        small in any::<bool>(),
    ) {
        let l = if small { small_limits() } else { Limits::default() };
        let _ = decode_pieces(&pieces(&wire, &cuts), l);
    }

    #[test]
    fn decoder_survives_damaged_commands(
        cmds in vec(command(), 1..5),
        flips in flips(),
        cuts in cuts(),
        small in any::<bool>(),
    ) {
        let mut wire = BytesMut::new();
        for c in &cmds {
            c.encode(&mut wire);
        }
        let wire = mutate(wire.to_vec(), &flips);
        let l = if small { small_limits() } else { Limits::default() };
        let _ = decode_pieces(&pieces(&wire, &cuts), l);
    }

    #[test]
    fn split_mpub_survives_arbitrary_bytes(body in vec(any::<u8>(), 0..160), small in any::<bool>()) {
        let l = if small { small_limits() } else { Limits::default() };
        if let Ok(bodies) = split_mpub(body.into(), &l) {
            prop_assert!(!bodies.is_empty());
            for b in bodies {
                prop_assert!(!b.is_empty());
                prop_assert!(b.len() as i64 <= l.max_msg_size);
            }
        }
    }
}
