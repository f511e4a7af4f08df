//! Property tests of the protocol codecs (the part of issue 11's fuzzing that `make test`
//! runs): whatever an encoder writes, the matching decoder reads back unchanged however
//! the bytes are split on their way, and every decoder answers arbitrary bytes with
//! `Ok(None)` or `Err`, never a panic. Case counts are kept modest (see
//! [`common::config`]) so the whole run stays within a few seconds in debug; set
//! `PROPTEST_CASES` for a longer run.

mod common;
mod compress;
mod frames;
mod json;
mod lookup;
mod v2;
