//! The commit watermark of a disk queue whose reader hands records on without storing them
//! anywhere durable (a channel delivering to consumers): which records read from disk are
//! still outstanding (in flight, or deferred by REQ), so that the read position synced to
//! the metadata file never passes the oldest of them. After `kill -9` the restart reads
//! again from there: every outstanding record comes back (with the ones after it that were
//! already finished: at-least-once).
//!
//! Records are numbered in read order (`next_seq`); only the outstanding ones are kept
//! (sequence → where the record starts), so memory is O(outstanding), not O(read since).

use std::collections::BTreeMap;

/// Where a record starts: data file number and byte offset in it.
pub(crate) type Start = (i64, i64);

#[derive(Debug, Default)]
pub(crate) struct Watermark {
    /// Outstanding records: read sequence → start.
    held: BTreeMap<u64, Start>,
    /// The sequence the next record read gets.
    next_seq: u64,
    /// The oldest outstanding record changed since the last sync.
    moved: bool,
}

impl Watermark {
    /// The sequence the next record read gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// A record was read: its sequence. `hold` keeps it outstanding from `start` on.
    pub(crate) fn read(&mut self, start: Start, hold: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if hold {
            self.held.insert(seq, start);
        }
        seq
    }

    /// The record `seq` is no longer outstanding (FIN, or back in the queue). Returns
    /// whether that moved the watermark (it was the oldest).
    pub(crate) fn release(&mut self, seq: u64) -> bool {
        let oldest = self.held.first_key_value().map(|(s, _)| *s);
        let moved = self.held.remove(&seq).is_some() && oldest == Some(seq);
        self.moved |= moved;
        moved
    }

    /// Nothing is outstanding any more (the queue was emptied, or closed cleanly after the
    /// outstanding records were written back).
    pub(crate) fn release_all(&mut self) {
        if !self.held.is_empty() {
            self.held.clear();
            self.moved = true;
        }
    }

    /// Where the oldest outstanding record starts, and how many records were read from
    /// there on (all of them are read again after a crash): `None` when nothing is held.
    pub(crate) fn oldest(&self) -> Option<(Start, i64)> {
        self.held.first_key_value().map(|(&seq, &start)| {
            let span = i64::try_from(self.next_seq - seq).unwrap_or(i64::MAX);
            (start, span)
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether the watermark moved since the last sync (`synced` clears it).
    pub(crate) fn moved(&self) -> bool {
        self.moved
    }

    pub(crate) fn synced(&mut self) {
        self.moved = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_outstanding_holds_the_position_and_counts_what_follows() {
        let mut w = Watermark::default();
        let a = w.read((0, 0), true);
        let b = w.read((0, 30), true);
        let _unheld = w.read((0, 60), false);
        let c = w.read((1, 0), true);
        assert_eq!(w.oldest(), Some(((0, 0), 4)));
        // Releasing a younger one does not move the watermark.
        assert!(!w.release(b));
        assert!(!w.moved());
        assert_eq!(w.oldest(), Some(((0, 0), 4)));
        assert!(w.release(a));
        assert!(w.moved());
        assert_eq!(w.oldest(), Some(((1, 0), 1)));
        w.synced();
        w.release(c);
        assert!(w.moved());
        assert_eq!(w.oldest(), None);
        assert_eq!(w.len(), 0);
        // Unknown or repeated releases are no-ops.
        w.synced();
        w.release(c);
        w.release(99);
        assert!(!w.moved());
    }

    #[test]
    fn release_all_forgets_everything() {
        let mut w = Watermark::default();
        w.read((3, 10), true);
        w.read((3, 40), true);
        w.release_all();
        assert_eq!((w.oldest(), w.len(), w.moved()), (None, 0, true));
    }
}
