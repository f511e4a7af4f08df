//! The broker's shared state: the topic map, connected clients, health, and the metadata
//! that ties them to `nsqd.dat`. Everything a connection or HTTP handler needs hangs off
//! one `Arc<Nsqd>`.
//!
//! Locks: `topics` (RwLock) is held only to look up, insert or remove a topic; the topic
//! and channel locks are never taken while holding it for longer than a clone.

use crate::background::Background;
use crate::channel::Channel;
use crate::client::ClientShared;
use crate::config::Config;
use crate::listener::Bound;
use crate::lock;
use crate::lookup::{self, Control, Event};
use crate::metadata::{self, ChannelMeta, Metadata, MetadataError, TopicMeta};
use crate::topic::{QueueSettings, Topic, TopicError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

/// How often deferred messages and disk syncs are checked.
const SCAN_INTERVAL: Duration = crate::config::QUEUE_SCAN_INTERVAL;

/// The addresses the listeners actually bound (port 0 resolved).
#[derive(Debug, Clone)]
pub(crate) struct BoundAddrs {
    pub(crate) tcp: Bound,
    pub(crate) http: Option<Bound>,
    pub(crate) https: Option<SocketAddr>,
}

pub(crate) struct Nsqd {
    pub(crate) config: Arc<Config>,
    pub(crate) settings: Arc<QueueSettings>,
    pub(crate) decoder_limits: protocol::Limits,
    pub(crate) max_msg_timeout: Duration,
    /// Set when a TLS certificate is configured.
    pub(crate) tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// For `https://` auth servers (`tls::client_config`); set by `run`.
    pub(crate) auth_tls: Option<tokio_rustls::TlsConnector>,
    /// `--tls-required` is `true` or `tcp-https`: commands other than IDENTIFY need TLS.
    pub(crate) tls_required_tcp: bool,
    pub(crate) tcp_addr: Bound,
    pub(crate) http_addr: Option<Bound>,
    pub(crate) https_addr: Option<SocketAddr>,
    /// Unix seconds.
    pub(crate) start_time: i64,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    clients: Mutex<HashMap<u64, Arc<ClientShared>>>,
    next_client_id: AtomicU64,
    unhealthy: AtomicBool,
    health_error: Mutex<String>,
    metadata_dirty: Notify,
    /// Serialises `nsqd.dat` writes so an older snapshot never overwrites a newer one.
    metadata_write: Mutex<()>,
    /// `nsqlookupd_tcp_addresses`, changeable at runtime over HTTP.
    lookupd_addresses: Mutex<Vec<String>>,
    /// To the lookupd tasks (`lookup::start`): registration changes and address changes.
    lookup: lookup::Sender,
    /// The lookupds' HTTP addresses, as they reported them.
    lookupd_http: lookup::HttpAddrs,
    /// True while `nsqd.dat` is being loaded (no lookupd channel pre-creation then).
    loading: AtomicBool,
}

impl std::fmt::Debug for Nsqd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nsqd")
            .field("tcp_addr", &self.tcp_addr)
            .field("http_addr", &self.http_addr)
            .field("tls", &self.tls_acceptor.is_some())
            .finish_non_exhaustive()
    }
}

impl Nsqd {
    pub(crate) fn new(
        config: Config,
        tls: Option<Arc<rustls::ServerConfig>>,
        addrs: BoundAddrs,
        shutdown: CancellationToken,
        lookup: (lookup::Sender, lookup::HttpAddrs),
    ) -> Nsqd {
        let c = &config;
        let settings = QueueSettings {
            data_path: c.data_path_or_cwd(),
            mem_queue_size: usize::try_from(c.mem_queue_size).unwrap_or(0),
            max_bytes_per_file: c.max_bytes_per_file,
            sync_every: c.sync_every.max(1) as u64,
            sync_timeout: c.sync_timeout,
            max_msg_size: c.max_msg_size,
            node_id: c.node_id,
            max_channel_consumers: usize::try_from(c.max_channel_consumers).unwrap_or(0),
            e2e_window: (!c.e2e_processing_latency_percentiles.is_empty())
                .then_some(c.e2e_processing_latency_window_time),
            background: Background::new(),
            limits: crate::deadletter::Defaults::from_config(c),
        };
        let decoder_limits = protocol::Limits {
            max_msg_size: c.max_msg_size,
            max_body_size: c.max_body_size,
            max_rdy_count: c.max_rdy_count.max(0) as u64,
            max_req_timeout_ms: c.max_req_timeout.as_millis() as u64,
        };
        Nsqd {
            max_msg_timeout: c.max_msg_timeout,
            tls_acceptor: tls.map(tokio_rustls::TlsAcceptor::from),
            auth_tls: None,
            tls_required_tcp: c.tls_required != crate::config::TlsRequired::No,
            settings: Arc::new(settings),
            decoder_limits,
            lookupd_addresses: Mutex::new(c.nsqlookupd_tcp_addresses.clone()),
            config: Arc::new(config),
            tcp_addr: addrs.tcp,
            http_addr: addrs.http,
            https_addr: addrs.https,
            start_time: daemon::clock::unix_secs(),
            shutdown,
            tracker: TaskTracker::new(),
            topics: RwLock::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            unhealthy: AtomicBool::new(false),
            health_error: Mutex::new(String::new()),
            metadata_dirty: Notify::new(),
            metadata_write: Mutex::new(()),
            lookup: lookup.0,
            lookupd_http: lookup.1,
            loading: AtomicBool::new(false),
        }
    }

    /// An option's current value for `GET /config/<key>` (runtime-mutable ones included).
    pub(crate) fn runtime_option(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "nsqlookupd_tcp_addresses" => Some(serde_json::json!(*lock(&self.lookupd_addresses))),
            "log_level" => Some(serde_json::json!(crate::logging::level())),
            _ => self.config.get_option_json(key),
        }
    }

    /// Change the lookupd set at runtime: removed peers are dropped, new ones connected.
    pub(crate) fn set_lookupd_addresses(&self, addrs: Vec<String>) {
        let mut current = lock(&self.lookupd_addresses);
        self.send_lookup(Control::SetAddresses(addrs.clone()));
        *current = addrs;
    }

    pub(crate) fn lookupd_addresses(&self) -> Vec<String> {
        lock(&self.lookupd_addresses).clone()
    }

    /// What the lookupd tasks need, for `lookup::start`.
    pub(crate) fn lookup_setup(self: &Arc<Self>) -> lookup::Setup {
        let me = Arc::downgrade(self);
        lookup::Setup {
            broadcast_address: self.config.broadcast_address.clone(),
            tcp_port: self.broadcast_tcp_port(),
            http_port: self.broadcast_http_port(),
            max_body_size: self.decoder_limits.max_body_size,
            registrations: Box::new(move || me.upgrade().map(|n| n.registrations())),
            http_addrs: self.lookupd_http.clone(),
            shutdown: self.shutdown.clone(),
            background: self.settings.background.clone(),
        }
    }

    /// Everything this nsqd has, as REGISTER events: each channel, or the bare topic when
    /// it has none (ephemeral ones included, as the reference does).
    fn registrations(&self) -> Vec<Event> {
        let mut out = Vec::new();
        for t in self.topics() {
            let channels = t.channels();
            if channels.is_empty() {
                out.push(Event::Register(t.name.clone(), None));
            }
            for c in channels {
                out.push(Event::Register(t.name.clone(), Some(c.name.clone())));
            }
        }
        out
    }

    fn send_lookup(&self, control: Control) {
        // Fails only when the lookupd tasks are gone (shutdown): nothing to tell then.
        let _ = self.lookup.send(control);
    }

    fn notify_lookup(&self, event: Event) {
        self.send_lookup(Control::Event(event));
    }

    /// The TCP port registered with lookupd: `--broadcast-tcp-port`, else the bound one.
    pub(crate) fn broadcast_tcp_port(&self) -> u16 {
        match self.config.broadcast_tcp_port {
            0 => self.tcp_addr.tcp_port(),
            p => p,
        }
    }

    /// The HTTP port registered with lookupd: `--broadcast-http-port`, else the bound one.
    pub(crate) fn broadcast_http_port(&self) -> u16 {
        match self.config.broadcast_http_port {
            0 => self.http_addr.as_ref().map_or(0, Bound::tcp_port),
            p => p,
        }
    }

    pub(crate) fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register_client(&self, c: Arc<ClientShared>) {
        lock(&self.clients).insert(c.id, c);
    }

    pub(crate) fn unregister_client(&self, id: u64) {
        lock(&self.clients).remove(&id);
    }

    pub(crate) fn clients(&self) -> Vec<Arc<ClientShared>> {
        lock(&self.clients).values().cloned().collect()
    }

    // ---- topics and channels -------------------------------------------------------

    pub(crate) fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Topics sorted by name.
    pub(crate) fn topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self
            .topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub(crate) fn get_or_create_topic(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = self.topic(name) {
            return Ok(t);
        }
        let topic = {
            let mut map = self.topics.write().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = map.get(name) {
                return Ok(Arc::clone(t));
            }
            let t = Arc::new(Topic::new(name, Arc::clone(&self.settings))?);
            map.insert(name.to_string(), Arc::clone(&t));
            t
        };
        info!(topic = %name, "topic created");
        if !topic.ephemeral {
            self.persist_soon();
        }
        self.notify_lookup(Event::Register(name.to_string(), None));
        if !self.loading.load(Ordering::Relaxed) && !lock(&self.lookupd_addresses).is_empty() {
            self.precreate_channels(&topic);
        }
        Ok(topic)
    }

    /// A new topic gets the channels it has on other nodes (as lookupd knows them) before
    /// anything is delivered, so messages published here reach consumers' channels.
    fn precreate_channels(self: &Arc<Self>, topic: &Arc<Topic>) {
        let addrs = self.lookupd_http.snapshot();
        if addrs.is_empty() {
            error!(topic = %topic.name, "no lookupd HTTP address known yet; channels not pre-created");
            return;
        }
        topic.hold();
        let ctx = Arc::clone(self);
        let topic = Arc::clone(topic);
        self.settings.background.spawn("channel pre-creation", async move {
            let c = &ctx.config;
            let names = lookup::channels_for_topic(
                &addrs,
                &topic.name,
                c.http_client_connect_timeout,
                c.http_client_request_timeout,
            )
            .await;
            for name in names {
                if protocol::names::is_ephemeral(&name)
                    || !protocol::names::is_valid(name.as_bytes())
                {
                    continue;
                }
                match topic.precreate_channel(&name) {
                    Ok(Some((ch, created))) => ctx.channel_added(&topic, &ch, created),
                    // Deleted here since the topic was created: lookupd's answer is older.
                    Ok(None) => {}
                    Err(e) => {
                        warn!(topic = %topic.name, channel = %name, error = %e, "channel pre-creation failed");
                    }
                }
            }
            topic.release();
        });
    }

    pub(crate) fn get_or_create_channel(
        &self,
        topic: &Arc<Topic>,
        name: &str,
    ) -> Result<Arc<Channel>, TopicError> {
        let (ch, created) = topic.get_or_create_channel(name)?;
        self.channel_added(topic, &ch, created);
        Ok(ch)
    }

    /// After a get-or-create: a new channel is persisted and registered with the lookupds.
    fn channel_added(&self, topic: &Topic, ch: &Channel, created: bool) {
        if created {
            if !ch.ephemeral && !topic.ephemeral {
                self.persist_soon();
            }
            self.notify_lookup(Event::Register(topic.name.clone(), Some(ch.name.clone())));
        }
    }

    /// Delete a topic and all its channels. Returns false if it did not exist.
    pub(crate) fn delete_topic(&self, name: &str) -> bool {
        let removed = self
            .topics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        let Some(topic) = removed else { return false };
        for ch in topic.channels() {
            self.notify_lookup(Event::Unregister(name.to_string(), Some(ch.name.clone())));
        }
        self.notify_lookup(Event::Unregister(name.to_string(), None));
        topic.delete();
        info!(topic = %name, "topic deleted");
        if !topic.ephemeral {
            self.persist_soon();
        }
        true
    }

    pub(crate) fn delete_channel(&self, topic: &Arc<Topic>, name: &str) -> bool {
        let deleted = topic.delete_channel(name);
        if deleted {
            self.notify_lookup(Event::Unregister(
                topic.name.clone(),
                Some(name.to_string()),
            ));
            if topic.ephemeral && topic.channel_count() == 0 {
                self.delete_topic(&topic.name);
            } else if !protocol::names::is_ephemeral(name) {
                self.persist_soon();
            }
        }
        deleted
    }

    /// The last consumer of an ephemeral channel left.
    pub(crate) fn delete_ephemeral_channel(&self, topic: &Arc<Topic>, channel: &Arc<Channel>) {
        if channel.consumer_count() == 0
            && topic
                .channel(&channel.name)
                .is_some_and(|c| Arc::ptr_eq(&c, channel))
        {
            self.delete_channel(topic, &channel.name);
        }
    }

    // ---- health ----------------------------------------------------------------------

    pub(crate) fn publish_failed(&self, e: &TopicError) {
        if let TopicError::Disk(err) = e {
            // Go nsqd logs each failed write to a topic's queue the same way.
            error!("failed to write message to backend - {err}");
            *lock(&self.health_error) = err.to_string();
            self.unhealthy.store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn publish_succeeded(&self) {
        if self.unhealthy.load(Ordering::Relaxed) {
            self.unhealthy.store(false, Ordering::Relaxed);
        }
    }

    /// `OK` or `NOK - <error>`.
    pub(crate) fn health(&self) -> String {
        if self.unhealthy.load(Ordering::Relaxed) {
            format!("NOK - {}", lock(&self.health_error))
        } else {
            "OK".to_string()
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        !self.unhealthy.load(Ordering::Relaxed)
    }

    // ---- metadata --------------------------------------------------------------------

    /// Ask the metadata task to write `nsqd.dat` soon.
    pub(crate) fn persist_soon(&self) {
        self.metadata_dirty.notify_one();
    }

    fn snapshot_metadata(&self) -> Metadata {
        let topics: Vec<TopicMeta> = self
            .topics()
            .iter()
            .filter(|t| !t.ephemeral)
            .map(|t| {
                let channels: Vec<ChannelMeta> = t
                    .channels()
                    .iter()
                    .filter(|c| !c.ephemeral)
                    .map(|c| ChannelMeta {
                        name: c.name.clone(),
                        paused: c.is_paused(),
                        limits: c.limits.overrides(),
                    })
                    .collect();
                TopicMeta {
                    name: t.name.clone(),
                    paused: t.is_paused(),
                    channels: (!channels.is_empty()).then_some(channels),
                }
            })
            .collect();
        Metadata {
            topics: (!topics.is_empty()).then_some(topics),
            version: daemon::VERSION.to_string(),
        }
    }

    /// Write `nsqd.dat` now (blocking file I/O: call from a blocking context).
    pub(crate) fn persist_metadata(&self) -> Result<(), MetadataError> {
        let _guard = lock(&self.metadata_write);
        let md = self.snapshot_metadata();
        metadata::save(&self.settings.data_path, &md)
    }

    /// `persist_metadata` off the async threads.
    pub(crate) async fn persist_metadata_async(self: &Arc<Self>) -> Result<(), MetadataError> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.persist_metadata())
            .await
            .unwrap_or_else(|e| {
                Err(MetadataError::Write {
                    path: metadata::path(&self.settings.data_path),
                    source: std::io::Error::other(e),
                })
            })
    }

    /// Recreate topics, channels and paused flags from `nsqd.dat`.
    pub(crate) fn load_metadata(self: &Arc<Self>) -> Result<(), anyhow::Error> {
        let Some(md) = metadata::load(&self.settings.data_path)? else {
            return Ok(());
        };
        self.loading.store(true, Ordering::Relaxed);
        let result = self.load_topics(md);
        self.loading.store(false, Ordering::Relaxed);
        result
    }

    fn load_topics(self: &Arc<Self>, md: Metadata) -> Result<(), anyhow::Error> {
        for tm in md.topics.unwrap_or_default() {
            if !protocol::names::is_valid(tm.name.as_bytes()) {
                warn!(topic = %tm.name, "skipping creation of invalid topic");
                continue;
            }
            let topic = self.get_or_create_topic(&tm.name)?;
            for cm in tm.channels.unwrap_or_default() {
                if !protocol::names::is_valid(cm.name.as_bytes()) {
                    warn!(channel = %cm.name, "skipping creation of invalid channel");
                    continue;
                }
                let ch = self.get_or_create_channel(&topic, &cm.name)?;
                if cm.paused {
                    ch.set_paused(true);
                }
                if !cm.limits.is_empty() {
                    if let Err(e) = ch.limits.set(cm.limits) {
                        warn!(topic = %tm.name, channel = %cm.name, error = e, "channel limits not applied");
                    }
                }
            }
            if tm.paused {
                topic.set_paused(true);
            }
        }
        Ok(())
    }

    // ---- background tasks ------------------------------------------------------------

    /// Write `nsqd.dat` whenever asked, until shutdown.
    pub(crate) async fn metadata_loop(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.metadata_dirty.notified() => {
                    if let Err(e) = self.persist_metadata_async().await {
                        error!(error = %e, "failed to persist metadata");
                    }
                }
            }
        }
    }

    /// Every 100 ms: due deferred and orphaned messages, and disk-queue sync timeouts.
    pub(crate) async fn scan_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(SCAN_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let me = Arc::clone(&self);
                    let scan = tokio::task::spawn_blocking(move || {
                        let now = Instant::now();
                        for t in me.topics() {
                            t.scan(now);
                        }
                    });
                    crate::background::join_logged("queue scan", scan).await;
                }
            }
        }
    }

    /// Shutdown after the clients are gone: persist metadata, write every queue to disk.
    pub(crate) fn close(&self) {
        if let Err(e) = self.persist_metadata() {
            error!(error = %e, "failed to persist metadata");
        }
        for t in self.topics() {
            t.close();
        }
    }
}
