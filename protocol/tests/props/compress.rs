//! The snappy and deflate stream layers: whatever one end's `Codec` encodes, the other
//! end's decodes to the same bytes however the compressed stream is split; and the
//! decoders on arbitrary or damaged streams return an error or some bytes, never panic.

use crate::common::{config, cuts, flips, mutate, pieces};
use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::compress::Codec;

/// Writes as the protocol sends them: random bytes or long runs (so both snappy's
/// compressed and stored chunks, and chunks past 64 KiB, occur).
fn writes() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let one = prop_oneof![
        vec(any::<u8>(), 0..300),
        (any::<u8>(), 0..70_000usize).prop_map(|(b, n)| vec![b; n]),
        (vec(any::<u8>(), 1..8), 0..3000usize).prop_map(|(pat, n)| pat
            .iter()
            .copied()
            .cycle()
            .take(n)
            .collect()),
    ];
    vec(one, 1..5)
}

fn codec(snappy: bool, level: u32) -> Codec {
    if snappy {
        Codec::snappy()
    } else {
        Codec::deflate(level)
    }
}

/// Decode `pieces` with a fresh codec as they arrive; stops at the first error.
fn decode(mut c: Codec, pieces: &[&[u8]]) -> (Vec<u8>, bool, usize) {
    let mut raw = BytesMut::new();
    let mut plain = BytesMut::new();
    for piece in pieces {
        raw.extend_from_slice(piece);
        if c.decode(&mut raw, &mut plain).is_err() {
            return (plain.to_vec(), false, raw.len());
        }
    }
    (plain.to_vec(), true, raw.len())
}

const SNAPPY_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn streams_round_trip_in_any_pieces(
        writes in writes(),
        snappy in any::<bool>(),
        level in 1u32..=9,
        cuts in cuts(),
    ) {
        let mut enc = codec(snappy, level);
        let mut wire = Vec::new();
        for w in &writes {
            enc.encode(w, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let (plain, ok, left) = decode(codec(snappy, level), &pieces(&wire, &cuts));
        prop_assert!(ok);
        prop_assert_eq!(left, 0);
        prop_assert!(plain == writes.concat(), "plain text differs");
    }

    #[test]
    fn decoders_survive_arbitrary_bytes(
        noise in vec(any::<u8>(), 0..300),
        with_id in any::<bool>(),
        snappy in any::<bool>(),
        cuts in cuts(),
    ) {
        let wire = if snappy && with_id { [SNAPPY_ID, &noise[..]].concat() } else { noise };
        let _ = decode(codec(snappy, 6), &pieces(&wire, &cuts));
    }

    #[test]
    fn decoders_survive_damaged_streams(
        writes in writes(),
        snappy in any::<bool>(),
        flips in flips(),
        cuts in cuts(),
    ) {
        let mut enc = codec(snappy, 6);
        let mut wire = Vec::new();
        for w in &writes {
            enc.encode(w, &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let wire = mutate(wire, &flips);
        let _ = decode(codec(snappy, 6), &pieces(&wire, &cuts));
    }
}
