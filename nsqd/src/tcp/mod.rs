//! The TCP side of nsqd: the accept loop (protocol magic) and one task per client
//! session, in layers: the connection (`connection`: transport, codec, buffers, flush, the
//! TLS and compression upgrades), the session loop (`session`) and the command handlers
//! (`handlers`). What other tasks see of a client, and its in-flight table, are in
//! `client`.

mod connection;
mod handlers;
pub(crate) mod identify;
mod session;
mod transport;

use crate::broker::Nsqd;
use crate::client::Peer;
use crate::config::Config;
use crate::listener::Listener;
use bytes::BytesMut;
use identify::{IdentifyLimits, Negotiated};
use protocol::frame;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, warn};
use transport::Transport;

/// The default client heartbeat (the reference's fixed client timeout is 60 s).
const DEFAULT_HEARTBEAT: Duration = crate::config::DEFAULT_HEARTBEAT_INTERVAL;

/// What IDENTIFY may negotiate, from the config (`tls_available`: a certificate is loaded).
pub(crate) fn identify_limits(c: &Config, tls_available: bool) -> IdentifyLimits {
    IdentifyLimits {
        default_heartbeat: DEFAULT_HEARTBEAT,
        max_heartbeat_interval: c.max_heartbeat_interval,
        default_output_buffer_size: 16 * 1024,
        max_output_buffer_size: usize::try_from(c.max_output_buffer_size).unwrap_or(0),
        default_output_buffer_timeout: c.output_buffer_timeout,
        min_output_buffer_timeout: c.min_output_buffer_timeout,
        max_output_buffer_timeout: c.max_output_buffer_timeout,
        default_msg_timeout: c.msg_timeout,
        max_msg_timeout: c.max_msg_timeout,
        max_rdy_count: c.max_rdy_count.max(0) as u64,
        snappy: c.snappy,
        deflate: c.deflate,
        max_deflate_level: i64::from(c.max_deflate_level),
        tls_available,
        auth_required: !c.auth_http_addresses.is_empty(),
    }
}

/// The settings of a client that never sent IDENTIFY.
fn default_negotiated(l: &IdentifyLimits) -> Negotiated {
    Negotiated {
        heartbeat: Some(l.default_heartbeat),
        output_buffer_size: l.default_output_buffer_size,
        output_buffer_timeout: l.default_output_buffer_timeout,
        sample_rate: 0,
        msg_timeout: l.default_msg_timeout,
        tls: false,
        snappy: false,
        deflate: false,
        deflate_level: 6,
    }
}

/// Accept connections (TCP or unix socket) until shutdown; each gets its own task,
/// tracked for shutdown.
pub(crate) async fn accept_loop(ctx: Arc<Nsqd>, listener: Listener) {
    let limits = Arc::new(identify_limits(&ctx.config, ctx.tls_acceptor.is_some()));
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            a = accept(&listener) => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ctx2 = Arc::clone(&ctx);
                let limits = Arc::clone(&limits);
                let connected = crate::memory::Connected::new();
                ctx.tracker.spawn(async move {
                    let _connected = connected;
                    debug!(peer = %peer, "TCP: new client");
                    handle(ctx2, limits, stream, peer).await;
                });
            }
            Err(e) => {
                warn!(error = %e, "TCP: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn accept(listener: &Listener) -> std::io::Result<(Transport, Peer)> {
    match listener {
        Listener::Tcp(l) => {
            let (stream, peer) = l.accept().await?;
            let _ = stream.set_nodelay(true);
            Ok((Transport::Plain(stream), Peer::Tcp(peer)))
        }
        Listener::Unix(l, _) => {
            let (stream, _) = l.accept().await?;
            Ok((Transport::Unix(stream), Peer::Unix))
        }
    }
}

async fn handle(ctx: Arc<Nsqd>, limits: Arc<IdentifyLimits>, mut stream: Transport, peer: Peer) {
    let mut magic = [0u8; 4];
    let read = tokio::select! {
        _ = ctx.shutdown.cancelled() => return,
        r = stream.read_exact(&mut magic) => r,
    };
    if read.is_err() {
        return;
    }
    if &magic != protocol::MAGIC_V2 {
        let mut out = BytesMut::new();
        frame::put_error(&mut out, b"E_BAD_PROTOCOL");
        let _ = stream.write_all(&out).await;
        let _ = stream.shutdown().await;
        return;
    }
    session::Session::new(ctx, limits, stream, peer).run().await;
}
