//! The message flow of a subscribed session: delivery within RDY, FIN, REQ, TOUCH, the
//! in-flight deadlines, and the channel's epoch (after an empty, what was delivered
//! before is forgotten). This is the hot path that bench/RESULTS.md measures.

use crate::channel::Channel;
use crate::client::ClientShared;
use crate::tcp::session::{Exit, Session, Subscription};
use protocol::{frame, ErrorCode, Message, ProtocolError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::warn;

/// How many messages one delivery round takes from the channel at most.
const DELIVERY_BATCH: u64 = 256;
/// How many bytes of message frames one delivery round takes at most, judged by the
/// largest frame of the round before. Go nsqd v1.3.0 writes one message at a time into
/// a small buffer, so a client that stops reading holds little more than its socket
/// buffers; a whole round of large messages (256 of 1 MiB) copied into the output
/// buffer of such a client would hold far more.
pub(crate) const ROUND_BYTES: usize = 256 * 1024;

impl Session {
    /// Deliver as many messages as RDY allows and the channel has, flushing whenever the
    /// output buffer passes its size.
    pub(in crate::tcp) async fn deliver(&mut self) -> Result<(), Exit> {
        loop {
            let Some(sub) = &self.sub else { return Ok(()) };
            let capacity = self.client.capacity();
            if capacity == 0 {
                return Ok(());
            }
            let channel = Arc::clone(&sub.channel);
            self.take_buf.clear();
            let by_size = (ROUND_BYTES / self.frame_bytes.max(1)).max(1) as u64;
            let want = capacity.min(DELIVERY_BATCH).min(by_size) as usize;
            let epoch = channel.take(want, &mut self.take_buf, &mut self.over_buf);
            if self.take_buf.is_empty() && self.over_buf.is_empty() {
                return Ok(());
            }
            if !self.over_buf.is_empty() {
                // Beyond Go (off by default): past the channel's limits. If the dead-letter
                // topic refused them (shutting down) they are back in the channel, and
                // this round stops after delivering what was taken.
                let settled = self.settle_overdue(&channel);
                if self.take_buf.is_empty() {
                    if settled {
                        continue;
                    }
                    return Ok(());
                }
            }
            if epoch != self.epoch {
                self.check_epoch();
            }
            let now = Instant::now();
            let mut sent = 0u64;
            let mut dropped = 0u64;
            let mut largest = 0usize;
            let mut sampled_out = Vec::new();
            let msgs = std::mem::take(&mut self.take_buf);
            {
                let mut table = crate::lock(&self.client.inflight);
                for mut msg in msgs.into_iter() {
                    let rate = self.settings.sample_rate;
                    if rate > 0 && next_percent(&mut self.rng) > rate {
                        dropped += 1;
                        sampled_out.push(msg.id);
                        continue;
                    }
                    msg.attempts = msg.attempts.wrapping_add(1);
                    let start = self.conn.out.len();
                    frame::put_message(&mut self.conn.out, &msg);
                    largest = largest.max(self.conn.out.len() - start);
                    if table
                        .insert(msg, now, self.settings.msg_timeout, epoch)
                        .is_err()
                    {
                        // An ID can be in flight once; never send a second copy.
                        self.conn.out.truncate(start);
                        warn!(
                            client = self.client.id,
                            "duplicate message ID in flight, dropped"
                        );
                        dropped += 1;
                        continue;
                    }
                    sent += 1;
                }
            }
            if largest > 0 {
                self.frame_bytes = largest;
            }
            if dropped > 0 {
                channel.in_flight_done(epoch, dropped);
                // Sampled out counts as done (as in Go): its disk record is released.
                for id in &sampled_out {
                    channel.finished(id);
                }
            }
            self.client.in_flight.fetch_add(sent, Ordering::Relaxed);
            self.client.message_count.fetch_add(sent, Ordering::Relaxed);
            if self.conn.out.len() >= self.settings.output_buffer_size {
                self.flush().await?;
            }
        }
    }

    /// Dead-letter or drop what the last take found past the channel's limits. False when
    /// the dead-letter topic refused them (they went back to the channel).
    fn settle_overdue(&mut self, channel: &Arc<Channel>) -> bool {
        let over = std::mem::take(&mut self.over_buf);
        // Dead-lettered, dropped or put back: their disk records are released after.
        let ids: Vec<protocol::MessageId> = over.iter().map(|o| o.msg.id).collect();
        let release = |channel: &Channel| ids.iter().for_each(|id| channel.finished(id));
        let expired = over.iter().filter(|o| o.expired).count() as u64;
        let dead: Vec<Message> = over.into_iter().filter(|o| o.dead).map(|o| o.msg).collect();
        if !dead.is_empty() {
            if let Err(e) = self.ctx.dead_letter(&channel.topic_name, &dead) {
                warn!(topic = %channel.topic_name, channel = %channel.name, error = %e, "dead-letter failed, messages requeued");
                channel.put_back(&dead);
                release(channel);
                return false;
            }
        }
        channel.overdue_done(dead.len() as u64, expired);
        release(channel);
        true
    }

    pub(in crate::tcp) fn finish(&mut self, id: protocol::MessageId) -> Result<(), ProtocolError> {
        let Some(sub) = &self.sub else {
            return Err(fin_failed("FIN", &id, "ID not in flight"));
        };
        let removed = self.table().remove(&id);
        match removed {
            Some(entry) if entry.epoch == sub.channel.epoch() => {
                if sub.channel.holds_any() {
                    self.fin_held.push(id);
                }
                if let Some(e2e) = &sub.channel.e2e {
                    let ns = daemon::clock::unix_nanos().saturating_sub(entry.msg.timestamp);
                    e2e.record(ns.max(0) as u64);
                }
                if self.fin_tally.1 > 0 && self.fin_tally.0 != entry.epoch {
                    self.apply_fins();
                }
                self.fin_tally = (entry.epoch, self.fin_tally.1 + 1);
                Ok(())
            }
            _ => Err(fin_failed("FIN", &id, self.miss_reason(&id))),
        }
    }

    /// Apply the FINs counted since the last call to the channel's and client's counters.
    pub(in crate::tcp) fn apply_fins(&mut self) {
        if !self.fin_held.is_empty() {
            if let Some(sub) = &self.sub {
                sub.channel.finished_all(&self.fin_held);
            }
            self.fin_held.clear();
        }
        let (epoch, n) = std::mem::take(&mut self.fin_tally);
        if n == 0 {
            return;
        }
        if let Some(sub) = &self.sub {
            sub.channel.in_flight_done(epoch, n);
        }
        self.client.in_flight.fetch_sub(n, Ordering::Relaxed);
        self.client.finish_count.fetch_add(n, Ordering::Relaxed);
    }

    pub(in crate::tcp) fn requeue(
        &mut self,
        id: protocol::MessageId,
        timeout_ms: u64,
    ) -> Result<(), ProtocolError> {
        let Some(sub) = &self.sub else {
            return Err(fin_failed("REQ", &id, "ID not in flight"));
        };
        let removed = self.table().remove(&id);
        let entry = match removed {
            Some(e) if e.epoch == sub.channel.epoch() => e,
            _ => return Err(fin_failed("REQ", &id, self.miss_reason(&id))),
        };
        self.client.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.client.requeue_count.fetch_add(1, Ordering::Relaxed);
        if sub.channel.limits.attempts_exhausted(entry.msg.attempts) {
            // Beyond Go (--max-attempts): into the dead-letter topic's queue first, then
            // out of this channel; if that fails it is requeued as usual.
            match self
                .ctx
                .dead_letter(&sub.channel.topic_name, std::slice::from_ref(&entry.msg))
            {
                Ok(()) => {
                    sub.channel.dead_lettered_in_flight(entry.epoch);
                    sub.channel.finished(&id);
                    return Ok(());
                }
                Err(e) => {
                    warn!(topic = %sub.channel.topic_name, error = %e, "dead-letter failed, message requeued");
                }
            }
        }
        sub.channel
            .requeue(
                entry.msg,
                entry.epoch,
                Duration::from_millis(timeout_ms),
                Instant::now(),
            )
            .map_err(|e| fin_failed("REQ", &id, &e.to_string()))
    }

    pub(in crate::tcp) fn touch(&mut self, id: protocol::MessageId) -> Result<(), ProtocolError> {
        let now = Instant::now();
        let touched = self.table().touch(
            &id,
            now,
            self.settings.msg_timeout,
            self.ctx.max_msg_timeout,
        );
        if touched {
            Ok(())
        } else {
            Err(fin_failed("TOUCH", &id, self.miss_reason(&id)))
        }
    }

    /// After the channel was emptied, forget what was delivered before.
    pub(in crate::tcp) fn check_epoch(&mut self) {
        self.apply_fins();
        let Some(sub) = &self.sub else { return };
        let current = sub.channel.epoch();
        if current != self.epoch {
            self.epoch = current;
            let left = {
                let mut table = self.table();
                table.purge_epoch(current);
                table.len()
            };
            self.client.in_flight.store(left as u64, Ordering::Relaxed);
        }
    }

    pub(in crate::tcp) fn expire_in_flight(&mut self) {
        expire_in_flight(self.sub.as_ref(), &self.client, self.epoch, Instant::now());
    }

    /// This client's in-flight table. The lock is uncontended except when another client's
    /// FIN misses and the channel looks here; never call into a channel while holding it.
    pub(in crate::tcp) fn table(
        &self,
    ) -> std::sync::MutexGuard<'_, crate::client::inflight::InFlight> {
        crate::lock(&self.client.inflight)
    }

    /// Why FIN/REQ/TOUCH found no such message here: held by another client of the
    /// channel (or by one that went away), or not in flight at all.
    pub(in crate::tcp) fn miss_reason(&self, id: &protocol::MessageId) -> &'static str {
        match &self.sub {
            Some(sub) if sub.channel.in_flight_elsewhere(id, self.client.id) => {
                "client does not own message"
            }
            _ => "ID not in flight",
        }
    }
}

/// Requeue `client`'s in-flight messages whose deadline is at or before `now` (counted as
/// timeouts) and return its next deadline. A free function over the session's parts so
/// that it can run while the session's connection is borrowed by a waiting write.
pub(in crate::tcp) fn expire_in_flight(
    sub: Option<&Subscription>,
    client: &ClientShared,
    epoch: u64,
    now: Instant,
) -> Option<Instant> {
    let sub = sub?;
    let (expired, next) = {
        let mut table = crate::lock(&client.inflight);
        let expired = table.expire(now);
        (expired, table.next_deadline())
    };
    if expired.is_empty() {
        return next;
    }
    client
        .in_flight
        .fetch_sub(expired.len() as u64, Ordering::Relaxed);
    let msgs: Vec<Message> = expired
        .into_iter()
        .filter(|e| e.epoch == epoch)
        .map(|e| e.msg)
        .collect();
    sub.channel.timed_out(&msgs, epoch);
    next
}

/// Uniform 0..=99 for sampling (xorshift; quality is plenty for a percentage).
fn next_percent(rng: &mut u64) -> u8 {
    let mut x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    (x % 100) as u8
}

fn fin_failed(cmd: &str, id: &protocol::MessageId, reason: &str) -> ProtocolError {
    let code = match cmd {
        "FIN" => ErrorCode::FinFailed,
        "REQ" => ErrorCode::ReqFailed,
        _ => ErrorCode::TouchFailed,
    };
    ProtocolError::new(code, format!("{cmd} {id} failed {reason}"))
}
