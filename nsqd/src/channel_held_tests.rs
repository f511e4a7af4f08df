//! Tests of a channel's disk watermark: a message taken from the disk queue stays
//! outstanding there until FIN or until it is back in a queue, so a crash (the channel
//! dropped without `close`) re-delivers it, and a clean close delivers nothing twice.

use super::*;
use crate::queue::disk::tests::TempDir;
use crate::queue::{DiskQueue, DiskQueueOptions};
use bytes::Bytes;
use protocol::MessageId;

fn msg(n: u8) -> Message {
    Message::new(MessageId([b'0' + n; 16]), 1, Bytes::from(vec![n; 4]))
}

/// A durable channel: nothing in memory, the disk queue synced at every operation and
/// at every scan.
fn durable(dir: &TempDir) -> Channel {
    let disk = DiskQueue::open(DiskQueueOptions {
        data_path: dir.0.clone(),
        name: "t:c".into(),
        max_bytes_per_file: 1 << 20,
        min_msg_size: protocol::MESSAGE_HEADER_LEN as i32,
        max_msg_size: 1024,
        sync_every: 1,
        sync_timeout: Duration::ZERO,
    })
    .expect("open disk queue");
    Channel::new("t", "c", Backlog::new(0, Some(disk)), 0, None)
}

fn held(ch: &Channel) -> usize {
    let n = lock(&ch.state).backlog.held_count();
    assert_eq!(n, ch.held_count.load(Ordering::Relaxed));
    n
}

fn take_all(ch: &Channel) -> Vec<Message> {
    let mut out = Vec::new();
    ch.take(100, &mut out, &mut Vec::new());
    out
}

fn ids(msgs: &[Message]) -> Vec<MessageId> {
    msgs.iter().map(|m| m.id).collect()
}

#[test]
fn fin_req_and_timeout_release_what_was_taken_from_disk() {
    let dir = TempDir::new();
    let ch = durable(&dir);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2), msg(3), msg(4)])])
        .expect("put");
    let taken = take_all(&ch);
    assert_eq!(ids(&taken), ids(&[msg(1), msg(2), msg(3), msg(4)]));
    assert_eq!(held(&ch), 4);
    let (epoch, now) = (ch.epoch(), Instant::now());
    ch.finished(&taken[1].id);
    assert_eq!(held(&ch), 3);
    // REQ with a delay: outstanding until it comes due.
    ch.requeue(taken[0].clone(), epoch, Duration::from_secs(5), now)
        .expect("req 5s");
    assert_eq!(held(&ch), 3);
    // REQ now: back on disk, released.
    ch.requeue(taken[2].clone(), epoch, Duration::ZERO, now)
        .expect("req 0");
    assert_eq!(held(&ch), 2);
    ch.timed_out(std::slice::from_ref(&taken[3]), epoch);
    assert_eq!(held(&ch), 1);
    assert!(ch.scan(now + Duration::from_secs(5)));
    assert_eq!(held(&ch), 0);
    // The requeued copies are taken (and held) again.
    assert_eq!(take_all(&ch).len(), 3);
    assert_eq!(held(&ch), 3);
}

#[test]
fn a_crash_redelivers_what_was_outstanding() {
    let dir = TempDir::new();
    let ch = durable(&dir);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2), msg(3), msg(4)])])
        .expect("put");
    let taken = take_all(&ch);
    let (epoch, now) = (ch.epoch(), Instant::now());
    ch.finished(&taken[0].id);
    ch.requeue(taken[1].clone(), epoch, Duration::from_secs(60), now)
        .expect("req 60s");
    ch.finished(&taken[3].id);
    // The scan's tick syncs the watermark: message 2 is the oldest outstanding.
    assert!(!ch.scan(now));
    drop(ch); // kill -9: no close
    let ch = durable(&dir);
    assert_eq!(ch.snapshot().depth, 3);
    // 2 (deferred) and 3 (in flight) come back, and 4 (FINished after them) with them.
    assert_eq!(ids(&take_all(&ch)), ids(&[msg(2), msg(3), msg(4)]));
}

#[test]
fn a_clean_close_writes_back_and_delivers_nothing_twice() {
    let dir = TempDir::new();
    let ch = durable(&dir);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2), msg(3), msg(4)])])
        .expect("put");
    let mut out = Vec::new();
    ch.take(3, &mut out, &mut Vec::new());
    let (epoch, now) = (ch.epoch(), Instant::now());
    ch.finished(&out[0].id);
    ch.requeue(out[1].clone(), epoch, Duration::from_secs(60), now)
        .expect("req 60s");
    // A client went away with message 3 in flight.
    ch.adopt_orphans(
        vec![(out[2].clone(), now + Duration::from_secs(60))],
        epoch,
        now,
    );
    ch.close().expect("close");
    let ch = durable(&dir);
    let mut again = ids(&take_all(&ch));
    again.sort_by_key(|id| id.0);
    assert_eq!(again, ids(&[msg(2), msg(3), msg(4)]));
}

#[test]
fn a_second_copy_of_an_outstanding_message_is_held_once() {
    let dir = TempDir::new();
    let ch = durable(&dir);
    ch.put(&[Packed::from_messages(&[msg(1), msg(1)])])
        .expect("put");
    assert_eq!(take_all(&ch).len(), 2);
    assert_eq!(held(&ch), 1);
    ch.finished(&msg(1).id);
    assert_eq!(held(&ch), 0);
}

#[test]
fn empty_forgets_what_was_held() {
    let dir = TempDir::new();
    let ch = durable(&dir);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2)])])
        .expect("put");
    take_all(&ch);
    ch.empty().expect("empty");
    assert_eq!(held(&ch), 0);
}

#[test]
fn with_sync_every_1_a_fin_is_synced_at_once() {
    let dir = TempDir::new();
    let ch = durable(&dir);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2)])])
        .expect("put");
    for m in take_all(&ch) {
        ch.finished(&m.id);
    }
    drop(ch); // kill -9 right after the FINs: no scan, no close
    let ch = durable(&dir);
    assert!(take_all(&ch).is_empty());
}
