//! From one nsqd's `/stats` to nsqadmin's per-node entries, and the merge of per-node
//! entries into cluster-wide ones, as Go's clusterinfo `TopicStats.Add` and
//! `ChannelStats.Add` (v1.3.0): counters summed, `paused` if any node is, `node` becomes
//! `"*"`, per-node entries kept in `nodes` sorted by hostname, clients concatenated and
//! sorted by hostname, E2E latency merged (`e2e`).
//!
//! One difference on purpose: Go reuses the first node's channel objects as the topic's
//! merged channels, so that node's own entry then shows merged values. Here the merged
//! channel starts as a copy (same values in the merged list, including a channel present
//! on one node only keeping that node's address), and per-node entries stay per node.

use crate::e2e::E2eAggregate;
use crate::types::{ChannelStats, ClientStats, TopicStats};
use protocol::json::nsqd;

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A client as nsqadmin shows it; `now` (Unix seconds) gives `connected`.
pub fn client(c: &nsqd::ClientStats, node: &str, now: i64) -> ClientStats {
    ClientStats {
        node: node.to_string(),
        remote_address: c.remote_address.clone(),
        version: c.version.clone(),
        client_id: c.client_id.clone(),
        hostname: c.hostname.clone(),
        user_agent: c.user_agent.clone(),
        connect_ts: c.connect_ts,
        connected: now
            .saturating_sub(c.connect_ts)
            .saturating_mul(1_000_000_000),
        in_flight_count: int(c.in_flight_count),
        ready_count: int(c.ready_count),
        finish_count: int(c.finish_count),
        requeue_count: int(c.requeue_count),
        message_count: int(c.message_count),
        sample_rate: c.sample_rate,
        deflate: c.deflate,
        snappy: c.snappy,
        authed: c.authed,
        auth_identity: c.auth_identity.clone(),
        auth_identity_url: c.auth_identity_url.clone(),
        tls: c.tls,
        tls_cipher_suite: c.tls_cipher_suite.clone(),
        tls_version: c.tls_version.clone(),
        tls_negotiated_protocol: c.tls_negotiated_protocol.clone(),
        tls_negotiated_protocol_is_mutual: c.tls_negotiated_protocol_is_mutual,
    }
}

/// A channel of `topic` on node `node` (hostname `hostname`).
pub fn channel(
    c: &nsqd::ChannelStats,
    topic: &str,
    node: &str,
    hostname: &str,
    now: i64,
) -> ChannelStats {
    ChannelStats {
        node: node.to_string(),
        hostname: hostname.to_string(),
        topic_name: topic.to_string(),
        channel_name: c.channel_name.clone(),
        depth: int(c.depth),
        memory_depth: int(c.depth) - int(c.backend_depth),
        backend_depth: int(c.backend_depth),
        in_flight_count: int(c.in_flight_count),
        deferred_count: int(c.deferred_count),
        requeue_count: int(c.requeue_count),
        timeout_count: int(c.timeout_count),
        message_count: int(c.message_count),
        client_count: i64::try_from(c.client_count).unwrap_or(i64::MAX),
        nodes: None,
        clients: c
            .clients
            .as_ref()
            .map(|cs| cs.iter().map(|x| client(x, node, now)).collect()),
        paused: c.paused,
        e2e_processing_latency: Some(E2eAggregate::from_node(&c.e2e_processing_latency)),
    }
}

/// A topic on node `node`, with its channels.
pub fn topic(t: &nsqd::TopicStats, node: &str, hostname: &str, now: i64) -> TopicStats {
    TopicStats {
        node: node.to_string(),
        hostname: hostname.to_string(),
        topic_name: t.topic_name.clone(),
        depth: int(t.depth),
        memory_depth: int(t.depth) - int(t.backend_depth),
        backend_depth: int(t.backend_depth),
        message_count: int(t.message_count),
        nodes: None,
        channels: Some(
            t.channels
                .iter()
                .map(|c| channel(c, &t.topic_name, node, hostname, now))
                .collect(),
        ),
        paused: t.paused,
        e2e_processing_latency: Some(E2eAggregate::from_node(&t.e2e_processing_latency)),
    }
}

impl ChannelStats {
    /// A merged channel with nothing merged yet (Go's `&ChannelStats{Node, TopicName,
    /// ChannelName}`).
    pub fn empty(node: &str, topic: &str, channel: &str) -> ChannelStats {
        ChannelStats {
            node: node.to_string(),
            topic_name: topic.to_string(),
            channel_name: channel.to_string(),
            ..ChannelStats::default()
        }
    }

    /// Go's `ChannelStats.Add`.
    pub fn add(&mut self, a: &ChannelStats) {
        self.node = "*".to_string();
        self.depth += a.depth;
        self.memory_depth += a.memory_depth;
        self.backend_depth += a.backend_depth;
        self.in_flight_count += a.in_flight_count;
        self.deferred_count += a.deferred_count;
        self.requeue_count += a.requeue_count;
        self.timeout_count += a.timeout_count;
        self.message_count += a.message_count;
        self.client_count += a.client_count;
        self.paused |= a.paused;
        let nodes = self.nodes.get_or_insert_with(Vec::new);
        nodes.push(a.clone());
        nodes.sort_by(|x, y| x.hostname.cmp(&y.hostname));
        let e2e = self.e2e_processing_latency.get_or_insert_with(|| {
            E2eAggregate::new(&self.node, &self.topic_name, &self.channel_name)
        });
        if let Some(theirs) = &a.e2e_processing_latency {
            e2e.add(theirs);
        }
        if let Some(theirs) = a.clients.as_ref().filter(|c| !c.is_empty()) {
            let clients = self.clients.get_or_insert_with(Vec::new);
            clients.extend(theirs.iter().cloned());
            clients.sort_by(|x, y| x.hostname.cmp(&y.hostname));
        }
    }
}

impl TopicStats {
    /// A merged topic with nothing merged yet.
    pub fn empty(topic: &str) -> TopicStats {
        TopicStats {
            topic_name: topic.to_string(),
            ..TopicStats::default()
        }
    }

    /// Go's `TopicStats.Add` (see the module header for the one difference).
    pub fn add(&mut self, a: &TopicStats) {
        self.node = "*".to_string();
        self.depth += a.depth;
        self.memory_depth += a.memory_depth;
        self.backend_depth += a.backend_depth;
        self.message_count += a.message_count;
        self.paused |= a.paused;
        for theirs in a.channels.iter().flatten() {
            let channels = self.channels.get_or_insert_with(Vec::new);
            match channels
                .iter_mut()
                .find(|c| c.channel_name == theirs.channel_name)
            {
                Some(ours) => ours.add(theirs),
                None => channels.push(theirs.clone()),
            }
        }
        let nodes = self.nodes.get_or_insert_with(Vec::new);
        nodes.push(a.clone());
        nodes.sort_by(|x, y| x.hostname.cmp(&y.hostname));
        let e2e = self
            .e2e_processing_latency
            .get_or_insert_with(|| E2eAggregate::new(&self.node, &self.topic_name, ""));
        if let Some(theirs) = &a.e2e_processing_latency {
            e2e.add(theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go nsqd v1.3.0's `/stats?format=json` for topic `t` with channel `c`, a consumer
    /// and e2e percentiles (captured; see protocol's testdata).
    const GO_STATS: &str = include_str!("../../protocol/src/json/testdata/go_nsqd_stats.json");

    fn node_topic(addr: &str, hostname: &str) -> TopicStats {
        let stats: nsqd::Stats = serde_json::from_str(GO_STATS).expect("Go stats");
        let t = &stats.topics.expect("topics")[0];
        topic(t, addr, hostname, 1796304928)
    }

    #[test]
    fn a_node_entry_from_go_stats() {
        let t = node_topic("n1:4151", "h1");
        let c = &t.channels.as_ref().expect("channels")[0];
        assert_eq!((c.node.as_str(), c.topic_name.as_str()), ("n1:4151", "t"));
        assert_eq!(c.memory_depth, 0);
        let client = &c.clients.as_ref().expect("clients")[0];
        assert_eq!(client.node, "n1:4151");
        assert_eq!(client.connected, 10_000_000_000);
        let json = serde_json::to_string(client).expect("json");
        let keys = crate::top_keys(&json);
        assert_eq!(keys.len(), 24);
        assert_eq!((keys[0].as_str(), keys[7].as_str()), ("node", "connected"));
    }

    #[test]
    fn merging_two_nodes_sums_and_keeps_per_node_entries() {
        let mut n1 = node_topic("n1:4151", "h1");
        let mut n2 = node_topic("n2:4151", "h0");
        n1.depth = 3;
        n1.memory_depth = 3;
        n2.paused = true;
        if let Some(cs) = n2.channels.as_mut() {
            cs[0].depth = 5;
            cs.push(ChannelStats::empty("n2:4151", "t", "only2"));
        }
        let mut all = TopicStats::empty("t");
        all.add(&n1);
        all.add(&n2);
        assert_eq!(all.node, "*");
        assert_eq!((all.depth, all.message_count, all.paused), (3, 4, true));
        let nodes = all.nodes.as_ref().expect("nodes");
        assert_eq!(nodes[0].hostname, "h0", "sorted by hostname");
        let channels = all.channels.as_ref().expect("channels");
        assert_eq!(channels[0].node, "*");
        assert_eq!(channels[0].depth, 5);
        assert_eq!(channels[0].client_count, 2);
        assert_eq!(channels[0].clients.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            channels[0].nodes.as_ref().map(Vec::len),
            Some(1),
            "Go: the others"
        );
        assert_eq!(
            channels[1].node, "n2:4151",
            "on one node only: keeps its address"
        );
        let e2e = all.e2e_processing_latency.as_ref().expect("e2e");
        assert_eq!(
            (e2e.count, e2e.host.as_str(), e2e.topic.as_str()),
            (4, "*", "t")
        );
        let json = serde_json::to_string(&all).expect("json");
        let keys = crate::top_keys(&json);
        assert_eq!(
            keys,
            [
                "node",
                "hostname",
                "topic_name",
                "depth",
                "memory_depth",
                "backend_depth",
                "message_count",
                "nodes",
                "channels",
                "paused",
                "e2e_processing_latency"
            ]
        );
        let back: TopicStats = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, all);
    }

    #[test]
    fn a_fresh_channel_aggregate_like_gos_stats_map() {
        let n1 = node_topic("n1:4151", "h1");
        let c = &n1.channels.as_ref().expect("channels")[0];
        let mut agg = ChannelStats::empty("n1:4151", "t", "c");
        agg.add(c);
        assert_eq!(agg.node, "*");
        assert_eq!(agg.hostname, "");
        let e2e = agg.e2e_processing_latency.as_ref().expect("e2e");
        assert_eq!((e2e.host.as_str(), e2e.channel.as_str()), ("*", "c"));
        let json = serde_json::to_string(&agg).expect("json");
        let keys = crate::top_keys(&json);
        assert_eq!(
            keys,
            [
                "node",
                "hostname",
                "topic_name",
                "channel_name",
                "depth",
                "memory_depth",
                "backend_depth",
                "in_flight_count",
                "deferred_count",
                "requeue_count",
                "timeout_count",
                "message_count",
                "client_count",
                "nodes",
                "clients",
                "paused",
                "e2e_processing_latency"
            ]
        );
    }
}
