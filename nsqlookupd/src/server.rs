//! The running daemon: [`serve`] builds the shared state (`state.rs`), starts the TCP
//! accept loop and the HTTP server, and stops both on shutdown. What the tasks do is
//! `tcp.rs`'s and `http/`'s business.

use crate::config::{self, Config};
use crate::state::Lookupd;
use crate::{http, tcp, Listeners};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How long shutdown waits for TCP sessions to notice the token and clean up.
const SESSION_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs both servers until `shutdown` is cancelled, then closes the listeners, ends every
/// TCP session (removing its registrations) and lets HTTP requests in flight finish.
pub(crate) async fn serve(
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
