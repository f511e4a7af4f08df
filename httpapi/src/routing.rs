//! What the reference's router (httprouter) does around the route table: `OPTIONS`
//! answers, 405 with `Allow`, 404, and redirects of paths that only differ from a route
//! by a trailing slash, letter case or unclean segments (`//`, `.`, `..`). The table
//! itself and the handlers are in `mod.rs`.

use crate::error::ApiError;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::sync::Arc;

/// One route: its path pattern (`{name}` matches one segment) and its `Allow` value:
/// the route's methods plus `OPTIONS`, sorted, joined by ", " as the reference writes it.
pub type RouteInfo = (&'static str, &'static str);

/// Completes a route's method table: `OPTIONS` answers 200 with `Allow` and no body;
/// any other method (including `HEAD`, which axum would otherwise serve with the `GET`
/// handler) is 405 `METHOD_NOT_ALLOWED` with `Allow`. axum keeps an `Allow` header the
/// handler already set.
pub fn methods<S>(route: MethodRouter<S>, allow: &'static str) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let not_allowed = move || async move {
        let mut response =
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        response
    };
    route
        .head(not_allowed)
        .options(move || async move { [(header::ALLOW, allow)] })
        .fallback(not_allowed)
}

/// A router serving `routes` (path, `Allow` value, handlers), each completed by `methods`,
/// with `fallback` for everything else.
pub fn router<S>(routes: Vec<(&'static str, &'static str, MethodRouter<S>)>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut table: Vec<RouteInfo> = Vec::new();
    let mut router = Router::new();
    for (path, allow, handlers) in routes {
        table.push((path, allow));
        router = router.route(path, methods(handlers, allow));
    }
    let table: Arc<[RouteInfo]> = table.into();
    router.fallback(move |method: Method, uri: Uri| async move { fallback(&table, &method, &uri) })
}

/// The answer for a path no route matched: a redirect (301 for GET, 307 otherwise,
/// query kept) when the cleaned, case-folded path without trailing slash names a route
/// serving this method, else 404 `NOT_FOUND`.
pub fn fallback(table: &[RouteInfo], method: &Method, uri: &Uri) -> Response {
    let Some(path) = fixed_path(table, method, uri.path()) else {
        return ApiError::not_found("NOT_FOUND").into_response();
    };
    let location = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let status = if method == Method::GET {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let Ok(value) = HeaderValue::from_str(&location) else {
        return ApiError::not_found("NOT_FOUND").into_response();
    };
    if method == Method::GET {
        // Go's http.Redirect: a GET also gets a small HTML body with the link.
        let body = format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            html_escape(&location)
        );
        let html = HeaderValue::from_static("text/html; charset=utf-8");
        (
            status,
            [(header::LOCATION, value), (header::CONTENT_TYPE, html)],
            body,
        )
            .into_response()
    } else {
        (status, [(header::LOCATION, value)]).into_response()
    }
}

/// Go's `htmlReplacer`: `&`, `<`, `>`, `"` and `'` as entities.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The registered path `path` stands for, if it differs from it.
fn fixed_path(table: &[RouteInfo], method: &Method, path: &str) -> Option<String> {
    // The reference only redirects within the tree of the request's own method.
    if path == "/" || *method == Method::OPTIONS || *method == Method::CONNECT {
        return None;
    }
    let cleaned = clean_path(path);
    let wanted: Vec<&str> = cleaned.split('/').filter(|s| !s.is_empty()).collect();
    table
        .iter()
        .filter(|(_, allow)| allow.split(", ").any(|m| m == method.as_str()))
        .find_map(|(pattern, _)| matches(pattern, &wanted))
        .filter(|fixed| fixed != path)
}

/// `pattern` with its parameters filled from `segments`, if they match (static
/// segments case-insensitively).
fn matches(pattern: &str, segments: &[&str]) -> Option<String> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut out = String::new();
    for (part, segment) in parts.iter().zip(segments) {
        out.push('/');
        if part.starts_with('{') {
            out.push_str(segment);
        } else if part.eq_ignore_ascii_case(segment) {
            out.push_str(part);
        } else {
            return None;
        }
    }
    Some(out)
}

/// Go's `httprouter.CleanPath` without the trailing-slash handling (no route ends in
/// one): drops empty and `.` segments and resolves `..`.
fn clean_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[RouteInfo] = &[
        ("/ping", "GET, OPTIONS"),
        ("/topic/create", "OPTIONS, POST"),
        ("/config/{opt}", "GET, OPTIONS, PUT"),
    ];

    #[test]
    fn fixes_paths_like_httprouter() {
        let fix = |method: Method, path: &str| fixed_path(TABLE, &method, path);
        assert_eq!(fix(Method::GET, "/ping/"), Some("/ping".to_string()));
        assert_eq!(fix(Method::GET, "/PING"), Some("/ping".to_string()));
        assert_eq!(fix(Method::GET, "//a/../Ping//"), Some("/ping".to_string()));
        assert_eq!(
            fix(Method::POST, "/Topic/Create/"),
            Some("/topic/create".to_string())
        );
        assert_eq!(
            fix(Method::PUT, "/CONFIG/Log_Level/"),
            Some("/config/Log_Level".to_string())
        );
        assert_eq!(fix(Method::GET, "/ping"), None);
        assert_eq!(fix(Method::POST, "/ping/"), None, "no POST route /ping");
        assert_eq!(fix(Method::HEAD, "/ping/"), None);
        assert_eq!(fix(Method::OPTIONS, "/ping/"), None);
        assert_eq!(fix(Method::GET, "/topic/create/"), None);
        assert_eq!(fix(Method::GET, "/nope/"), None);
        assert_eq!(fix(Method::GET, "/"), None);
    }

    #[test]
    fn get_redirects_carry_go_s_html_body_and_others_none() {
        let uri: Uri = "/PING/?a=1&b=2".parse().expect("uri");
        let r = fallback(TABLE, &Method::GET, &uri);
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()[header::LOCATION], "/ping?a=1&b=2");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(
            html_escape(r#"/p?a=1&b=<"'>"#),
            "/p?a=1&amp;b=&lt;&#34;&#39;&gt;"
        );
        let uri: Uri = "/Topic/Create/".parse().expect("uri");
        let r = fallback(TABLE, &Method::POST, &uri);
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
        assert!(r.headers().get(header::CONTENT_TYPE).is_none());
    }
}
