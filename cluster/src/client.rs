//! The upstream HTTP client (Go's `http_api.Client`): GET or POST with an empty body and
//! `Accept: application/vnd.nsq; version=1.0`, a connect timeout and a whole-request
//! timeout, client TLS from the `--http-client-tls-*` options, and the one retry over
//! https when an nsqd answers 403 with an `https_port` (its `--http-address` refuses plain
//! HTTP). Error texts follow Go's: `got response 404 Not Found "<body>"`,
//! `Get "<url>": dial tcp <addr>: connect: connection refused`, JSON decoder errors.

use crate::gojson::{self, Reader};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

const ACCEPT: &str = "application/vnd.nsq; version=1.0";

/// The client's options (nsqadmin's `--http-client-*`).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub tls_insecure_skip_verify: bool,
    pub tls_root_ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM files), both or neither.
    pub tls_cert_key: Option<(PathBuf, PathBuf)>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            tls_insecure_skip_verify: false,
            tls_root_ca_file: None,
            tls_cert_key: None,
        }
    }
}

/// A cheap-to-clone handle on one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// Builds the client; a TLS file that cannot be read or parsed is an error with Go
    /// nsqadmin's startup text.
    pub fn new(config: &ClientConfig) -> Result<Client, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .danger_accept_invalid_certs(config.tls_insecure_skip_verify)
            .pool_idle_timeout(Duration::from_secs(90));
        if let Some((cert, key)) = &config.tls_cert_key {
            let load = || -> Result<reqwest::Identity, String> {
                let mut pem = std::fs::read(cert).map_err(|e| e.to_string())?;
                pem.push(b'\n');
                pem.extend(std::fs::read(key).map_err(|e| e.to_string())?);
                reqwest::Identity::from_pem(&pem).map_err(|e| e.to_string())
            };
            let identity = load().map_err(|e| {
                format!(
                    "failed to LoadX509KeyPair {}, {} - {e}",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        if let Some(ca) = &config.tls_root_ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("failed to read TLS root CA file {} - {e}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| format!("failed to AppendCertsFromPEM {}", ca.display()))?;
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        Ok(Client { http })
    }

    /// GET `url` and decode the JSON answer (Go's `GETV1`).
    pub async fn get_v1<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let body = self.request(reqwest::Method::GET, url).await?;
        let value = gojson::parse(&body, Reader::Unmarshal)?;
        serde_json::from_value(value).map_err(|e| format!("json: {e}"))
    }

    /// POST to `url` with an empty body; any 200 is success (Go's `POSTV1`).
    pub async fn post_v1(&self, url: &str) -> Result<(), String> {
        self.request(reqwest::Method::POST, url).await.map(|_| ())
    }

    /// POST `body` as JSON to `url` (notifications); the answer is ignored.
    pub async fn post_json(&self, url: &str, body: Vec<u8>) -> Result<u16, String> {
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error("Post", url, &e))?;
        Ok(resp.status().as_u16())
    }

    async fn request(&self, method: reqwest::Method, url: &str) -> Result<Vec<u8>, String> {
        let verb = if method == reqwest::Method::GET {
            "Get"
        } else {
            "Post"
        };
        let mut url = url.to_string();
        loop {
            let resp = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::ACCEPT, ACCEPT)
                .send()
                .await
                .map_err(|e| transport_error(verb, &url, &e))?;
            let status = resp.status();
            let body = resp
                .bytes()
                .await
                .map_err(|e| transport_error(verb, &url, &e))?
                .to_vec();
            if status.as_u16() == 200 {
                return Ok(body);
            }
            if status.as_u16() == 403 && !url.starts_with("https") {
                url = https_endpoint(&url, &body)?;
                continue;
            }
            return Err(format!(
                "got response {} {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                protocol::quote::go_quote(&body)
            ));
        }
    }
}

/// The https URL an nsqd's 403 `{"https_port":N}` points to (Go's `httpsEndpoint`).
fn https_endpoint(url: &str, body: &[u8]) -> Result<String, String> {
    let value = gojson::parse(body, Reader::Unmarshal)?;
    let port = value
        .get("https_port")
        .and_then(|p| p.as_i64())
        .unwrap_or(0);
    let mut u = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    u.set_scheme("https")
        .map_err(|_| "bad scheme".to_string())?;
    u.set_port(u16::try_from(port).ok())
        .map_err(|_| "bad port".to_string())?;
    Ok(u.to_string())
}

/// Go's `*url.Error` text for a failed request: `Get "<url>": <cause>`.
fn transport_error(verb: &str, url: &str, e: &reqwest::Error) -> String {
    let cause = if e.is_timeout() {
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
    } else if e.is_connect() {
        let addr = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.to_string();
                Some(format!("{host}:{}", u.port_or_known_default()?))
            })
            .unwrap_or_default();
        let reason = io_cause(e)
            .map(|io| match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => io.to_string(),
            })
            .unwrap_or_else(|| "connection failed".to_string());
        format!("dial tcp {addr}: connect: {reason}")
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    };
    format!("{verb} \"{url}\": {cause}")
}

fn io_cause(e: &reqwest::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

/// Go's `url.QueryEscape`: space as `+`, unreserved bytes kept, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
pub fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_joins_like_go() {
        assert_eq!(query_escape("a b#c/d"), "a+b%23c%2Fd");
        assert_eq!(query_escape("t_1.x-y~"), "t_1.x-y~");
        assert_eq!(join_host_port("::1", 4151), "[::1]:4151");
        assert_eq!(join_host_port("h", 1), "h:1");
    }

    #[test]
    fn https_retry_target() {
        assert_eq!(
            https_endpoint(
                "http://127.0.0.1:4151/stats?format=json",
                br#"{"https_port":4152}"#
            ),
            Ok("https://127.0.0.1:4152/stats?format=json".to_string())
        );
        assert!(https_endpoint("http://h:1/x", b"nope").is_err());
    }
}
