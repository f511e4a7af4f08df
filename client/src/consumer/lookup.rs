//! Discovery through nsqlookupd, as go-nsq does it: `GET /lookup?topic=` on one
//! nsqlookupd per poll, in turn (the next one tried on failure, three tries in all),
//! every producer's `broadcast_address:tcp_port` connected unless it already is; the
//! first poll right away, then every `lookupd_poll_interval` after a random jitter, and
//! again whenever a connection is lost.

use super::{lock, Inner};
use crate::error::{Error, Result};
use protocol::json::lookupd::Lookup;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Adds an nsqlookupd; the first one starts the polling.
pub(crate) async fn add(inner: &Arc<Inner>, addr: &str) -> Result<()> {
    if inner.is_stopping() {
        return Err(Error::Stopped);
    }
    let url = endpoint(addr, &inner.topic);
    let first = {
        let mut l = lock(&inner.lookupds);
        if l.contains(&url) {
            return Ok(());
        }
        l.push(url);
        l.len() == 1
    };
    if first {
        query(inner).await;
        tokio::spawn(poll_loop(Arc::clone(inner)));
    }
    Ok(())
}

/// `http://host:port/lookup?topic=T` for `host:port` or a URL.
fn endpoint(addr: &str, topic: &str) -> String {
    let base = if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{addr}")
    };
    let base = base.strip_suffix("/lookup").unwrap_or(&base).to_string();
    format!("{base}/lookup?topic={topic}")
}

async fn poll_loop(inner: Arc<Inner>) {
    let interval = inner.config.lookupd_poll_interval;
    let jitter =
        interval.mul_f64((inner.random_unit() * inner.config.lookupd_poll_jitter).clamp(0.0, 1.0));
    tokio::select! {
        _ = tokio::time::sleep(jitter) => {}
        _ = inner.cancel.cancelled() => return,
    }
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = inner.lookupd_recheck.notified() => {}
            _ = inner.cancel.cancelled() => return,
        }
        if inner.is_stopping() {
            return;
        }
        query(&inner).await;
    }
}

fn http_client(inner: &Inner) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(inner.config.dial_timeout)
        .timeout(inner.config.read_timeout.min(Duration::from_secs(30)))
        .build()
        .ok()
}

/// One round: ask an nsqlookupd and connect to every producer it lists.
async fn query(inner: &Arc<Inner>) {
    let Some(client) = http_client(inner) else {
        tracing::error!("cannot build the HTTP client for nsqlookupd");
        return;
    };
    let mut lookup = None;
    for _ in 0..3 {
        let url = {
            let l = lock(&inner.lookupds);
            if l.is_empty() {
                return;
            }
            let i = inner.lookupd_next.fetch_add(1, Ordering::SeqCst) as usize % l.len();
            l[i].clone()
        };
        match get(&client, &url).await {
            Ok(l) => {
                lookup = Some(l);
                break;
            }
            Err(e) => {
                tracing::error!("error querying nsqlookupd ({url}) - {e}");
            }
        }
    }
    let Some(lookup) = lookup else {
        return;
    };
    for p in lookup.producers {
        let addr = join_host_port(&p.broadcast_address, p.tcp_port);
        match inner.connect(&addr).await {
            Ok(()) | Err(Error::AlreadyConnected(_)) => {}
            Err(Error::Stopped) => return,
            Err(e) => tracing::error!(%addr, "error connecting to nsqd - {e}"),
        }
    }
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Lookup> {
    let err = |e: &dyn std::fmt::Display| Error::Lookupd {
        addr: url.to_string(),
        reason: e.to_string(),
    };
    let resp = client
        .get(url)
        .header("Accept", "application/vnd.nsq; version=1.0")
        .send()
        .await
        .map_err(|e| err(&e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| err(&e))?;
    if !status.is_success() {
        return Err(err(&format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )));
    }
    serde_json::from_slice(&body).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint("127.0.0.1:4161", "t"),
            "http://127.0.0.1:4161/lookup?topic=t"
        );
        assert_eq!(endpoint("http://h:1/", "t"), "http://h:1/lookup?topic=t");
        assert_eq!(
            endpoint("https://h:1/lookup", "t"),
            "https://h:1/lookup?topic=t"
        );
        assert_eq!(join_host_port("::1", 4150), "[::1]:4150");
        assert_eq!(join_host_port("a", 1), "a:1");
    }
}
