//! The admin actions of Go's clusterinfo (v1.3.0): create, delete, pause, unpause and
//! empty topics and channels, and tombstone a topic on one node. Each returns the partial
//! errors of its steps, or a [`Fatal`] when a producer lookup failed entirely (then
//! nothing was posted to the nsqd).

use crate::client::query_escape;
use crate::error::{Fatal, Partial};
use crate::info::ClusterInfo;

/// What `POST /api/topics/:topic[/:channel]` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Unpause,
    Empty,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "pause" => Some(Action::Pause),
            "unpause" => Some(Action::Unpause),
            "empty" => Some(Action::Empty),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Unpause => "unpause",
            Action::Empty => "empty",
        }
    }
}

fn topic_qs(topic: &str) -> String {
    format!("topic={}", query_escape(topic))
}

fn channel_qs(topic: &str, channel: &str) -> String {
    format!(
        "topic={}&channel={}",
        query_escape(topic),
        query_escape(channel)
    )
}

impl ClusterInfo {
    /// Tombstones `node` for `topic` on every lookupd, then deletes the topic on that node.
    pub async fn tombstone_node_for_topic(
        &self,
        topic: &str,
        node: &str,
        lookupds: &[String],
    ) -> Result<Partial, Fatal> {
        let qs = format!("topic={}&node={}", query_escape(topic), query_escape(node));
        let mut errors = self.lookupds_post(lookupds, "topic/tombstone", &qs).await;
        let (producers, partial) = self.nsqd_producers(&[node.to_string()]).await?;
        errors.extend(partial);
        errors.extend(
            self.producers_post(&producers, "topic/delete", &topic_qs(topic))
                .await,
        );
        Ok(errors)
    }

    /// Creates `topic` on every lookupd and, with a channel, the channel on every lookupd
    /// and on every nsqd that has the topic.
    pub async fn create_topic_channel(
        &self,
        topic: &str,
        channel: &str,
        lookupds: &[String],
    ) -> Result<Partial, Fatal> {
        let mut errors = self
            .lookupds_post(lookupds, "topic/create", &topic_qs(topic))
            .await;
        if !channel.is_empty() {
            let qs = channel_qs(topic, channel);
            errors.extend(self.lookupds_post(lookupds, "channel/create", &qs).await);
            let (producers, partial) = self.lookupd_topic_producers(topic, lookupds).await?;
            errors.extend(partial);
            errors.extend(self.producers_post(&producers, "channel/create", &qs).await);
        }
        Ok(errors)
    }

    /// Deletes `topic` on every lookupd and every nsqd that has it.
    pub async fn delete_topic(
        &self,
        topic: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Result<Partial, Fatal> {
        let (producers, mut errors) = self.topic_producers(topic, lookupds, nsqds).await?;
        let qs = topic_qs(topic);
        errors.extend(self.lookupds_post(lookupds, "topic/delete", &qs).await);
        errors.extend(self.producers_post(&producers, "topic/delete", &qs).await);
        Ok(errors)
    }

    /// Deletes `channel` on every lookupd and every nsqd that has the topic.
    pub async fn delete_channel(
        &self,
        topic: &str,
        channel: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Result<Partial, Fatal> {
        let (producers, mut errors) = self.topic_producers(topic, lookupds, nsqds).await?;
        let qs = channel_qs(topic, channel);
        errors.extend(self.lookupds_post(lookupds, "channel/delete", &qs).await);
        errors.extend(self.producers_post(&producers, "channel/delete", &qs).await);
        Ok(errors)
    }

    /// Pauses, unpauses or empties `topic` (or its `channel` when not empty) on every nsqd
    /// that has the topic.
    pub async fn topic_channel_action(
        &self,
        action: Action,
        topic: &str,
        channel: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Result<Partial, Fatal> {
        let (producers, mut errors) = self.topic_producers(topic, lookupds, nsqds).await?;
        let (path, qs) = if channel.is_empty() {
            (format!("topic/{}", action.word()), topic_qs(topic))
        } else {
            (
                format!("channel/{}", action.word()),
                channel_qs(topic, channel),
            )
        };
        errors.extend(self.producers_post(&producers, &path, &qs).await);
        Ok(errors)
    }
}
