//! The running daemon: the shared context ([`Lookupd`]: config, bound addresses, the
//! registry behind its lock, shutdown token, connection tracker) and [`serve`], which
//! starts the TCP accept loop and the HTTP server and stops both on shutdown. What the
//! tasks do is `tcp.rs`'s and `http/`'s business.

use crate::config::{self, Config};
use crate::registry::{Lifetimes, Registry};
use crate::{http, tcp, Listeners};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// How long shutdown waits for TCP sessions to notice the token and clean up.
const SESSION_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Lookupd {
    pub config: Config,
    pub tcp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The OS hostname, read once (IDENTIFY replies carry it).
    pub hostname: String,
    /// One lock for the whole registry: every operation is a short, non-blocking map
    /// update or scan, and a few hundred nsqd nodes at most touch it.
    registry: Mutex<Registry>,
    pub shutdown: CancellationToken,
    /// Every TCP session, so shutdown can wait for their clean-up.
    pub tracker: TaskTracker,
}

impl Lookupd {
    pub fn new(
        config: Config,
        tcp_addr: SocketAddr,
        http_addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> Lookupd {
        let registry = Registry::new(Lifetimes {
            inactive_producer_timeout: config.inactive_producer_timeout,
            tombstone_lifetime: config.tombstone_lifetime,
        });
        Lookupd {
            config,
            tcp_addr,
            http_addr,
            hostname: config::hostname(),
            registry: Mutex::new(registry),
            shutdown,
            tracker: TaskTracker::new(),
        }
    }

    /// The registry, locked. Never hold the guard across an `.await`. A poisoned lock is
    /// taken anyway: every registry method leaves the maps consistent between statements.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Unix nanoseconds now: the registry's clock (and what `/debug` shows).
pub fn unix_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Runs both servers until `shutdown` is cancelled, then closes the listeners, ends every
/// TCP session (removing its registrations) and lets HTTP requests in flight finish.
pub async fn serve(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tcp_addr = listeners.tcp.local_addr()?;
    let http_addr = listeners.http.local_addr()?;
    info!("{}", config::version_line());
    let ctx = Arc::new(Lookupd::new(config, tcp_addr, http_addr, shutdown.clone()));

    info!("TCP: listening on {tcp_addr}");
    let accept = tokio::spawn(tcp::accept_loop(Arc::clone(&ctx), listeners.tcp));
    info!("HTTP: listening on {http_addr}");
    let http_task = tokio::spawn(http::serve(Arc::clone(&ctx), listeners.http));

    shutdown.cancelled().await;
    let _ = accept.await;
    info!("TCP: closing {tcp_addr}");
    ctx.tracker.close();
    if tokio::time::timeout(SESSION_DRAIN_TIMEOUT, ctx.tracker.wait())
        .await
        .is_err()
    {
        warn!("TCP sessions did not finish in time");
    }
    let _ = http_task.await;
    info!("HTTP: closing {http_addr}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use protocol::lookup;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn response(stream: &mut TcpStream, buf: &mut BytesMut) -> Vec<u8> {
        loop {
            if let Some(data) = lookup::read_response(buf) {
                return data.to_vec();
            }
            let n = stream.read_buf(buf).await.expect("read");
            assert!(n > 0, "closed while a response was expected");
        }
    }

    /// In process: bind port 0, identify, register and ping over TCP with the protocol
    /// crate's client helpers, then shut down cleanly (the connection is closed).
    #[tokio::test]
    async fn runs_registers_and_shuts_down() {
        let config = Config::default_for_tests();
        let listeners = crate::bind(&config).await.expect("bind");
        let tcp_addr = listeners.tcp.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(crate::run(config, listeners, shutdown.clone()));

        let mut stream = TcpStream::connect(tcp_addr).await.expect("connect");
        let mut buf = BytesMut::new();
        let body = br#"{"broadcast_address":"n","tcp_port":1,"http_port":2,"version":"1.3.0"}"#;
        let mut out = lookup::MAGIC_V1.to_vec();
        out.extend_from_slice(&lookup::identify(body));
        out.extend_from_slice(&lookup::register("t", Some("c")));
        out.extend_from_slice(lookup::PING);
        stream.write_all(&out).await.expect("write");
        let reply: serde_json::Value =
            serde_json::from_slice(&response(&mut stream, &mut buf).await).expect("json");
        assert_eq!(reply["tcp_port"], tcp_addr.port());
        assert_eq!(response(&mut stream, &mut buf).await, b"OK");
        assert_eq!(response(&mut stream, &mut buf).await, b"OK");

        shutdown.cancel();
        server.await.expect("join").expect("clean exit");
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "nothing after shutdown");
    }
}
