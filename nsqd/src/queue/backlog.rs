//! A topic's or channel's queued messages: memory up to `--mem-queue-size`, the rest in
//! the disk queue (none for `#ephemeral` names, whose overflow is dropped).
//!
//! Order is kept FIFO: once anything is on disk, new messages go to disk behind it until
//! the disk part is drained, and reads take memory (the older part) first. So memory stays
//! bounded by the flag whatever the backlog, and a consumer sees publish order.

use crate::queue::disk::{DiskQueue, DiskQueueError, Record};
use bytes::Bytes;
use protocol::Message;
use std::collections::VecDeque;
use std::time::Instant;
use tracing::warn;

impl Record for Message {
    fn encoded_len(&self) -> usize {
        Message::encoded_len(self)
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        Message::encode_into(self, out)
    }
}

#[derive(Debug)]
pub struct Backlog {
    mem: VecDeque<Message>,
    mem_cap: usize,
    disk: Option<DiskQueue>,
    /// Reused for disk reads, so a batch read allocates nothing per call.
    read_buf: Vec<Bytes>,
}

impl Backlog {
    pub fn new(mem_cap: usize, disk: Option<DiskQueue>) -> Backlog {
        Backlog {
            mem: VecDeque::new(),
            mem_cap,
            disk,
            read_buf: Vec::new(),
        }
    }

    /// Queue messages at the tail. Returns how many were dropped (ephemeral overflow).
    pub fn push(&mut self, msgs: &[Message]) -> Result<usize, DiskQueueError> {
        let spilled = self.disk.as_ref().is_some_and(|d| d.is_readable());
        let room = if spilled {
            0
        } else {
            self.mem_cap.saturating_sub(self.mem.len())
        };
        let to_mem = room.min(msgs.len());
        self.mem.extend(msgs[..to_mem].iter().cloned());
        let rest = &msgs[to_mem..];
        if rest.is_empty() {
            return Ok(0);
        }
        match self.disk.as_mut() {
            Some(disk) => disk.put_batch(rest).map(|()| 0),
            None => Ok(rest.len()),
        }
    }

    /// Take up to `max` messages from the head (memory first, then disk).
    pub fn pop_into(&mut self, max: usize, out: &mut Vec<Message>) -> Result<(), DiskQueueError> {
        let from_mem = max.min(self.mem.len());
        out.extend(self.mem.drain(..from_mem));
        let want = max - from_mem;
        if want == 0 {
            return Ok(());
        }
        let Some(disk) = self.disk.as_mut() else {
            return Ok(());
        };
        // Read by position, not depth: after a crash the depth can be stale.
        if !disk.is_readable() {
            return Ok(());
        }
        self.read_buf.clear();
        disk.read_batch(want, &mut self.read_buf)?;
        for rec in self.read_buf.drain(..) {
            match Message::decode(rec) {
                Ok(m) => out.push(m),
                Err(e) => warn!(error = %e, "skipping corrupt disk queue record"),
            }
        }
        Ok(())
    }

    pub fn depth(&self) -> u64 {
        self.mem.len() as u64 + self.disk_depth()
    }

    pub fn disk_depth(&self) -> u64 {
        self.disk.as_ref().map_or(0, |d| d.depth().max(0) as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.mem.is_empty() && !self.disk.as_ref().is_some_and(|d| d.is_readable())
    }

    pub fn has_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// Drop everything queued (memory and disk files).
    pub fn empty(&mut self) -> Result<(), DiskQueueError> {
        self.mem.clear();
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
        let mem: Vec<Message> = self.mem.drain(..).chain(extra).collect();
        if !mem.is_empty() {
            disk.put_batch(&mem)?;
        }
        disk.close()
    }

    /// Deletion: drop everything and remove the files.
    pub fn delete(mut self) -> Result<(), DiskQueueError> {
        self.mem.clear();
        match self.disk.take() {
            Some(mut d) => {
                d.empty()?;
                d.delete()
            }
            None => Ok(()),
        }
    }
}
