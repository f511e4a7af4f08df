//! SUB and the publishing commands (PUB, MPUB, DPUB).

use crate::channel::ChannelError;
use crate::client::STATE_SUBSCRIBED;
use crate::tcp::session::{Session, Subscription};
use crate::topic::TopicError;
use bytes::Bytes;
use protocol::{frame, ErrorCode, ProtocolError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

impl Session {
    pub(in crate::tcp) async fn subscribe(
        &mut self,
        topic_name: &str,
        channel_name: &str,
    ) -> Result<(), ProtocolError> {
        let mut result = self.try_subscribe(topic_name, channel_name);
        if matches!(result, Err(SubError::Exiting)) {
            // The (ephemeral) topic or channel was being deleted: retry once, as Go does.
            tokio::time::sleep(Duration::from_millis(100)).await;
            result = self.try_subscribe(topic_name, channel_name);
        }
        match result {
            Ok(sub) => {
                self.epoch = sub.channel.epoch();
                self.sub = Some(sub);
                self.state = STATE_SUBSCRIBED;
                self.client.state.store(STATE_SUBSCRIBED, Ordering::Relaxed);
                frame::put_response(&mut self.conn.out, frame::OK);
                Ok(())
            }
            Err(SubError::Exiting) => Err(ProtocolError::new(
                ErrorCode::SubFailed,
                "SUB failed to deleted topic/channel",
            )),
            Err(SubError::Other(msg)) => Err(ProtocolError::new(
                ErrorCode::SubFailed,
                format!("SUB failed {msg}"),
            )),
        }
    }

    fn try_subscribe(
        &self,
        topic_name: &str,
        channel_name: &str,
    ) -> Result<Subscription, SubError> {
        let topic = self
            .ctx
            .get_or_create_topic(topic_name)
            .map_err(SubError::from)?;
        let channel = self
            .ctx
            .get_or_create_channel(&topic, channel_name)
            .map_err(SubError::from)?;
        channel
            .add_consumer(Arc::clone(&self.client))
            .map_err(|e| match e {
                ChannelError::Exiting => SubError::Exiting,
                other => SubError::Other(other.to_string()),
            })?;
        if channel.is_exiting() || topic.is_exiting() {
            channel.remove_consumer(self.client.id);
            return Err(SubError::Exiting);
        }
        Ok(Subscription { topic, channel })
    }

    pub(in crate::tcp) fn publish(
        &mut self,
        cmd: &str,
        code: ErrorCode,
        topic: &str,
        bodies: Vec<Bytes>,
    ) -> Result<(), ProtocolError> {
        let n = bodies.len() as u64;
        let result = self
            .ctx
            .get_or_create_topic(topic)
            .and_then(|t| t.publish(bodies));
        self.publish_result(cmd, code, topic, n, result)
    }

    pub(in crate::tcp) fn publish_result(
        &mut self,
        cmd: &str,
        code: ErrorCode,
        topic: &str,
        n: u64,
        result: Result<(), TopicError>,
    ) -> Result<(), ProtocolError> {
        match result {
            Ok(()) => {
                self.ctx.publish_succeeded();
                self.client.count_publish(topic, n);
                frame::put_response(&mut self.conn.out, frame::OK);
                Ok(())
            }
            Err(e) => {
                self.ctx.publish_failed(&e);
                Err(ProtocolError::new(code, format!("{cmd} failed {e}")))
            }
        }
    }
}

enum SubError {
    Exiting,
    Other(String),
}

impl From<TopicError> for SubError {
    fn from(e: TopicError) -> Self {
        match e {
            TopicError::Exiting | TopicError::Channel(ChannelError::Exiting) => SubError::Exiting,
            other => SubError::Other(other.to_string()),
        }
    }
}
