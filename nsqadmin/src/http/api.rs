//! The cluster JSON API under `/api/` (Go nsqadmin v1.3.0's handlers): topics, topic,
//! channel, nodes, node and counter reads, and the admin actions (create, pause, unpause,
//! empty, delete, tombstone) with the ACL check and a notification each. Upstream
//! failures follow Go: all failed is 502 `UPSTREAM_ERROR: <error>`, some failed is 200
//! with `"message":"WARNING: <errors>"`.

use super::{Ctx, Req};
use crate::notify::{Notification, RequestInfo};
use crate::server::Admin;
use axum::extract::{Path, RawQuery};
use bytes::Bytes;
use cluster::actions::Action;
use cluster::error::warning;
use cluster::gojson::{self, Reader};
use cluster::types::CounterStats;
use cluster::{ChannelStats, Fatal, Partial, Producer, TopicStats};
use httpapi::error::{ApiError, ApiResult, V1};
use httpapi::query::Query;
use protocol::names;
use serde::Serialize;
use std::collections::BTreeMap;
use tracing::{error, warn};

pub(crate) fn json<T: Serialize>(v: &T) -> ApiResult {
    serde_json::to_vec(v)
        .map(V1::Json)
        .map_err(|_| ApiError::internal())
}

/// 502 `UPSTREAM_ERROR: ...`, logged as Go logs it.
fn upstream(what: &str, e: &Fatal) -> ApiError {
    error!("failed to {what} - {e}");
    ApiError::new(
        axum::http::StatusCode::BAD_GATEWAY,
        format!("UPSTREAM_ERROR: {e}"),
    )
}

/// Keeps a partial failure's text for the `WARNING:` message.
fn note(messages: &mut Vec<String>, partial: Partial) {
    if !partial.is_empty() {
        let text = partial.text();
        warn!("{text}");
        messages.push(text);
    }
}

/// Go's `isAuthorizedAdminRequest`: no admin users means everyone.
pub(crate) fn is_admin(admin: &Admin, req: &RequestInfo) -> bool {
    let config = admin.config();
    if config.admin_users.is_empty() {
        return true;
    }
    let user = req
        .headers
        .get(config.acl_http_header.as_str())
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    config.admin_users.iter().any(|u| u == user)
}

fn forbid_non_admin(admin: &Admin, req: &RequestInfo) -> Result<(), ApiError> {
    if is_admin(admin, req) {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "FORBIDDEN",
        ))
    }
}

fn notify(admin: &Admin, action: &str, topic: &str, channel: &str, node: &str, req: &RequestInfo) {
    if admin.config().notification_http_endpoint.is_empty() {
        return;
    }
    let n = Notification::new(
        action,
        topic,
        channel,
        node,
        req,
        crate::sampler::now_secs(),
        &admin.hostname,
    );
    // The receiver lives as long as the server; a closed queue only means shutdown.
    let _ = admin.notifications.send(n);
}

#[derive(Serialize)]
struct Message {
    message: String,
}

fn message(messages: &[String]) -> ApiResult {
    json(&Message {
        message: warning(messages),
    })
}

pub async fn topics(axum::extract::State(admin): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q =
        Query::parse(raw.as_deref()).map_err(|_| ApiError::bad_request("invalid URL escape"))?;
    let (lookupds, nsqds) = admin.upstreams();
    let mut messages = Vec::new();
    let result = if lookupds.is_empty() {
        admin.ci.nsqd_topics(&nsqds).await
    } else {
        admin.ci.lookupd_topics(&lookupds).await
    };
    let (topics, partial) = result.map_err(|e| upstream("get topics", &e))?;
    note(&mut messages, partial);
    if q.get("inactive") == Some("true") {
        let mut inactive: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
        if !lookupds.is_empty() {
            for topic in &topics {
                let producers = admin
                    .ci
                    .lookupd_topic_producers(topic, &lookupds)
                    .await
                    .map(|(p, _)| p)
                    .unwrap_or_default();
                if producers.is_empty() {
                    let channels = admin
                        .ci
                        .lookupd_topic_channels(topic, &lookupds)
                        .await
                        .map(|(c, _)| c)
                        .unwrap_or_default();
                    inactive.insert(topic.clone(), (!channels.is_empty()).then_some(channels));
                }
            }
        }
        #[derive(Serialize)]
        struct Inactive {
            topics: BTreeMap<String, Option<Vec<String>>>,
            message: String,
        }
        return json(&Inactive {
            topics: inactive,
            message: warning(&messages),
        });
    }
    #[derive(Serialize)]
    struct Topics {
        topics: Option<Vec<String>>,
        message: String,
    }
    json(&Topics {
        topics: (!topics.is_empty()).then_some(topics),
        message: warning(&messages),
    })
}

/// The producers of `topic`, noting partial errors.
async fn topic_producers(
    admin: &Admin,
    topic: &str,
    messages: &mut Vec<String>,
) -> Result<Vec<Producer>, ApiError> {
    let (lookupds, nsqds) = admin.upstreams();
    let (producers, partial) = admin
        .ci
        .topic_producers(topic, &lookupds, &nsqds)
        .await
        .map_err(|e| upstream("get topic producers", &e))?;
    note(messages, partial);
    Ok(producers)
}

pub async fn topic(axum::extract::State(admin): Ctx, Path(topic): Path<String>) -> ApiResult {
    let mut messages = Vec::new();
    let producers = topic_producers(&admin, &topic, &mut messages).await?;
    let ((per_node, _), partial) = admin
        .ci
        .nsqd_stats(&producers, &topic, "", false)
        .await
        .map_err(|e| upstream("get topic metadata", &e))?;
    note(&mut messages, partial);
    let mut all = TopicStats::empty(&topic);
    for t in &per_node {
        all.add(t);
    }
    #[derive(Serialize)]
    struct Answer {
        #[serde(flatten)]
        stats: TopicStats,
        message: String,
    }
    json(&Answer {
        stats: all,
        message: warning(&messages),
    })
}

pub async fn channel(
    axum::extract::State(admin): Ctx,
    Path((topic, channel)): Path<(String, String)>,
) -> ApiResult {
    let mut messages = Vec::new();
    let producers = topic_producers(&admin, &topic, &mut messages).await?;
    let ((_, mut channels), partial) = admin
        .ci
        .nsqd_stats(&producers, &topic, &channel, true)
        .await
        .map_err(|e| upstream("get channel metadata", &e))?;
    note(&mut messages, partial);
    let message = warning(&messages);
    // Go embeds a nil *ChannelStats: only the message is written then.
    let Some(stats) = channels.remove(&channel) else {
        return json(&Message { message });
    };
    #[derive(Serialize)]
    struct Answer {
        #[serde(flatten)]
        stats: ChannelStats,
        message: String,
    }
    json(&Answer { stats, message })
}

pub async fn nodes(axum::extract::State(admin): Ctx) -> ApiResult {
    let (lookupds, nsqds) = admin.upstreams();
    let mut messages = Vec::new();
    let (producers, partial) = admin
        .ci
        .producers(&lookupds, &nsqds)
        .await
        .map_err(|e| upstream("get nodes", &e))?;
    note(&mut messages, partial);
    #[derive(Serialize)]
    struct Nodes {
        nodes: Option<Vec<Producer>>,
        message: String,
    }
    json(&Nodes {
        nodes: (!producers.is_empty()).then_some(producers),
        message: warning(&messages),
    })
}

pub async fn node(axum::extract::State(admin): Ctx, Path(node): Path<String>) -> ApiResult {
    let (lookupds, nsqds) = admin.upstreams();
    let mut messages = Vec::new();
    let (producers, partial) = admin
        .ci
        .producers(&lookupds, &nsqds)
        .await
        .map_err(|e| upstream("get producers", &e))?;
    note(&mut messages, partial);
    let producer = producers
        .into_iter()
        .find(|p| p.http_address() == node)
        .ok_or_else(|| ApiError::not_found("NODE_NOT_FOUND"))?;
    // Go treats any error of this single-node query as fatal.
    let ((topics, _), partial) = admin
        .ci
        .nsqd_stats(std::slice::from_ref(&producer), "", "", true)
        .await
        .map_err(|e| upstream("get nsqd stats", &e))?;
    if !partial.is_empty() {
        return Err(upstream("get nsqd stats", &Fatal(partial.text())));
    }
    let total_clients: usize = topics
        .iter()
        .flat_map(|t| t.channels.iter().flatten())
        .map(|c| c.clients.as_ref().map(Vec::len).unwrap_or(0))
        .sum();
    let total_messages: i64 = topics.iter().map(|t| t.message_count).sum();
    #[derive(Serialize)]
    struct Answer {
        node: String,
        topics: Option<Vec<TopicStats>>,
        total_messages: i64,
        total_clients: usize,
        message: String,
    }
    json(&Answer {
        node,
        topics: (!topics.is_empty()).then_some(topics),
        total_messages,
        total_clients,
        message: warning(&messages),
    })
}

pub async fn counter(axum::extract::State(admin): Ctx) -> ApiResult {
    let (lookupds, nsqds) = admin.upstreams();
    let mut messages = Vec::new();
    let (producers, partial) = admin
        .ci
        .producers(&lookupds, &nsqds)
        .await
        .map_err(|e| upstream("get counter producer list", &e))?;
    note(&mut messages, partial);
    let ((_, channels), partial) = admin
        .ci
        .nsqd_stats(&producers, "", "", false)
        .await
        .map_err(|e| upstream("get nsqd stats", &e))?;
    note(&mut messages, partial);
    let mut stats: BTreeMap<String, CounterStats> = BTreeMap::new();
    for c in channels.values() {
        for n in c.nodes.iter().flatten() {
            let key = format!("{}:{}:{}", c.topic_name, c.channel_name, n.node);
            stats
                .entry(key)
                .or_insert_with(|| CounterStats {
                    node: n.node.clone(),
                    topic_name: c.topic_name.clone(),
                    channel_name: c.channel_name.clone(),
                    message_count: 0,
                })
                .message_count += n.message_count;
        }
    }
    #[derive(Serialize)]
    struct Answer {
        stats: BTreeMap<String, CounterStats>,
        message: String,
    }
    json(&Answer {
        stats,
        message: warning(&messages),
    })
}

/// A request body as Go's `json.NewDecoder(req.Body).Decode(&body)` reads it into a
/// struct of string fields; errors carry Go's texts.
fn body_fields<const N: usize>(body: &[u8], names: [&str; N]) -> Result<[String; N], String> {
    let value = gojson::parse(body, Reader::Decoder)?;
    gojson::string_fields(&value, names)
}

/// An action's upstream outcome: partial errors noted, fatal ones 502.
fn action_result(
    what: &str,
    result: Result<Partial, Fatal>,
    messages: &mut Vec<String>,
) -> Result<(), ApiError> {
    let partial = result.map_err(|e| upstream(what, &e))?;
    note(messages, partial);
    Ok(())
}

pub async fn create_topic_channel(
    axum::extract::State(admin): Ctx,
    Req(req): Req,
    body: Bytes,
) -> ApiResult {
    forbid_non_admin(&admin, &req)?;
    let [topic, channel] =
        body_fields(&body, ["topic", "channel"]).map_err(|e| ApiError::bad_request(&e))?;
    if !names::is_valid(topic.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_TOPIC"));
    }
    if !channel.is_empty() && !names::is_valid(channel.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_CHANNEL"));
    }
    let (lookupds, _) = admin.upstreams();
    let mut messages = Vec::new();
    let result = admin
        .ci
        .create_topic_channel(&topic, &channel, &lookupds)
        .await;
    action_result("create topic/channel", result, &mut messages)?;
    notify(&admin, "create_topic", &topic, "", "", &req);
    if !channel.is_empty() {
        notify(&admin, "create_channel", &topic, &channel, "", &req);
    }
    message(&messages)
}

async fn topic_channel_action(
    admin: &Admin,
    req: &RequestInfo,
    topic: &str,
    channel: &str,
    body: &[u8],
) -> ApiResult {
    forbid_non_admin(admin, req)?;
    let [action] = body_fields(body, ["action"]).map_err(|e| ApiError::bad_request(&e))?;
    let action = Action::parse(&action).ok_or_else(|| ApiError::bad_request("INVALID_ACTION"))?;
    let (lookupds, nsqds) = admin.upstreams();
    let result = admin
        .ci
        .topic_channel_action(action, topic, channel, &lookupds, &nsqds)
        .await;
    let kind = if channel.is_empty() {
        "topic"
    } else {
        "channel"
    };
    notify(
        admin,
        &format!("{}_{kind}", action.word()),
        topic,
        channel,
        "",
        req,
    );
    let mut messages = Vec::new();
    action_result(
        &format!("{} topic/channel", action.word()),
        result,
        &mut messages,
    )?;
    message(&messages)
}

pub async fn topic_action(
    axum::extract::State(admin): Ctx,
    Path(topic): Path<String>,
    Req(req): Req,
    body: Bytes,
) -> ApiResult {
    topic_channel_action(&admin, &req, &topic, "", &body).await
}

pub async fn channel_action(
    axum::extract::State(admin): Ctx,
    Path((topic, channel)): Path<(String, String)>,
    Req(req): Req,
    body: Bytes,
) -> ApiResult {
    topic_channel_action(&admin, &req, &topic, &channel, &body).await
}

pub async fn delete_topic(
    axum::extract::State(admin): Ctx,
    Path(topic): Path<String>,
    Req(req): Req,
) -> ApiResult {
    forbid_non_admin(&admin, &req)?;
    let (lookupds, nsqds) = admin.upstreams();
    let mut messages = Vec::new();
    let result = admin.ci.delete_topic(&topic, &lookupds, &nsqds).await;
    action_result("delete topic", result, &mut messages)?;
    notify(&admin, "delete_topic", &topic, "", "", &req);
    message(&messages)
}

pub async fn delete_channel(
    axum::extract::State(admin): Ctx,
    Path((topic, channel)): Path<(String, String)>,
    Req(req): Req,
) -> ApiResult {
    forbid_non_admin(&admin, &req)?;
    let (lookupds, nsqds) = admin.upstreams();
    let mut messages = Vec::new();
    let result = admin
        .ci
        .delete_channel(&topic, &channel, &lookupds, &nsqds)
        .await;
    action_result("delete channel", result, &mut messages)?;
    notify(&admin, "delete_channel", &topic, &channel, "", &req);
    message(&messages)
}

pub async fn tombstone_node_for_topic(
    axum::extract::State(admin): Ctx,
    Path(node): Path<String>,
    Req(req): Req,
    body: Bytes,
) -> ApiResult {
    forbid_non_admin(&admin, &req)?;
    let [topic] =
        body_fields(&body, ["topic"]).map_err(|_| ApiError::bad_request("INVALID_BODY"))?;
    if !names::is_valid(topic.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_TOPIC"));
    }
    let (lookupds, _) = admin.upstreams();
    let mut messages = Vec::new();
    let result = admin
        .ci
        .tombstone_node_for_topic(&topic, &node, &lookupds)
        .await;
    action_result("tombstone node for topic", result, &mut messages)?;
    notify(&admin, "tombstone_topic_producer", &topic, "", &node, &req);
    message(&messages)
}
