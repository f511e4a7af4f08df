//! The TCP side of nsqd: the accept loop (protocol magic) and one task per client
//! session, in layers: the connection (`connection`: transport, codec, buffers, flush, the
//! TLS and compression upgrades), the session loop (`session`) and the command handlers
//! (`handlers`). What other tasks see of a client, and its in-flight table, are in
//! `client`.

pub(crate) mod compress;
mod connection;
mod handlers;
pub(crate) mod identify;
mod session;
mod transport;

use crate::broker::Nsqd;
use crate::client::Peer;
use crate::listener::Listener;
use bytes::BytesMut;
use protocol::frame;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, warn};
use transport::Transport;

/// Accept connections (TCP or unix socket) until shutdown; each gets its own task,
/// tracked for shutdown.
pub async fn accept_loop(ctx: Arc<Nsqd>, listener: Listener) {
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            a = accept(&listener) => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                let ctx2 = Arc::clone(&ctx);
                ctx.tracker.spawn(async move {
                    debug!(peer = %peer, "TCP: new client");
                    handle(ctx2, stream, peer).await;
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

async fn handle(ctx: Arc<Nsqd>, mut stream: Transport, peer: Peer) {
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
    session::Session::new(ctx, stream, peer).run().await;
}
