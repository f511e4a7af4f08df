//! The `nsqd.dat` loader: arbitrary JSON read as nsqd's metadata. Asserts that whatever
//! loads is written back in a form that loads to the same value, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nsqd::fuzzing::metadata(data);
});
