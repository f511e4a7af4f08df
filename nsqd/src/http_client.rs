//! A small outbound HTTP/1.1 client for the few requests nsqd makes itself (lookupd
//! `/channels`, auth servers): GET of an `http://` URL (or `https://` given a TLS client
//! configuration: the auth servers, as Go nsqd's client with `--tls-root-ca-file`) with
//! connect and request timeouts, `Connection: close`, the reply read to EOF (bounded),
//! chunked bodies decoded.

use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Replies larger than this are refused (auth and lookupd replies are tiny).
const MAX_REPLY: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("unsupported URL {0} (only http:// and, with TLS, https:// are supported)")]
    Url(String),
    #[error("TLS to {addr}: {source}")]
    Tls {
        addr: String,
        #[source]
        source: std::io::Error,
    },
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

/// Split `http[s]://host:port/path?query` into (https, `host:port`, `/path?query`).
fn split_url(url: &str) -> Result<(bool, &str, &str), HttpClientError> {
    let (https, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(r), _) => (false, r),
        (None, Some(r)) => (true, r),
        _ => return Err(HttpClientError::Url(url.to_string())),
    };
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
    Ok((https, host, path))
}

/// The host part of `host:port` (`[v6]:port` too), as TLS names it.
fn tls_server_name(host: &str) -> Option<rustls::pki_types::ServerName<'static>> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(name.to_string()).ok()
}

/// GET `url` (`http://` only), with the reference's `Accept` header.
pub async fn get(
    url: &str,
    connect: Duration,
    request: Duration,
) -> Result<Reply, HttpClientError> {
    get_with_tls(url, connect, request, None).await
}

/// GET `url`; `https://` URLs go over TLS with `tls` (refused without it).
pub async fn get_with_tls(
    url: &str,
    connect: Duration,
    request: Duration,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<Reply, HttpClientError> {
    send(url, None, connect, request, tls).await
}

/// POST `body` (JSON) to `url`; `https://` as [`get_with_tls`].
pub async fn post_json_with_tls(
    url: &str,
    body: &[u8],
    connect: Duration,
    request: Duration,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<Reply, HttpClientError> {
    send(url, Some(body), connect, request, tls).await
}

/// GET, or POST of a JSON `body`.
async fn send(
    url: &str,
    body: Option<&[u8]>,
    connect: Duration,
    request: Duration,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<Reply, HttpClientError> {
    let (https, host, path) = split_url(url)?;
    let tls = match (https, tls) {
        (true, None) => return Err(HttpClientError::Url(url.to_string())),
        (true, Some(t)) => Some(t),
        (false, _) => None,
    };
    let stream = timeout(connect, TcpStream::connect(host))
        .await
        .map_err(|_| HttpClientError::ConnectTimeout {
            addr: host.to_string(),
        })??;
    let (method, content) = match body {
        None => ("GET", String::new()),
        Some(b) => (
            "POST",
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ),
        ),
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/vnd.nsq; version=1.0\r\nUser-Agent: nsqd/{}\r\n{content}Connection: close\r\n\r\n",
        daemon::VERSION
    )
    .into_bytes();
    req.extend_from_slice(body.unwrap_or_default());
    let exchange = async {
        match tls {
            None => exchange(stream, &req).await,
            Some(connector) => {
                let name =
                    tls_server_name(host).ok_or_else(|| HttpClientError::Url(url.to_string()))?;
                let tls_err = |source| HttpClientError::Tls {
                    addr: host.to_string(),
                    source,
                };
                let stream = connector.connect(name, stream).await.map_err(tls_err)?;
                exchange(stream, &req).await
            }
        }
    };
    timeout(request, exchange)
        .await
        .map_err(|_| HttpClientError::Timeout {
            url: url.to_string(),
        })?
}

/// Write the request, read the reply to EOF (bounded).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    req: &[u8],
) -> Result<Reply, HttpClientError> {
    stream.write_all(req).await?;
    let mut buf = BytesMut::new();
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            // A TLS peer that closes without close_notify (common for HTTP servers with
            // `Connection: close`): the reply is complete when its header was read.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Err(e) => return Err(e.into()),
        }
        if buf.len() > MAX_REPLY {
            return Err(HttpClientError::Malformed("reply too large"));
        }
    }
    parse_reply(&buf)
}

/// Go's V1 client answer to a 403 from an `http://` URL: the same URL over https on the
/// `https_port` the JSON body names (`None` if the body has none).
pub fn https_retry_url(url: &str, body: &[u8]) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let port = serde_json::from_slice::<serde_json::Value>(body).ok()?["https_port"].as_u64()?;
    let (hostport, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => hostport,
    };
    Some(format!("https://{host}:{port}{path}"))
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
        assert_eq!(
            split_url("http://a:1/auth").ok(),
            Some((false, "a:1", "/auth"))
        );
        assert_eq!(
            split_url("http://a:1?x=1").ok(),
            Some((false, "a:1", "?x=1"))
        );
        assert_eq!(split_url("http://a:1").ok(), Some((false, "a:1", "/")));
        assert_eq!(split_url("https://a:1/").ok(), Some((true, "a:1", "/")));
        assert!(split_url("ftp://a:1/").is_err());
        assert!(tls_server_name("auth.example:443").is_some());
        assert!(tls_server_name("127.0.0.1:8443").is_some());
        assert!(tls_server_name("[::1]:8443").is_some());
        assert_eq!(
            https_retry_url("http://a:1/auth?x=1", br#"{"https_port":4152}"#).as_deref(),
            Some("https://a:4152/auth?x=1")
        );
        assert_eq!(https_retry_url("http://a:1/auth", b"{}"), None);
        assert_eq!(
            https_retry_url("https://a:1/auth", br#"{"https_port":2}"#),
            None
        );
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
