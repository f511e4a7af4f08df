//! A message as the consumer hands it to a handler, with its way back to the nsqd it came
//! from: FIN, REQ (with or without backoff) and TOUCH, each response sent at most once,
//! and the switch that stops the consumer from responding on the handler's behalf.

use super::conn::{Cmd, ConnHandle};
use super::Inner;
use bytes::Bytes;
use protocol::MessageId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One delivery. Cloning is cheap and clones share the response state, so a handler may
/// keep a clone (to finish it later, after
/// [`disable_auto_response`](Message::disable_auto_response)).
#[derive(Clone)]
pub struct Message {
    /// nsqd's message ID (16 hex digits).
    pub id: MessageId,
    /// Publish time, nanoseconds since the Unix epoch.
    pub timestamp: i64,
    /// Deliveries so far, this one included.
    pub attempts: u16,
    pub body: Bytes,
    state: Arc<State>,
}

struct State {
    conn: Arc<ConnHandle>,
    inner: Arc<Inner>,
    responded: AtomicBool,
    auto_response: AtomicBool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("attempts", &self.attempts)
            .field("body_len", &self.body.len())
            .field("nsqd", &self.state.conn.addr)
            .finish()
    }
}

/// What a response does to the consumer's backoff state (go-nsq's signals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// FIN: one step out of backoff.
    Finished,
    /// REQ counting as a failure: one step into backoff.
    RequeuedBackoff,
    /// REQ that leaves the backoff state as it is.
    RequeuedContinue,
}

impl Message {
    pub(crate) fn new(m: protocol::Message, conn: Arc<ConnHandle>, inner: Arc<Inner>) -> Message {
        Message {
            id: m.id,
            timestamp: m.timestamp,
            attempts: m.attempts,
            body: m.body,
            state: Arc::new(State {
                conn,
                inner,
                responded: AtomicBool::new(false),
                auto_response: AtomicBool::new(true),
            }),
        }
    }

    /// A handler took it from the consumer's queue.
    pub(crate) fn taken(&self) {
        self.state.conn.queued.fetch_sub(1, Ordering::SeqCst);
    }

    /// The nsqd (`host:port`) that delivered this message.
    pub fn nsqd_address(&self) -> &str {
        &self.state.conn.addr
    }

    /// The consumer will not FIN or REQ this message when the handler returns: the
    /// handler (or whoever holds a clone) must.
    pub fn disable_auto_response(&self) {
        self.state.auto_response.store(false, Ordering::SeqCst);
    }

    pub fn is_auto_response_disabled(&self) -> bool {
        !self.state.auto_response.load(Ordering::SeqCst)
    }

    /// Whether FIN or REQ was sent already.
    pub fn has_responded(&self) -> bool {
        self.state.responded.load(Ordering::SeqCst)
    }

    /// FIN: done with it. Only the first FIN or REQ of a message is sent.
    pub fn finish(&self) {
        self.respond(Cmd::Fin(self.id), Outcome::Finished);
    }

    /// REQ after `delay`, counting as a failure (backoff). `None`: go-nsq's default, the
    /// configured requeue delay times the attempts, capped by the maximum.
    pub fn requeue(&self, delay: Option<Duration>) {
        let delay = delay.unwrap_or_else(|| self.default_delay());
        self.respond(Cmd::Req(self.id, delay), Outcome::RequeuedBackoff);
    }

    /// REQ after `delay` without entering backoff.
    pub fn requeue_without_backoff(&self, delay: Option<Duration>) {
        let delay = delay.unwrap_or_else(|| self.default_delay());
        self.respond(Cmd::Req(self.id, delay), Outcome::RequeuedContinue);
    }

    /// TOUCH: reset nsqd's timeout for this message (not a response).
    pub fn touch(&self) {
        if !self.has_responded() {
            self.state.conn.send(Cmd::Touch(self.id));
        }
    }

    fn default_delay(&self) -> Duration {
        let c = &self.state.inner.config;
        c.default_requeue_delay
            .checked_mul(u32::from(self.attempts))
            .unwrap_or(Duration::MAX)
            .min(c.max_requeue_delay)
    }

    fn respond(&self, cmd: Cmd, outcome: Outcome) {
        if self.state.responded.swap(true, Ordering::SeqCst) {
            return;
        }
        self.state.conn.send(cmd);
        self.state.inner.on_response(&self.state.conn, outcome);
    }
}
