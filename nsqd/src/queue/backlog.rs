//! A topic's or channel's queued messages: memory up to `--mem-queue-size`, the rest in
//! the disk queue (none for `#ephemeral` names, whose overflow is dropped).
//!
//! Order is kept FIFO: once anything is on disk, new messages go to disk behind it until
//! the disk part is drained, and reads take memory (the older part) first. So memory stays
//! bounded by the flag whatever the backlog, and a consumer sees publish order.

use crate::queue::disk::{DiskQueue, DiskQueueError};
use crate::queue::packed::{Packed, PackedBuilder};
use protocol::Message;
use std::collections::VecDeque;
use std::time::Instant;
use tracing::warn;

/// Room reserved up front for a disk read: this many records of 256 bytes at most (the
/// run grows past it when the records are more or bigger).
const DISK_READ_HINT: usize = 256;

#[derive(Debug)]
pub struct Backlog {
    /// Runs of messages in publish order; `mem_len` messages in all.
    mem: VecDeque<Packed>,
    mem_len: usize,
    mem_cap: usize,
    disk: Option<DiskQueue>,
}

impl Backlog {
    pub fn new(mem_cap: usize, disk: Option<DiskQueue>) -> Backlog {
        Backlog {
            mem: VecDeque::new(),
            mem_len: 0,
            mem_cap,
            disk,
        }
    }

    /// Queue messages at the tail (a copy: requeues, timeouts, deferred ones coming due).
    /// Returns how many were dropped (ephemeral overflow).
    pub fn push(&mut self, msgs: &[Message]) -> Result<usize, DiskQueueError> {
        if msgs.is_empty() {
            return Ok(0);
        }
        self.push_packed(Packed::from_messages(msgs))
    }

    /// Queue a run at the tail: memory while there is room and nothing is on disk, the
    /// rest to disk. Returns how many were dropped (ephemeral overflow).
    pub fn push_packed(&mut self, mut run: Packed) -> Result<usize, DiskQueueError> {
        if run.is_empty() {
            return Ok(0);
        }
        let spilled = self.disk.as_ref().is_some_and(|d| d.is_readable());
        let room = if spilled {
            0
        } else {
            self.mem_cap.saturating_sub(self.mem_len)
        };
        if room > 0 {
            let head = run.split_to(room);
            self.mem_len += head.len();
            self.mem.push_back(head);
        }
        if run.is_empty() {
            return Ok(0);
        }
        match self.disk.as_mut() {
            Some(disk) => disk.put_framed(run.framed()).map(|()| 0),
            None => Ok(run.len()),
        }
    }

    /// Take up to `max` messages from the head (memory first, then disk), decoded. The
    /// channel uses `pop_into_held`, which also tracks what it took from disk.
    #[cfg(test)]
    pub fn pop_into(&mut self, max: usize, out: &mut Vec<Message>) -> Result<(), DiskQueueError> {
        let want = max - self.pop_mem_into(max, out);
        if want > 0 {
            if let Some(mut run) = self.read_disk(want, true)? {
                while let Some(m) = run.pop_front() {
                    out.push(m);
                }
            }
        }
        Ok(())
    }

    /// The memory part of `pop_into`: returns how many were taken. Memory runs are decoded
    /// in place (no split: this is every consumer's delivery path).
    fn pop_mem_into(&mut self, max: usize, out: &mut Vec<Message>) -> usize {
        let mut want = max;
        while want > 0 {
            let Some(front) = self.mem.front_mut() else {
                break;
            };
            let before = front.len();
            while want > 0 {
                let Some(m) = front.pop_front() else { break };
                out.push(m);
                want -= 1;
            }
            self.mem_len -= before - front.len();
            if front.is_empty() {
                self.mem.pop_front();
            }
        }
        max - want
    }

    /// `pop_into`, but the messages read from disk stay outstanding there until
    /// `release(seq)`: their sequences are appended to `seqs`, one per disk message, in
    /// order (they are the last `seqs.len()` messages pushed to `out`). Messages taken
    /// from memory are not tracked (memory is lost on a crash in any case).
    pub fn pop_into_held(
        &mut self,
        max: usize,
        out: &mut Vec<Message>,
        seqs: &mut Vec<u64>,
    ) -> Result<(), DiskQueueError> {
        let want = max - self.pop_mem_into(max, out);
        let Some(disk) = self.disk.as_mut() else {
            return Ok(());
        };
        if want == 0 || !disk.is_readable() {
            return Ok(());
        }
        let mut run = PackedBuilder::with_capacity(want.min(DISK_READ_HINT) * 256);
        disk.read_held(want, |payload, seq| {
            if run.push_payload(payload) {
                seqs.push(seq);
                true
            } else {
                warn!(len = payload.len(), "skipping corrupt disk queue record");
                false
            }
        })?;
        if !run.is_empty() {
            let mut run = run.finish();
            while let Some(m) = run.pop_front() {
                out.push(m);
            }
        }
        Ok(())
    }

    /// Record `seq` of `pop_into_held` is no longer outstanding.
    pub fn release(&mut self, seq: u64) {
        if let Some(disk) = self.disk.as_mut() {
            disk.release(seq);
        }
    }

    /// After releases (a FIN): see `DiskQueue::commit_released`.
    pub fn commit_released(&mut self) {
        if let Some(disk) = self.disk.as_mut() {
            disk.commit_released();
        }
    }

    /// How many disk records are outstanding.
    #[cfg(test)]
    pub fn held_count(&self) -> usize {
        self.disk.as_ref().map_or(0, DiskQueue::held_count)
    }

    /// Take up to `max` messages from the head as runs, without decoding them (a topic
    /// moving its backlog to its channels).
    pub fn pop_runs(&mut self, max: usize, out: &mut Vec<Packed>) -> Result<(), DiskQueueError> {
        let mut want = max;
        while want > 0 {
            let Some(front) = self.mem.front_mut() else {
                break;
            };
            let before = front.len();
            let run = front.split_to(want);
            self.mem_len -= before - front.len();
            if front.is_empty() {
                self.mem.pop_front();
            }
            want -= run.len();
            out.push(run);
        }
        if want == 0 {
            return Ok(());
        }
        if let Some(run) = self.read_disk(want, false)? {
            out.push(run);
        }
        Ok(())
    }

    /// What `pop_runs` took from disk is stored elsewhere now: let the disk queue sync
    /// its read position (until then a crash leaves those records unread, not lost).
    pub fn commit_reads(&mut self) {
        if let Some(disk) = self.disk.as_mut() {
            disk.commit_reads();
        }
    }

    /// Up to `max` records from disk as one run (one allocation for the batch). With
    /// `commit` false the read position waits for `commit_reads` before it is synced.
    fn read_disk(&mut self, max: usize, commit: bool) -> Result<Option<Packed>, DiskQueueError> {
        let Some(disk) = self.disk.as_mut() else {
            return Ok(None);
        };
        // Read by position, not depth: after a crash the depth can be stale.
        if !disk.is_readable() {
            return Ok(None);
        }
        let mut run = PackedBuilder::with_capacity(max.min(DISK_READ_HINT) * 256);
        let sink = |payload: &[u8]| {
            if !run.push_payload(payload) {
                warn!(len = payload.len(), "skipping corrupt disk queue record");
            }
        };
        if commit {
            disk.read_with(max, sink)?;
        } else {
            disk.read_uncommitted(max, sink)?;
        }
        Ok((!run.is_empty()).then(|| run.finish()))
    }

    pub fn depth(&self) -> u64 {
        self.mem_len as u64 + self.disk_depth()
    }

    pub fn disk_depth(&self) -> u64 {
        self.disk.as_ref().map_or(0, |d| d.depth().max(0) as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.mem.is_empty() && !self.disk.as_ref().is_some_and(|d| d.is_readable())
    }

    /// Drop everything queued (memory and disk files).
    pub fn empty(&mut self) -> Result<(), DiskQueueError> {
        self.mem.clear();
        self.mem_len = 0;
        match self.disk.as_mut() {
            Some(d) => d.empty(),
            None => Ok(()),
        }
    }

    /// Periodic housekeeping: the disk queue's `--sync-timeout` sync.
    pub fn tick(&mut self, now: Instant) -> Result<(), DiskQueueError> {
        match self.disk.as_mut() {
            Some(d) => d.tick(now),
            None => Ok(()),
        }
    }

    /// Shutdown: write memory plus `extra` (in-flight, deferred) to disk, sync and close.
    /// Ephemeral backlogs simply drop their messages.
    pub fn close(mut self, extra: Vec<Message>) -> Result<(), DiskQueueError> {
        let Some(mut disk) = self.disk.take() else {
            return Ok(());
        };
        if !extra.is_empty() {
            self.mem.push_back(Packed::from_messages(&extra));
        }
        for run in self.mem.drain(..) {
            disk.put_framed(run.framed())?;
        }
        // What was outstanding is written back above (`extra`): the real read position
        // is the one to keep, as Go nsqd v1.3.0 does on exit.
        disk.release_all();
        disk.close()
    }

    /// Deletion: drop everything and remove the files.
    pub fn delete(mut self) -> Result<(), DiskQueueError> {
        self.mem.clear();
        self.mem_len = 0;
        match self.disk.take() {
            Some(mut d) => {
                d.empty()?;
                d.delete()
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::disk::tests::TempDir;
    use crate::queue::DiskQueueOptions;
    use bytes::Bytes;
    use protocol::MessageId;
    use std::time::Duration;

    fn msgs(range: std::ops::Range<u64>) -> Vec<Message> {
        range
            .map(|i| Message::new(MessageId::from_u64(i), i as i64, Bytes::from(i.to_string())))
            .collect()
    }

    fn disk(dir: &std::path::Path) -> DiskQueue {
        DiskQueue::open(DiskQueueOptions {
            data_path: dir.to_path_buf(),
            name: "t".into(),
            max_bytes_per_file: 200,
            min_msg_size: protocol::MESSAGE_HEADER_LEN as i32,
            max_msg_size: 1024,
            sync_every: 1000,
            sync_timeout: Duration::from_secs(2),
        })
        .expect("open disk queue")
    }

    fn ids(m: &[Message]) -> Vec<i64> {
        m.iter().map(|m| m.timestamp).collect()
    }

    #[test]
    fn spills_past_the_memory_cap_and_keeps_fifo_order() {
        let dir = TempDir::new();
        let mut b = Backlog::new(3, Some(disk(&dir.0)));
        assert_eq!(
            b.push_packed(Packed::from_messages(&msgs(0..5))).ok(),
            Some(0)
        );
        assert_eq!((b.depth(), b.disk_depth()), (5, 2));
        // Memory has room again, but disk holds older messages: these go behind them.
        let mut out = Vec::new();
        b.pop_into(1, &mut out).expect("pop");
        b.push(&msgs(5..7)).expect("push");
        assert_eq!(b.disk_depth(), 4);
        let mut runs = Vec::new();
        b.pop_runs(4, &mut runs).expect("pop runs");
        for run in &runs {
            out.extend(run.to_messages());
        }
        b.pop_into(100, &mut out).expect("pop rest");
        assert_eq!(ids(&out), (0..7).collect::<Vec<_>>());
        assert!(b.is_empty());
        assert_eq!(b.depth(), 0);
    }

    #[test]
    fn ephemeral_overflow_is_dropped_and_counted() {
        let mut b = Backlog::new(2, None);
        assert_eq!(b.push(&msgs(0..5)).ok(), Some(3));
        let mut out = Vec::new();
        b.pop_into(10, &mut out).expect("pop");
        assert_eq!(ids(&out), vec![0, 1]);
    }

    #[test]
    fn close_writes_memory_then_extra_to_disk() {
        let dir = TempDir::new();
        let mut b = Backlog::new(10, Some(disk(&dir.0)));
        b.push(&msgs(0..4)).expect("push");
        b.close(msgs(4..6)).expect("close");
        let mut b = Backlog::new(10, Some(disk(&dir.0)));
        assert_eq!(b.depth(), 6);
        let mut out = Vec::new();
        b.pop_into(10, &mut out).expect("pop");
        assert_eq!(out, msgs(0..6));
    }
}
