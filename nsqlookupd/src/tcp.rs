//! The TCP side: the accept loop and one task per connection running
//! the V1 session: magic, then PING / IDENTIFY / REGISTER / UNREGISTER until the peer
//! leaves, an error (always fatal) or shutdown; at the end the peer leaves every
//! registration. Byte formats are `protocol::lookup`'s, the IDENTIFY JSON `identify`'s,
//! the data `registry`'s.

use crate::identify;
use crate::registry::{PeerInfo, Registration};
use crate::state::Lookupd;
use bytes::{Bytes, BytesMut};
use daemon::clock::unix_nanos;
use protocol::json::lookupd::Identify;
use protocol::lookup::{self, Command, LookupError, MAGIC_V1};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{error, info, warn};

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Read buffer growth step; commands are short lines.
const READ_CHUNK: usize = 4096;

/// Accepts connections until shutdown; each gets a tracked session task.
pub async fn accept_loop(ctx: Arc<Lookupd>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                info!("TCP: new client({peer})");
                let ctx2 = Arc::clone(&ctx);
                ctx.tracker.spawn(async move {
                    Session::start(ctx2, stream, peer).await;
                });
            }
            Err(e) => {
                error!("TCP: accept failed - {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Why a session ended.
enum End {
    /// The peer closed or the socket failed; nothing more to send.
    Gone,
    /// Shutdown.
    Cancelled,
    /// A protocol error: send it, then close.
    Error(LookupError),
}

/// One connection: who it is (after IDENTIFY) and the bytes read but not yet used.
struct Session {
    ctx: Arc<Lookupd>,
    stream: TcpStream,
    /// The remote `ip:port`: the peer id and the name in log lines.
    remote: String,
    peer: Option<Arc<PeerInfo>>,
    buf: BytesMut,
}

impl Session {
    async fn start(ctx: Arc<Lookupd>, mut stream: TcpStream, peer: SocketAddr) {
        let mut magic = [0u8; 4];
        let read = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            r = stream.read_exact(&mut magic) => r,
        };
        if let Err(e) = read {
            error!("failed to read protocol version - {e}");
            return;
        }
        let shown = String::from_utf8_lossy(&magic);
        info!("CLIENT({peer}): desired protocol magic '{shown}'");
        if &magic != MAGIC_V1 {
            let data = LookupError::bad_protocol().response_data();
            let _ = stream.write_all(&lookup::response(&data)).await;
            error!("client({peer}) bad protocol magic '{shown}'");
            return;
        }
        let mut session = Session {
            ctx,
            stream,
            remote: peer.to_string(),
            peer: None,
            buf: BytesMut::with_capacity(READ_CHUNK),
        };
        let end = session.run().await;
        if let End::Error(e) = end {
            error!("[{}] - {e}", session.remote);
            let _ = session.send(&e.response_data()).await;
        }
        session.leave();
        info!("PROTOCOL(V1): [{}] exiting ioloop", session.remote);
    }

    /// Reads and executes commands until the session ends.
    async fn run(&mut self) -> End {
        loop {
            let line = match self.read_line().await {
                Ok(line) => line,
                Err(end) => return end,
            };
            let reply = match Command::parse(&line) {
                Command::Ping => Ok(self.ping()),
                Command::Identify => match self.identify().await {
                    Ok(reply) => reply,
                    Err(end) => return end,
                },
                Command::Register(params) => self.register(&params),
                Command::Unregister(params) => self.unregister(&params),
                Command::Invalid(word) => Err(LookupError::invalid_command(&word)),
            };
            match reply {
                Ok(data) => {
                    if self.send(&data).await.is_err() {
                        return End::Gone;
                    }
                }
                Err(e) => return End::Error(e),
            }
        }
    }

    /// Reads more input into the buffer: `Gone` at end of input or on a socket error,
    /// `Cancelled` on shutdown.
    async fn fill(&mut self) -> Result<(), End> {
        self.buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            _ = self.ctx.shutdown.cancelled() => return Err(End::Cancelled),
            r = self.stream.read_buf(&mut self.buf) => r,
        };
        match read {
            Ok(0) | Err(_) => Err(End::Gone),
            Ok(_) => Ok(()),
        }
    }

    /// The next command line. A partial line at end of input is dropped without an
    /// answer (as in the reference); an overlong one closes the connection.
    async fn read_line(&mut self) -> Result<Bytes, End> {
        loop {
            match lookup::read_line(&mut self.buf) {
                Ok(Some(line)) => return Ok(line),
                Ok(None) => self.fill().await?,
                Err(e) => {
                    warn!("[{}] - {e}", self.remote);
                    return Err(End::Gone);
                }
            }
        }
    }

    /// The IDENTIFY body; end of input before it is complete is an error to send.
    async fn read_body(&mut self) -> Result<Bytes, End> {
        loop {
            match lookup::read_body(&mut self.buf) {
                Ok(Some(body)) => return Ok(body),
                Ok(None) => match self.fill().await {
                    Ok(()) => {}
                    Err(End::Gone) => return Err(End::Error(lookup::body_eof_error(&self.buf))),
                    Err(end) => return Err(end),
                },
                Err(e) => return Err(End::Error(e)),
            }
        }
    }

    async fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(&lookup::response(data)).await
    }

    fn ping(&self) -> Vec<u8> {
        if let Some(peer) = &self.peer {
            let now = unix_nanos();
            let since = Duration::from_nanos(
                u64::try_from(now.saturating_sub(peer.last_update())).unwrap_or(0),
            );
            info!("CLIENT({}): pinged (last ping {since:?})", peer.id);
            peer.touch(now);
        }
        lookup::OK.to_vec()
    }

    /// IDENTIFY: the "again" check comes before the body is read, as in the reference.
    async fn identify(&mut self) -> Result<Result<Vec<u8>, LookupError>, End> {
        if self.peer.is_some() {
            return Ok(Err(LookupError::identify_again()));
        }
        let body = self.read_body().await?;
        let identity = match identify::decode(&body) {
            Ok(identity) => identity,
            Err(e) => return Ok(Err(e)),
        };
        let peer = Arc::new(PeerInfo::new(&self.remote, identity, unix_nanos()));
        info!(
            "CLIENT({}): IDENTIFY Address:{} TCP:{} HTTP:{} Version:{}",
            self.remote, peer.broadcast_address, peer.tcp_port, peer.http_port, peer.version
        );
        if self
            .ctx
            .registry()
            .add_producer(Registration::client(), &peer)
        {
            info!(
                "DB: client({}) REGISTER {}",
                self.remote,
                Registration::client()
            );
        }
        self.peer = Some(peer);
        let ctx = &self.ctx;
        // Keys in Go's (alphabetical map) order.
        let reply = Identify {
            broadcast_address: ctx.config.broadcast_address.clone(),
            hostname: ctx.hostname.clone(),
            http_port: ctx.http_addr.port(),
            tcp_port: ctx.tcp_addr.port(),
            version: daemon::VERSION.to_string(),
        };
        // Serializing plain strings and numbers cannot fail; the reference answers OK if
        // it ever did.
        Ok(Ok(
            serde_json::to_vec(&reply).unwrap_or_else(|_| lookup::OK.to_vec())
        ))
    }

    fn identified(&self) -> Result<&Arc<PeerInfo>, LookupError> {
        self.peer.as_ref().ok_or_else(LookupError::must_identify)
    }

    fn register(&self, params: &[Bytes]) -> Result<Vec<u8>, LookupError> {
        let peer = self.identified()?;
        let (topic, channel) = lookup::topic_channel("REGISTER", params)?;
        let added = self
            .ctx
            .registry()
            .register(peer, &topic, channel.as_deref());
        for r in added {
            info!("DB: client({}) REGISTER {r}", self.remote);
        }
        Ok(lookup::OK.to_vec())
    }

    fn unregister(&self, params: &[Bytes]) -> Result<Vec<u8>, LookupError> {
        let peer = self.identified()?;
        let (topic, channel) = lookup::topic_channel("UNREGISTER", params)?;
        let (removed, unexpected) =
            self.ctx
                .registry()
                .unregister(&peer.id, &topic, channel.as_deref());
        for r in removed {
            if unexpected.contains(&r) {
                warn!("client({}) unexpected UNREGISTER {r}", self.remote);
            } else {
                info!("DB: client({}) UNREGISTER {r}", self.remote);
            }
        }
        Ok(lookup::OK.to_vec())
    }

    /// The connection is over: the peer leaves every registration it is in.
    fn leave(&mut self) {
        let Some(peer) = self.peer.take() else {
            return;
        };
        let removed = self.ctx.registry().remove_peer(&peer.id);
        for r in removed {
            info!("DB: client({}) UNREGISTER {r}", self.remote);
        }
    }
}
