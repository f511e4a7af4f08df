//! Registration with nsqlookupd: one task per configured lookupd keeps a V1 connection,
//! IDENTIFYs, REGISTERs every topic and channel, forwards each creation and deletion as
//! REGISTER/UNREGISTER, and PINGs every 15 s; on any error it reconnects with backoff and
//! registers everything again. Also the lookupd side of topic creation: asking every
//! lookupd which channels a new topic has elsewhere in the cluster (`/channels`).

use crate::broker::Nsqd;
use bytes::{Bytes, BytesMut};
use protocol::json::lookupd::{Channels, Identify};
use protocol::lookup;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

const PING_INTERVAL: Duration = Duration::from_secs(15);
/// Every read and write to a lookupd must finish within this (the reference's deadline).
const IO_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// Registration changes waiting for a peer; past this the peer reconnects and re-registers.
const EVENT_QUEUE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Register(String, Option<String>),
    Unregister(String, Option<String>),
}

impl Event {
    fn command(&self) -> Vec<u8> {
        match self {
            Event::Register(t, c) => lookup::register(t, c.as_deref()),
            Event::Unregister(t, c) => lookup::unregister(t, c.as_deref()),
        }
    }
}

struct Peer {
    tx: mpsc::Sender<Event>,
    overflow: Arc<AtomicBool>,
    cancel: CancellationToken,
    /// `host:port` of the lookupd's HTTP API, once it told us in its IDENTIFY reply.
    http_addr: Arc<Mutex<Option<String>>>,
}

/// The set of lookupd peers, changeable at runtime.
#[derive(Default)]
pub struct Lookup {
    peers: Mutex<HashMap<String, Peer>>,
}

impl Lookup {
    /// Connect to `addrs`, dropping peers no longer listed.
    pub fn set_addresses(&self, ctx: &Arc<Nsqd>, addrs: &[String]) {
        let mut peers = crate::lock(&self.peers);
        peers.retain(|addr, p| {
            let keep = addrs.contains(addr);
            if !keep {
                info!(lookupd = %addr, "LOOKUP: removing peer");
                p.cancel.cancel();
            }
            keep
        });
        for addr in addrs {
            if peers.contains_key(addr) {
                continue;
            }
            let (tx, rx) = mpsc::channel(EVENT_QUEUE);
            let peer = Peer {
                tx,
                overflow: Arc::new(AtomicBool::new(false)),
                cancel: ctx.shutdown.child_token(),
                http_addr: Arc::new(Mutex::new(None)),
            };
            let task = PeerTask {
                ctx: Arc::downgrade(ctx),
                addr: addr.clone(),
                rx,
                overflow: Arc::clone(&peer.overflow),
                cancel: peer.cancel.clone(),
                http_addr: Arc::clone(&peer.http_addr),
            };
            ctx.settings.spawn(task.run());
            peers.insert(addr.clone(), peer);
        }
    }

    /// Forward a registration change to every peer.
    pub fn notify(&self, event: Event) {
        for p in crate::lock(&self.peers).values() {
            if p.tx.try_send(event.clone()).is_err() {
                p.overflow.store(true, Ordering::Relaxed);
            }
        }
    }

    pub fn has_peers(&self) -> bool {
        !crate::lock(&self.peers).is_empty()
    }

    /// HTTP addresses of the lookupds that have answered IDENTIFY.
    pub fn http_addresses(&self) -> Vec<String> {
        crate::lock(&self.peers)
            .values()
            .filter_map(|p| crate::lock(&p.http_addr).clone())
            .collect()
    }
}

struct PeerTask {
    ctx: Weak<Nsqd>,
    addr: String,
    rx: mpsc::Receiver<Event>,
    overflow: Arc<AtomicBool>,
    cancel: CancellationToken,
    http_addr: Arc<Mutex<Option<String>>>,
}

impl PeerTask {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(250);
        loop {
            let cancel = self.cancel.clone();
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.session() => r,
            };
            if let Err(e) = result {
                warn!(lookupd = %self.addr, error = %e, "LOOKUP: connection failed");
            }
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection: identify, register everything, then forward events and ping.
    async fn session(&mut self) -> anyhow::Result<()> {
        let mut stream = timeout(IO_TIMEOUT, TcpStream::connect(&self.addr)).await??;
        info!(lookupd = %self.addr, "LOOKUP: connected");
        // Changes queued while disconnected are covered by the full registration below.
        while self.rx.try_recv().is_ok() {}
        self.overflow.store(false, Ordering::Relaxed);
        let Some(ctx) = self.ctx.upgrade() else {
            return Ok(());
        };
        let body = serde_json::to_vec(&Identify {
            broadcast_address: ctx.config.broadcast_address.clone(),
            hostname: crate::config::hostname(),
            http_port: ctx.broadcast_http_port(),
            tcp_port: ctx.broadcast_tcp_port(),
            version: crate::VERSION.to_string(),
        })?;
        let mut msg = lookup::MAGIC_V1.to_vec();
        msg.extend_from_slice(&lookup::identify(&body));
        let mut buf = BytesMut::new();
        let max = ctx.decoder_limits.max_body_size;
        let reply = exchange(&mut stream, &mut buf, &msg, max).await?;
        if &reply[..] == b"E_INVALID" {
            anyhow::bail!("lookupd refused IDENTIFY");
        }
        // The reply describes the lookupd; only its HTTP address is used.
        let info: Identify = serde_json::from_slice(&reply)?;
        if !info.broadcast_address.is_empty() && info.http_port != 0 {
            *crate::lock(&self.http_addr) =
                Some(format!("{}:{}", info.broadcast_address, info.http_port));
        }
        for event in registrations(&ctx) {
            self.send(&mut stream, &mut buf, &event, &ctx).await?;
        }
        drop(ctx);
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
        loop {
            tokio::select! {
                ev = self.rx.recv() => {
                    let Some(ev) = ev else { return Ok(()) };
                    if self.overflow.load(Ordering::Relaxed) {
                        anyhow::bail!("too many pending registrations; reconnecting");
                    }
                    let Some(ctx) = self.ctx.upgrade() else { return Ok(()) };
                    self.send(&mut stream, &mut buf, &ev, &ctx).await?;
                }
                _ = ping.tick() => {
                    let Some(ctx) = self.ctx.upgrade() else { return Ok(()) };
                    let reply = exchange(&mut stream, &mut buf, lookup::PING, ctx.decoder_limits.max_body_size).await?;
                    if &reply[..] != lookup::OK {
                        anyhow::bail!("PING answered {}", String::from_utf8_lossy(&reply));
                    }
                }
            }
        }
    }

    async fn send(
        &self,
        stream: &mut TcpStream,
        buf: &mut BytesMut,
        ev: &Event,
        ctx: &Nsqd,
    ) -> anyhow::Result<()> {
        let cmd = ev.command();
        let shown = String::from_utf8_lossy(&cmd);
        let shown = shown.trim_end();
        debug!(lookupd = %self.addr, command = %shown, "LOOKUP: sending");
        let reply = exchange(stream, buf, &cmd, ctx.decoder_limits.max_body_size).await?;
        if &reply[..] != lookup::OK {
            anyhow::bail!("{shown} answered {}", String::from_utf8_lossy(&reply));
        }
        Ok(())
    }
}

/// Everything this nsqd has, as REGISTER events: each channel, or the bare topic when it
/// has none (ephemeral ones included, as the reference does).
fn registrations(ctx: &Nsqd) -> Vec<Event> {
    let mut out = Vec::new();
    for t in ctx.topics() {
        let channels = t.channels();
        if channels.is_empty() {
            out.push(Event::Register(t.name.clone(), None));
        }
        for c in channels {
            out.push(Event::Register(t.name.clone(), Some(c.name.clone())));
        }
    }
    out
}

/// Write `msg`, read one `[4-byte size][data]` response (at most `max_size` bytes of
/// data) through `buf`; the write and each read within `IO_TIMEOUT`.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    msg: &[u8],
    max_size: i64,
) -> anyhow::Result<Bytes> {
    timeout(IO_TIMEOUT, stream.write_all(msg)).await??;
    loop {
        if let Some(data) = lookup::read_response_limited(buf, max_size)? {
            return Ok(data);
        }
        if timeout(IO_TIMEOUT, stream.read_buf(buf)).await?? == 0 {
            anyhow::bail!("connection closed by lookupd");
        }
    }
}

/// The channels `topic` has on the given lookupds (union), for pre-creating them on a new
/// topic. Failures are logged and skipped.
pub async fn channels_for_topic(
    http_addrs: &[String],
    topic: &str,
    connect: Duration,
    request: Duration,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for addr in http_addrs {
        // `http_client::get` bounds the connect and the whole request itself.
        match http_get_channels(addr, topic, connect, request).await {
            Ok(chs) => {
                for c in chs {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
            Err(e) => {
                warn!(lookupd = %addr, topic = %topic, error = %e, "LOOKUP: /channels query failed")
            }
        }
    }
    out
}

/// `GET /channels?topic=` on one lookupd.
async fn http_get_channels(
    addr: &str,
    topic: &str,
    connect: Duration,
    request: Duration,
) -> anyhow::Result<Vec<String>> {
    let url = format!(
        "http://{addr}/channels?topic={}",
        crate::http_client::encode_component(topic)
    );
    let reply = crate::http_client::get(&url, connect, request).await?;
    if reply.status != 200 {
        anyhow::bail!("HTTP status {}", reply.status);
    }
    let value: serde_json::Value = serde_json::from_slice(&reply.body)?;
    // Pre-1.0 lookupds wrap the reply in {"status_code","data"}.
    let inner = value.get("data").cloned().unwrap_or(value);
    let reply: Channels = serde_json::from_value(inner)?;
    Ok(reply.channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(Event::Register("t".into(), None).command(), b"REGISTER t\n");
        assert_eq!(
            Event::Register("t".into(), Some("c".into())).command(),
            b"REGISTER t c\n"
        );
        assert_eq!(
            Event::Unregister("t".into(), Some("c".into())).command(),
            b"UNREGISTER t c\n"
        );
        assert_eq!(
            Event::Unregister("t".into(), None).command(),
            b"UNREGISTER t\n"
        );
    }
}
