//! Beyond Go NSQ: `POST /channel/config`, a channel's own max-attempts and max-age
//! settings (over the node's `--max-attempts`, `--max-msg-age`, `--max-msg-age-action`).
//!
//! `POST /channel/config?topic=T&channel=C[&max_attempts=N][&max_msg_age=D][&max_msg_age_action=drop|dead]`:
//! a parameter left out keeps the channel's current setting; an empty value (or
//! `default`) returns it to the node's. `max_msg_age` is a Go duration (`90s`, `1h`; `0`
//! = off for this channel). The answer is the channel's settings as JSON:
//! `{"max_attempts":N,"max_msg_age_ms":M,"max_msg_age_action":"drop"|"dead","overrides":{..}}`
//! (effective values, then what the channel sets itself). The settings are written to
//! `nsqd.dat` before the answer. On a dead-letter topic's channel `max_attempts` is refused
//! (400 `MAX_ATTEMPTS_ON_DEAD_LETTER_TOPIC`), and a max age there always drops.

use super::admin::{existing_channel, persist_now, topic_channel};
use super::error::{ApiError, ApiResult};
use super::{json, parse_query, Ctx};
use crate::channel::Channel;
use crate::deadletter::{AgeAction, Overrides};
use axum::extract::{RawQuery, State};
use httpapi::query::Query;
use serde::Serialize;

#[derive(Serialize)]
struct Answer {
    max_attempts: u16,
    max_msg_age_ms: u64,
    max_msg_age_action: AgeAction,
    overrides: Overrides,
}

/// `Some(None)` = back to the node's value, `None` = unchanged.
fn param<T>(
    q: &Query,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
    code: &'static str,
) -> Result<Option<Option<T>>, ApiError> {
    match q.get(key) {
        None => Ok(None),
        Some("" | "default") => Ok(Some(None)),
        Some(v) => parse(v)
            .map(|t| Some(Some(t)))
            .ok_or_else(|| ApiError::bad_request(code)),
    }
}

fn update(channel: &Channel, q: &Query) -> Result<(), ApiError> {
    let mut o = channel.limits.overrides();
    if let Some(v) = param(
        q,
        "max_attempts",
        |s| s.parse::<u16>().ok(),
        "INVALID_MAX_ATTEMPTS",
    )? {
        o.max_attempts = v;
    }
    if let Some(v) = param(
        q,
        "max_msg_age",
        |s| crate::config::parse_go_duration(s).ok(),
        "INVALID_MAX_MSG_AGE",
    )? {
        o.max_msg_age_ms = v.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }
    if let Some(v) = param(
        q,
        "max_msg_age_action",
        AgeAction::parse,
        "INVALID_MAX_MSG_AGE_ACTION",
    )? {
        o.max_msg_age_action = v;
    }
    channel.limits.set(o).map_err(ApiError::bad_request)
}

pub async fn channel_config(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let (topic, name) = topic_channel(&ctx, &raw)?;
    let channel = existing_channel(&topic, &name)?;
    let q = parse_query(&raw)?;
    update(&channel, &q)?;
    persist_now(&ctx).await?;
    let (max_attempts, age) = channel.limits.effective().unwrap_or_default();
    json(&Answer {
        max_attempts,
        max_msg_age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        max_msg_age_action: channel.limits.age_action(),
        overrides: channel.limits.overrides(),
    })
}
