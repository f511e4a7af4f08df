//! nsqlookupd's HTTP API: the route table, the query endpoints
//! (`/lookup`, `/topics`, `/channels`, `/nodes`, `/debug`; `/metrics` in `metrics`), the
//! admin routes that edit the registry, and a request log line per request as the
//! reference writes it. The V1 response shapes are `error.rs`'s, 404/405/OPTIONS and
//! redirects `routing.rs`'s.
//! `/debug/pprof/*` (Go's profiler) is not served: 404.

pub use httpapi::error;
pub use httpapi::query;
pub use httpapi::routing;
mod metrics;

use crate::registry::{Node as NodeEntry, PeerInfo, ZERO_TIME_UNIX_NANOS};
use crate::state::Lookupd;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use daemon::clock::unix_nanos;
use error::{ApiError, ApiResult, V1};
use protocol::json::lookupd::{Channels, Info, Lookup, Node, Nodes, Producer, Topics};
use protocol::names;
use query::Query;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::{error, info};

type Ctx = State<Arc<Lookupd>>;

/// `Allow` values as httprouter writes them: the route's methods plus `OPTIONS`, sorted.
const ALLOW_GET: &str = "GET, OPTIONS";
const ALLOW_POST: &str = "OPTIONS, POST";

/// The route table (the reference's `newHTTPServer`).
fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Arc<Lookupd>>)> {
    vec![
        ("/ping", ALLOW_GET, get(ping)),
        ("/info", ALLOW_GET, get(info)),
        ("/debug", ALLOW_GET, get(debug)),
        ("/lookup", ALLOW_GET, get(lookup)),
        ("/topics", ALLOW_GET, get(topics)),
        ("/channels", ALLOW_GET, get(channels)),
        ("/nodes", ALLOW_GET, get(nodes)),
        // Beyond Go nsqlookupd (404 there): Prometheus text format.
        ("/metrics", ALLOW_GET, get(metrics::metrics)),
        ("/topic/create", ALLOW_POST, post(topic_create)),
        ("/topic/delete", ALLOW_POST, post(topic_delete)),
        ("/channel/create", ALLOW_POST, post(channel_create)),
        ("/channel/delete", ALLOW_POST, post(channel_delete)),
        ("/topic/tombstone", ALLOW_POST, post(topic_tombstone)),
    ]
}

pub fn router(ctx: Arc<Lookupd>) -> Router {
    routing::router(routes())
        .layer(middleware::from_fn(httpapi::log::log_request))
        .with_state(ctx)
}

/// Serves HTTP until shutdown, then lets requests in flight finish.
pub async fn serve(ctx: Arc<Lookupd>, listener: TcpListener) {
    let shutdown = ctx.shutdown.clone();
    let app = router(ctx).into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        error!("HTTP: server failed - {e}");
    }
}

fn json<T: Serialize>(v: &T) -> ApiResult {
    serde_json::to_vec(v)
        .map(V1::Json)
        .map_err(|_| ApiError::internal())
}

fn parse_query(raw: &Option<String>) -> Result<Query, ApiError> {
    Query::parse(raw.as_deref()).map_err(|_| ApiError::bad_request("INVALID_REQUEST"))
}

fn required<'q>(q: &'q Query, key: &str, missing: &str) -> Result<&'q str, ApiError> {
    q.get(key).ok_or_else(|| ApiError::bad_request(missing))
}

/// `topic` and `channel`, both present and valid (the reference's `GetTopicChannelArgs`).
fn topic_channel(q: &Query) -> Result<(&str, &str), ApiError> {
    let topic = required(q, "topic", "MISSING_ARG_TOPIC")?;
    if !names::is_valid(topic.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_ARG_TOPIC"));
    }
    let channel = required(q, "channel", "MISSING_ARG_CHANNEL")?;
    if !names::is_valid(channel.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_ARG_CHANNEL"));
    }
    Ok((topic, channel))
}

/// `OK` as plain text, without the V1 header (the reference's `PlainText` decorator).
async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response()
}

async fn info() -> ApiResult {
    json(&Info {
        version: daemon::VERSION.to_string(),
    })
}

/// A producer as `/lookup` and `/nodes` show it (Go's `PeerInfo` JSON, field order kept).
fn producer(p: &PeerInfo) -> Producer {
    Producer {
        remote_address: p.remote_address.clone(),
        hostname: p.hostname.clone(),
        broadcast_address: p.broadcast_address.clone(),
        tcp_port: p.tcp_port,
        http_port: p.http_port,
        version: p.version.clone(),
    }
}

async fn lookup(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = required(&q, "topic", "MISSING_ARG_TOPIC")?;
    let found = ctx.registry().lookup(topic, unix_nanos());
    let (channels, producers) = found.ok_or_else(|| ApiError::not_found("TOPIC_NOT_FOUND"))?;
    json(&Lookup {
        channels,
        producers: producers.iter().map(|p| producer(p)).collect(),
    })
}

async fn topics(State(ctx): Ctx) -> ApiResult {
    let topics = ctx.registry().topics();
    json(&Topics { topics })
}

async fn channels(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = required(&q, "topic", "MISSING_ARG_TOPIC")?;
    let channels = ctx.registry().channels(topic);
    json(&Channels { channels })
}

async fn nodes(State(ctx): Ctx) -> ApiResult {
    let nodes: Vec<NodeEntry> = ctx.registry().nodes(unix_nanos());
    json(&Nodes {
        producers: nodes
            .into_iter()
            .map(|n| Node {
                producer: producer(&n.peer),
                tombstones: n.tombstones,
                topics: n.topics,
            })
            .collect(),
    })
}

/// One producer in `/debug`, keys alphabetical (Go map encoding).
#[derive(Serialize)]
struct DebugProducer {
    broadcast_address: String,
    hostname: String,
    http_port: i64,
    id: String,
    last_update: i64,
    tcp_port: i64,
    tombstoned: bool,
    tombstoned_at: i64,
    version: String,
}

async fn debug(State(ctx): Ctx) -> ApiResult {
    let mut data: BTreeMap<String, Vec<DebugProducer>> = BTreeMap::new();
    {
        let registry = ctx.registry();
        for (r, producers) in registry.dump() {
            let key = format!("{}:{}:{}", r.category.as_str(), r.key, r.subkey);
            let dumps = producers.into_iter().map(|p| DebugProducer {
                broadcast_address: p.peer.broadcast_address.clone(),
                hostname: p.peer.hostname.clone(),
                http_port: p.peer.http_port,
                id: p.peer.id.clone(),
                last_update: p.peer.last_update(),
                tcp_port: p.peer.tcp_port,
                tombstoned: p.tombstoned_at.is_some(),
                tombstoned_at: p.tombstoned_at.unwrap_or(ZERO_TIME_UNIX_NANOS),
                version: p.peer.version.clone(),
            });
            data.entry(key).or_default().extend(dumps);
        }
    }
    json(&data)
}

async fn topic_create(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = required(&q, "topic", "MISSING_ARG_TOPIC")?;
    if !names::is_valid(topic.as_bytes()) {
        return Err(ApiError::bad_request("INVALID_ARG_TOPIC"));
    }
    info!("DB: adding topic({topic})");
    ctx.registry().create_topic(topic);
    Ok(V1::Empty)
}

/// No name check: `topic=*` deletes every topic (reference quirk).
async fn topic_delete(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = required(&q, "topic", "MISSING_ARG_TOPIC")?;
    let channels = ctx.registry().delete_topic(topic);
    for channel in channels {
        info!("DB: removing channel({channel}) from topic({topic})");
    }
    info!("DB: removing topic({topic})");
    Ok(V1::Empty)
}

async fn channel_create(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let (topic, channel) = topic_channel(&q)?;
    info!("DB: adding channel({channel}) in topic({topic})");
    info!("DB: adding topic({topic})");
    ctx.registry().create_channel(topic, channel);
    Ok(V1::Empty)
}

async fn channel_delete(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let (topic, channel) = topic_channel(&q)?;
    if !ctx.registry().delete_channel(topic, channel) {
        return Err(ApiError::not_found("CHANNEL_NOT_FOUND"));
    }
    info!("DB: removing channel({channel}) from topic({topic})");
    Ok(V1::Empty)
}

async fn topic_tombstone(State(ctx): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = parse_query(&raw)?;
    let topic = required(&q, "topic", "MISSING_ARG_TOPIC")?;
    let node = required(&q, "node", "MISSING_ARG_NODE")?;
    info!("DB: setting tombstone for producer@{node} of topic({topic})");
    ctx.registry().tombstone(topic, node, unix_nanos());
    Ok(V1::Empty)
}
