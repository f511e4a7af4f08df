//! go-nsq's `Consumer.IsStarved`: whether some connection has (nearly) all of its RDY
//! count in flight, so nsqd sends nothing more until messages are answered. Batching
//! handlers (nsq_to_file) flush then instead of waiting for their batch to fill.

use super::Consumer;
use std::sync::atomic::Ordering;

impl Consumer {
    /// True when a connection that is not closing has messages in flight numbering at
    /// least 85% of its last RDY count, as go-nsq computes it. Messages read but not yet
    /// taken by a handler do not count: go-nsq leaves them unread in the socket.
    pub fn is_starved(&self) -> bool {
        self.inner.conns().iter().any(|c| {
            let threshold = (c.last_rdy.load(Ordering::SeqCst) as f64 * 0.85) as i64;
            let in_flight = c.in_flight.load(Ordering::SeqCst) - c.queued.load(Ordering::SeqCst);
            in_flight >= threshold && in_flight > 0 && !c.closing.load(Ordering::SeqCst)
        })
    }
}
