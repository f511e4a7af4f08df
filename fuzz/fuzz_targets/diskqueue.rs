//! The go-diskqueue reader on damaged files: a metadata file and up to three data files
//! with arbitrary contents, opened and read to the end. Asserts every record handed out
//! is within the queue's size bounds, the reader finishes (no endless loop), and once it
//! reached the end a record written then comes back exactly.
#![no_main]

use fuzz_util::{scratch_dir, write};
use libfuzzer_sys::fuzz_target;
use nsqd::fuzzing::{disk_queue, DISK_MAX_MSG, DISK_MIN_MSG};

/// Splits the input: flags, then `[u16 len][bytes]` for the metadata (if flagged) and
/// each data file.
fn take<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    if rest.len() < 2 {
        let all = *rest;
        *rest = &[];
        return all;
    }
    let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
    let (head, tail) = rest[2..].split_at(n);
    *rest = tail;
    head
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let dir = scratch_dir("diskqueue");
    if flags & 1 != 0 {
        write(&dir, "q.diskqueue.meta.dat", take(&mut rest));
    }
    let first = i64::from(flags >> 4);
    for n in 0..i64::from((flags >> 1) & 3) {
        let name = format!("q.diskqueue.{:06}.dat", first + n);
        write(&dir, &name, take(&mut rest));
    }
    let payload = vec![0x5a; DISK_MIN_MSG as usize + 3];
    match disk_queue(&dir, 256, &payload) {
        Ok((records, back)) => {
            for r in &records {
                let len = r.len() as i32;
                assert!(
                    (DISK_MIN_MSG..=DISK_MAX_MSG).contains(&len),
                    "record of {len} bytes"
                );
            }
            assert_ne!(
                back,
                Some(false),
                "a record written after reading did not come back"
            );
        }
        Err(_) => {}
    }
});
