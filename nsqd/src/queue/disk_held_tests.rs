//! Tests of the disk queue's commit watermark (`read_held` / `release`): the synced read
//! position stays at the oldest outstanding record, its file is kept, and a crash reads
//! everything from there again with a consistent depth.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use super::tests::TempDir;
use super::*;

fn open(dir: &TempDir, sync_timeout: Duration) -> DiskQueue {
    DiskQueue::open(DiskQueueOptions {
        data_path: dir.0.clone(),
        name: "t".into(),
        // 20-byte payloads: 24 bytes a record, 4 records a file.
        max_bytes_per_file: 100,
        min_msg_size: 4,
        max_msg_size: 1 << 20,
        sync_every: 1_000_000,
        sync_timeout,
    })
    .unwrap()
}

fn put_n(q: &mut DiskQueue, n: usize) -> Vec<Vec<u8>> {
    let recs: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("record-{i:013}").into_bytes())
        .collect();
    for r in &recs {
        assert_eq!(r.len(), 20);
        q.put(r).unwrap();
    }
    recs
}

fn meta(dir: &TempDir) -> String {
    fs::read_to_string(dir.0.join("t.diskqueue.meta.dat")).unwrap()
}

fn data_file(dir: &TempDir, num: i64) -> PathBuf {
    dir.0.join(format!("t.diskqueue.{num:06}.dat"))
}

/// Reads `n` records held, returning their sequences.
fn read_held(q: &mut DiskQueue, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    assert_eq!(
        q.read_held(n, |_, seq| {
            seqs.push(seq);
            true
        })
        .unwrap(),
        n
    );
    seqs
}

fn read_all(q: &mut DiskQueue) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while q.read_with(100, |p| out.push(p.to_vec())).unwrap() > 0 {}
    out
}

#[test]
fn outstanding_records_come_back_after_a_crash() {
    let dir = TempDir::new();
    let mut q = open(&dir, Duration::from_secs(2));
    let written = put_n(&mut q, 8);
    // Across the roll from file 0 to file 1: file 0 must outlive the reader leaving it.
    let seqs = read_held(&mut q, 5);
    // A younger one released: the oldest still holds.
    q.release(seqs[2]);
    q.sync().unwrap();
    assert_eq!(meta(&dir), "8\n0,0\n1,96\n");
    assert!(data_file(&dir, 0).exists());
    assert_eq!(q.held_count(), 4);
    drop(q); // kill -9: no close
    let mut q = open(&dir, Duration::from_secs(2));
    assert_eq!(q.depth(), 8);
    assert_eq!(read_all(&mut q), written);
    // The depth came out right: no "negative depth" reset at the tail.
    assert_eq!(q.depth(), 0);
}

#[test]
fn releasing_the_oldest_moves_the_watermark_and_frees_its_file() {
    let dir = TempDir::new();
    let mut q = open(&dir, Duration::from_secs(2));
    let written = put_n(&mut q, 8);
    let seqs = read_held(&mut q, 5);
    for &s in &seqs[..4] {
        q.release(s);
    }
    q.sync().unwrap();
    // Record 4 (file 1, offset 0) is outstanding: it and what was read after it count.
    assert_eq!(meta(&dir), "4\n1,0\n1,96\n");
    assert!(!data_file(&dir, 0).exists());
    drop(q);
    let mut q = open(&dir, Duration::from_secs(2));
    assert_eq!(read_all(&mut q), written[4..].to_vec());
    assert_eq!(q.depth(), 0);
}

#[test]
fn a_moved_watermark_is_synced_by_the_tick_without_other_activity() {
    let dir = TempDir::new();
    let mut q = open(&dir, Duration::ZERO);
    put_n(&mut q, 3);
    let seqs = read_held(&mut q, 3);
    q.sync().unwrap();
    assert_eq!(meta(&dir), "3\n0,0\n0,72\n");
    // Nothing happened: the tick does not sync.
    let before = q.last_sync;
    q.tick(Instant::now()).unwrap();
    assert_eq!(q.last_sync, before);
    for s in seqs {
        q.release(s);
    }
    q.tick(Instant::now()).unwrap();
    assert_eq!(meta(&dir), "0\n0,72\n0,72\n");
}

#[test]
fn unheld_reads_and_refused_records_do_not_hold() {
    let dir = TempDir::new();
    let mut q = open(&dir, Duration::from_secs(2));
    put_n(&mut q, 4);
    let mut n = 0;
    // The sink refuses every other record (e.g. one it could not decode).
    q.read_held(4, |_, _| {
        n += 1;
        n % 2 == 0
    })
    .unwrap();
    assert_eq!(q.held_count(), 2);
    q.sync().unwrap();
    // The oldest held is record 1 (offset 24): 3 records from there on.
    assert_eq!(meta(&dir), "3\n0,24\n0,96\n");
    q.release_all();
    q.sync().unwrap();
    assert_eq!(meta(&dir), "0\n0,96\n0,96\n");
}

#[test]
fn close_after_release_all_keeps_the_real_read_position() {
    let dir = TempDir::new();
    let mut q = open(&dir, Duration::from_secs(2));
    put_n(&mut q, 8);
    read_held(&mut q, 5);
    q.release_all();
    q.close().unwrap();
    assert_eq!(meta(&dir), "3\n1,24\n1,96\n");
    assert!(!data_file(&dir, 0).exists());
}

#[test]
fn empty_drops_what_was_held() {
    let dir = TempDir::new();
    let mut q = open(&dir, Duration::from_secs(2));
    put_n(&mut q, 8);
    read_held(&mut q, 5);
    q.empty().unwrap();
    assert_eq!(q.held_count(), 0);
    put_n(&mut q, 1);
    q.sync().unwrap();
    assert_eq!(meta(&dir), "1\n2,0\n2,24\n");
}
