//! A small outbound HTTP/1.1 client for the few requests nsqd makes itself (lookupd
//! `/channels`, auth servers): GET of an `http://` URL with connect and request timeouts,
//! `Connection: close`, the reply read to EOF (bounded), chunked bodies decoded.

use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Replies larger than this are refused (auth and lookupd replies are tiny).
const MAX_REPLY: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("unsupported URL {0} (only http:// is supported)")]
    Url(String),
    #[error("connect to {addr} timed out")]
    ConnectTimeout { addr: String },
    #[error("request to {url} timed out")]
    Timeout { url: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP reply: {0}")]
    Malformed(&'static str),
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Split `http://host:port/path?query` into (`host:port`, `/path?query`).
fn split_url(url: &str) -> Result<(&str, &str), HttpClientError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| HttpClientError::Url(url.to_string()))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        },
    };
    if host.is_empty() {
        return Err(HttpClientError::Url(url.to_string()));
    }
    Ok((host, path))
}

/// GET `url`, with the reference's `Accept` header.
pub async fn get(
    url: &str,
    connect: Duration,
    request: Duration,
) -> Result<Reply, HttpClientError> {
    let (host, path) = split_url(url)?;
    let mut stream = timeout(connect, TcpStream::connect(host))
        .await
        .map_err(|_| HttpClientError::ConnectTimeout {
            addr: host.to_string(),
        })??;
    let exchange = async {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/vnd.nsq; version=1.0\r\nUser-Agent: nsqd/{}\r\nConnection: close\r\n\r\n",
            daemon::VERSION
        );
        stream.write_all(req.as_bytes()).await?;
        let mut buf = BytesMut::new();
        while stream.read_buf(&mut buf).await? > 0 {
            if buf.len() > MAX_REPLY {
                return Err(HttpClientError::Malformed("reply too large"));
            }
        }
        parse_reply(&buf)
    };
    timeout(request, exchange)
        .await
        .map_err(|_| HttpClientError::Timeout {
            url: url.to_string(),
        })?
}

fn parse_reply(raw: &[u8]) -> Result<Reply, HttpClientError> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(HttpClientError::Malformed("no header end"))?;
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|_| HttpClientError::Malformed("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(HttpClientError::Malformed("bad status line"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(Reply { status, body })
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, HttpClientError> {
    let bad = HttpClientError::Malformed("bad chunked body");
    let mut out = Vec::new();
    loop {
        let nl = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(HttpClientError::Malformed("bad chunk size"))?;
        let size_text = std::str::from_utf8(&b[..nl])
            .map_err(|_| HttpClientError::Malformed("bad chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| HttpClientError::Malformed("bad chunk size"))?;
        b = &b[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(bad);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Encode a query component as Go's `url.QueryEscape` (space as `+`).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(split_url("http://a:1/auth").ok(), Some(("a:1", "/auth")));
        assert_eq!(split_url("http://a:1?x=1").ok(), Some(("a:1", "?x=1")));
        assert_eq!(split_url("http://a:1").ok(), Some(("a:1", "/")));
        assert!(split_url("https://a:1/").is_err());
    }

    #[test]
    fn replies() {
        let r = parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").expect("ok");
        assert_eq!((r.status, r.body), (200, b"hi".to_vec()));
        let r = parse_reply(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n").expect("ok");
        assert_eq!((r.status, r.body), (403, b"abc".to_vec()));
    }

    #[test]
    fn encoding() {
        assert_eq!(encode_component("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
