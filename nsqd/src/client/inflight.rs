//! One client's in-flight table: messages sent and not yet FINished, REQueued or timed
//! out, with their deadlines. Owned by the connection task (behind an uncontended mutex
//! only so that other clients' FIN misses and `/stats` can look): only the client that
//! received a message may act on it. Hash map with a cheap hasher plus a FIFO of deadlines:
//! O(1) per delivery and per FIN.

use protocol::{Message, MessageId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) msg: Message,
    pub(crate) delivered: Instant,
    pub(crate) deadline: Instant,
    pub(crate) epoch: u64,
}

/// The table's key: the 16 ID bytes as one integer.
type Key = u128;

fn key(id: &MessageId) -> Key {
    u128::from_le_bytes(id.0)
}

/// A multiply-fold hash of the key. IDs in the table are ones nsqd handed out, never
/// chosen by a client (a FIN with a made-up ID only looks one up), so SipHash's flooding
/// resistance buys nothing here and cost ~4 % of nsqd's time on the delivery path.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, v: u64) {
        let m = u128::from(self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(b));
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.mix(v as u64);
        self.mix((v >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Deadlines waiting to fire: `(deadline, key)`, possibly stale (FIN removes from the map
/// only; TOUCH adds a new one). A deadline is live while the map holds that key with that
/// very deadline.
#[derive(Debug, Default)]
struct Deadlines {
    /// Every client has one msg_timeout, so deadlines arrive in order: a FIFO, O(1).
    fifo: VecDeque<(Instant, Key)>,
    /// The rare deadline earlier than the FIFO's tail (TOUCH capped by max-msg-timeout).
    early: BinaryHeap<Reverse<(Instant, Key)>>,
}

impl Deadlines {
    fn push(&mut self, when: Instant, k: Key) {
        match self.fifo.back() {
            Some(&(last, _)) if when < last => self.early.push(Reverse((when, k))),
            _ => self.fifo.push_back((when, k)),
        }
    }

    fn clear(&mut self) {
        self.fifo.clear();
        self.early.clear();
    }
}

#[derive(Debug, Default)]
pub(crate) struct InFlight {
    map: HashMap<Key, Entry, BuildHasherDefault<IdHasher>>,
    deadlines: Deadlines,
}

/// An ID that cannot be in flight twice (a duplicate would break FIN).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Duplicate;

impl InFlight {
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn insert(
        &mut self,
        msg: Message,
        now: Instant,
        timeout: Duration,
        epoch: u64,
    ) -> Result<(), Duplicate> {
        let deadline = now + timeout;
        let k = key(&msg.id);
        match self.map.entry(k) {
            std::collections::hash_map::Entry::Occupied(_) => return Err(Duplicate),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    msg,
                    delivered: now,
                    deadline,
                    epoch,
                });
            }
        }
        self.deadlines.push(deadline, k);
        Ok(())
    }

    pub(crate) fn contains(&self, id: &MessageId) -> bool {
        self.map.contains_key(&key(id))
    }

    pub(crate) fn remove(&mut self, id: &MessageId) -> Option<Entry> {
        let e = self.map.remove(&key(id));
        if self.map.is_empty() {
            self.deadlines.clear();
        }
        e
    }

    /// TOUCH: new deadline `now + timeout`, never past `delivered + max`.
    pub(crate) fn touch(
        &mut self,
        id: &MessageId,
        now: Instant,
        timeout: Duration,
        max: Duration,
    ) -> bool {
        let k = key(id);
        let Some(e) = self.map.get_mut(&k) else {
            return false;
        };
        let deadline = (now + timeout).min(e.delivered + max);
        e.deadline = deadline;
        self.deadlines.push(deadline, k);
        true
    }

    fn is_live(&self, when: Instant, k: &Key) -> bool {
        self.map.get(k).is_some_and(|e| e.deadline == when)
    }

    /// The earliest live deadline (drops stale entries on the way).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&(when, k)) = self.deadlines.fifo.front() {
            if self.is_live(when, &k) {
                break;
            }
            self.deadlines.fifo.pop_front();
        }
        while let Some(&Reverse((when, k))) = self.deadlines.early.peek() {
            if self.is_live(when, &k) {
                break;
            }
            self.deadlines.early.pop();
        }
        let fifo = self.deadlines.fifo.front().map(|d| d.0);
        let early = self.deadlines.early.peek().map(|d| d.0 .0);
        match (fifo, early) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Remove and return every entry whose deadline is at or before `now`, earliest first.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Entry> {
        let mut out = Vec::new();
        while let Some(when) = self.next_deadline() {
            if when > now {
                break;
            }
            let from_early = self.deadlines.early.peek().is_some_and(|d| d.0 .0 == when);
            let k = if from_early {
                self.deadlines.early.pop().map(|d| d.0 .1)
            } else {
                self.deadlines.fifo.pop_front().map(|d| d.1)
            };
            if let Some(e) = k.and_then(|k| self.map.remove(&k)) {
                out.push(e);
            }
        }
        if self.map.is_empty() {
            self.deadlines.clear();
        }
        out
    }

    /// Remove entries delivered before the channel was emptied. Returns how many.
    pub(crate) fn purge_epoch(&mut self, current: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| e.epoch == current);
        before - self.map.len()
    }

    /// Everything, for handing back to the channel on disconnect.
    pub(crate) fn drain(&mut self) -> Vec<Entry> {
        self.deadlines.clear();
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
        let mut ids: Vec<_> = gone.iter().map(|e| e.msg.id).collect();
        ids.sort();
        // Equal deadlines: either order.
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

    #[test]
    fn many_in_order_with_fins_and_touches() {
        let mut t = InFlight::default();
        let now = Instant::now();
        let s = Duration::from_secs(10);
        for i in 0..1000u64 {
            t.insert(msg(i), now + Duration::from_millis(i), s, 0)
                .expect("insert");
        }
        for i in (0..1000u64).filter(|i| i % 3 == 0) {
            assert!(t.remove(&MessageId::from_u64(i)).is_some());
        }
        // 1 is touched late enough to move behind everything; 2 gets an early (capped)
        // deadline that goes to the side heap.
        assert!(t.touch(
            &MessageId::from_u64(1),
            now + Duration::from_secs(5),
            s,
            Duration::from_secs(60)
        ));
        assert!(t.touch(
            &MessageId::from_u64(2),
            now + Duration::from_secs(5),
            s,
            Duration::from_millis(3)
        ));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(2 + 3)));
        let gone = t.expire(now + Duration::from_secs(10) + Duration::from_millis(4));
        let ids: Vec<_> = gone.iter().map(|e| e.msg.id).collect();
        assert_eq!(
            ids,
            vec![MessageId::from_u64(2), MessageId::from_u64(4)],
            "earliest first, FINished ones skipped"
        );
        let rest = t.expire(now + Duration::from_secs(100));
        assert_eq!(rest.len(), 1000 - 334 - 2);
        assert_eq!(rest.last().map(|e| e.msg.id), Some(MessageId::from_u64(1)));
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn hasher_spreads_sequential_ids() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<IdHasher>::default();
        let tops: std::collections::HashSet<u64> = (0..256u64)
            .map(|i| b.hash_one(key(&MessageId::from_u64(0x0a1b_2c3d_0000_0000 + i))) >> 57)
            .collect();
        // hashbrown takes 7 control bits from the top: sequential IDs must not share them.
        assert!(tops.len() > 64, "only {} distinct top bits", tops.len());
    }
}
