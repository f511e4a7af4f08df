//! Replies of an auth server (`--auth-http-address`) as nsqd decodes and checks them:
//! JSON with nulls, TTLs, permissions and topic/channel regexes. Asserts only that nothing
//! panics (an auth server is trusted, but its bugs must not take nsqd down).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nsqd::fuzzing::auth_reply(data);
});
