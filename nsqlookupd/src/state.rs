//! The daemon's shared state ([`Lookupd`]: config, bound addresses, the registry behind its
//! lock, shutdown token, connection tracker) and the registry's clock. The TCP sessions
//! (`tcp.rs`) and the HTTP API (`http/`) each take an `Arc<Lookupd>`; neither knows the
//! other, nor `server.rs`, which starts them.

use crate::config::{self, Config};
use crate::registry::{Lifetimes, Registry};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub(crate) struct Lookupd {
    pub(crate) config: Config,
    pub(crate) tcp_addr: SocketAddr,
    pub(crate) http_addr: SocketAddr,
    /// The OS hostname, read once (IDENTIFY replies carry it).
    pub(crate) hostname: String,
    /// One lock for the whole registry: every operation is a short, non-blocking map
    /// update or scan, and a few hundred nsqd nodes at most touch it.
    registry: Mutex<Registry>,
    pub(crate) shutdown: CancellationToken,
    /// Every TCP session, so shutdown can wait for their clean-up.
    pub(crate) tracker: TaskTracker,
    /// When the daemon started (`/metrics`' uptime).
    pub(crate) started: std::time::Instant,
}

impl Lookupd {
    pub(crate) fn new(
        config: Config,
        tcp_addr: SocketAddr,
        http_addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> Lookupd {
        let registry = Registry::new(Lifetimes {
            inactive_producer_timeout: config.inactive_producer_timeout,
            tombstone_lifetime: config.tombstone_lifetime,
        });
        Lookupd {
            config,
            tcp_addr,
            http_addr,
            hostname: config::hostname(),
            registry: Mutex::new(registry),
            shutdown,
            tracker: TaskTracker::new(),
            started: std::time::Instant::now(),
        }
    }

    /// The registry, locked. Never hold the guard across an `.await`. A poisoned lock is
    /// taken anyway: every registry method leaves the maps consistent between statements.
    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}
