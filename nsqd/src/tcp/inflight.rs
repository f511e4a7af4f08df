//! One client's in-flight table: messages sent and not yet FINished, REQueued or timed
//! out, with their deadlines. Owned by the connection task, so no lock: only the client
//! that received a message may act on it.

use protocol::{Message, MessageId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Entry {
    pub msg: Message,
    pub delivered: Instant,
    pub deadline: Instant,
    pub epoch: u64,
}

#[derive(Debug, Default)]
pub struct InFlight {
    map: HashMap<MessageId, Entry>,
    /// Deadlines, possibly stale (FIN removes from `map` only; TOUCH pushes a new one).
    heap: BinaryHeap<Reverse<(Instant, MessageId)>>,
}

/// An ID that cannot be in flight twice (a duplicate would break FIN).
#[derive(Debug, PartialEq, Eq)]
pub struct Duplicate;

impl InFlight {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn insert(
        &mut self,
        msg: Message,
        now: Instant,
        timeout: Duration,
        epoch: u64,
    ) -> Result<(), Duplicate> {
        let deadline = now + timeout;
        let id = msg.id;
        if self.map.contains_key(&id) {
            return Err(Duplicate);
        }
        self.map.insert(
            id,
            Entry {
                msg,
                delivered: now,
                deadline,
                epoch,
            },
        );
        self.heap.push(Reverse((deadline, id)));
        Ok(())
    }

    pub fn contains(&self, id: &MessageId) -> bool {
        self.map.contains_key(id)
    }

    pub fn remove(&mut self, id: &MessageId) -> Option<Entry> {
        let e = self.map.remove(id);
        if self.map.is_empty() {
            self.heap.clear();
        }
        e
    }

    /// TOUCH: new deadline `now + timeout`, never past `delivered + max`.
    pub fn touch(
        &mut self,
        id: &MessageId,
        now: Instant,
        timeout: Duration,
        max: Duration,
    ) -> bool {
        let Some(e) = self.map.get_mut(id) else {
            return false;
        };
        let deadline = (now + timeout).min(e.delivered + max);
        e.deadline = deadline;
        self.heap.push(Reverse((deadline, *id)));
        true
    }

    /// The earliest live deadline (drops stale heap entries on the way).
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((when, id))) = self.heap.peek() {
            match self.map.get(id) {
                Some(e) if e.deadline == *when => return Some(*when),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// Remove and return every entry whose deadline is at or before `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Entry> {
        let mut out = Vec::new();
        while let Some(when) = self.next_deadline() {
            if when > now {
                break;
            }
            if let Some(Reverse((_, id))) = self.heap.pop() {
                if let Some(e) = self.map.remove(&id) {
                    out.push(e);
                }
            }
        }
        out
    }

    /// Remove entries delivered before the channel was emptied. Returns how many.
    pub fn purge_epoch(&mut self, current: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| e.epoch == current);
        before - self.map.len()
    }

    /// Everything, for handing back to the channel on disconnect.
    pub fn drain(&mut self) -> Vec<Entry> {
        self.heap.clear();
        self.map.drain().map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(n: u64) -> Message {
        Message::new(MessageId::from_u64(n), 0, Bytes::from_static(b"x"))
    }

    #[test]
    fn insert_remove_duplicate() {
        let mut t = InFlight::default();
        let now = Instant::now();
        let s = Duration::from_secs(1);
        assert!(t.insert(msg(1), now, s, 0).is_ok());
        assert_eq!(t.insert(msg(1), now, s, 0), Err(Duplicate));
        assert!(t.remove(&MessageId::from_u64(1)).is_some());
        assert!(t.remove(&MessageId::from_u64(1)).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn expiry_order_and_touch() {
        let mut t = InFlight::default();
        let now = Instant::now();
        let s = Duration::from_secs(10);
        for i in 0..3 {
            t.insert(msg(i), now + Duration::from_secs(i), s, 0)
                .expect("insert");
        }
        // Touch message 0 at t=5: deadline 15, capped by delivered+12 = 12.
        assert!(t.touch(
            &MessageId::from_u64(0),
            now + Duration::from_secs(5),
            s,
            Duration::from_secs(12)
        ));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(11)));
        let gone = t.expire(now + Duration::from_secs(11));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].msg.id, MessageId::from_u64(1));
        let gone = t.expire(now + Duration::from_secs(12));
        let ids: Vec<_> = gone.iter().map(|e| e.msg.id).collect();
        assert_eq!(ids, vec![MessageId::from_u64(0), MessageId::from_u64(2)]);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn fin_leaves_no_live_deadline() {
        let mut t = InFlight::default();
        let now = Instant::now();
        t.insert(msg(1), now, Duration::from_secs(1), 0)
            .expect("insert");
        t.insert(msg(2), now, Duration::from_secs(2), 0)
            .expect("insert");
        t.remove(&MessageId::from_u64(1));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(2)));
        assert!(t.expire(now + Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn purge_by_epoch() {
        let mut t = InFlight::default();
        let now = Instant::now();
        t.insert(msg(1), now, Duration::from_secs(1), 0)
            .expect("insert");
        t.insert(msg(2), now, Duration::from_secs(1), 1)
            .expect("insert");
        assert_eq!(t.purge_epoch(1), 1);
        assert_eq!(t.len(), 1);
    }
}
