//! The consumer: one topic/channel subscribed on many nsqd (given directly or found
//! through nsqlookupd), messages handed to a pool of handler tasks, each answered FIN on
//! `Ok` and REQ on `Err` unless the handler answers itself, and a clean stop. Flow
//! control (RDY, backoff) is in `rdy.rs`, discovery in `lookup.rs`, one connection's
//! tasks in `conn.rs`.

mod conn;
mod handler;
mod lookup;
mod message;
mod rdy;
mod starved;

pub use handler::{Handler, HandlerError};
pub use message::Message;

use crate::config::Config;
use crate::error::{Error, Result};
use conn::{Cmd, ConnHandle};
use rdy::FlowState;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Subscribes to one topic and channel. Cheap to clone (clones are the same consumer).
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Inner>,
}

/// Counters since the consumer was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub messages_received: u64,
    pub messages_finished: u64,
    pub messages_requeued: u64,
    pub connections: usize,
}

pub(crate) struct Inner {
    pub(crate) topic: String,
    pub(crate) channel: String,
    pub(crate) config: Config,
    conns: Mutex<HashMap<String, Arc<ConnHandle>>>,
    /// Connections being opened (not yet in `conns`).
    connecting: Mutex<HashSet<String>>,
    /// Addresses given to `connect_to_nsqd`: reconnected when lost.
    direct: Mutex<HashSet<String>>,
    lookupds: Mutex<Vec<String>>,
    lookupd_next: AtomicU64,
    lookupd_recheck: Notify,
    flow: Mutex<FlowState>,
    max_in_flight: AtomicI64,
    total_rdy: AtomicI64,
    received: AtomicU64,
    finished: AtomicU64,
    requeued: AtomicU64,
    incoming: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    has_handler: AtomicBool,
    stopping: AtomicBool,
    /// Cancels every task of the consumer (and, through child tokens, every connection).
    cancel: CancellationToken,
    /// Set when every connection is closed after `stop`.
    all_closed: Notify,
    rng: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Consumer {
    /// A consumer of `topic`/`channel` (names checked as nsqd checks them). Add a handler,
    /// then connect.
    pub fn new(topic: &str, channel: &str, config: Config) -> Result<Consumer> {
        if !protocol::names::is_valid(topic.as_bytes()) {
            return Err(Error::Invalid(format!("topic name {topic:?}")));
        }
        if !protocol::names::is_valid(channel.as_bytes()) {
            return Err(Error::Invalid(format!("channel name {channel:?}")));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Ok(Consumer {
            inner: Arc::new(Inner {
                topic: topic.to_string(),
                channel: channel.to_string(),
                max_in_flight: AtomicI64::new(
                    i64::try_from(config.max_in_flight).unwrap_or(i64::MAX),
                ),
                config,
                conns: Mutex::default(),
                connecting: Mutex::default(),
                direct: Mutex::default(),
                lookupds: Mutex::default(),
                lookupd_next: AtomicU64::new(0),
                lookupd_recheck: Notify::new(),
                flow: Mutex::default(),
                total_rdy: AtomicI64::new(0),
                received: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                requeued: AtomicU64::new(0),
                incoming: Mutex::new(Some(tx)),
                queue: Arc::new(tokio::sync::Mutex::new(rx)),
                workers: Mutex::default(),
                has_handler: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                cancel: CancellationToken::new(),
                all_closed: Notify::new(),
                rng: Mutex::new(seed),
            }),
        })
    }

    /// Runs `handler` on `concurrency` tasks (at least one). Call before connecting;
    /// more handlers may be added (they share the messages).
    pub fn add_handler<H: Handler>(&self, handler: H, concurrency: usize) {
        let handler = Arc::new(handler);
        self.inner.has_handler.store(true, Ordering::SeqCst);
        let mut workers = lock(&self.inner.workers);
        for _ in 0..concurrency.max(1) {
            let (inner, handler) = (Arc::clone(&self.inner), Arc::clone(&handler));
            workers.push(tokio::spawn(handler::worker(inner, handler)));
        }
    }

    /// Subscribes on the nsqd at `addr` (its TCP address); reconnected (every
    /// `lookupd_poll_interval`) if the connection is lost.
    pub async fn connect_to_nsqd(&self, addr: &str) -> Result<()> {
        lock(&self.inner.direct).insert(addr.to_string());
        self.inner.connect(addr).await
    }

    /// Discovers the topic's nsqd through the nsqlookupd at `addr` (its HTTP address,
    /// `host:port` or a URL): queried now, then every `lookupd_poll_interval`, one
    /// nsqlookupd per poll in turn, as go-nsq does.
    pub async fn connect_to_nsqlookupd(&self, addr: &str) -> Result<()> {
        lookup::add(&self.inner, addr).await
    }

    /// Sets max-in-flight and spreads it over the connections again.
    pub fn change_max_in_flight(&self, max_in_flight: u64) {
        self.inner.max_in_flight.store(
            i64::try_from(max_in_flight).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
        for c in self.inner.conns() {
            self.inner.maybe_update_rdy(&c);
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            messages_received: self.inner.received.load(Ordering::SeqCst),
            messages_finished: self.inner.finished.load(Ordering::SeqCst),
            messages_requeued: self.inner.requeued.load(Ordering::SeqCst),
            connections: lock(&self.inner.conns).len(),
        }
    }

    /// Stops cleanly: every connection gets RDY 0 and CLS (nsqd then sends nothing
    /// more), the messages already delivered are handled and answered, each connection
    /// is closed once it has none in flight (after nsqd has read every answer), and the
    /// handler tasks end. A consumer dropped without `stop` keeps running. After
    /// `config.stop_timeout` the connections are closed anyway (nsqd requeues what is
    /// still in flight). Returns when all of that is done.
    pub async fn stop(&self) {
        let inner = &self.inner;
        if !inner.stopping.swap(true, Ordering::SeqCst) {
            tracing::info!(topic = %inner.topic, channel = %inner.channel, "consumer stopping");
            for c in inner.conns() {
                c.closing.store(true, Ordering::SeqCst);
                c.send(Cmd::Rdy(0));
                c.send(Cmd::Cls);
            }
        }
        let closed = async {
            loop {
                let wait = inner.all_closed.notified();
                if lock(&inner.conns).is_empty() && lock(&inner.connecting).is_empty() {
                    return;
                }
                wait.await;
            }
        };
        if tokio::time::timeout(inner.config.stop_timeout, closed)
            .await
            .is_err()
        {
            tracing::warn!("consumer stop timed out: closing connections with messages in flight");
        }
        inner.cancel.cancel();
        // No connection left to deliver: the handlers finish what is queued and end.
        lock(&inner.incoming).take();
        let workers = std::mem::take(&mut *lock(&inner.workers));
        for w in workers {
            let _ = w.await;
        }
    }
}

impl Inner {
    pub(crate) fn conns(&self) -> Vec<Arc<ConnHandle>> {
        lock(&self.conns).values().cloned().collect()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn random(&self, n: usize) -> usize {
        let mut s = lock(&self.rng);
        // xorshift64
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        (*s % (n.max(1) as u64)) as usize
    }

    pub(crate) fn random_unit(&self) -> f64 {
        self.random(1 << 30) as f64 / f64::from(1u32 << 30)
    }

    /// Opens a connection to `addr` unless one is open or being opened.
    async fn connect(self: &Arc<Self>, addr: &str) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        if !self.has_handler.load(Ordering::SeqCst) {
            return Err(Error::Invalid("no handler added".into()));
        }
        if lock(&self.conns).contains_key(addr) || !lock(&self.connecting).insert(addr.to_string())
        {
            return Err(Error::AlreadyConnected(addr.to_string()));
        }
        let opened = conn::open(self, addr).await;
        lock(&self.connecting).remove(addr);
        let handle = match opened {
            Ok(h) => h,
            Err(e) => {
                self.all_closed.notify_waiters();
                return Err(e);
            }
        };
        if self.is_stopping() {
            handle.closing.store(true, Ordering::SeqCst);
            handle.send(Cmd::Close);
            self.all_closed.notify_waiters();
            return Err(Error::Stopped);
        }
        tracing::info!(%addr, topic = %self.topic, channel = %self.channel, "consumer connected");
        lock(&self.conns).insert(addr.to_string(), Arc::clone(&handle));
        rdy::start_loop(self);
        // Every connection's share changes: the new one gets its share, the others
        // lower theirs (go-nsq's pre-emptive update).
        for c in self.conns() {
            self.maybe_update_rdy(&c);
        }
        Ok(())
    }

    /// A message from a connection: to the handlers.
    fn deliver(&self, msg: Message) {
        self.received.fetch_add(1, Ordering::SeqCst);
        if let Some(tx) = lock(&self.incoming).as_ref() {
            let _ = tx.send(msg);
        }
    }

    /// After FIN or REQ: the count in flight, the counters, the backoff signal, and a
    /// stopping connection closed once it has nothing in flight.
    fn on_response(self: &Arc<Self>, conn: &Arc<ConnHandle>, outcome: message::Outcome) {
        conn.in_flight.fetch_sub(1, Ordering::SeqCst);
        match outcome {
            message::Outcome::Finished => self.finished.fetch_add(1, Ordering::SeqCst),
            _ => self.requeued.fetch_add(1, Ordering::SeqCst),
        };
        self.backoff_signal(outcome);
        self.maybe_close(conn);
    }

    /// Closes `conn` if nsqd acknowledged CLS and nothing is in flight on it.
    fn maybe_close(&self, conn: &Arc<ConnHandle>) {
        if conn.close_acked.load(Ordering::SeqCst) && conn.in_flight.load(Ordering::SeqCst) <= 0 {
            conn.send(Cmd::Close);
        }
    }

    /// A connection ended: forget it, give its RDY back, and find a replacement.
    fn on_conn_closed(self: &Arc<Self>, conn: &Arc<ConnHandle>, err: Option<Error>) {
        let removed = {
            let mut conns = lock(&self.conns);
            match conns.get(&conn.addr) {
                Some(c) if Arc::ptr_eq(c, conn) => conns.remove(&conn.addr).is_some(),
                _ => false,
            }
        };
        if removed {
            self.total_rdy.fetch_sub(conn.rdy(), Ordering::SeqCst);
        }
        match &err {
            Some(e) if !self.is_stopping() => {
                tracing::warn!(addr = %conn.addr, "consumer connection lost: {e}")
            }
            _ => tracing::info!(addr = %conn.addr, "consumer connection closed"),
        }
        self.all_closed.notify_waiters();
        if self.is_stopping() {
            return;
        }
        // The remaining connections take over its share.
        for c in self.conns() {
            self.maybe_update_rdy(&c);
        }
        if !lock(&self.lookupds).is_empty() {
            self.lookupd_recheck.notify_one();
        } else if lock(&self.direct).contains(&conn.addr) {
            tokio::spawn(reconnect(Arc::clone(self), conn.addr.clone()));
        }
    }
}

/// go-nsq's reconnect for a directly given nsqd: every poll interval until it works.
async fn reconnect(inner: Arc<Inner>, addr: String) {
    loop {
        tracing::info!(%addr, "re-connecting in {:?}", inner.config.lookupd_poll_interval);
        tokio::select! {
            _ = tokio::time::sleep(inner.config.lookupd_poll_interval) => {}
            _ = inner.cancel.cancelled() => return,
        }
        if inner.is_stopping() {
            return;
        }
        match inner.connect(&addr).await {
            Ok(()) | Err(Error::AlreadyConnected(_)) | Err(Error::Stopped) => return,
            Err(e) => tracing::warn!(%addr, "error connecting to nsqd: {e}"),
        }
    }
}
