//! Topic and channel administration over HTTP: create, delete, empty, pause, unpause,
//! with the reference's parameter checks (topic endpoints say `INVALID_TOPIC`, channel
//! endpoints `INVALID_ARG_TOPIC`; delete/pause do not validate names at all).

use super::error::{ApiError, ApiResult, V1};
use super::{parse_query, Ctx};
use crate::broker::Nsqd;
use crate::channel::Channel;
use crate::topic::Topic;
use axum::extract::{RawQuery, State};
use std::sync::Arc;

fn topic_name(raw: &Option<String>, validate: Option<&'static str>) -> Result<String, ApiError> {
    let q = parse_query(raw)?;
    let name = q
        .get("topic")
        .ok_or_else(|| ApiError::bad_request("MISSING_ARG_TOPIC"))?;
    if let Some(code) = validate {
        if !protocol::names::is_valid(name.as_bytes()) {
            return Err(ApiError::bad_request(code));
        }
    }
    Ok(name.to_string())
}

fn existing_topic(ctx: &Nsqd, name: &str) -> Result<Arc<Topic>, ApiError> {
    ctx.topic(name)
        .ok_or_else(|| ApiError::not_found("TOPIC_NOT_FOUND"))
}

/// Common checks of the channel endpoints; returns the existing topic and channel name.
pub(super) fn topic_channel(
    ctx: &Nsqd,
    raw: &Option<String>,
) -> Result<(Arc<Topic>, String), ApiError> {
    let q = parse_query(raw)?;
    let topic = q
        .get("topic")
        .ok_or_else(|| ApiError::bad_request("MISSING_ARG_TOPIC"))?;
    if !protocol::names::is_valid(topic.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_ARG_TOPIC"));
    }
    let channel = q
        .get("channel")
        .ok_or_else(|| ApiError::bad_request("MISSING_ARG_CHANNEL"))?;
    if !protocol::names::is_valid(channel.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_ARG_CHANNEL"));
    }
    Ok((existing_topic(ctx, topic)?, channel.to_string()))
}

pub(super) fn existing_channel(topic: &Topic, name: &str) -> Result<Arc<Channel>, ApiError> {
    topic
        .channel(name)
        .ok_or_else(|| ApiError::not_found("CHANNEL_NOT_FOUND"))
}

pub(super) async fn persist_now(ctx: &Arc<Nsqd>) -> ApiResult {
    ctx.persist_metadata_async()
        .await
        .map(|()| V1::Empty)
        .map_err(|_| ApiError::internal())
}

pub async fn topic_create(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let name = topic_name(&raw, Some("INVALID_TOPIC"))?;
    ctx.get_or_create_topic(&name)
        .map_err(|_| ApiError::internal())?;
    Ok(V1::Empty)
}

pub async fn topic_delete(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let name = topic_name(&raw, None)?;
    existing_topic(&ctx, &name)?;
    let c2 = Arc::clone(&ctx);
    let deleted = tokio::task::spawn_blocking(move || c2.delete_topic(&name))
        .await
        .map_err(|_| ApiError::internal())?;
    if deleted {
        Ok(V1::Empty)
    } else {
        Err(ApiError::not_found("TOPIC_NOT_FOUND"))
    }
}

pub async fn topic_empty(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let name = topic_name(&raw, Some("INVALID_TOPIC"))?;
    let topic = existing_topic(&ctx, &name)?;
    tokio::task::spawn_blocking(move || topic.empty())
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())?;
    Ok(V1::Empty)
}

async fn topic_set_paused(ctx: Arc<Nsqd>, raw: Option<String>, paused: bool) -> ApiResult {
    let name = topic_name(&raw, None)?;
    let topic = existing_topic(&ctx, &name)?;
    topic.set_paused(paused);
    persist_now(&ctx).await
}

pub async fn topic_pause(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    topic_set_paused(ctx, raw, true).await
}

pub async fn topic_unpause(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    topic_set_paused(ctx, raw, false).await
}

pub async fn channel_create(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let (topic, name) = topic_channel(&ctx, &raw)?;
    ctx.get_or_create_channel(&topic, &name)
        .map_err(|_| ApiError::internal())?;
    Ok(V1::Empty)
}

pub async fn channel_delete(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let (topic, name) = topic_channel(&ctx, &raw)?;
    existing_channel(&topic, &name)?;
    let c2 = Arc::clone(&ctx);
    let deleted = tokio::task::spawn_blocking(move || c2.delete_channel(&topic, &name))
        .await
        .map_err(|_| ApiError::internal())?;
    if deleted {
        Ok(V1::Empty)
    } else {
        Err(ApiError::not_found("CHANNEL_NOT_FOUND"))
    }
}

pub async fn channel_empty(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let (topic, name) = topic_channel(&ctx, &raw)?;
    let channel = existing_channel(&topic, &name)?;
    tokio::task::spawn_blocking(move || channel.empty())
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())?;
    Ok(V1::Empty)
}

async fn channel_set_paused(ctx: Arc<Nsqd>, raw: Option<String>, paused: bool) -> ApiResult {
    let (topic, name) = topic_channel(&ctx, &raw)?;
    existing_channel(&topic, &name)?.set_paused(paused);
    persist_now(&ctx).await
}

pub async fn channel_pause(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    channel_set_paused(ctx, raw, true).await
}

pub async fn channel_unpause(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    channel_set_paused(ctx, raw, false).await
}
