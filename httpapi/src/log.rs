//! The request log line the Go servers write for every HTTP request:
//! `200 GET /lookup?topic=t (127.0.0.1:50000) 41.2µs`, at INFO.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::info;

/// Middleware (`axum::middleware::from_fn(log_request)`): logs each request's status,
/// method, URI, peer (when the service has connect info) and duration.
pub async fn log_request(request: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let response = next.run(request).await;
    info!(
        "{} {method} {uri} ({peer}) {:?}",
        response.status().as_u16(),
        start.elapsed()
    );
    response
}
