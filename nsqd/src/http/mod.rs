//! nsqd's HTTP API: the route table, the plain-text and V1 endpoints that need no module
//! of their own (`/ping`, `/info`, `/config/{opt}`), and the 404/405 answers.

pub mod admin;
pub mod error;
pub mod publish;
pub mod query;
pub mod stats;

use crate::broker::Nsqd;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::{ApiError, ApiResult, V1};
use query::Query;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::error;

pub type Ctx = State<Arc<Nsqd>>;

pub fn router(ctx: Arc<Nsqd>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/info", get(info))
        .route("/stats", get(stats::stats))
        .route("/pub", post(publish::pub_one))
        .route("/mpub", post(publish::pub_many))
        .route("/topic/create", post(admin::topic_create))
        .route("/topic/delete", post(admin::topic_delete))
        .route("/topic/empty", post(admin::topic_empty))
        .route("/topic/pause", post(admin::topic_pause))
        .route("/topic/unpause", post(admin::topic_unpause))
        .route("/channel/create", post(admin::channel_create))
        .route("/channel/delete", post(admin::channel_delete))
        .route("/channel/empty", post(admin::channel_empty))
        .route("/channel/pause", post(admin::channel_pause))
        .route("/channel/unpause", post(admin::channel_unpause))
        .route("/config/{opt}", get(config_get).put(config_put))
        .fallback(|| async { ApiError::not_found("NOT_FOUND") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
        })
        .with_state(ctx)
}

/// Serve HTTP until shutdown, then let in-flight requests finish.
pub async fn serve(ctx: Arc<Nsqd>, listener: TcpListener) {
    let shutdown = ctx.shutdown.clone();
    let app = router(ctx);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        error!(error = %e, "HTTP server failed");
    }
}

async fn ping(State(ctx): Ctx) -> Response {
    let health = ctx.health();
    if ctx.is_healthy() {
        (StatusCode::OK, health).into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, health).into_response()
    }
}

#[derive(serde::Serialize)]
struct InfoBody<'a> {
    version: &'a str,
    broadcast_address: &'a str,
    hostname: String,
    http_port: u16,
    tcp_port: u16,
    start_time: i64,
    max_heartbeat_interval: u128,
    max_output_buffer_size: i64,
    max_output_buffer_timeout: u128,
    max_deflate_level: i64,
}

async fn info(State(ctx): Ctx) -> ApiResult {
    let c = &ctx.config;
    let body = InfoBody {
        version: crate::VERSION,
        broadcast_address: &c.broadcast_address,
        hostname: crate::config::hostname(),
        http_port: ctx.http_addr.map_or(0, |a| a.port()),
        tcp_port: ctx.tcp_addr.port(),
        start_time: ctx.start_time,
        max_heartbeat_interval: c.max_heartbeat_interval.as_nanos(),
        max_output_buffer_size: c.max_output_buffer_size,
        max_output_buffer_timeout: c.max_output_buffer_timeout.as_nanos(),
        max_deflate_level: i64::from(c.max_deflate_level),
    };
    json(&body)
}

pub fn json<T: serde::Serialize>(v: &T) -> ApiResult {
    serde_json::to_vec(v)
        .map(V1::Json)
        .map_err(|_| ApiError::internal())
}

async fn config_get(State(ctx): Ctx, Path(opt): Path<String>) -> ApiResult {
    let value = ctx
        .runtime_option(&opt)
        .ok_or_else(|| ApiError::bad_request("INVALID_OPTION"))?;
    json(&value)
}

async fn config_put(
    State(ctx): Ctx,
    Path(opt): Path<String>,
    RawQuery(_q): RawQuery,
    body: axum::body::Body,
) -> ApiResult {
    let limit = ctx.config.max_msg_size.max(0) as usize;
    let body = publish::read_body(body, limit as i64, "INVALID_VALUE").await?;
    if body.is_empty() {
        return Err(ApiError::too_big("INVALID_VALUE"));
    }
    match opt.as_str() {
        "nsqlookupd_tcp_addresses" => {
            let addrs: Vec<String> = serde_json::from_slice(&body)
                .map_err(|_| ApiError::bad_request("INVALID_VALUE"))?;
            ctx.set_lookupd_addresses(addrs);
        }
        "log_level" => {
            let text = String::from_utf8_lossy(&body);
            let level = crate::config::LogLevel::parse(text.trim())
                .ok_or_else(|| ApiError::bad_request("INVALID_VALUE"))?;
            crate::logging::set_level(level.as_int());
        }
        _ => return Err(ApiError::bad_request("INVALID_OPTION")),
    }
    let value = ctx
        .runtime_option(&opt)
        .ok_or_else(|| ApiError::bad_request("INVALID_OPTION"))?;
    json(&value)
}

/// Parse the query string; a malformed one is `400 INVALID_REQUEST`.
pub fn parse_query(raw: &Option<String>) -> Result<Query, ApiError> {
    Query::parse(raw.as_deref()).map_err(|_| ApiError::bad_request("INVALID_REQUEST"))
}
