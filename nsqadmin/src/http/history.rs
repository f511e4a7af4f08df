//! `GET /api/history/topics/:topic[/:channel]` (beyond Go): the sampled points of a topic
//! or channel over the last hour, oldest first, with the sampling interval; 404
//! `HISTORY_NOT_FOUND` when it was never sampled.

use super::api::json;
use super::Ctx;
use crate::history::Point;
use axum::extract::Path;
use httpapi::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryAnswer {
    pub topic: String,
    pub channel: String,
    /// Seconds between samples.
    pub interval: i64,
    pub points: Vec<Point>,
    pub message: String,
}

fn answer(admin: &crate::server::Admin, topic: String, channel: String) -> ApiResult {
    let now = crate::sampler::now_secs();
    let key = (topic, channel);
    let (points, interval) = match admin.history.lock() {
        Ok(h) => (h.points(&key, now), h.interval_secs()),
        Err(p) => {
            let h = p.into_inner();
            (h.points(&key, now), h.interval_secs())
        }
    };
    let points = points.ok_or_else(|| ApiError::not_found("HISTORY_NOT_FOUND"))?;
    let (topic, channel) = key;
    json(&HistoryAnswer {
        topic,
        channel,
        interval,
        points,
        message: String::new(),
    })
}

pub async fn topic(axum::extract::State(admin): Ctx, Path(topic): Path<String>) -> ApiResult {
    answer(&admin, topic, String::new())
}

pub async fn channel(
    axum::extract::State(admin): Ctx,
    Path((topic, channel)): Path<(String, String)>,
) -> ApiResult {
    answer(&admin, topic, channel)
}
