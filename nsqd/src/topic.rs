//! An NSQ topic: fan-out of every published message to every channel.
//!
//! There is no per-topic pump on the hot path: while the topic has channels, is not paused
//! and holds no backlog, a publish copies its batch straight into each channel's queue under
//! this topic's lock (a refcount per channel, not a body copy). Otherwise messages wait in
//! the topic's own backlog (memory, then disk), and a drain task moves them to the channels
//! once there are channels and the topic is unpaused; publishes queue behind that backlog
//! until it is empty, so order is kept.

use crate::background::Background;
use crate::channel::{Channel, ChannelError, ChannelSnapshot};
use crate::guid::GuidGenerator;
use crate::lock;
use crate::queue::packed::record_len;
use crate::queue::{Backlog, DiskQueue, DiskQueueError, DiskQueueOptions, Packed, PackedBuilder};
use bytes::Bytes;
use protocol::Message;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// How many messages the drain task moves per lock hold.
const DRAIN_BATCH: usize = 1024;

/// What topics and channels need from the configuration to build their queues.
#[derive(Debug, Clone)]
pub(crate) struct QueueSettings {
    pub(crate) data_path: PathBuf,
    pub(crate) mem_queue_size: usize,
    pub(crate) max_bytes_per_file: i64,
    pub(crate) sync_every: u64,
    pub(crate) sync_timeout: Duration,
    pub(crate) max_msg_size: i64,
    pub(crate) node_id: u16,
    pub(crate) max_channel_consumers: usize,
    /// `--e2e-processing-latency-window-time` when percentiles are configured.
    pub(crate) e2e_window: Option<Duration>,
    /// `--max-attempts`, `--max-msg-age`, `--max-msg-age-action` (beyond Go; off by default).
    pub(crate) limits: crate::deadletter::Defaults,
    /// Where background work (topic drains, lookupd tasks) runs: on the main runtime, even
    /// when started from an HTTP handler, and tracked for shutdown.
    pub(crate) background: Background,
}

impl QueueSettings {
    /// Memory + disk backlog for a queue named `name` (`topic` or `topic:channel`).
    pub(crate) fn backlog(&self, name: &str, ephemeral: bool) -> Result<Backlog, DiskQueueError> {
        if ephemeral {
            return Ok(Backlog::new(self.mem_queue_size, None));
        }
        let disk = DiskQueue::open(DiskQueueOptions {
            data_path: self.data_path.clone(),
            name: name.to_string(),
            max_bytes_per_file: self.max_bytes_per_file,
            min_msg_size: protocol::MESSAGE_HEADER_LEN as i32,
            max_msg_size: (self.max_msg_size + protocol::MESSAGE_HEADER_LEN as i64)
                .min(i64::from(i32::MAX)) as i32,
            sync_every: self.sync_every.max(1),
            sync_timeout: self.sync_timeout,
        })?;
        Ok(Backlog::new(self.mem_queue_size, Some(disk)))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TopicError {
    #[error("exiting")]
    Exiting,
    #[error(transparent)]
    Disk(#[from] DiskQueueError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

#[derive(Debug)]
struct State {
    channels: BTreeMap<String, Arc<Channel>>,
    backlog: Backlog,
    /// Deferred publishes waiting for a channel, with their due time.
    pending_deferred: VecDeque<(Message, Instant)>,
    paused: bool,
    draining: bool,
    /// New topic waiting for lookupd channel pre-creation: nothing flows to channels yet.
    held: bool,
    /// Channels deleted while held: lookupd's list (asked for when the hold began) predates
    /// the delete, so pre-creation must not bring them back.
    deleted_while_held: Vec<String>,
}

impl State {
    /// True when a publish may go straight to the channels.
    fn flowing(&self) -> bool {
        !self.channels.is_empty()
            && !self.paused
            && !self.held
            && !self.draining
            && self.backlog.is_empty()
            && self.pending_deferred.is_empty()
    }
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) ephemeral: bool,
    settings: Arc<QueueSettings>,
    state: Mutex<State>,
    guid: Mutex<GuidGenerator>,
    pub(crate) message_count: AtomicU64,
    pub(crate) message_bytes: AtomicU64,
    exiting: AtomicBool,
}

#[derive(Debug, Clone)]
pub(crate) struct TopicSnapshot {
    pub(crate) name: String,
    pub(crate) depth: u64,
    pub(crate) backend_depth: u64,
    pub(crate) message_count: u64,
    pub(crate) message_bytes: u64,
    pub(crate) paused: bool,
    pub(crate) channels: Vec<ChannelSnapshot>,
}

impl Topic {
    pub(crate) fn new(name: &str, settings: Arc<QueueSettings>) -> Result<Topic, DiskQueueError> {
        let ephemeral = protocol::names::is_ephemeral(name);
        let backlog = settings.backlog(name, ephemeral)?;
        Ok(Topic {
            name: name.to_string(),
            ephemeral,
            guid: Mutex::new(GuidGenerator::new(settings.node_id)),
            settings,
            state: Mutex::new(State {
                channels: BTreeMap::new(),
                backlog,
                pending_deferred: VecDeque::new(),
                paused: false,
                draining: false,
                held: false,
                deleted_while_held: Vec::new(),
            }),
            message_count: AtomicU64::new(0),
            message_bytes: AtomicU64::new(0),
            exiting: AtomicBool::new(false),
        })
    }

    /// Build messages with fresh IDs for `bodies` (one generator lock for the batch).
    pub(crate) fn make_messages(&self, bodies: Vec<Bytes>) -> Vec<Message> {
        let ts = daemon::clock::unix_nanos();
        let mut guid = lock(&self.guid);
        bodies
            .into_iter()
            .map(|body| Message::new(guid.next(ts), ts, body))
            .collect()
    }

    /// Encode `bodies` with fresh IDs into one run: one allocation and one generator lock
    /// for the batch; the bodies are copied, so the read buffers they slice can go.
    fn pack(&self, bodies: &[Bytes], body_bytes: usize) -> Packed {
        let ts = daemon::clock::unix_nanos();
        let mut run = PackedBuilder::with_capacity(body_bytes + bodies.len() * record_len(0));
        let mut guid = lock(&self.guid);
        for body in bodies {
            run.push(&guid.next(ts), ts, 0, body);
        }
        drop(guid);
        run.finish()
    }

    /// Publish a batch (PUB, MPUB, HTTP): all or nothing with respect to `exiting`.
    pub(crate) fn publish(self: &Arc<Self>, bodies: Vec<Bytes>) -> Result<(), TopicError> {
        if self.is_exiting() {
            return Err(TopicError::Exiting);
        }
        let n = bodies.len() as u64;
        let bytes: u64 = bodies.iter().map(|b| b.len() as u64).sum();
        let run = self.pack(&bodies, bytes as usize);
        drop(bodies);
        self.put_run(run, n, bytes)
    }

    /// Dead letters from a channel of another topic (`deadletter`): their IDs, timestamps
    /// and bodies kept; attempts stored one lower, so that the first delivery from here
    /// reports the count they had on their channel.
    pub(crate) fn put_dead_letters(self: &Arc<Self>, msgs: &[Message]) -> Result<(), TopicError> {
        if self.is_exiting() {
            return Err(TopicError::Exiting);
        }
        let bytes: u64 = msgs.iter().map(|m| m.body.len() as u64).sum();
        let mut run = PackedBuilder::with_capacity(bytes as usize + msgs.len() * record_len(0));
        for m in msgs {
            run.push(&m.id, m.timestamp, m.attempts.saturating_sub(1), &m.body);
        }
        self.put_run(run.finish(), msgs.len() as u64, bytes)
    }

    /// Queue one packed run (to the channels, or the topic's backlog) and count it.
    fn put_run(self: &Arc<Self>, run: Packed, n: u64, bytes: u64) -> Result<(), TopicError> {
        {
            let mut st = lock(&self.state);
            if st.flowing() {
                fan_out(&st.channels, std::slice::from_ref(&run))?;
            } else {
                let dropped = st.backlog.push_packed(run)?;
                if dropped > 0 {
                    warn!(topic = %self.name, dropped, "ephemeral topic memory full, messages dropped");
                }
                self.maybe_drain(&mut st);
            }
        }
        self.message_count.fetch_add(n, Ordering::Relaxed);
        self.message_bytes.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// DPUB / `?defer=`: every channel gets a copy that becomes deliverable after `delay`.
    pub(crate) fn publish_deferred(
        self: &Arc<Self>,
        body: Bytes,
        delay: Duration,
    ) -> Result<(), TopicError> {
        if delay.is_zero() {
            return self.publish(vec![body]);
        }
        if self.is_exiting() {
            return Err(TopicError::Exiting);
        }
        let len = body.len() as u64;
        let mut msgs = self.make_messages(vec![body]);
        let Some(msg) = msgs.pop() else { return Ok(()) };
        {
            let mut st = lock(&self.state);
            let now = Instant::now();
            if st.flowing() {
                for ch in st.channels.values() {
                    ch.put_deferred(msg.clone(), delay, now)?;
                }
            } else if st.pending_deferred.len() < self.settings.mem_queue_size || self.ephemeral {
                st.pending_deferred.push_back((msg, now + delay));
                self.maybe_drain(&mut st);
            } else {
                // Like the reference: past the memory limit a deferred publish goes to the
                // topic's disk queue, which does not store the deferral.
                st.backlog.push(std::slice::from_ref(&msg))?;
                self.maybe_drain(&mut st);
            }
        }
        self.message_count.fetch_add(1, Ordering::Relaxed);
        self.message_bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    /// Start the drain task if there is a backlog and somewhere to put it.
    fn maybe_drain(self: &Arc<Self>, st: &mut State) {
        if st.draining || st.held || st.channels.is_empty() || st.paused || self.is_exiting() {
            return;
        }
        if st.backlog.is_empty() && st.pending_deferred.is_empty() {
            return;
        }
        st.draining = true;
        let topic = Arc::clone(self);
        self.settings
            .background
            .spawn_blocking("topic drain", move || topic.drain());
    }

    /// Move the backlog to the channels in batches, releasing the lock between batches.
    fn drain(&self) {
        let mut batch = Vec::with_capacity(DRAIN_BATCH);
        loop {
            let mut st = lock(&self.state);
            if self.is_exiting() || st.channels.is_empty() || st.paused || st.held {
                st.draining = false;
                return;
            }
            let now = Instant::now();
            while let Some((msg, due)) = st.pending_deferred.pop_front() {
                let delay = due.saturating_duration_since(now);
                for ch in st.channels.values() {
                    if let Err(e) = ch.put_deferred(msg.clone(), delay, now) {
                        warn!(topic = %self.name, channel = %ch.name, error = %e, "deferred copy failed");
                    }
                }
            }
            batch.clear();
            if let Err(e) = st.backlog.pop_runs(DRAIN_BATCH, &mut batch) {
                error!(topic = %self.name, error = %e, "topic disk queue read failed");
            }
            if batch.is_empty() {
                st.draining = false;
                return;
            }
            if let Err(e) = fan_out(&st.channels, &batch) {
                error!(topic = %self.name, error = %e, "fan-out to channels failed");
            }
            // Only now may the topic's read position reach the disk: a kill before this
            // finds the batch still in the topic's queue (delivered twice at worst), never
            // gone from both.
            st.backlog.commit_reads();
        }
    }

    /// Existing channel, or a new one. Returns (channel, created).
    pub(crate) fn get_or_create_channel(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<(Arc<Channel>, bool), TopicError> {
        if self.is_exiting() {
            return Err(TopicError::Exiting);
        }
        let mut st = lock(&self.state);
        self.channel_entry(&mut st, name)
    }

    /// Pre-creation's get-or-create: `None` for a channel deleted since the hold began
    /// (checked under the same lock as the creation, so a concurrent delete cannot slip in).
    pub(crate) fn precreate_channel(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Option<(Arc<Channel>, bool)>, TopicError> {
        if self.is_exiting() {
            return Err(TopicError::Exiting);
        }
        let mut st = lock(&self.state);
        if st.deleted_while_held.iter().any(|n| n == name) {
            return Ok(None);
        }
        self.channel_entry(&mut st, name).map(Some)
    }

    /// The channel `name`, created if absent. Returns (channel, created).
    fn channel_entry(
        self: &Arc<Self>,
        st: &mut State,
        name: &str,
    ) -> Result<(Arc<Channel>, bool), TopicError> {
        if let Some(ch) = st.channels.get(name) {
            return Ok((Arc::clone(ch), false));
        }
        let ephemeral = protocol::names::is_ephemeral(name);
        let backlog = self
            .settings
            .backlog(&format!("{}:{}", self.name, name), ephemeral)?;
        let mut ch = Channel::new(
            &self.name,
            name,
            backlog,
            self.settings.max_channel_consumers,
            self.settings.e2e_window,
        );
        ch.limits = crate::deadletter::Limits::new(&self.name, self.settings.limits);
        let ch = Arc::new(ch);
        st.channels.insert(name.to_string(), Arc::clone(&ch));
        info!(topic = %self.name, channel = %name, "channel created");
        self.maybe_drain(st);
        Ok((ch, true))
    }

    pub(crate) fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        lock(&self.state).channels.get(name).cloned()
    }

    pub(crate) fn channels(&self) -> Vec<Arc<Channel>> {
        lock(&self.state).channels.values().cloned().collect()
    }

    /// Remove and delete a channel. Returns false if there was no such channel.
    pub(crate) fn delete_channel(&self, name: &str) -> bool {
        let removed = {
            let mut st = lock(&self.state);
            if st.held {
                st.deleted_while_held.push(name.to_string());
            }
            st.channels.remove(name)
        };
        let Some(ch) = removed else { return false };
        if let Err(e) = ch.delete() {
            error!(topic = %self.name, channel = %name, error = %e, "channel delete failed");
        }
        info!(topic = %self.name, channel = %name, "channel deleted");
        true
    }

    pub(crate) fn channel_count(&self) -> usize {
        lock(&self.state).channels.len()
    }

    pub(crate) fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Relaxed)
    }

    /// Hold delivery to channels (while channels are being pre-created).
    pub(crate) fn hold(&self) {
        lock(&self.state).held = true;
    }

    /// End a `hold`: queued messages now go to every channel that exists.
    pub(crate) fn release(self: &Arc<Self>) {
        let mut st = lock(&self.state);
        st.held = false;
        st.deleted_while_held.clear();
        self.maybe_drain(&mut st);
    }

    pub(crate) fn is_paused(&self) -> bool {
        lock(&self.state).paused
    }

    pub(crate) fn set_paused(self: &Arc<Self>, paused: bool) {
        let mut st = lock(&self.state);
        st.paused = paused;
        if !paused {
            self.maybe_drain(&mut st);
        }
    }

    /// Drop what is queued in the topic itself (channels untouched).
    pub(crate) fn empty(&self) -> Result<(), DiskQueueError> {
        let mut st = lock(&self.state);
        st.pending_deferred.clear();
        st.backlog.empty()
    }

    /// Periodic work: each channel's deferred set and disk sync, and the topic's own sync.
    pub(crate) fn scan(&self, now: Instant) {
        for ch in self.channels() {
            ch.scan(now);
        }
        let mut st = lock(&self.state);
        if let Err(e) = st.backlog.tick(now) {
            warn!(topic = %self.name, error = %e, "disk queue sync failed");
        }
    }

    /// Shutdown: every channel and the topic's own backlog are written to disk.
    pub(crate) fn close(&self) {
        self.exiting.store(true, Ordering::Relaxed);
        let (channels, backlog, pending) = {
            let mut st = lock(&self.state);
            let pending: Vec<Message> = st.pending_deferred.drain(..).map(|(m, _)| m).collect();
            let backlog = std::mem::replace(&mut st.backlog, Backlog::new(0, None));
            (
                st.channels.values().cloned().collect::<Vec<_>>(),
                backlog,
                pending,
            )
        };
        for ch in channels {
            if let Err(e) = ch.close() {
                error!(topic = %self.name, channel = %ch.name, error = %e, "channel close failed");
            }
        }
        if let Err(e) = backlog.close(pending) {
            error!(topic = %self.name, error = %e, "topic close failed");
        }
    }

    /// Deletion: every channel and all data.
    pub(crate) fn delete(&self) {
        self.exiting.store(true, Ordering::Relaxed);
        let (channels, backlog) = {
            let mut st = lock(&self.state);
            st.pending_deferred.clear();
            let backlog = std::mem::replace(&mut st.backlog, Backlog::new(0, None));
            (std::mem::take(&mut st.channels), backlog)
        };
        for ch in channels.values() {
            if let Err(e) = ch.delete() {
                error!(topic = %self.name, channel = %ch.name, error = %e, "channel delete failed");
            }
        }
        if let Err(e) = backlog.delete() {
            error!(topic = %self.name, error = %e, "topic delete failed");
        }
    }

    pub(crate) fn snapshot(&self, channel_filter: Option<&str>) -> TopicSnapshot {
        let (depth, backend_depth, paused, channels) = {
            let st = lock(&self.state);
            (
                st.backlog.depth() + st.pending_deferred.len() as u64,
                st.backlog.disk_depth(),
                st.paused,
                st.channels.values().cloned().collect::<Vec<_>>(),
            )
        };
        TopicSnapshot {
            name: self.name.clone(),
            depth,
            backend_depth,
            message_count: self.message_count.load(Ordering::Relaxed),
            message_bytes: self.message_bytes.load(Ordering::Relaxed),
            paused,
            channels: channels
                .iter()
                .filter(|c| channel_filter.is_none_or(|f| f == c.name))
                .map(|c| c.snapshot())
                .collect(),
        }
    }
}

fn fan_out(
    channels: &BTreeMap<String, Arc<Channel>>,
    runs: &[Packed],
) -> Result<(), DiskQueueError> {
    let mut result = Ok(());
    for ch in channels.values() {
        if let Err(e) = ch.put(runs) {
            error!(topic = %ch.topic_name, channel = %ch.name, error = %e, "channel put failed");
            result = Err(e);
        }
    }
    result
}

#[cfg(test)]
#[path = "topic_tests.rs"]
mod tests;
