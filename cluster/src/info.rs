//! The cluster queries of Go's clusterinfo (v1.3.0): every nsqlookupd or nsqd is asked
//! concurrently (bounded by the client's timeouts), answers are merged, and failures are
//! collected: all failed (or none to ask) is [`Fatal`](crate::Fatal), some failed is a
//! [`Partial`](crate::Partial) next to the data. Which set is asked follows Go: the
//! nsqlookupd list when it is not empty, else the nsqd list.

use crate::aggregate;
use crate::client::{query_escape, Client};
use crate::error::{finish, Fanout, Partial};
use crate::types::{ChannelStats, Producer, ProducerTopic, TopicStats};
use futures_util::future::join_all;
use protocol::json::{lookupd, nsqd};
use std::collections::BTreeMap;
use tracing::info;

/// Where nodes come from: nsqlookupd (`--lookupd-http-address`) or a fixed nsqd list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Lookupd,
    Nsqd,
}

/// Per-node topics (sorted by hostname) and merged channels (keyed by channel name when
/// one topic was asked for, else `topic:channel`).
pub type NodeStats = (Vec<TopicStats>, BTreeMap<String, ChannelStats>);

/// The queries, over one client.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub client: Client,
}

fn sort_dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The fields of nsqd `/info` clusterinfo reads.
fn producer_from_info(info: &nsqd::Info, topics: Vec<ProducerTopic>) -> Producer {
    Producer {
        remote_addresses: None,
        remote_address: String::new(),
        hostname: info.hostname.clone(),
        broadcast_address: info.broadcast_address.clone(),
        tcp_port: i64::from(info.tcp_port),
        http_port: i64::from(info.http_port),
        version: info.version.clone(),
        topics: if topics.is_empty() {
            None
        } else {
            Some(topics)
        },
        out_of_date: false,
    }
}

fn topic_names(stats: &nsqd::Stats) -> Vec<ProducerTopic> {
    stats
        .topics
        .iter()
        .flatten()
        .map(|t| ProducerTopic {
            topic: t.topic_name.clone(),
            tombstoned: false,
        })
        .collect()
}

/// Go's `net.SplitHostPort`, leniently.
fn split_host_port(addr: &str) -> (String, i64) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse().unwrap_or(0),
        ),
        None => (addr.to_string(), 0),
    }
}

impl ClusterInfo {
    pub fn new(client: Client) -> ClusterInfo {
        ClusterInfo { client }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        url: String,
    ) -> Result<T, String> {
        info!("CI: querying {kind} {url}");
        self.client.get_v1(&url).await
    }

    /// The union of every lookupd's `/topics`, sorted.
    pub async fn lookupd_topics(&self, lookupds: &[String]) -> Fanout<Vec<String>> {
        let answers = join_all(
            lookupds
                .iter()
                .map(|a| self.get::<lookupd::Topics>("nsqlookupd", format!("http://{a}/topics"))),
        )
        .await;
        let (mut topics, mut errors) = (Vec::new(), Vec::new());
        for answer in answers {
            match answer {
                Ok(t) => topics.extend(t.topics),
                Err(e) => errors.push(e),
            }
        }
        finish("nsqlookupd", lookupds.len(), sort_dedup(topics), errors)
    }

    /// The union of every lookupd's `/channels?topic=`, sorted.
    pub async fn lookupd_topic_channels(
        &self,
        topic: &str,
        lookupds: &[String],
    ) -> Fanout<Vec<String>> {
        let q = query_escape(topic);
        let answers = join_all(lookupds.iter().map(|a| {
            self.get::<lookupd::Channels>("nsqlookupd", format!("http://{a}/channels?topic={q}"))
        }))
        .await;
        let (mut channels, mut errors) = (Vec::new(), Vec::new());
        for answer in answers {
            match answer {
                Ok(c) => channels.extend(c.channels),
                Err(e) => errors.push(e),
            }
        }
        finish("nsqlookupd", lookupds.len(), sort_dedup(channels), errors)
    }

    /// Every nsqd registered with any lookupd (`/nodes`), keyed by TCP address, with the
    /// lookupds that know it, out-of-date flags, sorted by hostname.
    pub async fn lookupd_producers(&self, lookupds: &[String]) -> Fanout<Vec<Producer>> {
        let answers = join_all(lookupds.iter().map(|a| async move {
            let r = self
                .get::<lookupd::Nodes>("nsqlookupd", format!("http://{a}/nodes"))
                .await;
            (a, r)
        }))
        .await;
        let mut producers: Vec<Producer> = Vec::new();
        let mut errors = Vec::new();
        for (addr, answer) in answers {
            let nodes = match answer {
                Ok(n) => n,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for node in nodes.producers {
                let p = &node.producer;
                let remote = if p.remote_address.is_empty() {
                    "N/A".to_string()
                } else {
                    p.remote_address.clone()
                };
                let candidate = Producer {
                    remote_addresses: None,
                    remote_address: p.remote_address.clone(),
                    hostname: p.hostname.clone(),
                    broadcast_address: p.broadcast_address.clone(),
                    tcp_port: p.tcp_port,
                    http_port: p.http_port,
                    version: p.version.clone(),
                    topics: None,
                    out_of_date: false,
                };
                let key = candidate.tcp_address();
                let i = match producers.iter().position(|x| x.tcp_address() == key) {
                    Some(i) => i,
                    None => {
                        let mut topics: Vec<ProducerTopic> = node
                            .topics
                            .iter()
                            .enumerate()
                            .map(|(i, t)| ProducerTopic {
                                topic: t.clone(),
                                tombstoned: node.tombstones.get(i).copied().unwrap_or(false),
                            })
                            .collect();
                        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
                        producers.push(Producer {
                            topics: if topics.is_empty() {
                                None
                            } else {
                                Some(topics)
                            },
                            ..candidate
                        });
                        producers.len() - 1
                    }
                };
                producers[i]
                    .remote_addresses
                    .get_or_insert_with(Vec::new)
                    .push(format!("{addr}/{remote}"));
            }
        }
        let max = producers
            .iter()
            .map(Producer::semver)
            .max()
            .unwrap_or(semver::Version::new(0, 0, 0));
        for p in &mut producers {
            p.out_of_date = p.semver() < max;
        }
        producers.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        finish("nsqlookupd", lookupds.len(), producers, errors)
    }

    /// The producers of `topic` per every lookupd's `/lookup`, unique by HTTP address.
    pub async fn lookupd_topic_producers(
        &self,
        topic: &str,
        lookupds: &[String],
    ) -> Fanout<Vec<Producer>> {
        let q = query_escape(topic);
        let answers = join_all(lookupds.iter().map(|a| {
            self.get::<lookupd::Lookup>("nsqlookupd", format!("http://{a}/lookup?topic={q}"))
        }))
        .await;
        let mut producers: Vec<Producer> = Vec::new();
        let mut errors = Vec::new();
        for answer in answers {
            match answer {
                Ok(l) => {
                    for p in l.producers {
                        let candidate = Producer {
                            remote_address: p.remote_address,
                            hostname: p.hostname,
                            broadcast_address: p.broadcast_address,
                            tcp_port: p.tcp_port,
                            http_port: p.http_port,
                            version: p.version,
                            ..Producer::default()
                        };
                        let addr = candidate.http_address();
                        if !producers.iter().any(|x| x.http_address() == addr) {
                            producers.push(candidate);
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        finish("nsqlookupd", lookupds.len(), producers, errors)
    }

    /// The union of the topics in every nsqd's `/stats`, sorted.
    pub async fn nsqd_topics(&self, nsqds: &[String]) -> Fanout<Vec<String>> {
        let answers = join_all(
            nsqds
                .iter()
                .map(|a| self.get::<nsqd::Stats>("nsqd", format!("http://{a}/stats?format=json"))),
        )
        .await;
        let (mut topics, mut errors) = (Vec::new(), Vec::new());
        for answer in answers {
            match answer {
                Ok(s) => topics.extend(s.topics.into_iter().flatten().map(|t| t.topic_name)),
                Err(e) => errors.push(e),
            }
        }
        finish("nsqd", nsqds.len(), sort_dedup(topics), errors)
    }

    /// Every configured nsqd from its `/info` and `/stats` (in the order given).
    pub async fn nsqd_producers(&self, nsqds: &[String]) -> Fanout<Vec<Producer>> {
        let answers = join_all(nsqds.iter().map(|a| async move {
            let info: nsqd::Info = self.get("nsqd", format!("http://{a}/info")).await?;
            let stats: nsqd::Stats = self
                .get(
                    "nsqd",
                    format!("http://{a}/stats?format=json&include_clients=false"),
                )
                .await?;
            Ok::<_, String>(producer_from_info(&info, topic_names(&stats)))
        }))
        .await;
        let (mut producers, mut errors) = (Vec::new(), Vec::new());
        for answer in answers {
            match answer {
                Ok(p) => producers.push(p),
                Err(e) => errors.push(e),
            }
        }
        finish("nsqd", nsqds.len(), producers, errors)
    }

    /// The configured nsqd that have `topic`, from their `/stats?topic=` and `/info`.
    pub async fn nsqd_topic_producers(
        &self,
        topic: &str,
        nsqds: &[String],
    ) -> Fanout<Vec<Producer>> {
        let q = query_escape(topic);
        let answers = join_all(nsqds.iter().map(|a| {
            let q = q.clone();
            async move {
                let stats: nsqd::Stats = self
                    .get(
                        "nsqd",
                        format!("http://{a}/stats?format=json&topic={q}&include_clients=false"),
                    )
                    .await?;
                let topics = topic_names(&stats);
                if !topics.iter().any(|t| t.topic == topic) {
                    return Ok(None);
                }
                let mut info: nsqd::Info = self.get("nsqd", format!("http://{a}/info")).await?;
                let (host, port) = split_host_port(a);
                if info.broadcast_address.is_empty() {
                    info.broadcast_address = host.clone();
                    info.http_port = i32::try_from(port).unwrap_or(0);
                }
                if info.hostname.is_empty() {
                    info.hostname = host;
                }
                Ok::<_, String>(Some(producer_from_info(&info, topics)))
            }
        }))
        .await;
        let (mut producers, mut errors) = (Vec::new(), Vec::new());
        for answer in answers {
            match answer {
                Ok(Some(p)) => producers.push(p),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        finish("nsqd", nsqds.len(), producers, errors)
    }

    /// `/stats` of every producer, optionally for one topic (and channel), with or without
    /// clients: per-node topics and merged channels (Go's `GetNSQDStats`).
    pub async fn nsqd_stats(
        &self,
        producers: &[Producer],
        topic: &str,
        channel: &str,
        include_clients: bool,
    ) -> Fanout<NodeStats> {
        let answers = join_all(producers.iter().map(|p| async move {
            let addr = p.http_address();
            let mut url = format!("http://{addr}/stats?format=json");
            if !topic.is_empty() {
                url.push_str(&format!("&topic={}", query_escape(topic)));
                if !channel.is_empty() {
                    url.push_str(&format!("&channel={}", query_escape(channel)));
                }
            }
            if !include_clients {
                url.push_str("&include_clients=false");
            }
            let r: Result<nsqd::Stats, String> = self.get("nsqd", url).await;
            (p, addr, r)
        }))
        .await;
        let now = daemon::clock::unix_secs();
        let mut topics: Vec<TopicStats> = Vec::new();
        let mut channels: BTreeMap<String, ChannelStats> = BTreeMap::new();
        let mut errors = Vec::new();
        for (p, addr, answer) in answers {
            let stats = match answer {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for t in stats.topics.iter().flatten() {
                if !topic.is_empty() && t.topic_name != topic {
                    continue;
                }
                let entry = aggregate::topic(t, &addr, &p.hostname, now);
                for c in entry.channels.iter().flatten() {
                    let key = if topic.is_empty() {
                        format!("{}:{}", t.topic_name, c.channel_name)
                    } else {
                        c.channel_name.clone()
                    };
                    channels
                        .entry(key)
                        .or_insert_with(|| {
                            ChannelStats::empty(&addr, &t.topic_name, &c.channel_name)
                        })
                        .add(c);
                }
                topics.push(entry);
            }
        }
        topics.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        finish("nsqd", producers.len(), (topics, channels), errors)
    }

    /// Every node: from the lookupds when there are any, else the nsqd list.
    pub async fn producers(&self, lookupds: &[String], nsqds: &[String]) -> Fanout<Vec<Producer>> {
        if lookupds.is_empty() {
            self.nsqd_producers(nsqds).await
        } else {
            self.lookupd_producers(lookupds).await
        }
    }

    /// The nodes that have `topic`.
    pub async fn topic_producers(
        &self,
        topic: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Fanout<Vec<Producer>> {
        if lookupds.is_empty() {
            self.nsqd_topic_producers(topic, nsqds).await
        } else {
            self.lookupd_topic_producers(topic, lookupds).await
        }
    }

    /// POST `path?qs` to every lookupd in turn; failures are always partial (Go's
    /// `nsqlookupdPOST`).
    pub(crate) async fn lookupds_post(&self, lookupds: &[String], path: &str, qs: &str) -> Partial {
        let mut errors = Vec::new();
        for addr in lookupds {
            let url = format!("http://{addr}/{path}?{qs}");
            info!("CI: querying nsqlookupd {url}");
            if let Err(e) = self.client.post_v1(&url).await {
                errors.push(e);
            }
        }
        Partial(errors)
    }

    /// POST `path?qs` to every producer in turn (Go's `producersPOST`).
    pub(crate) async fn producers_post(
        &self,
        producers: &[Producer],
        path: &str,
        qs: &str,
    ) -> Partial {
        let mut errors = Vec::new();
        for p in producers {
            let url = format!("http://{}/{path}?{qs}", p.http_address());
            info!("CI: querying nsqd {url}");
            if let Err(e) = self.client.post_v1(&url).await {
                errors.push(e);
            }
        }
        Partial(errors)
    }
}
