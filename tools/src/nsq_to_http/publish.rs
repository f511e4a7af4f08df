//! One HTTP request per message and address, as Go nsq_to_http v1.3.0 makes it: a POST
//! with the body, `Content-Type` and the user agent `nsq_to_http v1.3.0`, or a GET of the
//! address with its `%s` replaced by the query-escaped body; custom headers set last (so
//! they may replace those two). The answer's body is read and dropped; a POST succeeds on
//! any 2xx, a GET on 200 only. Failures read as Go's client words them. Go's transport
//! adds `Accept-Encoding: gzip`, and so do we; the HTTP client here also sends
//! `Accept: */*`, which Go's does not.

use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, CONTENT_TYPE, USER_AGENT,
};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

pub(crate) struct Publisher {
    method: Method,
    client: reqwest::Client,
    content_type: String,
    user_agent: String,
    headers: Vec<(String, String)>,
}

impl Publisher {
    /// Go's `http.Client` with its deadline transport: `connect` bounds the dial, `request`
    /// the whole exchange (`None`: no bound, as Go's zero durations).
    pub(crate) fn new(
        method: Method,
        connect: Option<Duration>,
        request: Option<Duration>,
        content_type: &str,
        headers: Vec<(String, String)>,
    ) -> Result<Publisher, String> {
        // Go's deadline transport has no proxy (it ignores HTTP_PROXY and the like).
        let mut b = reqwest::Client::builder()
            .http1_title_case_headers()
            .no_proxy();
        if let Some(c) = connect {
            b = b.connect_timeout(c);
        }
        if let Some(r) = request {
            b = b.timeout(r);
        }
        let client = b.build().map_err(|e| e.to_string())?;
        Ok(Publisher {
            method,
            client,
            content_type: content_type.to_string(),
            user_agent: crate::cli::version_line("nsq_to_http"),
            headers,
        })
    }

    fn header_map(&self) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        let value = |v: &str| {
            HeaderValue::from_str(v)
                .map_err(|_| format!("net/http: invalid header field value for {v:?}"))
        };
        h.insert(USER_AGENT, value(&self.user_agent)?);
        // Go's transport asks for gzip unless the request says otherwise (the answer is
        // dropped unread, so its encoding does not matter).
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        if self.method == Method::Post {
            h.insert(CONTENT_TYPE, value(&self.content_type)?);
        }
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("net/http: invalid header field name {k:?}"))?;
            h.insert(name, value(v)?);
        }
        Ok(h)
    }

    /// Sends `body` to `addr`; `Err` is the handler's error text.
    pub(crate) async fn publish(&self, addr: &str, body: &[u8]) -> Result<(), String> {
        let headers = self.header_map()?;
        let (verb, url, request) = match self.method {
            Method::Post => (
                "Post",
                addr.to_string(),
                self.client.post(addr).body(body.to_vec()),
            ),
            Method::Get => {
                let url = printf(addr, &query_escape(body));
                let request = self.client.get(&url);
                ("Get", url, request)
            }
        };
        let response = request
            .headers(headers)
            .send()
            .await
            .map_err(|e| format!("{verb} {url:?}: {}", go_reason(&e)))?;
        let status = response.status().as_u16();
        // Go reads the answer to its end and ignores how that went.
        let _ = response.bytes().await;
        let ok = match self.method {
            Method::Post => (200..300).contains(&status),
            Method::Get => status == 200,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("got status code {status}"))
        }
    }
}

/// Go's `fmt.Sprintf(addr, escaped)` for an address with one `%s`: `%%` is `%`, the
/// `%s` takes the value; any other `%` is kept as it is.
pub(crate) fn printf(format: &str, value: &str) -> String {
    let mut out = String::with_capacity(format.len() + value.len());
    let mut rest = format;
    let mut used = false;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let (Some(tail), false) = (after.strip_prefix('s'), used) {
            out.push_str(value);
            used = true;
            rest = tail;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` as they are, space as `+`, every
/// other byte `%XX` (upper-case hex).
pub(crate) fn query_escape(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(body.len() * 3);
    for &b in body {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

/// Why a request failed, in the words of Go's HTTP client where they are known.
fn go_reason(e: &reqwest::Error) -> String {
    let addr = || {
        e.url()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or_default(),
                    u.port_or_known_default().unwrap_or_default()
                )
            })
            .unwrap_or_default()
    };
    if e.is_timeout() {
        if e.is_connect() {
            return format!("dial tcp {}: i/o timeout", addr());
        }
        return "net/http: timeout awaiting response headers (Client.Timeout exceeded while awaiting headers)".into();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut deepest = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return format!("dial tcp {}: connect: connection refused", addr());
            }
        }
        deepest = s.to_string();
        source = s.source();
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_as_go() {
        assert_eq!(
            query_escape(b"a b&c=d/e?f+g~h_i.j-k%\xff\n"),
            "a+b%26c%3Dd%2Fe%3Ff%2Bg~h_i.j-k%25%FF%0A"
        );
    }

    #[test]
    fn printf_as_go() {
        assert_eq!(printf("http://h/x?d=%s", "v"), "http://h/x?d=v");
        assert_eq!(printf("http://h/100%%/%s/", "v"), "http://h/100%/v/");
        assert_eq!(printf("%s", ""), "");
    }
}
