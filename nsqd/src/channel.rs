//! An NSQ channel: its queued messages (memory + disk), its deferred set (DPUB, REQ with a
//! delay, and the in-flight messages of clients that went away, which wait there for their
//! deadline), its consumers and its counters.
//!
//! In-flight messages are NOT kept here: each connection task owns the table of messages it
//! was sent (only that client may FIN/REQ/TOUCH them), so the hot path takes this channel's
//! lock once per batch of deliveries and never per FIN. The channel only keeps the count,
//! and an `epoch` that `empty` bumps so that clients drop messages delivered before it.
//!
//! Beyond Go, a message taken from the disk queue stays outstanding there (`held`: message
//! ID → disk read sequence) until it is FINished or back in a queue (REQ, timeout, a
//! deferral coming due), so that the read position synced to disk never passes it and a
//! `kill -9` re-delivers it.

use crate::client::inflight::IdHasher;
use crate::client::ClientShared;
use crate::deadletter::{Defaults, LimitStats, Limits, Overdue};
use crate::e2e::E2eLatency;
use crate::lock;
use crate::queue::{Backlog, DiskQueueError, Packed};
use protocol::{Message, MessageId};
use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, warn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimedKind {
    /// DPUB or REQ with a delay: counted in `deferred_count`.
    Deferred,
    /// In flight to a client that disconnected: counted in `in_flight_count` until its
    /// deadline, then requeued as a timeout (the reference's behaviour).
    Orphan,
}

#[derive(Debug)]
struct Timed {
    due: Instant,
    seq: u64,
    kind: TimedKind,
    msg: Message,
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timed {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

#[derive(Debug)]
struct State {
    backlog: Backlog,
    timed: BinaryHeap<Reverse<Timed>>,
    deferred_ids: HashSet<MessageId>,
    /// IDs of orphaned in-flight messages (their client went away).
    orphan_ids: HashSet<MessageId>,
    seq: u64,
    consumers: Vec<Arc<ClientShared>>,
    wake_cursor: usize,
    /// Messages taken from disk and still outstanding: ID → disk read sequence.
    held: HashMap<u128, u64, BuildHasherDefault<IdHasher>>,
    /// Scratch for the sequences of one `take`.
    held_seqs: Vec<u64>,
}

impl State {
    /// The messages left flight or are about to be back in a queue: release their disk
    /// records. The moved watermark is synced with the write that follows (a requeue), or
    /// with the queue's next sync; when `commit` (a FIN) under `--sync-every=1`, at once
    /// if nothing is outstanding any more.
    fn release<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a MessageId>,
        count: &AtomicUsize,
        commit: bool,
    ) {
        if self.held.is_empty() {
            return;
        }
        for id in ids {
            if let Some(seq) = self.held.remove(&held_key(id)) {
                self.backlog.release(seq);
            }
        }
        count.store(self.held.len(), Ordering::Relaxed);
        if commit {
            self.backlog.commit_released();
        }
    }
}

fn held_key(id: &MessageId) -> u128 {
    u128::from_le_bytes(id.0)
}

/// Why a REQ/deferral could not be applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChannelError {
    #[error("exiting")]
    Exiting,
    #[error("ID already deferred")]
    AlreadyDeferred,
    #[error("consumers for {topic}:{channel} exceeds limit of {limit}")]
    TooManyConsumers {
        topic: String,
        channel: String,
        limit: usize,
    },
    #[error(transparent)]
    Disk(#[from] DiskQueueError),
}

#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) name: String,
    pub(crate) topic_name: String,
    pub(crate) ephemeral: bool,
    state: Mutex<State>,
    paused: AtomicBool,
    exiting: AtomicBool,
    epoch: AtomicU64,
    pub(crate) message_count: AtomicU64,
    pub(crate) requeue_count: AtomicU64,
    pub(crate) timeout_count: AtomicU64,
    in_flight: AtomicU64,
    deferred: AtomicU64,
    /// `state.held.len()`, so that a FIN need not lock when nothing is held.
    held_count: AtomicUsize,
    max_consumers: usize,
    /// Publish-to-FIN latencies, when percentiles are configured.
    pub(crate) e2e: Option<E2eLatency>,
    /// Max attempts and age limits, and their counters (beyond Go; off by default).
    pub(crate) limits: Limits,
}

/// A point-in-time view for `/stats`.
#[derive(Debug, Clone)]
pub(crate) struct ChannelSnapshot {
    pub(crate) name: String,
    pub(crate) depth: u64,
    pub(crate) backend_depth: u64,
    pub(crate) in_flight_count: u64,
    pub(crate) deferred_count: u64,
    pub(crate) message_count: u64,
    pub(crate) requeue_count: u64,
    pub(crate) timeout_count: u64,
    pub(crate) paused: bool,
    pub(crate) clients: Vec<Arc<ClientShared>>,
    /// (count, samples) of the e2e latency window, when configured.
    pub(crate) e2e: Option<(u64, Vec<u64>)>,
    /// Beyond Go: max attempts / age limit counters, when a limit is on or was hit.
    pub(crate) limits: Option<LimitStats>,
}

impl Channel {
    pub(crate) fn new(
        topic_name: &str,
        name: &str,
        backlog: Backlog,
        max_consumers: usize,
        e2e_window: Option<Duration>,
    ) -> Channel {
        Channel {
            name: name.to_string(),
            topic_name: topic_name.to_string(),
            ephemeral: protocol::names::is_ephemeral(name),
            state: Mutex::new(State {
                backlog,
                timed: BinaryHeap::new(),
                deferred_ids: HashSet::new(),
                orphan_ids: HashSet::new(),
                seq: 0,
                consumers: Vec::new(),
                wake_cursor: 0,
                held: HashMap::default(),
                held_seqs: Vec::new(),
            }),
            paused: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            message_count: AtomicU64::new(0),
            requeue_count: AtomicU64::new(0),
            timeout_count: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            held_count: AtomicUsize::new(0),
            max_consumers,
            e2e: e2e_window.map(E2eLatency::new),
            limits: Limits::new(topic_name, Defaults::default()),
        }
    }

    /// Runs of messages from the topic (counted in `message_count`): each is queued by
    /// reference, not copied.
    pub(crate) fn put(&self, runs: &[Packed]) -> Result<(), DiskQueueError> {
        let n: usize = runs.iter().map(Packed::len).sum();
        self.message_count.fetch_add(n as u64, Ordering::Relaxed);
        let mut st = lock(&self.state);
        let mut result = Ok(());
        for run in runs {
            if let Err(e) = st.backlog.push_packed(run.clone()) {
                result = Err(e);
            }
        }
        wake_consumers(&mut st, n as u64);
        result
    }

    fn enqueue(&self, msgs: &[Message]) -> Result<(), DiskQueueError> {
        let mut st = lock(&self.state);
        // Released first: the write's sync then records the copy and the moved watermark
        // together.
        st.release(msgs.iter().map(|m| &m.id), &self.held_count, false);
        st.backlog.push(msgs)?;
        wake_consumers(&mut st, msgs.len() as u64);
        Ok(())
    }

    /// A deferred publish copied in from the topic (counted in `message_count`): due at
    /// `now + delay`.
    pub(crate) fn put_deferred(
        &self,
        msg: Message,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ChannelError> {
        self.message_count.fetch_add(1, Ordering::Relaxed);
        self.defer(msg, now + delay, TimedKind::Deferred)
    }

    fn defer(&self, mut msg: Message, due: Instant, kind: TimedKind) -> Result<(), ChannelError> {
        if kind == TimedKind::Deferred {
            // The body may slice a large shared buffer (a published batch); a deferral can
            // last an hour, so it keeps a copy of its own instead of pinning that buffer.
            msg.body = bytes::Bytes::copy_from_slice(&msg.body);
        }
        let mut st = lock(&self.state);
        match kind {
            TimedKind::Deferred => {
                if !st.deferred_ids.insert(msg.id) {
                    return Err(ChannelError::AlreadyDeferred);
                }
                self.deferred.fetch_add(1, Ordering::Relaxed);
            }
            TimedKind::Orphan => {
                st.orphan_ids.insert(msg.id);
            }
        }
        st.seq += 1;
        let seq = st.seq;
        st.timed.push(Reverse(Timed {
            due,
            seq,
            kind,
            msg,
        }));
        Ok(())
    }

    /// Take up to `max` messages for delivery; they count as in flight from now on.
    /// Returns the epoch they belong to. Nothing is returned while the channel is paused.
    /// Messages past the channel's limits go to `over` instead (not counted in flight):
    /// the caller dead-letters or drops them.
    pub(crate) fn take(&self, max: usize, out: &mut Vec<Message>, over: &mut Vec<Overdue>) -> u64 {
        if self.paused.load(Ordering::Relaxed) || self.exiting.load(Ordering::Relaxed) {
            return self.epoch.load(Ordering::Relaxed);
        }
        let mut st = lock(&self.state);
        let before = out.len();
        let mut seqs = std::mem::take(&mut st.held_seqs);
        if let Err(e) = st.backlog.pop_into_held(max, out, &mut seqs) {
            error!(topic = %self.topic_name, channel = %self.name, error = %e, "disk queue read failed");
        }
        if !seqs.is_empty() {
            let from_disk = out.len() - seqs.len();
            for (msg, &seq) in out[from_disk..].iter().zip(&seqs) {
                if let Some(older) = st.held.insert(held_key(&msg.id), seq) {
                    // A second copy of an outstanding message (a crash re-delivered the
                    // original after its requeued copy): the older record holds for both.
                    st.held.insert(held_key(&msg.id), older);
                    st.backlog.release(seq);
                }
            }
            self.held_count.store(st.held.len(), Ordering::Relaxed);
            seqs.clear();
        }
        st.held_seqs = seqs;
        self.limits.filter(out, before, over);
        self.in_flight
            .fetch_add((out.len() - before) as u64, Ordering::Relaxed);
        self.epoch.load(Ordering::Relaxed)
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// A message of `epoch` left flight (FIN, REQ, timeout, or dropped by sampling).
    pub(crate) fn in_flight_done(&self, epoch: u64, n: u64) {
        if epoch != self.epoch() {
            return;
        }
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }

    /// A message was FINished (or dropped by sampling): its disk record, if any, is no
    /// longer outstanding. Locks only while something is held.
    pub(crate) fn finished(&self, id: &MessageId) {
        if self.held_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        lock(&self.state).release([id], &self.held_count, true);
    }

    /// Whether any disk record is held (a FIN then has something to release).
    pub(crate) fn holds_any(&self) -> bool {
        self.held_count.load(Ordering::Relaxed) > 0
    }

    /// `finished` for the FINs of one read from a client: one lock hold.
    pub(crate) fn finished_all(&self, ids: &[MessageId]) {
        if self.holds_any() {
            lock(&self.state).release(ids, &self.held_count, true);
        }
    }

    /// REQ: back to the queue now (delay 0) or into the deferred set, due at `now + delay`.
    pub(crate) fn requeue(
        &self,
        msg: Message,
        epoch: u64,
        delay: Duration,
        now: Instant,
    ) -> Result<(), ChannelError> {
        if self.exiting.load(Ordering::Relaxed) {
            return Err(ChannelError::Exiting);
        }
        self.in_flight_done(epoch, 1);
        self.requeue_count.fetch_add(1, Ordering::Relaxed);
        if delay.is_zero() {
            self.enqueue(std::slice::from_ref(&msg))?;
            Ok(())
        } else {
            // Deferred, it stays outstanding until it comes due (or is lost if refused).
            let id = msg.id;
            let deferred = self.defer(msg, now + delay, TimedKind::Deferred);
            if deferred.is_err() {
                self.finished(&id);
            }
            deferred
        }
    }

    /// In-flight messages whose deadline passed: requeued at the tail.
    pub(crate) fn timed_out(&self, msgs: &[Message], epoch: u64) {
        if msgs.is_empty() || epoch != self.epoch() {
            return;
        }
        self.in_flight_done(epoch, msgs.len() as u64);
        self.timeout_count
            .fetch_add(msgs.len() as u64, Ordering::Relaxed);
        if let Err(e) = self.enqueue(msgs) {
            error!(topic = %self.topic_name, channel = %self.name, error = %e, "requeue after timeout failed");
        }
    }

    /// A disconnecting client hands back what it still had in flight, with deadlines
    /// (one already passed counts as due `now`).
    pub(crate) fn adopt_orphans(&self, msgs: Vec<(Message, Instant)>, epoch: u64, now: Instant) {
        if msgs.is_empty() || epoch != self.epoch() {
            return;
        }
        for (msg, deadline) in msgs {
            let _ = self.defer(msg, deadline.max(now), TimedKind::Orphan);
        }
    }

    /// Move due deferred/orphaned messages to the queue; periodic disk sync.
    /// Returns true if anything was due.
    pub(crate) fn scan(&self, now: Instant) -> bool {
        let mut st = lock(&self.state);
        let mut due = Vec::new();
        let mut timeouts = 0u64;
        while st.timed.peek().is_some_and(|t| t.0.due <= now) {
            let Some(Reverse(t)) = st.timed.pop() else {
                break;
            };
            match t.kind {
                TimedKind::Deferred => {
                    st.deferred_ids.remove(&t.msg.id);
                    self.deferred.fetch_sub(1, Ordering::Relaxed);
                }
                TimedKind::Orphan => {
                    st.orphan_ids.remove(&t.msg.id);
                    timeouts += 1;
                }
            }
            due.push(t.msg);
        }
        if timeouts > 0 {
            let _ = self
                .in_flight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_sub(timeouts))
                });
            self.timeout_count.fetch_add(timeouts, Ordering::Relaxed);
        }
        if !due.is_empty() {
            st.release(due.iter().map(|m| &m.id), &self.held_count, false);
            if let Err(e) = st.backlog.push(&due) {
                error!(topic = %self.topic_name, channel = %self.name, error = %e, "requeue of deferred messages failed");
            }
            wake_consumers(&mut st, due.len() as u64);
        }
        if let Err(e) = st.backlog.tick(now) {
            warn!(topic = %self.topic_name, channel = %self.name, error = %e, "disk queue sync failed");
        }
        !due.is_empty()
    }

    /// Is `id` in flight to a client other than `me` (or to one that went away)?
    /// Only asked when a FIN/REQ/TOUCH missed, to pick the reference's error reason.
    pub(crate) fn in_flight_elsewhere(&self, id: &MessageId, me: u64) -> bool {
        let st = lock(&self.state);
        st.orphan_ids.contains(id)
            || st
                .consumers
                .iter()
                .filter(|c| c.id != me)
                .any(|c| lock(&c.inflight).contains(id))
    }

    pub(crate) fn add_consumer(&self, client: Arc<ClientShared>) -> Result<(), ChannelError> {
        if self.exiting.load(Ordering::Relaxed) {
            return Err(ChannelError::Exiting);
        }
        let mut st = lock(&self.state);
        if st.consumers.iter().any(|c| c.id == client.id) {
            return Ok(());
        }
        if self.max_consumers > 0 && st.consumers.len() >= self.max_consumers {
            return Err(ChannelError::TooManyConsumers {
                topic: self.topic_name.clone(),
                channel: self.name.clone(),
                limit: self.max_consumers,
            });
        }
        st.consumers.push(client);
        Ok(())
    }

    /// Returns the number of consumers left.
    pub(crate) fn remove_consumer(&self, client_id: u64) -> usize {
        let mut st = lock(&self.state);
        st.consumers.retain(|c| c.id != client_id);
        st.consumers.len()
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        if !paused {
            self.wake_all();
        }
    }

    pub(crate) fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Relaxed)
    }

    /// Wake every consumer (unpause, empty, a consumer gained capacity elsewhere).
    pub(crate) fn wake_all(&self) {
        let st = lock(&self.state);
        for c in &st.consumers {
            c.wake.notify_one();
        }
    }

    /// Drop queued, deferred and in-flight messages.
    pub(crate) fn empty(&self) -> Result<(), DiskQueueError> {
        let mut st = lock(&self.state);
        self.epoch.fetch_add(1, Ordering::Relaxed);
        st.timed.clear();
        st.deferred_ids.clear();
        st.orphan_ids.clear();
        st.held.clear();
        self.held_count.store(0, Ordering::Relaxed);
        self.in_flight.store(0, Ordering::Relaxed);
        self.deferred.store(0, Ordering::Relaxed);
        for c in &st.consumers {
            c.wake.notify_one();
        }
        st.backlog.empty()
    }

    /// Deletion: stop, disconnect consumers, remove the data.
    pub(crate) fn delete(&self) -> Result<(), DiskQueueError> {
        self.exiting.store(true, Ordering::Relaxed);
        let backlog = {
            let mut st = lock(&self.state);
            for c in st.consumers.drain(..) {
                c.kick.cancel();
            }
            st.timed.clear();
            std::mem::replace(&mut st.backlog, Backlog::new(0, None))
        };
        backlog.delete()
    }

    /// Shutdown: queued, deferred and orphaned messages all go to disk.
    pub(crate) fn close(&self) -> Result<(), DiskQueueError> {
        self.exiting.store(true, Ordering::Relaxed);
        let (backlog, extra) = {
            let mut st = lock(&self.state);
            let extra: Vec<Message> = st.timed.drain().map(|t| t.0.msg).collect();
            (
                std::mem::replace(&mut st.backlog, Backlog::new(0, None)),
                extra,
            )
        };
        backlog.close(extra)
    }

    pub(crate) fn snapshot(&self) -> ChannelSnapshot {
        let st = lock(&self.state);
        ChannelSnapshot {
            name: self.name.clone(),
            depth: st.backlog.depth(),
            backend_depth: st.backlog.disk_depth(),
            in_flight_count: self.in_flight.load(Ordering::Relaxed),
            deferred_count: self.deferred.load(Ordering::Relaxed),
            message_count: self.message_count.load(Ordering::Relaxed),
            requeue_count: self.requeue_count.load(Ordering::Relaxed),
            timeout_count: self.timeout_count.load(Ordering::Relaxed),
            paused: self.is_paused(),
            clients: st.consumers.clone(),
            e2e: self.e2e.as_ref().map(E2eLatency::window),
            limits: self.limits.stats(),
        }
    }

    /// Messages taken by `take` that went to the dead-letter topic or were dropped (past
    /// a limit): counted; they were never in flight.
    pub(crate) fn overdue_done(&self, dead: u64, expired: u64) {
        self.limits
            .dead_letter_count
            .fetch_add(dead, Ordering::Relaxed);
        self.limits
            .expired_count
            .fetch_add(expired, Ordering::Relaxed);
    }

    /// Overdue messages that could not be dead-lettered go back to the queue.
    pub(crate) fn put_back(&self, msgs: &[Message]) {
        if let Err(e) = self.enqueue(msgs) {
            error!(topic = %self.topic_name, channel = %self.name, error = %e, "requeue of undeliverable dead letters failed");
        }
    }

    /// An in-flight message REQueued after its last allowed attempt went to the
    /// dead-letter topic instead.
    pub(crate) fn dead_lettered_in_flight(&self, epoch: u64) {
        self.in_flight_done(epoch, 1);
        self.limits
            .dead_letter_count
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn consumer_count(&self) -> usize {
        lock(&self.state).consumers.len()
    }
}

/// Wake consumers with free capacity, round-robin, until `n` new messages are covered.
fn wake_consumers(st: &mut State, n: u64) {
    let len = st.consumers.len();
    if len == 0 {
        return;
    }
    let mut covered = 0u64;
    for i in 0..len {
        let idx = (st.wake_cursor + i) % len;
        let c = &st.consumers[idx];
        let cap = c.capacity();
        if cap > 0 {
            c.wake.notify_one();
            covered += cap;
            if covered >= n {
                st.wake_cursor = (idx + 1) % len;
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "channel_held_tests.rs"]
mod held_tests;
