//! Graphite (Go nsqadmin v1.3.0): `GET /render` proxied to `--graphite-url` with
//! `--proxy-graphite` (the URL's user and password sent as basic auth), and
//! `GET /api/graphite?metric=rate&target=<target>`: the target's last value over the
//! statsd interval as a per-second rate with two decimals, or `N/A`.

use super::api::json;
use super::Ctx;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, Request};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use cluster::client::query_escape;
use httpapi::error::{ApiError, ApiResult};
use httpapi::query::Query;
use serde::Serialize;
use std::net::SocketAddr;
use tracing::{error, info};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub async fn rate(axum::extract::State(admin): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref()).map_err(|_| ApiError::bad_request("INVALID_REQUEST"))?;
    if q.get("metric") != Some("rate") {
        return Err(ApiError::bad_request("INVALID_ARG_METRIC"));
    }
    let target = q
        .get("target")
        .ok_or_else(|| ApiError::bad_request("INVALID_ARG_TARGET"))?;
    let config = admin.config();
    // Go divides durations by time.Second: `from` is twice the interval truncated to
    // whole seconds (1500ms: -3sec), `until` and the divisor the interval truncated.
    let interval = config.statsd_interval.as_secs();
    let url = format!(
        "{}/render?format=json&from=-{}sec&target={}&until=-{}sec",
        config.graphite_url,
        config.statsd_interval.saturating_mul(2).as_secs(),
        query_escape(target),
        interval
    );
    info!("GRAPHITE: {url}");
    let answer: Result<serde_json::Value, String> = admin.ci.client.get_v1(&url).await;
    let value = answer
        .map_err(|e| {
            error!("graphite request failed - {e}");
            ApiError::internal()
        })?
        .pointer("/0/datapoints/0/0")
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(ApiError::internal)?;
    #[derive(Serialize)]
    struct Rate {
        rate: String,
    }
    let rate = if value < 0.0 {
        "N/A".to_string()
    } else {
        go_fixed2(value / interval as f64)
    };
    json(&Rate { rate })
}

/// Go's `fmt.Sprintf("%.2f", v)` for a non-negative `v` (a zero interval divides by
/// zero: `+Inf`, or `NaN` for 0/0).
fn go_fixed2(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        "+Inf".to_string()
    } else {
        format!("{v:.2}")
    }
}

/// Hop-by-hop headers a proxy does not pass on (Go's `httputil.ReverseProxy`).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `headers` without the hop-by-hop ones and those named in `Connection`.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut out = headers.clone();
    for h in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        out.remove(h);
    }
    out
}

/// `GET /render` as Go's reverse proxy does it: graphite's scheme and host, the path
/// and query as received, the client's end-to-end headers (its `Host` included),
/// `X-Forwarded-For` with the client's address appended, the graphite URL's user and
/// password as basic auth (replacing the client's); graphite's status, end-to-end
/// headers and body back; 502 with an empty body when graphite cannot be reached or
/// does not answer within `--http-client-request-timeout`. Two differences remain,
/// both from reqwest: it sends `Accept: */*` when the client sent no `Accept`, and the
/// `url` crate percent-encodes `'` in the query (`%27`, the same to graphite).
pub async fn render(axum::extract::State(admin): Ctx, request: Request) -> Response {
    let config = admin.config();
    let Ok(target) = reqwest::Url::parse(&config.graphite_url) else {
        return ApiError::internal().into_response();
    };
    let mut url = target.clone();
    // reqwest sends a URL's user and password as basic auth itself: set once below.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_path(request.uri().path());
    url.set_query(request.uri().query());
    let client = match reqwest::Client::builder()
        .connect_timeout(config.http_client_connect_timeout)
        .timeout(config.http_client_request_timeout)
        .build()
    {
        Ok(c) => c,
        Err(_) => return ApiError::internal().into_response(),
    };
    let mut headers = end_to_end(request.headers());
    // A GET goes upstream without a body, so without the client's length either.
    headers.remove(header::CONTENT_LENGTH);
    if let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = peer.0.ip().to_string();
        let prior: Vec<&str> = request
            .headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded = if prior.is_empty() {
            ip
        } else {
            format!("{}, {ip}", prior.join(", "))
        };
        if let Ok(v) = HeaderValue::from_str(&forwarded) {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    if !target.username().is_empty() {
        let creds = format!("{}:{}", target.username(), target.password().unwrap_or(""));
        let encoded = base64::engine::general_purpose::STANDARD.encode(creds);
        if let Ok(v) = HeaderValue::from_str(&format!("Basic {encoded}")) {
            headers.insert(header::AUTHORIZATION, v);
        }
    }
    match client.get(url).headers(headers).send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let back = end_to_end(resp.headers());
            match resp.bytes().await {
                Ok(body) => {
                    let mut out = (status, Body::from(body)).into_response();
                    for (k, v) in &back {
                        if k != header::CONTENT_LENGTH {
                            out.headers_mut().append(k, v.clone());
                        }
                    }
                    out
                }
                Err(e) => {
                    error!("http: proxy error: {e}");
                    StatusCode::BAD_GATEWAY.into_response()
                }
            }
        }
        Err(e) => {
            error!("http: proxy error: {e}");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}
