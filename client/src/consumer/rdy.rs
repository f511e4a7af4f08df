//! The consumer's flow control, as go-nsq's consumer does it: max-in-flight divided over
//! the connections (`per_conn_max_in_flight`), never more RDY in total than
//! max-in-flight, RDY redistributed every `rdy_redistribute_interval` when connections
//! outnumber max-in-flight or during backoff (idle connections give theirs up, one RDY
//! each to others chosen at random), and exponential backoff: a failure sets every
//! connection to RDY 0 for `multiplier * 2^level`, then one random connection gets RDY 1
//! to test; successes step the level down and at zero every connection returns to its
//! full share.

use super::conn::{Cmd, ConnHandle};
use super::message::Outcome;
use super::{lock, Inner};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct FlowState {
    /// Backoff level (go-nsq's `backoffCounter`).
    level: u32,
    /// A backoff timer is running (go-nsq's `backoffDuration > 0`).
    in_timeout: bool,
    need_redistribute: bool,
    loop_started: bool,
    /// Retries of an RDY that could not be raised from 0, per connection.
    retries: HashMap<String, tokio::task::JoinHandle<()>>,
}

/// The RDY wait for a connection left at 0 before trying again (as go-nsq).
const RDY_RETRY: Duration = Duration::from_secs(5);

/// Starts the redistribution loop once.
pub(crate) fn start_loop(inner: &Arc<Inner>) {
    {
        let mut f = lock(&inner.flow);
        if f.loop_started {
            return;
        }
        f.loop_started = true;
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(inner.config.rdy_redistribute_interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => inner.redistribute_rdy(),
                _ = inner.cancel.cancelled() => return,
            }
        }
    });
}

impl Inner {
    fn in_backoff(&self) -> bool {
        lock(&self.flow).level > 0
    }

    fn in_backoff_timeout(&self) -> bool {
        lock(&self.flow).in_timeout
    }

    fn max_in_flight(&self) -> i64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// go-nsq's `perConnMaxInFlight`: an even share, at least 1, at most the total.
    fn per_conn_max_in_flight(&self) -> i64 {
        let b = self.max_in_flight();
        let n = lock(&self.conns).len().max(1) as i64;
        (b / n).max(1).min(b)
    }

    /// Sets `conn` to its share unless backing off.
    pub(crate) fn maybe_update_rdy(self: &Arc<Self>, conn: &Arc<ConnHandle>) {
        if self.in_backoff() || self.in_backoff_timeout() {
            return;
        }
        let count = self.per_conn_max_in_flight();
        self.update_rdy(conn, count);
    }

    /// Sets `conn`'s RDY to `count`, bounded by nsqd's max and by what max-in-flight
    /// leaves; a raise from 0 that does not fit is retried later.
    fn update_rdy(self: &Arc<Self>, conn: &Arc<ConnHandle>, count: i64) -> bool {
        if conn.closing.load(Ordering::SeqCst) || self.is_stopping() {
            return false;
        }
        let mut count = count.min(conn.max_rdy);
        if let Some(t) = lock(&self.flow).retries.remove(&conn.addr) {
            t.abort();
        }
        let rdy = conn.rdy();
        let possible = self.max_in_flight() - self.total_rdy.load(Ordering::SeqCst) + rdy;
        if possible > 0 && possible < count {
            count = possible;
        }
        if possible <= 0 && count > 0 {
            if rdy == 0 {
                // Could not leave RDY 0: try again later, so this connection is not
                // starved forever (any other update of it cancels the retry).
                let (inner, c) = (Arc::clone(self), Arc::clone(conn));
                let retry = tokio::spawn(async move {
                    tokio::time::sleep(RDY_RETRY).await;
                    lock(&inner.flow).retries.remove(&c.addr);
                    inner.update_rdy(&c, count);
                });
                lock(&self.flow).retries.insert(conn.addr.clone(), retry);
            }
            return false;
        }
        self.send_rdy(conn, count);
        true
    }

    fn send_rdy(&self, conn: &ConnHandle, count: i64) {
        let last = conn.last_rdy.load(Ordering::SeqCst);
        if count == 0 && last == 0 {
            return;
        }
        let old = conn.rdy.swap(count, Ordering::SeqCst);
        self.total_rdy.fetch_add(count - old, Ordering::SeqCst);
        *conn.last_rdy_time.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        if count == last {
            return;
        }
        conn.last_rdy.store(count, Ordering::SeqCst);
        tracing::debug!(addr = %conn.addr, "RDY {count}");
        conn.send(Cmd::Rdy(count));
    }

    /// go-nsq's `startStopContinueBackoff` after a FIN or REQ.
    pub(crate) fn backoff_signal(self: &Arc<Self>, outcome: Outcome) {
        if self.config.max_backoff_duration.is_zero() {
            return;
        }
        let mut f = lock(&self.flow);
        if f.in_timeout {
            return;
        }
        let mut updated = false;
        match outcome {
            Outcome::Finished => {
                if f.level > 0 {
                    f.level -= 1;
                    updated = true;
                }
            }
            Outcome::RequeuedBackoff => {
                if self.config.backoff_duration(f.level + 1) <= self.config.max_backoff_duration {
                    f.level += 1;
                    updated = true;
                }
            }
            Outcome::RequeuedContinue => {}
        }
        if f.level == 0 && updated {
            drop(f);
            let count = self.per_conn_max_in_flight();
            tracing::warn!("exiting backoff, returning all to RDY {count}");
            for c in self.conns() {
                self.update_rdy(&c, count);
            }
        } else if f.level > 0 {
            let d = self
                .config
                .backoff_duration(f.level)
                .min(self.config.max_backoff_duration);
            tracing::warn!(
                "backing off for {d:?} (backoff level {}), setting all to RDY 0",
                f.level
            );
            f.in_timeout = true;
            drop(f);
            for c in self.conns() {
                self.update_rdy(&c, 0);
            }
            self.backoff_for(d);
        }
    }

    fn backoff_for(self: &Arc<Self>, d: Duration) {
        lock(&self.flow).in_timeout = true;
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(d) => inner.resume(),
                _ = inner.cancel.cancelled() => {}
            }
        });
    }

    /// The backoff timer expired: RDY 1 on one random connection to test the waters.
    fn resume(self: &Arc<Self>) {
        if self.is_stopping() {
            lock(&self.flow).in_timeout = false;
            return;
        }
        let conns = self.conns();
        if conns.is_empty() {
            tracing::warn!("no connection available to resume; backing off for 1s");
            self.backoff_for(Duration::from_secs(1));
            return;
        }
        let choice = &conns[self.random(conns.len())];
        tracing::warn!(addr = %choice.addr, "backoff timeout expired, sending RDY 1");
        // While in backoff only ever let one message at a time through.
        lock(&self.flow).in_timeout = false;
        if !self.update_rdy(choice, 1) && choice.rdy() == 0 {
            tracing::warn!(addr = %choice.addr, "error resuming RDY 1; backing off for 1s");
            self.backoff_for(Duration::from_secs(1));
        }
    }

    /// go-nsq's `redistributeRDY`.
    fn redistribute_rdy(self: &Arc<Self>) {
        if self.in_backoff_timeout() || self.is_stopping() {
            return;
        }
        let conns = self.conns();
        if conns.is_empty() {
            return;
        }
        let max = self.max_in_flight();
        let backoff = self.in_backoff();
        {
            let mut f = lock(&self.flow);
            if conns.len() as i64 > max || (backoff && conns.len() > 1) {
                f.need_redistribute = true;
            }
            if !std::mem::take(&mut f.need_redistribute) {
                return;
            }
        }
        let now = Instant::now();
        let mut possible = Vec::with_capacity(conns.len());
        for c in conns {
            if c.rdy() > 0 {
                if now.duration_since(c.last_message()) > self.config.low_rdy_idle_timeout {
                    tracing::debug!(addr = %c.addr, "idle connection, giving up RDY");
                    self.update_rdy(&c, 0);
                } else if now.duration_since(c.last_rdy_change()) > self.config.low_rdy_timeout {
                    tracing::debug!(addr = %c.addr, "RDY timeout, giving up RDY");
                    self.update_rdy(&c, 0);
                }
            }
            possible.push(c);
        }
        let total = self.total_rdy.load(Ordering::SeqCst);
        let mut available = if backoff { 1 - total } else { max - total };
        while !possible.is_empty() && available > 0 {
            available -= 1;
            let c = possible.swap_remove(self.random(possible.len()));
            tracing::debug!(addr = %c.addr, "redistributing RDY");
            self.update_rdy(&c, 1);
        }
    }
}
