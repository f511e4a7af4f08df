//! Shared strategies and helpers of the property tests: valid names, bodies and message
//! IDs, and cutting a byte stream into the pieces a socket might deliver.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use protocol::MessageId;

/// Cases per property: `PROPTEST_CASES` if set, else a number that keeps the protocol
/// test run short in debug builds.
pub(crate) fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Up to seven cut points, to be placed in a stream with [`pieces`].
pub(crate) fn cuts() -> impl Strategy<Value = Vec<Index>> {
    vec(any::<Index>(), 0..8)
}

/// `wire` cut at the given points (the empty pieces included: a read may return nothing
/// new).
pub(crate) fn pieces<'a>(wire: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::with_capacity(at.len() + 1);
    let mut from = 0;
    for cut in at {
        out.push(&wire[from..cut]);
        from = cut;
    }
    out.push(&wire[from..]);
    out
}

/// A valid topic or channel name (1..=64 bytes of `[.a-zA-Z0-9_-]`, maybe `#ephemeral`).
pub(crate) fn name() -> impl Strategy<Value = String> {
    let chars: Vec<u8> = (b'a'..=b'z')
        .chain(b'A'..=b'Z')
        .chain(b'0'..=b'9')
        .chain(*b"._-")
        .collect();
    (vec(proptest::sample::select(chars), 1..=64), any::<bool>()).prop_map(|(b, eph)| {
        let mut s: String = b.into_iter().map(char::from).collect();
        if eph && s.len() + protocol::names::EPHEMERAL_SUFFIX.len() <= protocol::names::MAX_NAME_LEN
        {
            s.push_str(protocol::names::EPHEMERAL_SUFFIX);
        }
        s
    })
}

/// A non-empty body of arbitrary bytes.
pub(crate) fn body() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 1..48).prop_map(Bytes::from)
}

/// A message ID a client can echo on a command line: 16 bytes, none of them a space or
/// a line end (nsqd's own are hex; a client may send anything else of the right length).
pub(crate) fn line_id() -> impl Strategy<Value = MessageId> {
    prop_oneof![
        any::<u64>().prop_map(MessageId::from_u64),
        proptest::array::uniform16(
            any::<u8>().prop_filter("line byte", |b| { !matches!(b, b' ' | b'\n' | b'\r') })
        )
        .prop_map(MessageId),
    ]
}

/// Arbitrary bytes, sometimes starting with one of the given prefixes (so the decoder
/// gets past its first check and into its deeper states).
pub(crate) fn noise(prefixes: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    (proptest::sample::select(prefixes), vec(any::<u8>(), 0..160))
        .prop_map(|(p, rest)| [p, &rest[..]].concat())
}

/// `wire` with a few bytes overwritten (positions and values arbitrary).
pub(crate) fn mutate(mut wire: Vec<u8>, flips: &[(Index, u8)]) -> Vec<u8> {
    if !wire.is_empty() {
        for (at, b) in flips {
            let i = at.index(wire.len());
            wire[i] = *b;
        }
    }
    wire
}

/// Up to four byte overwrites for [`mutate`].
pub(crate) fn flips() -> impl Strategy<Value = Vec<(Index, u8)>> {
    vec((any::<Index>(), any::<u8>()), 1..5)
}
