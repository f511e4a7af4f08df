//! `POST /pub` and `POST /mpub` (newline-separated text or `binary=true`), with the
//! reference's checks in the reference's order. Message bodies are slices of the request
//! body: one allocation per request however many messages it carries.

use super::error::{ApiError, ApiResult, V1};
use super::query::Query;
use super::{parse_query, Ctx};
use crate::topic::{Topic, TopicError};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

fn content_length(headers: &HeaderMap) -> Option<i64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Read the body, at most `limit` bytes; more is `too_big`.
///
/// A body that cannot be read (a malformed chunk size or chunk, the client gone before
/// its end) is the client's bytes at fault: `400 BAD_BODY`, the word Go uses for a body
/// it cannot read (binary `/mpub`). Go nsqd v1.3.0 answers `500 INTERNAL_ERROR` here, as
/// for any `io.ReadAll` error; a 5xx tells clients to retry what can never succeed.
pub async fn read_body(mut body: Body, limit: i64, too_big: &str) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::bad_request("BAD_BODY"))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(ApiError::too_big(too_big));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// `topic` from the query: missing, invalid, then get-or-create.
fn topic_from_query(ctx: &Arc<crate::broker::Nsqd>, q: &Query) -> Result<Arc<Topic>, ApiError> {
    let name = q
        .get("topic")
        .ok_or_else(|| ApiError::bad_request("MISSING_ARG_TOPIC"))?;
    if !protocol::names::is_valid(name.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_TOPIC"));
    }
    ctx.get_or_create_topic(name).map_err(publish_error)
}

/// Any failure to publish, a full disk included, is 503 `EXITING`, as Go nsqd v1.3.0
/// answers (the cause goes to the log and to `/ping`'s health text).
fn publish_error(_: TopicError) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "EXITING".to_string())
}

pub async fn pub_one(
    State(ctx): Ctx,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let max = ctx.decoder_limits.max_msg_size;
    if content_length(&headers).is_some_and(|l| l > max) {
        return Err(ApiError::too_big("MSG_TOO_BIG"));
    }
    let body = read_body(body, max, "MSG_TOO_BIG").await?;
    if body.is_empty() {
        return Err(ApiError::bad_request("MSG_EMPTY"));
    }
    let q = parse_query(&raw)?;
    let topic = topic_from_query(&ctx, &q)?;
    let defer_ms = match q.get("defer") {
        None => 0,
        Some(d) => {
            let v: i64 = d
                .parse()
                .map_err(|_| ApiError::bad_request("INVALID_DEFER"))?;
            let max_ms = ctx.config.max_req_timeout.as_millis() as i64;
            if !(0..=max_ms).contains(&v) {
                return Err(ApiError::bad_request("INVALID_DEFER"));
            }
            v as u64
        }
    };
    let result = if defer_ms > 0 {
        topic.publish_deferred(body, Duration::from_millis(defer_ms))
    } else {
        topic.publish(vec![body])
    };
    finish(&ctx, result)
}

fn finish(ctx: &crate::broker::Nsqd, result: Result<(), TopicError>) -> ApiResult {
    match result {
        Ok(()) => {
            ctx.publish_succeeded();
            Ok(V1::Text("OK"))
        }
        Err(e) => {
            ctx.publish_failed(&e);
            Err(publish_error(e))
        }
    }
}

pub async fn pub_many(
    State(ctx): Ctx,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let max_body = ctx.decoder_limits.max_body_size;
    if content_length(&headers).is_some_and(|l| l > max_body) {
        return Err(ApiError::too_big("BODY_TOO_BIG"));
    }
    let q = parse_query(&raw)?;
    let topic = topic_from_query(&ctx, &q)?;
    let binary = !matches!(q.get("binary"), None | Some("false") | Some("0"));
    let body = read_body(body, max_body, "BODY_TOO_BIG").await?;
    let bodies = if binary {
        protocol::codec::split_mpub(body, &ctx.decoder_limits).map_err(|e| {
            let code = e.code.as_str().trim_start_matches("E_");
            ApiError::too_big(code)
        })?
    } else {
        split_lines(body, ctx.decoder_limits.max_msg_size)?
    };
    if bodies.is_empty() {
        return Ok(V1::Text("OK"));
    }
    finish(&ctx, topic.publish(bodies))
}

/// Text mode: one message per `\n`-terminated line, empty lines skipped, `\r` kept.
pub(crate) fn split_lines(body: Bytes, max_msg_size: i64) -> Result<Vec<Bytes>, ApiError> {
    let mut out = Vec::new();
    let mut start = 0;
    let len = body.len();
    while start < len {
        let end = body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(len, |p| start + p);
        if end > start {
            if (end - start) as i64 > max_msg_size {
                return Err(ApiError::too_big("MSG_TOO_BIG"));
            }
            out.push(body.slice(start..end));
        }
        start = end + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let got = split_lines(Bytes::from_static(b"one\ntwo\r\n\nthree"), 10).expect("ok");
        assert_eq!(
            got,
            vec![
                Bytes::from_static(b"one"),
                Bytes::from_static(b"two\r"),
                Bytes::from_static(b"three")
            ]
        );
        assert!(split_lines(Bytes::from_static(b"\n\n"), 10)
            .expect("ok")
            .is_empty());
        assert_eq!(
            split_lines(Bytes::from_static(b"toolong\n"), 3),
            Err(ApiError::too_big("MSG_TOO_BIG"))
        );
    }
}
