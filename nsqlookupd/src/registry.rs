//! The registration database: which peers ("producers", i.e. nsqd
//! nodes) are registered under which `(category, key, subkey)` triple, with per-topic
//! tombstones and the inactivity rule. Pure data: no locks, no clock. Every time-dependent
//! call takes `now` (Unix nanoseconds, the unit `/debug` shows), so tests drive the clock.
//! The server keeps one [`Registry`] behind a mutex; the TCP session and the HTTP handlers
//! turn protocol commands and requests into these calls.
//!
//! Registrations live in a `BTreeMap`, so every list comes out sorted (the reference's
//! order is random; clients must not rely on any order).

use protocol::names;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The kind of a registration. Declared in alphabetical order so maps sort like the
/// `category:key:subkey` strings `/debug` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Channel,
    Client,
    Topic,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Channel => "channel",
            Category::Client => "client",
            Category::Topic => "topic",
        }
    }
}

/// `("client","","")`, `("topic", t, "")` or `("channel", t, c)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Registration {
    pub category: Category,
    pub key: String,
    pub subkey: String,
}

/// Matches any key or subkey in [`Registry::find_registrations`] and friends.
pub const ANY: &str = "*";

impl Registration {
    pub fn client() -> Registration {
        Registration::new(Category::Client, "", "")
    }
    pub fn topic(topic: &str) -> Registration {
        Registration::new(Category::Topic, topic, "")
    }
    pub fn channel(topic: &str, channel: &str) -> Registration {
        Registration::new(Category::Channel, topic, channel)
    }
    fn new(category: Category, key: &str, subkey: &str) -> Registration {
        Registration {
            category,
            key: key.to_string(),
            subkey: subkey.to_string(),
        }
    }

    fn matches(&self, category: Category, key: &str, subkey: &str) -> bool {
        self.category == category
            && (key == ANY || self.key == key)
            && (subkey == ANY || self.subkey == subkey)
    }
}

impl std::fmt::Display for Registration {
    /// `category:<c> key:<k> subkey:<s>`, as the reference logs registrations.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "category:{} key:{} subkey:{}",
            self.category.as_str(),
            self.key,
            self.subkey
        )
    }
}

/// One identified connection, shared by all its registrations.
#[derive(Debug)]
pub struct PeerInfo {
    /// The connection's remote `ip:port`; the key in every registration.
    pub id: String,
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    /// Go `int`s: any non-zero value is accepted, negative ones included.
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    /// Unix ns of the IDENTIFY or the last PING (atomic so PING needs no registry lock).
    last_update: AtomicI64,
}

/// The IDENTIFY fields a peer supplies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
}

impl PeerInfo {
    /// A peer identified at `now` from remote address `remote`.
    pub fn new(remote: &str, identity: Identity, now: i64) -> PeerInfo {
        PeerInfo {
            id: remote.to_string(),
            remote_address: remote.to_string(),
            hostname: identity.hostname,
            broadcast_address: identity.broadcast_address,
            tcp_port: identity.tcp_port,
            http_port: identity.http_port,
            version: identity.version,
            last_update: AtomicI64::new(now),
        }
    }

    /// Records a PING at `now`.
    pub fn touch(&self, now: i64) {
        self.last_update.store(now, Ordering::Relaxed);
    }

    pub fn last_update(&self) -> i64 {
        self.last_update.load(Ordering::Relaxed)
    }
}

/// A peer's entry in one registration; the tombstone belongs to this entry only.
#[derive(Debug, Clone)]
pub struct Producer {
    pub peer: Arc<PeerInfo>,
    /// Set by `/topic/tombstone`; never cleared (it just stops counting after the lifetime).
    pub tombstoned_at: Option<i64>,
}

/// Go's `time.Time{}.UnixNano()`: what `/debug` shows for a producer never tombstoned.
pub const ZERO_TIME_UNIX_NANOS: i64 = -6_795_364_578_871_345_152;

/// One `/nodes` entry: an active peer with its topics and, per topic, whether its producer
/// there is tombstoned.
#[derive(Debug, Clone)]
pub struct Node {
    pub peer: Arc<PeerInfo>,
    pub topics: Vec<String>,
    pub tombstones: Vec<bool>,
}

/// `--inactive-producer-timeout` and `--tombstone-lifetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub inactive_producer_timeout: Duration,
    pub tombstone_lifetime: Duration,
}

#[derive(Debug)]
pub struct Registry {
    map: BTreeMap<Registration, BTreeMap<String, Producer>>,
    lifetimes: Lifetimes,
}

/// `now - then` in ns without overflow.
fn elapsed(now: i64, then: i64) -> i128 {
    i128::from(now) - i128::from(then)
}

impl Registry {
    pub fn new(lifetimes: Lifetimes) -> Registry {
        Registry {
            map: BTreeMap::new(),
            lifetimes,
        }
    }

    /// Within the tombstone lifetime of its tombstone (a lifetime of zero never is).
    fn is_tombstoned(&self, p: &Producer, now: i64) -> bool {
        p.tombstoned_at.is_some_and(|at| {
            elapsed(now, at) < self.lifetimes.tombstone_lifetime.as_nanos() as i128
        })
    }

    /// Not inactive for longer than the inactivity timeout.
    fn is_alive(&self, p: &Producer, now: i64) -> bool {
        let timeout = self.lifetimes.inactive_producer_timeout.as_nanos();
        elapsed(now, p.peer.last_update()) <= i128::try_from(timeout).unwrap_or(i128::MAX)
    }

    /// Adds the registration, without producers, if missing.
    pub fn add_registration(&mut self, r: Registration) {
        self.map.entry(r).or_default();
    }

    /// Adds `peer` to `r` (creating it); false if a producer with its id is already there
    /// (that record, tombstone included, is kept).
    pub fn add_producer(&mut self, r: Registration, peer: &Arc<PeerInfo>) -> bool {
        let producers = self.map.entry(r).or_default();
        if producers.contains_key(&peer.id) {
            return false;
        }
        let producer = Producer {
            peer: Arc::clone(peer),
            tombstoned_at: None,
        };
        producers.insert(peer.id.clone(), producer);
        true
    }

    /// Removes peer `id` from `r`: (whether it was there, producers left). The
    /// registration itself stays, even when empty.
    pub fn remove_producer(&mut self, r: &Registration, id: &str) -> (bool, usize) {
        match self.map.get_mut(r) {
            Some(producers) => (producers.remove(id).is_some(), producers.len()),
            None => (false, 0),
        }
    }

    pub fn remove_registration(&mut self, r: &Registration) {
        self.map.remove(r);
    }

    /// Registrations matching the pattern; `key` or `subkey` may be [`ANY`].
    pub fn find_registrations(
        &self,
        category: Category,
        key: &str,
        subkey: &str,
    ) -> Vec<Registration> {
        self.map
            .keys()
            .filter(|r| r.matches(category, key, subkey))
            .cloned()
            .collect()
    }

    /// Producers of all matching registrations, the first record per peer id.
    pub fn find_producers(&self, category: Category, key: &str, subkey: &str) -> Vec<&Producer> {
        let mut seen = HashSet::new();
        self.map
            .iter()
            .filter(|(r, _)| r.matches(category, key, subkey))
            .flat_map(|(_, producers)| producers.values())
            .filter(|p| seen.insert(p.peer.id.as_str()))
            .collect()
    }

    /// Every registration peer `id` is in.
    pub fn lookup_registrations(&self, id: &str) -> Vec<Registration> {
        self.map
            .iter()
            .filter(|(_, producers)| producers.contains_key(id))
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// REGISTER: the channel (if any) then the topic. Returns the registrations the peer
    /// was newly added to.
    pub fn register(
        &mut self,
        peer: &Arc<PeerInfo>,
        topic: &str,
        channel: Option<&str>,
    ) -> Vec<Registration> {
        let mut added = Vec::new();
        let mut regs = Vec::new();
        if let Some(channel) = channel {
            regs.push(Registration::channel(topic, channel));
        }
        regs.push(Registration::topic(topic));
        for r in regs {
            if self.add_producer(r.clone(), peer) {
                added.push(r);
            }
        }
        added
    }

    /// UNREGISTER. Returns (registrations the peer was removed from,
    /// of those the channels removed by a topic-only UNREGISTER, which the reference logs
    /// as unexpected).
    pub fn unregister(
        &mut self,
        id: &str,
        topic: &str,
        channel: Option<&str>,
    ) -> (Vec<Registration>, Vec<Registration>) {
        let mut removed = Vec::new();
        let mut unexpected = Vec::new();
        if let Some(channel) = channel {
            let r = Registration::channel(topic, channel);
            let (was_there, left) = self.remove_producer(&r, id);
            if left == 0 && names::is_ephemeral(channel) {
                self.remove_registration(&r);
            }
            if was_there {
                removed.push(r);
            }
            return (removed, unexpected);
        }
        for r in self.find_registrations(Category::Channel, topic, ANY) {
            if self.remove_producer(&r, id).0 {
                unexpected.push(r.clone());
                removed.push(r);
            }
        }
        let r = Registration::topic(topic);
        let (was_there, left) = self.remove_producer(&r, id);
        if left == 0 && names::is_ephemeral(topic) {
            self.remove_registration(&r);
        }
        if was_there {
            removed.push(r);
        }
        (removed, unexpected)
    }

    /// A connection ended: the peer leaves every registration (the keys stay).
    pub fn remove_peer(&mut self, id: &str) -> Vec<Registration> {
        let regs = self.lookup_registrations(id);
        for r in &regs {
            self.remove_producer(r, id);
        }
        regs
    }

    /// `/topics`: keys of all topic registrations.
    pub fn topics(&self) -> Vec<String> {
        keys(self.find_registrations(Category::Topic, ANY, ""))
    }

    /// `/channels`: subkeys of the topic's channel registrations (`*` = all topics).
    pub fn channels(&self, topic: &str) -> Vec<String> {
        subkeys(self.find_registrations(Category::Channel, topic, ANY))
    }

    /// `/lookup`: `None` if the topic is not registered, else its channels and its active
    /// (alive and not tombstoned) producers.
    pub fn lookup(&self, topic: &str, now: i64) -> Option<(Vec<String>, Vec<Arc<PeerInfo>>)> {
        if self
            .find_registrations(Category::Topic, topic, "")
            .is_empty()
        {
            return None;
        }
        let producers = self
            .find_producers(Category::Topic, topic, "")
            .into_iter()
            .filter(|p| self.is_alive(p, now) && !self.is_tombstoned(p, now))
            .map(|p| Arc::clone(&p.peer))
            .collect();
        Some((self.channels(topic), producers))
    }

    /// `/nodes`: every alive identified peer (tombstoned or not) with its topics.
    pub fn nodes(&self, now: i64) -> Vec<Node> {
        self.find_producers(Category::Client, "", "")
            .into_iter()
            .filter(|p| self.is_alive(p, now))
            .map(|p| {
                let topics: Vec<String> = self
                    .lookup_registrations(&p.peer.id)
                    .into_iter()
                    .filter(|r| r.category == Category::Topic)
                    .map(|r| r.key)
                    .collect();
                let tombstones = topics
                    .iter()
                    .map(|t| {
                        self.map
                            .get(&Registration::topic(t))
                            .and_then(|producers| producers.get(&p.peer.id))
                            .filter(|tp| Arc::ptr_eq(&tp.peer, &p.peer))
                            .is_some_and(|tp| self.is_tombstoned(tp, now))
                    })
                    .collect();
                Node {
                    peer: Arc::clone(&p.peer),
                    topics,
                    tombstones,
                }
            })
            .collect()
    }

    /// `/topic/create`.
    pub fn create_topic(&mut self, topic: &str) {
        self.add_registration(Registration::topic(topic));
    }

    /// `/topic/delete`: the topic's channel registrations, then the topic's; returns the
    /// removed channel names (for the log).
    pub fn delete_topic(&mut self, topic: &str) -> Vec<String> {
        let channels = self.find_registrations(Category::Channel, topic, ANY);
        for r in &channels {
            self.remove_registration(r);
        }
        for r in self.find_registrations(Category::Topic, topic, "") {
            self.remove_registration(&r);
        }
        subkeys(channels)
    }

    /// `/channel/create`: the channel and its topic.
    pub fn create_channel(&mut self, topic: &str, channel: &str) {
        self.add_registration(Registration::channel(topic, channel));
        self.add_registration(Registration::topic(topic));
    }

    /// `/channel/delete`: false if the channel is not registered.
    pub fn delete_channel(&mut self, topic: &str, channel: &str) -> bool {
        self.map
            .remove(&Registration::channel(topic, channel))
            .is_some()
    }

    /// `/topic/tombstone`: marks, in the topic's registration, the producers whose
    /// `<broadcast_address>:<http_port>` is `node`. Returns how many were marked.
    pub fn tombstone(&mut self, topic: &str, node: &str, now: i64) -> usize {
        let mut seen = HashSet::new();
        let mut marked = 0;
        for (r, producers) in self.map.iter_mut() {
            if !r.matches(Category::Topic, topic, "") {
                continue;
            }
            for p in producers.values_mut() {
                if !seen.insert(p.peer.id.clone()) {
                    continue;
                }
                if format!("{}:{}", p.peer.broadcast_address, p.peer.http_port) == node {
                    p.tombstoned_at = Some(now);
                    marked += 1;
                }
            }
        }
        marked
    }

    /// `/metrics`: every registration with its producers alive, and of those how many
    /// are tombstoned.
    pub fn census(&self, now: i64) -> Vec<(Registration, usize, usize)> {
        self.map
            .iter()
            .map(|(r, producers)| {
                let alive = producers.values().filter(|p| self.is_alive(p, now));
                let (n, tombstoned) = alive.fold((0, 0), |(n, t), p| {
                    (n + 1, t + usize::from(self.is_tombstoned(p, now)))
                });
                (r.clone(), n, tombstoned)
            })
            .collect()
    }

    /// `/debug`: every registration with at least one producer, with its producers.
    pub fn dump(&self) -> Vec<(&Registration, Vec<&Producer>)> {
        self.map
            .iter()
            .filter(|(_, producers)| !producers.is_empty())
            .map(|(r, producers)| (r, producers.values().collect()))
            .collect()
    }
}

fn keys(regs: Vec<Registration>) -> Vec<String> {
    regs.into_iter().map(|r| r.key).collect()
}

fn subkeys(regs: Vec<Registration>) -> Vec<String> {
    regs.into_iter().map(|r| r.subkey).collect()
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
