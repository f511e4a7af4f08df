//! `GET|PUT /config/:opt` (Go nsqadmin v1.3.0's `doConfig`): the client must be inside
//! `--allow-config-from-cidr` (when set); GET answers the option by config key as JSON
//! (strings raw, as Go's V1 writer sends them); PUT changes `nsqlookupd_http_addresses`
//! (JSON array) or `log_level` (a level name) and answers the new value.

use super::api::json;
use super::{Ctx, Req};
use crate::config::{LogLevel, OPTIONS};
use crate::server::Admin;
use axum::extract::Path;
use axum::http::StatusCode;
use bytes::Bytes;
use httpapi::error::{ApiError, ApiResult, V1};
use tracing::error;

/// The body limit (1 MiB); a larger or empty body is 413 `INVALID_VALUE`.
const MAX_BODY: usize = 1024 * 1024;

fn check_cidr(admin: &Admin, req: &crate::notify::RequestInfo) -> Result<(), ApiError> {
    if admin.config().allow_config_from_cidr.is_empty() {
        return Ok(());
    }
    let Some(cidr) = admin.cidr else {
        return Ok(());
    };
    let Some(remote) = req.remote else {
        error!("failed to parse RemoteAddr");
        return Err(ApiError::bad_request("INVALID_REMOTE_ADDR"));
    };
    if cidr.contains(remote.ip()) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN"))
    }
}

fn option_value(admin: &Admin, opt: &str) -> ApiResult {
    let config = admin.config();
    match options::option_json(OPTIONS, &config, opt) {
        None => Err(ApiError::bad_request("INVALID_OPTION")),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(V1::Empty),
        Some(serde_json::Value::String(s)) => Ok(V1::Plain(s)),
        Some(value) => json(&value),
    }
}

pub async fn get_option(
    axum::extract::State(admin): Ctx,
    Path(opt): Path<String>,
    Req(req): Req,
) -> ApiResult {
    check_cidr(&admin, &req)?;
    option_value(&admin, &opt)
}

pub async fn put_option(
    axum::extract::State(admin): Ctx,
    Path(opt): Path<String>,
    Req(req): Req,
    body: Bytes,
) -> ApiResult {
    check_cidr(&admin, &req)?;
    if body.is_empty() || body.len() > MAX_BODY {
        return Err(ApiError::too_big("INVALID_VALUE"));
    }
    match opt.as_str() {
        "nsqlookupd_http_addresses" => {
            let addrs: Vec<String> = serde_json::from_slice(&body)
                .map_err(|_| ApiError::bad_request("INVALID_VALUE"))?;
            admin.update(|c| c.nsqlookupd_http_addresses = addrs);
        }
        "log_level" => {
            let text = String::from_utf8_lossy(&body);
            let level =
                LogLevel::parse(&text).ok_or_else(|| ApiError::bad_request("INVALID_VALUE"))?;
            daemon::logging::set_level(level.as_int());
            admin.update(|c| c.log_level = level);
        }
        _ => return Err(ApiError::bad_request("INVALID_OPTION")),
    }
    option_value(&admin, &opt)
}
