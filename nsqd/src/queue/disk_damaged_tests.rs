//! Disk queues opened on damaged files like the `diskqueue` fuzz target produces (metadata
//! with huge gaps in the file numbers or the read file past the write file): each must
//! open, read what is there and be usable again at once, not walk missing files one at a
//! time.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use super::disk::tests::TempDir;
use super::disk::{DiskQueue, DiskQueueOptions};
use std::fs;
use std::time::Duration;

fn open(dir: &TempDir) -> DiskQueue {
    DiskQueue::open(DiskQueueOptions {
        data_path: dir.0.clone(),
        name: "g".into(),
        max_bytes_per_file: 4096,
        min_msg_size: 4,
        max_msg_size: 1024,
        sync_every: 1,
        sync_timeout: Duration::from_secs(3600),
    })
    .unwrap()
}

fn record(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn drain(q: &mut DiskQueue) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Each call reads at most 16; a queue that needs more calls than this is stuck.
    for _ in 0..100 {
        if !q.is_readable() {
            return out;
        }
        q.read_with(16, |p| out.push(p.to_vec())).unwrap();
    }
    panic!("queue still readable after 100 reads");
}

/// A record written now comes back (the queue works after the damage).
fn assert_usable(q: &mut DiskQueue) {
    q.put_framed(&record(b"after")).unwrap();
    assert_eq!(drain(q), vec![b"after".to_vec()]);
}

#[test]
fn metadata_claiming_a_huge_gap_of_missing_files() {
    let dir = TempDir::new();
    fs::write(
        dir.0.join("g.diskqueue.meta.dat"),
        "7\n0,0\n1000000000000,0\n",
    )
    .unwrap();
    let mut q = open(&dir);
    assert!(drain(&mut q).is_empty());
    assert_usable(&mut q);
}

#[test]
fn metadata_gap_with_a_file_inside_it() {
    let dir = TempDir::new();
    fs::write(dir.0.join("g.diskqueue.meta.dat"), "1\n0,0\n9000000000,0\n").unwrap();
    fs::write(dir.0.join("g.diskqueue.123456789.dat"), record(b"kept")).unwrap();
    let mut q = open(&dir);
    assert_eq!(drain(&mut q), vec![b"kept".to_vec()]);
    assert_usable(&mut q);
}

#[test]
fn no_metadata_and_data_files_far_apart() {
    let dir = TempDir::new();
    fs::write(dir.0.join("g.diskqueue.000000.dat"), record(b"first")).unwrap();
    fs::write(dir.0.join("g.diskqueue.999999999999.dat"), record(b"last")).unwrap();
    let mut q = open(&dir);
    assert_eq!(drain(&mut q), vec![b"first".to_vec(), b"last".to_vec()]);
    assert_usable(&mut q);
}

#[test]
fn metadata_with_the_read_file_past_the_write_file() {
    // Found by the diskqueue fuzz target (a timeout): read file 4 at 516, write file 0 at
    // 5388 counted as readable (516 < 5388), and the reader walked missing files 4, 5, 6,
    // ... for ever.
    let dir = TempDir::new();
    fs::write(dir.0.join("g.diskqueue.meta.dat"), "78\n4,516\n0,5388\n").unwrap();
    fs::write(
        dir.0.join("g.diskqueue.000000.dat"),
        b"\x00\x00\xb8\x66\x8d\x00\xff",
    )
    .unwrap();
    let mut q = open(&dir);
    assert!(!q.is_readable());
    assert!(drain(&mut q).is_empty());
    assert_usable(&mut q);
}

#[test]
fn metadata_with_negative_offsets() {
    // Found by the diskqueue fuzz target in CI: read and write at file 0, offset -5, and a
    // data file 2 of one byte.
    let dir = TempDir::new();
    fs::write(dir.0.join("g.diskqueue.meta.dat"), "78\n0,-5\n0,-5\n16\n").unwrap();
    fs::write(dir.0.join("g.diskqueue.000002.dat"), b"0").unwrap();
    fs::write(dir.0.join("g.diskqueue.000003.dat"), b"").unwrap();
    fs::write(dir.0.join("g.diskqueue.000004.dat"), b"").unwrap();
    let mut q = open(&dir);
    let _ = drain(&mut q);
    assert_usable(&mut q);
}
