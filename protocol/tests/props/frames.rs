//! Server frames: `frame::put_*` read back by `parse_frame` and `FrameDecoder` (the
//! client side) in arbitrary pieces, the two decoders agreeing on arbitrary bytes, and
//! the message encoding.

use crate::common::{config, cuts, pieces};
use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::frame::{put_error, put_message, put_response};
use protocol::frame_decode::{parse_frame, DEFAULT_MAX_FRAME_SIZE};
use protocol::{Frame, FrameDecoder, FrameError, FrameRef, Message, MessageId, MESSAGE_HEADER_LEN};

fn message() -> impl Strategy<Value = Message> {
    (
        proptest::array::uniform16(any::<u8>()),
        any::<i64>(),
        any::<u16>(),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(|(id, timestamp, attempts, body)| Message {
            id: MessageId(id),
            timestamp,
            attempts,
            body: Bytes::from(body),
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        vec(any::<u8>(), 0..64).prop_map(|b| Frame::Response(b.into())),
        vec(any::<u8>(), 0..64).prop_map(|b| Frame::Error(b.into())),
        message().prop_map(Frame::Message),
    ]
}

fn put(out: &mut BytesMut, f: &Frame) {
    match f {
        Frame::Response(d) => put_response(out, d),
        Frame::Error(d) => put_error(out, d),
        Frame::Message(m) => put_message(out, m),
    }
}

fn owned(f: FrameRef<'_>) -> Frame {
    match f {
        FrameRef::Response(d) => Frame::Response(Bytes::copy_from_slice(d)),
        FrameRef::Error(d) => Frame::Error(Bytes::copy_from_slice(d)),
        FrameRef::Message {
            timestamp,
            attempts,
            id,
            body,
        } => Frame::Message(Message {
            id,
            timestamp,
            attempts,
            body: Bytes::copy_from_slice(body),
        }),
    }
}

/// What two readers are compared on: the frames, the error that ended the stream, and
/// (if none did) the bytes left over. After an error the stream is dropped, so what is
/// left then does not matter (`FrameDecoder` has taken the bad frame, `parse_frame`
/// leaves the buffer alone).
fn outcome(
    r: (Vec<Frame>, Result<(), FrameError>, usize),
) -> (Vec<Frame>, Result<usize, FrameError>) {
    (r.0, r.1.map(|()| r.2))
}

/// Read `pieces` with a `FrameDecoder`, frame by frame as they complete.
fn with_decoder(pieces: &[&[u8]], max: usize) -> (Vec<Frame>, Result<(), FrameError>, usize) {
    let dec = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => got.push(f),
                Ok(None) => break,
                Err(e) => return (got, Err(e), buf.len()),
            }
        }
    }
    (got, Ok(()), buf.len())
}

/// Read `pieces` with `parse_frame` over a growing buffer, as a client reading in place.
fn with_parse(pieces: &[&[u8]], max: usize) -> (Vec<Frame>, Result<(), FrameError>, usize) {
    let mut buf = Vec::new();
    let mut at = 0;
    let mut got = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parse_frame(&buf[at..], max) {
                Ok(Some((f, n))) => {
                    assert!(n >= 8 && n <= buf.len() - at, "frame length {n} in range");
                    got.push(owned(f));
                    at += n;
                }
                Ok(None) => break,
                Err(e) => return (got, Err(e), buf.len() - at),
            }
        }
    }
    (got, Ok(()), buf.len() - at)
}

const MAXES: &[usize] = &[0, 4, 8, 30, 64, DEFAULT_MAX_FRAME_SIZE];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn frames_round_trip_in_any_pieces(frames in vec(frame(), 1..8), cuts in cuts()) {
        let mut wire = BytesMut::new();
        for f in &frames {
            put(&mut wire, f);
        }
        let parts = pieces(&wire, &cuts);
        prop_assert_eq!(with_decoder(&parts, DEFAULT_MAX_FRAME_SIZE), (frames.clone(), Ok(()), 0));
        prop_assert_eq!(with_parse(&parts, DEFAULT_MAX_FRAME_SIZE), (frames, Ok(()), 0));
    }

    #[test]
    fn frame_decoders_agree_on_arbitrary_bytes(
        wire in vec(any::<u8>(), 0..200),
        cuts in cuts(),
        max in proptest::sample::select(MAXES),
    ) {
        let parts = pieces(&wire, &cuts);
        prop_assert_eq!(outcome(with_decoder(&parts, max)), outcome(with_parse(&parts, max)));
    }

    #[test]
    fn frame_decoders_agree_on_damaged_frames(
        frames in vec(frame(), 1..5),
        flips in crate::common::flips(),
        cuts in cuts(),
    ) {
        let mut wire = BytesMut::new();
        for f in &frames {
            put(&mut wire, f);
        }
        let wire = crate::common::mutate(wire.to_vec(), &flips);
        let parts = pieces(&wire, &cuts);
        let max = DEFAULT_MAX_FRAME_SIZE;
        prop_assert_eq!(outcome(with_decoder(&parts, max)), outcome(with_parse(&parts, max)));
    }

    #[test]
    fn messages_round_trip(m in message()) {
        let mut v = Vec::new();
        m.encode_into(&mut v);
        prop_assert_eq!(v.len(), m.encoded_len());
        prop_assert_eq!(&v[..MESSAGE_HEADER_LEN], &m.header()[..]);
        prop_assert_eq!(Message::decode(Bytes::from(v)), Ok(m));
    }

    #[test]
    fn message_decode_takes_any_bytes(data in vec(any::<u8>(), 0..80)) {
        match Message::decode(Bytes::from(data.clone())) {
            Ok(m) => {
                prop_assert!(data.len() >= MESSAGE_HEADER_LEN);
                let mut again = Vec::new();
                m.encode_into(&mut again);
                prop_assert_eq!(again, data);
            }
            Err(e) => {
                prop_assert!(data.len() < MESSAGE_HEADER_LEN);
                prop_assert_eq!(e.len, data.len());
            }
        }
    }
}
