//! nsqd's HTTP API: the route table and the endpoints that need no module of their own
//! (`/ping`, `/info`, `/config/{opt}`); `/metrics` is `metrics`'s. 404/405/OPTIONS and
//! redirects are `routing`'s.

pub mod admin;
pub mod metrics;
pub use httpapi::error;
pub mod limits;
pub mod publish;
pub use httpapi::query;
pub use httpapi::routing;
pub mod stats;
pub mod tls_listener;

use crate::broker::Nsqd;
use crate::listener::{Bound, Listener};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use error::{ApiError, ApiResult, V1};
use query::Query;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::error;

pub type Ctx = State<Arc<Nsqd>>;

/// `Allow` values as the reference's router writes them: the route's methods plus
/// `OPTIONS`, sorted, joined by ", ".
const ALLOW_GET: &str = "GET, OPTIONS";
const ALLOW_POST: &str = "OPTIONS, POST";
const ALLOW_CONFIG: &str = "GET, OPTIONS, PUT";

/// The route table (the reference's `newHTTPServer`): path, `Allow`, handlers.
fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Arc<Nsqd>>)> {
    vec![
        ("/ping", ALLOW_GET, get(ping)),
        ("/info", ALLOW_GET, get(info)),
        ("/stats", ALLOW_GET, get(stats::stats)),
        // Beyond Go nsqd (404 there): Prometheus text format.
        ("/metrics", ALLOW_GET, get(metrics::metrics)),
        ("/pub", ALLOW_POST, post(publish::pub_one)),
        ("/mpub", ALLOW_POST, post(publish::pub_many)),
        ("/topic/create", ALLOW_POST, post(admin::topic_create)),
        ("/topic/delete", ALLOW_POST, post(admin::topic_delete)),
        ("/topic/empty", ALLOW_POST, post(admin::topic_empty)),
        ("/topic/pause", ALLOW_POST, post(admin::topic_pause)),
        ("/topic/unpause", ALLOW_POST, post(admin::topic_unpause)),
        ("/channel/create", ALLOW_POST, post(admin::channel_create)),
        ("/channel/delete", ALLOW_POST, post(admin::channel_delete)),
        ("/channel/empty", ALLOW_POST, post(admin::channel_empty)),
        ("/channel/pause", ALLOW_POST, post(admin::channel_pause)),
        ("/channel/unpause", ALLOW_POST, post(admin::channel_unpause)),
        // Beyond Go: a channel's max attempts and max message age.
        ("/channel/config", ALLOW_POST, post(limits::channel_config)),
        (
            "/config/{opt}",
            ALLOW_CONFIG,
            get(config_get).put(config_put),
        ),
    ]
}

pub fn router(ctx: Arc<Nsqd>) -> Router {
    routing::router(routes()).with_state(ctx)
}

/// Serve plain HTTP on `threads` threads of its own, each a single-threaded runtime
/// accepting from the same socket; returns a task that ends when all of them have.
///
/// Why not the main runtime: a request is a read, a handler that does not wait on
/// anything, and a write. On the work-stealing runtime each one also wakes another
/// worker to come and steal, and those wake-ups (futex, context switch) were most of
/// nsqd's CPU per `/pub` (bench http-pub: 14.7 µs per request; 9.9 µs on a thread of its
/// own, +17 % requests/s). A connection stays on the thread that accepted it; background
/// work a handler starts (topic drains, lookupd tasks) goes to the main runtime
/// (`QueueSettings::background`).
pub fn spawn_serving_threads(
    ctx: Arc<Nsqd>,
    listener: crate::listener::Listener,
    threads: usize,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = listener.into_std()?;
    let mut done = Vec::new();
    for i in 0..threads.max(1) {
        let l = listener.try_clone()?;
        let ctx = Arc::clone(&ctx);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("nsqd-http-{i}"))
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(async move {
                        match l.into_tokio() {
                            Ok(l) => serve(ctx, l).await,
                            Err(e) => error!(error = %e, "HTTP listener setup failed"),
                        }
                    }),
                    Err(e) => error!(error = %e, "HTTP runtime failed to start"),
                }
                let _ = tx.send(());
            })?;
        done.push(rx);
    }
    Ok(tokio::spawn(async move {
        for rx in done {
            let _ = rx.await;
        }
    }))
}

/// Threads for plain HTTP: half the cores (the other half run the TCP protocol).
pub fn serving_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Serve plain HTTP until shutdown, then let in-flight requests finish. With
/// `--tls-required=true` every request here is refused with `403 TLS_REQUIRED`.
pub async fn serve(ctx: Arc<Nsqd>, listener: Listener) {
    let mut app = router(Arc::clone(&ctx));
    if ctx.config.tls_required == crate::config::TlsRequired::Yes {
        let https_port = ctx.https_addr.map_or(0, |a| a.port());
        app = Router::new().fallback(move || async move { tls_required(https_port) });
    }
    match listener {
        Listener::Tcp(l) => serve_until_shutdown(&ctx, l, app).await,
        Listener::Unix(l, _) => serve_until_shutdown(&ctx, l, app).await,
    }
}

async fn serve_until_shutdown<L>(ctx: &Nsqd, listener: L, app: Router)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let shutdown = ctx.shutdown.clone();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        error!(error = %e, "HTTP server failed");
    }
}

/// Serve HTTPS (the same routes) until shutdown.
pub async fn serve_tls(ctx: Arc<Nsqd>, listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
    let shutdown = ctx.shutdown.clone();
    let app = router(ctx);
    let listener = tls_listener::TlsListener::new(listener, acceptor);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        error!(error = %e, "HTTPS server failed");
    }
}

/// The reference writes this body literally (note the spaces), not through its encoder.
fn tls_required(https_port: u16) -> Response {
    let body = format!("{{\"message\": \"TLS_REQUIRED\", \"https_port\": {https_port}}}");
    let mut resp = (StatusCode::FORBIDDEN, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        error::V1_HEADER,
        axum::http::HeaderValue::from_static(error::V1_VALUE),
    );
    resp
}

async fn ping(State(ctx): Ctx) -> Response {
    let health = ctx.health();
    if ctx.is_healthy() {
        (StatusCode::OK, health).into_response()
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, health).into_response()
    }
}

async fn info(State(ctx): Ctx) -> ApiResult {
    let c = &ctx.config;
    // Durations in nanoseconds, as Go's `time.Duration` encodes (flag values are far
    // below the i64 limit).
    let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    let body = protocol::json::nsqd::Info {
        version: daemon::VERSION.to_string(),
        broadcast_address: c.broadcast_address.clone(),
        hostname: crate::config::hostname(),
        http_port: ctx.http_addr.as_ref().map_or(0, Bound::info_port),
        tcp_port: ctx.tcp_addr.info_port(),
        start_time: ctx.start_time,
        max_heartbeat_interval: nanos(c.max_heartbeat_interval),
        max_output_buffer_size: c.max_output_buffer_size,
        max_output_buffer_timeout: nanos(c.max_output_buffer_timeout),
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
    option_value(&ctx, &opt)
}

/// An option's current value as the reference's V1 writer sends it: strings verbatim
/// (an empty string is an empty body), everything else as JSON.
fn option_value(ctx: &Nsqd, opt: &str) -> ApiResult {
    match ctx.runtime_option(opt) {
        None => Err(ApiError::bad_request("INVALID_OPTION")),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(V1::Empty),
        Some(serde_json::Value::String(s)) => Ok(V1::Plain(s)),
        Some(value) => json(&value),
    }
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
            // Taken literally, like Go's `lg.ParseLogLevel`: no trimming, no quotes.
            let text = String::from_utf8_lossy(&body);
            let level = crate::config::LogLevel::parse(&text)
                .ok_or_else(|| ApiError::bad_request("INVALID_VALUE"))?;
            crate::logging::set_level(level.as_int());
        }
        _ => return Err(ApiError::bad_request("INVALID_OPTION")),
    }
    option_value(&ctx, &opt)
}

/// Parse the query string; a malformed one is `400 INVALID_REQUEST`.
pub fn parse_query(raw: &Option<String>) -> Result<Query, ApiError> {
    Query::parse(raw.as_deref()).map_err(|_| ApiError::bad_request("INVALID_REQUEST"))
}
