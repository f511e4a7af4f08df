//! What other tasks may see of a TCP client: its identity (after IDENTIFY), counters kept
//! up to date by the connection task, and the two signals other tasks send it (`wake`:
//! messages or channel state changed; `kick`: close now). The connection task itself owns
//! the socket, the in-flight table (`inflight`, kept here behind a mutex) and everything
//! else (see `tcp::session`).

pub(crate) mod inflight;

use inflight::InFlight;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub(crate) const STATE_INIT: u8 = 0;
pub(crate) const STATE_SUBSCRIBED: u8 = 3;
pub(crate) const STATE_CLOSING: u8 = 4;

/// The other end of a client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Tcp(SocketAddr),
    /// A client on the unix socket listener.
    Unix,
}

impl Peer {
    /// The client's IP without port (`""` on a unix socket): the default client_id and
    /// hostname, and the auth query's `remote_ip`.
    pub(crate) fn ip(&self) -> String {
        match self {
            Peer::Tcp(a) => a.ip().to_string(),
            Peer::Unix => String::new(),
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix => f.write_str("@"),
        }
    }
}

/// Fields set by IDENTIFY (and TLS/compression negotiation), read by `/stats`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    pub(crate) client_id: String,
    pub(crate) hostname: String,
    pub(crate) user_agent: String,
    pub(crate) sample_rate: i32,
    pub(crate) deflate: bool,
    pub(crate) snappy: bool,
    pub(crate) tls: bool,
    pub(crate) tls_version: String,
    pub(crate) tls_cipher_suite: String,
    pub(crate) authed: bool,
    pub(crate) auth_identity: String,
    pub(crate) auth_identity_url: String,
}

#[derive(Debug)]
pub(crate) struct ClientShared {
    pub(crate) id: u64,
    pub(crate) remote_addr: Peer,
    /// Unix seconds.
    pub(crate) connect_ts: i64,
    pub(crate) wake: Notify,
    pub(crate) kick: CancellationToken,
    pub(crate) state: AtomicU8,
    pub(crate) ready_count: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) message_count: AtomicU64,
    pub(crate) finish_count: AtomicU64,
    pub(crate) requeue_count: AtomicU64,
    pub(crate) published: AtomicBool,
    /// Set by the connection task while a write to the client waits (it is not reading):
    /// no capacity then, so channels wake other consumers.
    pub(crate) stalled: AtomicBool,
    pub(crate) identity: Mutex<Identity>,
    /// Messages published per topic over this connection.
    pub(crate) pub_counts: Mutex<HashMap<String, u64>>,
    /// Messages sent to this client and not yet FINished, REQueued or timed out. Used by
    /// the connection task alone, except that a channel looks here to tell another
    /// client's FIN "client does not own message" from "ID not in flight".
    pub(crate) inflight: Mutex<InFlight>,
}

impl ClientShared {
    pub(crate) fn new(
        id: u64,
        remote_addr: Peer,
        connect_ts: i64,
        kick: CancellationToken,
    ) -> Self {
        let ip = remote_addr.ip();
        ClientShared {
            id,
            remote_addr,
            connect_ts,
            wake: Notify::new(),
            kick,
            state: AtomicU8::new(STATE_INIT),
            ready_count: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            message_count: AtomicU64::new(0),
            finish_count: AtomicU64::new(0),
            requeue_count: AtomicU64::new(0),
            published: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            identity: Mutex::new(Identity {
                client_id: ip.clone(),
                hostname: ip,
                ..Identity::default()
            }),
            pub_counts: Mutex::new(HashMap::new()),
            inflight: Mutex::new(InFlight::default()),
        }
    }

    /// How many more messages this client may have in flight right now.
    pub(crate) fn capacity(&self) -> u64 {
        if self.state.load(Ordering::Relaxed) != STATE_SUBSCRIBED
            || self.stalled.load(Ordering::Relaxed)
        {
            return 0;
        }
        let rdy = self.ready_count.load(Ordering::Relaxed);
        rdy.saturating_sub(self.in_flight.load(Ordering::Relaxed))
    }

    pub(crate) fn identity(&self) -> Identity {
        self.identity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn count_publish(&self, topic: &str, n: u64) {
        self.published.store(true, Ordering::Relaxed);
        let mut counts = self.pub_counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get_mut(topic) {
            Some(c) => *c += n,
            None => {
                counts.insert(topic.to_string(), n);
            }
        }
    }
}
