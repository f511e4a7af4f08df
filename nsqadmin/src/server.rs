//! The shared state of a running nsqadmin: the configuration (two options can change at
//! run time through `PUT /config/:opt`, as in Go), the cluster queries, the history ring,
//! the notification queue and the shutdown token.

use crate::config::{Cidr, Config};
use crate::history::History;
use crate::notify::Notification;
use cluster::ClusterInfo;
use std::sync::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct Admin {
    config: RwLock<Config>,
    pub ci: ClusterInfo,
    pub history: Mutex<History>,
    pub cidr: Option<Cidr>,
    pub notifications: mpsc::UnboundedSender<Notification>,
    pub shutdown: CancellationToken,
    /// `via` of notifications: this host's name.
    pub hostname: String,
}

impl Admin {
    pub fn new(
        config: Config,
        ci: ClusterInfo,
        notifications: mpsc::UnboundedSender<Notification>,
        shutdown: CancellationToken,
    ) -> Admin {
        let cidr = Cidr::parse(&config.allow_config_from_cidr).ok();
        let history = History::new(config.history_interval.as_secs());
        Admin {
            config: RwLock::new(config),
            ci,
            history: Mutex::new(history),
            cidr,
            notifications,
            shutdown,
            hostname: daemon::hostname(),
        }
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> Config {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies `change` to the configuration (Go's `swapOpts`).
    pub fn update(&self, change: impl FnOnce(&mut Config)) {
        match self.config.write() {
            Ok(mut c) => change(&mut c),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }

    /// The lookupd and nsqd lists (one of them empty).
    pub fn upstreams(&self) -> (Vec<String>, Vec<String>) {
        let c = self.config();
        (c.nsqlookupd_http_addresses, c.nsqd_http_addresses)
    }

    /// `base_path` ending with `/`, as the pages' links use it.
    pub fn base_slash(&self) -> String {
        let base = self.config().base_path;
        if base.ends_with('/') {
            base
        } else {
            format!("{base}/")
        }
    }
}
