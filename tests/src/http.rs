//! A minimal HTTP/1.1 client over `std::net::TcpStream` (one request per connection,
//! `Connection: close`) for nsqd's HTTP API, plus `/stats` JSON look-ups.
//! Understands Content-Length, chunked and read-to-EOF bodies; nothing else. Requests
//! go out with a Content-Length, chunked, or as raw bytes.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Per-request I/O timeout.
const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Sends one request; I/O errors (e.g. connection refused) are returned.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    send_raw(addr, &out)
}

/// Sends one request whose body goes out with `Transfer-Encoding: chunked` (no
/// Content-Length), one chunk per element of `chunks`.
pub fn request_chunked(
    addr: SocketAddr,
    method: &str,
    path: &str,
    chunks: &[&[u8]],
) -> io::Result<Response> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    send_raw(addr, &out)
}

/// Sends `raw` (a whole request, head and body) and reads the response.
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(raw)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    parse_response(&response)
}

/// Value of the `X-NSQ-Content-Type` header on V1 responses.
pub const V1_HEADER_VALUE: &str = "nsq; version=1.0";
/// Content type of JSON payloads and of every V1 error.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Requires a V1 error: `status`, the JSON content type, the V1 header and exactly the
/// body `{"message":"<message>"}`.
#[track_caller]
pub fn assert_v1_error(response: &Response, status: u16, message: &str) {
    assert_eq!(
        (response.status, response.text()),
        (status, format!(r#"{{"message":"{message}"}}"#)),
        "unexpected V1 error response: {response:?}"
    );
    assert_eq!(
        response.header("Content-Type"),
        Some(JSON_CONTENT_TYPE),
        "{response:?}"
    );
    assert_eq!(
        response.header("X-NSQ-Content-Type"),
        Some(V1_HEADER_VALUE),
        "{response:?}"
    );
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    must("GET", path, request(addr, "GET", path, b""))
}

pub fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Response {
    must("POST", path, request(addr, "POST", path, body))
}

pub fn put(addr: SocketAddr, path: &str, body: &[u8]) -> Response {
    must("PUT", path, request(addr, "PUT", path, body))
}

/// POST with an empty body that must answer 200.
pub fn post_ok(addr: SocketAddr, path: &str) -> Response {
    let response = post(addr, path, b"");
    assert_eq!(
        response.status,
        200,
        "POST {path} failed: {}",
        response.text()
    );
    response
}

fn must(method: &str, path: &str, result: io::Result<Response>) -> Response {
    result.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// `GET /stats?format=json&topic=<topic>`, parsed. A `#` in the name (ephemeral
/// topics) is sent as `%23`.
pub fn stats_json(addr: SocketAddr, topic: &str) -> serde_json::Value {
    let topic_param = topic.replace('#', "%23");
    let response = get(addr, &format!("/stats?format=json&topic={topic_param}"));
    assert_eq!(response.status, 200, "/stats failed: {}", response.text());
    response.json()
}

/// The topic object of `/stats` for `topic`, if it exists.
pub fn topic_stats(addr: SocketAddr, topic: &str) -> Option<serde_json::Value> {
    let stats = stats_json(addr, topic);
    stats["topics"]
        .as_array()?
        .iter()
        .find(|t| t["topic_name"] == topic)
        .cloned()
}

/// The channel object of `/stats` for `topic`/`channel`, if it exists.
pub fn channel_stats(addr: SocketAddr, topic: &str, channel: &str) -> Option<serde_json::Value> {
    topic_stats(addr, topic)?["channels"]
        .as_array()?
        .iter()
        .find(|c| c["channel_name"] == channel)
        .cloned()
}

/// The client object of `/stats` in `topic`/`channel` whose `client_id` (set by
/// IDENTIFY) is `client_id`, if it exists.
pub fn client_stats(
    addr: SocketAddr,
    topic: &str,
    channel: &str,
    client_id: &str,
) -> Option<serde_json::Value> {
    channel_stats(addr, topic, channel)?["clients"]
        .as_array()?
        .iter()
        .find(|c| c["client_id"] == client_id)
        .cloned()
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[head_end + 4..];
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    response.body = if response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        decode_chunked(rest).ok_or_else(|| invalid("bad chunked body"))?
    } else if let Some(len) = response.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| invalid("bad Content-Length"))?;
        rest.get(..len)
            .ok_or_else(|| invalid("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(response)
}

fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked_bodies() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOKjunk").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"OK"[..]));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    }
}
