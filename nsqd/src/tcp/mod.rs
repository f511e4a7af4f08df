//! The TCP side of nsqd: the accept loop (protocol magic) and one task per client
//! connection (`conn`), with IDENTIFY handling (`identify`) and the per-client in-flight
//! table (`inflight`).

pub mod compress;
pub mod conn;
pub mod identify;
pub mod inflight;
pub mod transport;

use crate::broker::Nsqd;
use bytes::BytesMut;
use protocol::frame;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

/// Accept connections until shutdown; each gets its own task, tracked for shutdown.
pub async fn accept_loop(ctx: Arc<Nsqd>, listener: TcpListener) {
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
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
}

async fn handle(ctx: Arc<Nsqd>, mut stream: TcpStream, peer: std::net::SocketAddr) {
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
    conn::Conn::new(ctx, transport::Transport::Plain(stream), peer)
        .run()
        .await;
}
