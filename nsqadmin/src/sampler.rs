//! The history sampler (beyond Go): every `--history-interval` it reads every node's
//! `/stats?format=json&include_clients=false` (nodes from nsqlookupd `/nodes`, or the
//! configured nsqd), sums each topic and channel over nodes and records the round in the
//! history ring. A failed round is logged and skipped; the next one runs on time.

use crate::history::{Key, Totals};
use crate::server::Admin;
use cluster::TopicStats;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{debug, warn};

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Cluster-wide totals per topic (channel `""`) and per channel, from per-node topics.
pub fn totals(topics: &[TopicStats]) -> HashMap<Key, Totals> {
    let mut out: HashMap<Key, Totals> = HashMap::new();
    for t in topics {
        let e = out
            .entry((t.topic_name.clone(), String::new()))
            .or_default();
        e.depth += unsigned(t.depth);
        e.message_count += unsigned(t.message_count);
        for c in t.channels.iter().flatten() {
            let e = out
                .entry((t.topic_name.clone(), c.channel_name.clone()))
                .or_default();
            e.depth += unsigned(c.depth);
            e.in_flight += unsigned(c.in_flight_count);
            e.deferred += unsigned(c.deferred_count);
            e.message_count += unsigned(c.message_count);
        }
    }
    out
}

pub(crate) fn now_secs() -> i64 {
    daemon::clock::unix_secs()
}

/// One sampling round.
pub async fn sample(admin: &Admin) {
    let (lookupds, nsqds) = admin.upstreams();
    let producers = match admin.ci.producers(&lookupds, &nsqds).await {
        Ok((p, partial)) => {
            if !partial.is_empty() {
                debug!("history: {}", partial.text());
            }
            p
        }
        Err(e) => {
            warn!("history: failed to list nodes - {e}");
            return;
        }
    };
    if producers.is_empty() {
        return;
    }
    let topics = match admin.ci.nsqd_stats(&producers, "", "", false).await {
        Ok(((topics, _), partial)) => {
            if !partial.is_empty() {
                debug!("history: {}", partial.text());
            }
            topics
        }
        Err(e) => {
            warn!("history: failed to get stats - {e}");
            return;
        }
    };
    let round = totals(&topics);
    let now = now_secs();
    match admin.history.lock() {
        Ok(mut h) => h.record(now, round),
        Err(poisoned) => poisoned.into_inner().record(now, round),
    }
}

/// Samples every interval until shutdown.
pub async fn run(admin: Arc<Admin>) {
    let every = admin
        .config()
        .history_interval
        .max(std::time::Duration::from_secs(1));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = admin.shutdown.cancelled() => return,
            _ = ticker.tick() => sample(&admin).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::ChannelStats;

    #[test]
    fn sums_topics_and_channels_over_nodes() {
        let node = |depth: i64, in_flight: i64| TopicStats {
            topic_name: "t".into(),
            depth,
            message_count: 10,
            channels: Some(vec![ChannelStats {
                channel_name: "c".into(),
                depth,
                in_flight_count: in_flight,
                message_count: 7,
                ..ChannelStats::default()
            }]),
            ..TopicStats::default()
        };
        let t = totals(&[node(1, 2), node(3, 4)]);
        let topic = t[&("t".to_string(), String::new())];
        assert_eq!(
            (topic.depth, topic.message_count, topic.in_flight),
            (4, 20, 0)
        );
        let channel = t[&("t".to_string(), "c".to_string())];
        assert_eq!(
            (channel.depth, channel.in_flight, channel.message_count),
            (4, 6, 14)
        );
    }
}
