//! Admin-action notifications (Go's `notify.go`): each action queues Go's JSON document,
//! and one background task POSTs them in order to `--notification-http-endpoint` with the
//! client timeouts. A failure is logged and never reaches the action (where Go v1.3.0
//! crashes on an unreachable endpoint, this logs and goes on).

use axum::http::HeaderMap;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tracing::{error, info};

/// Go's `AdminAction`, keys in its order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Notification {
    pub action: String,
    pub topic: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    pub timestamp: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    pub remote_ip: String,
    pub user_agent: String,
    pub url: String,
    pub via: String,
}

/// What a notification takes from the request that caused it.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub headers: HeaderMap,
    /// Path and query as received.
    pub path_and_query: String,
    pub remote: Option<SocketAddr>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The HTTP Basic-auth user name of the request (Go's `basicAuthUser`).
pub fn basic_auth_user(headers: &HeaderMap) -> String {
    let value = header(headers, "authorization");
    let Some(("Basic", encoded)) = value.split_once(' ') else {
        return String::new();
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&decoded);
    match text.split_once(':') {
        Some((user, _)) => user.to_string(),
        None => String::new(),
    }
}

impl Notification {
    /// The document for `action` caused by `req`, at `now` (Unix seconds), via `via`.
    pub fn new(
        action: &str,
        topic: &str,
        channel: &str,
        node: &str,
        req: &RequestInfo,
        now: i64,
        via: &str,
    ) -> Notification {
        let scheme = if header(&req.headers, "x-scheme") == "https" {
            "https"
        } else {
            "http"
        };
        Notification {
            action: action.to_string(),
            topic: topic.to_string(),
            channel: channel.to_string(),
            node: node.to_string(),
            timestamp: now,
            user: basic_auth_user(&req.headers),
            remote_ip: req.remote.map(|a| a.to_string()).unwrap_or_default(),
            user_agent: header(&req.headers, "user-agent").to_string(),
            url: format!(
                "{scheme}://{}{}",
                header(&req.headers, "host"),
                req.path_and_query
            ),
            via: via.to_string(),
        }
    }
}

/// Posts every queued notification to `endpoint` until the queue closes.
pub async fn deliver(
    mut queue: mpsc::UnboundedReceiver<Notification>,
    client: cluster::Client,
    endpoint: String,
) {
    while let Some(n) = queue.recv().await {
        if endpoint.is_empty() {
            continue;
        }
        let body = match serde_json::to_vec(&n) {
            Ok(b) => b,
            Err(e) => {
                error!("failed to serialize admin action - {e}");
                continue;
            }
        };
        info!("POSTing notification to {endpoint}");
        if let Err(e) = client.post_json(&endpoint, body).await {
            error!("failed to POST notification - {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_gos() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "admin.example:4171".parse().expect("value"));
        headers.insert("user-agent", "curl/8".parse().expect("value"));
        // alice:secret
        headers.insert(
            "authorization",
            "Basic YWxpY2U6c2VjcmV0".parse().expect("value"),
        );
        headers.insert("x-scheme", "https".parse().expect("value"));
        let req = RequestInfo {
            headers,
            path_and_query: "/api/topics/t/c?x=1".to_string(),
            remote: Some("10.1.2.3:51515".parse().expect("addr")),
        };
        let n = Notification::new("pause_channel", "t", "c", "", &req, 1700000123, "admin-1");
        assert_eq!(
            serde_json::to_string(&n).expect("json"),
            r#"{"action":"pause_channel","topic":"t","channel":"c","timestamp":1700000123,"user":"alice","remote_ip":"10.1.2.3:51515","user_agent":"curl/8","url":"https://admin.example:4171/api/topics/t/c?x=1","via":"admin-1"}"#
        );
        let bare = Notification::new("delete_topic", "t", "", "", &RequestInfo::default(), 1, "h");
        assert_eq!(
            serde_json::to_string(&bare).expect("json"),
            r#"{"action":"delete_topic","topic":"t","timestamp":1,"remote_ip":"","user_agent":"","url":"http://","via":"h"}"#
        );
    }

    #[test]
    fn basic_auth_like_go() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_auth_user(&h), "");
        h.insert("authorization", "Bearer x".parse().expect("value"));
        assert_eq!(basic_auth_user(&h), "");
        h.insert("authorization", "Basic !!!".parse().expect("value"));
        assert_eq!(basic_auth_user(&h), "");
        // "nocolon"
        h.insert(
            "authorization",
            "Basic bm9jb2xvbg==".parse().expect("value"),
        );
        assert_eq!(basic_auth_user(&h), "");
    }
}
