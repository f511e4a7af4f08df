//! Graphite (Go nsqadmin v1.3.0): `GET /render` proxied to `--graphite-url` with
//! `--proxy-graphite` (the URL's user and password sent as basic auth), and
//! `GET /api/graphite?metric=rate&target=<target>`: the target's last value over the
//! statsd interval as a per-second rate with two decimals, or `N/A`.

use super::api::json;
use super::Ctx;
use axum::body::Body;
use axum::extract::{RawQuery, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use cluster::client::query_escape;
use httpapi::error::{ApiError, ApiResult};
use httpapi::query::Query;
use serde::Serialize;
use tracing::{error, info};

pub async fn rate(axum::extract::State(admin): Ctx, RawQuery(raw): RawQuery) -> ApiResult {
    let q = Query::parse(raw.as_deref()).map_err(|_| ApiError::bad_request("INVALID_REQUEST"))?;
    if q.get("metric") != Some("rate") {
        return Err(ApiError::bad_request("INVALID_ARG_METRIC"));
    }
    let target = q
        .get("target")
        .ok_or_else(|| ApiError::bad_request("INVALID_ARG_TARGET"))?;
    let config = admin.config();
    let interval = config.statsd_interval.as_secs();
    let url = format!(
        "{}/render?format=json&from=-{}sec&target={}&until=-{}sec",
        config.graphite_url,
        interval * 2,
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
        format!("{:.2}", value / interval.max(1) as f64)
    };
    json(&Rate { rate })
}

pub async fn render(axum::extract::State(admin): Ctx, request: Request) -> Response {
    let config = admin.config();
    let Ok(target) = reqwest::Url::parse(&config.graphite_url) else {
        return ApiError::internal().into_response();
    };
    let mut url = target.clone();
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
    let mut upstream = client.get(url);
    if !target.username().is_empty() {
        let creds = format!("{}:{}", target.username(), target.password().unwrap_or(""));
        let encoded = base64::engine::general_purpose::STANDARD.encode(creds);
        upstream = upstream.header(header::AUTHORIZATION, format!("Basic {encoded}"));
    }
    match upstream.send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
            let body = resp.bytes().await.unwrap_or_default();
            let mut out = (status, Body::from(body)).into_response();
            if let Some(ct) = ct {
                out.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            out
        }
        Err(e) => {
            error!("http: proxy error: {e}");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}
