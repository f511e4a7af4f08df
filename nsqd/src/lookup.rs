//! Registration with nsqlookupd: one task per configured lookupd keeps a V1 connection,
//! IDENTIFYs, REGISTERs every topic and channel, forwards each creation and deletion as
//! REGISTER/UNREGISTER, and PINGs every 15 s; on any error it reconnects with backoff and
//! registers everything again. Also the lookupd side of topic creation: asking every
//! lookupd which channels a new topic has elsewhere in the cluster (`/channels`).
//!
//! The broker does not know these tasks: it sends `Control`s down a channel, and `run`
//! starts them (`start`) with what they need, including a function that lists what to
//! register.

use crate::background::Background;
use bytes::{Bytes, BytesMut};
use protocol::json::lookupd::{Channels, Identify};
use protocol::lookup;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
pub(crate) enum Event {
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

/// What the broker sends the lookupd tasks.
#[derive(Debug)]
pub(crate) enum Control {
    /// A topic or channel was created or deleted.
    Event(Event),
    /// The lookupd set changed at runtime: removed peers are dropped, new ones connected.
    SetAddresses(Vec<String>),
}

pub(crate) type Sender = mpsc::UnboundedSender<Control>;
pub(crate) type Receiver = mpsc::UnboundedReceiver<Control>;

/// The broker keeps the sender; `run` hands the receiver to `start`.
pub(crate) fn channel() -> (Sender, Receiver) {
    mpsc::unbounded_channel()
}

/// The HTTP addresses (`host:port`) the lookupds gave in their IDENTIFY replies, by lookupd
/// TCP address: what the broker asks for channel pre-creation.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpAddrs(Arc<Mutex<HashMap<String, String>>>);

impl HttpAddrs {
    pub(crate) fn snapshot(&self) -> Vec<String> {
        crate::lock(&self.0).values().cloned().collect()
    }
}

/// Everything the lookupd tasks need from the broker, handed over once by `run`.
pub(crate) struct Setup {
    pub(crate) broadcast_address: String,
    pub(crate) tcp_port: u16,
    pub(crate) http_port: u16,
    /// The largest reply accepted from a lookupd.
    pub(crate) max_body_size: i64,
    /// Everything to REGISTER after (re)connecting; `None` once the broker is gone.
    pub(crate) registrations: Box<dyn Fn() -> Option<Vec<Event>> + Send + Sync>,
    pub(crate) http_addrs: HttpAddrs,
    pub(crate) shutdown: CancellationToken,
    pub(crate) background: Background,
}

/// Connect to `addrs`, then follow the broker's `Control`s until shutdown or until the
/// broker drops its sender. Changes sent before this starts are covered by the full
/// registration each connection begins with, so they are skipped (address changes kept).
pub(crate) fn start(setup: Setup, mut addrs: Vec<String>, mut rx: Receiver) {
    while let Ok(c) = rx.try_recv() {
        if let Control::SetAddresses(a) = c {
            addrs = a;
        }
    }
    let setup = Arc::new(setup);
    let background = setup.background.clone();
    background.spawn("lookupd peers", manage(setup, addrs, rx));
}

async fn manage(setup: Arc<Setup>, addrs: Vec<String>, mut rx: Receiver) {
    let mut peers = HashMap::new();
    set_addresses(&setup, &mut peers, &addrs);
    loop {
        let control = tokio::select! {
            _ = setup.shutdown.cancelled() => break,
            c = rx.recv() => c,
        };
        match control {
            None => break,
            Some(Control::Event(event)) => {
                for p in peers.values() {
                    if p.tx.try_send(event.clone()).is_err() {
                        p.overflow.store(true, Ordering::Relaxed);
                    }
                }
            }
            Some(Control::SetAddresses(addrs)) => set_addresses(&setup, &mut peers, &addrs),
        }
    }
    for p in peers.values() {
        p.cancel.cancel();
    }
}

/// The manager's end of one peer task.
struct Peer {
    tx: mpsc::Sender<Event>,
    overflow: Arc<AtomicBool>,
    cancel: CancellationToken,
}

/// Connect to `addrs`, dropping peers no longer listed.
fn set_addresses(setup: &Arc<Setup>, peers: &mut HashMap<String, Peer>, addrs: &[String]) {
    peers.retain(|addr, p| {
        let keep = addrs.contains(addr);
        if !keep {
            info!(lookupd = %addr, "LOOKUP: removing peer");
            p.cancel.cancel();
            // After the cancel: the task checks it under this lock before recording.
            crate::lock(&setup.http_addrs.0).remove(addr);
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
            cancel: setup.shutdown.child_token(),
        };
        let task = PeerTask {
            setup: Arc::clone(setup),
            addr: addr.clone(),
            rx,
            overflow: Arc::clone(&peer.overflow),
            cancel: peer.cancel.clone(),
        };
        setup.background.spawn("lookupd peer", task.run());
        peers.insert(addr.clone(), peer);
    }
}

struct PeerTask {
    setup: Arc<Setup>,
    addr: String,
    rx: mpsc::Receiver<Event>,
    overflow: Arc<AtomicBool>,
    cancel: CancellationToken,
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
        let setup = Arc::clone(&self.setup);
        let max_size = setup.max_body_size;
        let body = serde_json::to_vec(&Identify {
            broadcast_address: setup.broadcast_address.clone(),
            hostname: crate::config::hostname(),
            http_port: setup.http_port,
            tcp_port: setup.tcp_port,
            version: daemon::VERSION.to_string(),
        })?;
        let mut msg = lookup::MAGIC_V1.to_vec();
        msg.extend_from_slice(&lookup::identify(&body));
        let mut buf = BytesMut::new();
        let reply = exchange(&mut stream, &mut buf, &msg, max_size).await?;
        if &reply[..] == b"E_INVALID" {
            anyhow::bail!("lookupd refused IDENTIFY");
        }
        // The reply describes the lookupd; only its HTTP address is used.
        let info: Identify = serde_json::from_slice(&reply)?;
        if !info.broadcast_address.is_empty() && info.http_port != 0 {
            let mut known = crate::lock(&setup.http_addrs.0);
            if !self.cancel.is_cancelled() {
                known.insert(
                    self.addr.clone(),
                    format!("{}:{}", info.broadcast_address, info.http_port),
                );
            }
        }
        let Some(registrations) = (setup.registrations)() else {
            return Ok(());
        };
        for event in registrations {
            self.send(&mut stream, &mut buf, &event, max_size).await?;
        }
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
        loop {
            tokio::select! {
                ev = self.rx.recv() => {
                    let Some(ev) = ev else { return Ok(()) };
                    if self.overflow.load(Ordering::Relaxed) {
                        anyhow::bail!("too many pending registrations; reconnecting");
                    }
                    self.send(&mut stream, &mut buf, &ev, max_size).await?;
                }
                _ = ping.tick() => {
                    let reply = exchange(&mut stream, &mut buf, lookup::PING, max_size).await?;
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
        max_size: i64,
    ) -> anyhow::Result<()> {
        let cmd = ev.command();
        let shown = String::from_utf8_lossy(&cmd);
        let shown = shown.trim_end();
        debug!(lookupd = %self.addr, command = %shown, "LOOKUP: sending");
        let reply = exchange(stream, buf, &cmd, max_size).await?;
        if &reply[..] != lookup::OK {
            anyhow::bail!("{shown} answered {}", String::from_utf8_lossy(&reply));
        }
        Ok(())
    }
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
pub(crate) async fn channels_for_topic(
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
