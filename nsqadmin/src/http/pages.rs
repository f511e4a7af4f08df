//! The pages: every UI route answers the embedded `index.html` with the page config
//! filled in; `static/<asset>` (and `fonts/<asset>`) serve the embedded `app.js` and
//! `app.css` (`--dev-static-dir` serves files from a directory instead, as Go's);
//! `/ping` answers `OK`. Unknown assets are a plain-text 404 as in Go.

use super::{Ctx, Req};
use crate::server::Admin;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

const INDEX: &str = include_str!("../../static/index.html");
const APP_JS: &str = include_str!("../../static/app.js");
const APP_CSS: &str = include_str!("../../static/app.css");

/// The object the page reads as `window.NSQADMIN`.
#[derive(Debug, Serialize)]
pub struct PageConfig {
    pub base_path: String,
    pub version: String,
    pub user_agent: String,
    pub is_admin: bool,
    pub graphite_url: String,
    pub graph_enabled: bool,
    pub nsqlookupd: Vec<String>,
    pub history_interval: u64,
}

/// JSON safe inside a `<script>` element: `<`, `>`, `&` and the JavaScript line
/// separators escaped as `\uXXXX` (as Go's encoding/json does).
pub fn script_json<T: Serialize>(v: &T) -> String {
    let text = serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `index.html` with the config object (once) and the base path (everywhere) filled in.
pub fn render_index(template: &str, config: &PageConfig) -> String {
    template
        .replacen("{{NSQADMIN_CONFIG}}", &script_json(config), 1)
        .replace("{{BASE_PATH}}", &config.base_path)
}

fn page_config(admin: &Admin, is_admin: bool) -> PageConfig {
    let c = admin.config();
    PageConfig {
        base_path: admin.base_slash(),
        version: crate::config::VERSION.to_string(),
        user_agent: format!("nsqadmin/v{}", crate::config::VERSION),
        is_admin,
        graphite_url: if c.proxy_graphite {
            String::new()
        } else {
            c.graphite_url.clone()
        },
        graph_enabled: !c.graphite_url.is_empty(),
        nsqlookupd: c.nsqlookupd_http_addresses.clone(),
        history_interval: c.history_interval.as_secs().max(1),
    }
}

pub async fn index(axum::extract::State(admin): Ctx, Req(req): Req) -> Response {
    let is_admin = super::api::is_admin(&admin, &req);
    let dev_dir = admin.config().dev_static_dir;
    let template = if dev_dir.is_empty() {
        None
    } else {
        std::fs::read_to_string(std::path::Path::new(&dev_dir).join("index.html")).ok()
    };
    let body = render_index(
        template.as_deref().unwrap_or(INDEX),
        &page_config(&admin, is_admin),
    );
    ([(header::CONTENT_TYPE, "text/html")], body).into_response()
}

pub async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response()
}

/// The content type Go gives an asset by its extension.
fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    Some(match ext {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "png" => "image/png",
        "map" | "json" => "application/json",
        "svg" => "image/svg+xml",
        "woff" => "application/font-woff",
        "ttf" => "application/font-sfnt",
        "eot" => "application/vnd.ms-fontobject",
        "woff2" => "application/font-woff2",
        _ => return None,
    })
}

pub async fn asset(axum::extract::State(admin): Ctx, Path(name): Path<String>) -> Response {
    let dev_dir = admin.config().dev_static_dir;
    let body: Option<Vec<u8>> = if !dev_dir.is_empty() {
        if name.contains('/') || name.contains("..") {
            None
        } else {
            std::fs::read(std::path::Path::new(&dev_dir).join(&name)).ok()
        }
    } else {
        match name.as_str() {
            "app.js" => Some(APP_JS.as_bytes().to_vec()),
            "app.css" => Some(APP_CSS.as_bytes().to_vec()),
            _ => None,
        }
    };
    let Some(body) = body else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "NOT_FOUND",
        )
            .into_response();
    };
    match content_type(&name) {
        Some(ct) => ([(header::CONTENT_TYPE, ct)], body).into_response(),
        None => body.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> PageConfig {
        PageConfig {
            base_path: base.to_string(),
            version: "1.3.0".into(),
            user_agent: "nsqadmin/v1.3.0".into(),
            is_admin: true,
            graphite_url: String::new(),
            graph_enabled: false,
            nsqlookupd: vec!["</script><script>alert(1)</script>".into()],
            history_interval: 5,
        }
    }

    #[test]
    fn the_index_is_filled_in_and_escaped() {
        let html = render_index(INDEX, &config("/admin/"));
        assert!(!html.contains("{{"), "every placeholder replaced");
        assert!(html.contains("href=\"/admin/static/app.css\""));
        assert!(html.contains("src=\"/admin/static/app.js\""));
        assert!(html.contains("\"base_path\":\"/admin/\""));
        assert!(html.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
        assert!(!html.contains("</script><script>alert"));
        assert!(html.contains("\"user_agent\":\"nsqadmin/v1.3.0\""));
        assert!(html.contains("\"history_interval\":5"));
    }

    #[test]
    fn config_placeholder_is_replaced_once() {
        let t = "{{NSQADMIN_CONFIG}} {{NSQADMIN_CONFIG}} {{BASE_PATH}}{{BASE_PATH}}";
        assert_eq!(
            render_index(t, &config("/"))
                .matches("{{NSQADMIN_CONFIG}}")
                .count(),
            1
        );
        assert!(render_index(t, &config("/")).ends_with(" //"));
    }

    #[test]
    fn asset_types() {
        assert_eq!(
            content_type("app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(content_type("app.css"), Some("text/css; charset=utf-8"));
        assert_eq!(content_type("x.woff2"), Some("application/font-woff2"));
        assert_eq!(content_type("x.unknown"), None);
    }
}
