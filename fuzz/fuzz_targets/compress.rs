//! The snappy and deflate stream decoders with nsqd's output bound, on arbitrary streams
//! split at arbitrary points, with the reader consuming everything between calls as a
//! connection does. Asserts: the plain buffer never passes the bound (deflate) or the
//! bound plus one 64 KiB chunk (snappy), splitting changes neither the output nor the
//! outcome, and nothing panics.
#![no_main]

use bytes::BytesMut;
use fuzz_util::{pieces, seed_and_rest};
use libfuzzer_sys::fuzz_target;
use protocol::compress::{Codec, Decoded};

const CAP: usize = 64 * 1024;

fn run(snappy: bool, parts: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut c = if snappy {
        Codec::snappy()
    } else {
        Codec::deflate(6)
    };
    let slack = if snappy { 65536 } else { 0 };
    let (mut raw, mut plain) = (BytesMut::new(), BytesMut::new());
    let mut all = Vec::new();
    for part in parts {
        raw.extend_from_slice(part);
        loop {
            let r = c.decode_limited(&mut raw, &mut plain, CAP);
            assert!(plain.len() <= CAP + slack, "plain grew to {}", plain.len());
            all.extend_from_slice(&plain);
            plain.clear();
            match r {
                Ok(Decoded::All) => break,
                Ok(Decoded::Capped) => {}
                Err(_) => return (all, false),
            }
            // Bound the total (a bomb is legal input): enough to cross the cap a few times.
            if all.len() > 16 * CAP {
                return (all, true);
            }
        }
    }
    (all, true)
}

fuzz_target!(|data: &[u8]| {
    let (seed, rest) = seed_and_rest(data);
    let snappy = seed & (1 << 63) != 0;
    let (whole, ok) = run(snappy, &[rest]);
    let (split, split_ok) = run(snappy, &pieces(rest, seed));
    if whole.len() <= 16 * CAP && split.len() <= 16 * CAP {
        // A stream that fails does so at the same point either way for snappy (whole
        // chunks); deflate may report an error after fewer bytes when split.
        if snappy || (ok && split_ok) {
            assert_eq!(ok, split_ok, "split changed the outcome");
            assert_eq!(whole, split, "split changed the output");
        }
    }
});
