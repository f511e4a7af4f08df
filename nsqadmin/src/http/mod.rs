//! nsqadmin's HTTP server (Go's `nsqadmin/http.go`, v1.3.0): the route table under
//! `--base-path`, a request log line per request, compression of every response
//! (`compress`), and the V1 conventions and router behaviour of `httpapi` (404/405 JSON
//! bodies, `Allow`, OPTIONS, trailing-slash redirects). Handlers: `pages` (index, assets,
//! ping), `api` (the cluster JSON API and admin actions), `history` (beyond Go),
//! `config` (`/config/:opt`), `graphite` (`/render` proxy and `/api/graphite`).

pub(crate) mod api;
pub(crate) mod config;
pub(crate) mod graphite;
pub(crate) mod history;
pub(crate) mod pages;

use crate::notify::RequestInfo;
use crate::server::Admin;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::middleware;
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::error;

pub(crate) type Ctx = axum::extract::State<Arc<Admin>>;

const GET: &str = "GET, OPTIONS";

/// The request facts the handlers need beyond their path and body: headers (ACL,
/// notifications), the path and query as received, the peer address.
pub(crate) struct Req(pub RequestInfo);

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Req, Infallible> {
        Ok(Req(RequestInfo {
            headers: parts.headers.clone(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            remote: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        }))
    }
}

/// Go's `path.Join(basePath, p)`; leaked once per server so the route table can hold it.
fn bp(base: &str, p: &str) -> &'static str {
    let joined = crate::config::clean_path(&format!("{base}/{p}"));
    Box::leak(joined.into_boxed_str())
}

/// The route table (Go's `NewHTTPServer`).
fn routes(
    base: &str,
    proxy_graphite: bool,
) -> Vec<(&'static str, &'static str, MethodRouter<Arc<Admin>>)> {
    let mut r = vec![
        (bp(base, "/"), GET, get(pages::index)),
        (bp(base, "/ping"), GET, get(pages::ping)),
        (bp(base, "/topics"), GET, get(pages::index)),
        (bp(base, "/topics/{topic}"), GET, get(pages::index)),
        (
            bp(base, "/topics/{topic}/{channel}"),
            GET,
            get(pages::index),
        ),
        (bp(base, "/nodes"), GET, get(pages::index)),
        (bp(base, "/nodes/{node}"), GET, get(pages::index)),
        (bp(base, "/counter"), GET, get(pages::index)),
        (bp(base, "/lookup"), GET, get(pages::index)),
        (bp(base, "/static/{asset}"), GET, get(pages::asset)),
        (bp(base, "/fonts/{asset}"), GET, get(pages::asset)),
        (
            bp(base, "/api/topics"),
            "GET, OPTIONS, POST",
            get(api::topics).post(api::create_topic_channel),
        ),
        (
            bp(base, "/api/topics/{topic}"),
            "DELETE, GET, OPTIONS, POST",
            get(api::topic)
                .post(api::topic_action)
                .delete(api::delete_topic),
        ),
        (
            bp(base, "/api/topics/{topic}/{channel}"),
            "DELETE, GET, OPTIONS, POST",
            get(api::channel)
                .post(api::channel_action)
                .delete(api::delete_channel),
        ),
        (bp(base, "/api/nodes"), GET, get(api::nodes)),
        (
            bp(base, "/api/nodes/{node}"),
            "DELETE, GET, OPTIONS",
            get(api::node).delete(api::tombstone_node_for_topic),
        ),
        (bp(base, "/api/counter"), GET, get(api::counter)),
        (bp(base, "/api/graphite"), GET, get(graphite::rate)),
        (
            bp(base, "/api/history/topics/{topic}"),
            GET,
            get(history::topic),
        ),
        (
            bp(base, "/api/history/topics/{topic}/{channel}"),
            GET,
            get(history::channel),
        ),
        (
            bp(base, "/config/{opt}"),
            "GET, OPTIONS, PUT",
            get(config::get_option).put(config::put_option),
        ),
    ];
    if proxy_graphite {
        r.push((bp(base, "/render"), GET, get(graphite::render)));
    }
    r
}

pub fn router(admin: Arc<Admin>) -> Router {
    let config = admin.config();
    httpapi::routing::router(routes(&config.base_path, config.proxy_graphite))
        .layer(middleware::from_fn(httpapi::log::log_request))
        .layer(middleware::from_fn(crate::compress::layer))
        .with_state(admin)
}

/// Serves HTTP until shutdown, then lets requests in flight finish.
pub async fn serve(admin: Arc<Admin>, listener: TcpListener) {
    let shutdown = admin.shutdown.clone();
    let app = router(admin).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        error!("HTTP: server failed - {e}");
    }
}
