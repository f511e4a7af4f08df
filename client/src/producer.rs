//! The producer: one connection to one nsqd, opened on first use and again after it
//! failed, with PUB/MPUB/DPUB each getting its own answer. Publishes from many tasks are
//! pipelined over the connection: a writer task sends commands in batches and a reader
//! task matches nsqd's answers to them in order (nsqd answers a connection's commands in
//! the order it sent them), and answers heartbeats.

use crate::config::Config;
use crate::conn::{self, FrameReader, FrameWriter};
use crate::error::{Error, Result};
use bytes::{Bytes, BytesMut};
use protocol::encode;
use protocol::frame::{HEARTBEAT, OK};
use protocol::Frame;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Publishes to one nsqd. Cheap to clone (clones share the connection); every method
/// takes `&self`, so many tasks can publish at once and their commands are pipelined.
///
/// The connection is opened by the first call (or [`connect`](Producer::connect)) and,
/// after it broke, by the next one. A publish in flight when the connection broke fails
/// with [`Error::ConnectionLost`]: nsqd may or may not have taken it, so it is not sent
/// again on the caller's behalf.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    addr: String,
    config: Config,
    conn: tokio::sync::Mutex<Option<mpsc::UnboundedSender<Request>>>,
    stopped: AtomicBool,
}

/// One command on its way to nsqd; `reply: None` for those nsqd does not answer (NOP).
struct Request {
    bytes: Bytes,
    reply: Option<oneshot::Sender<Result<()>>>,
}

/// Answers not yet received, oldest first; `dead` once the connection failed.
#[derive(Default)]
struct Pending {
    waiting: VecDeque<oneshot::Sender<Result<()>>>,
    dead: Option<Error>,
}

type Shared = Arc<Mutex<Pending>>;

fn lock(p: &Shared) -> std::sync::MutexGuard<'_, Pending> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fails every waiting publish and every later one with `err`.
fn fail_all(p: &Shared, err: Error) {
    let waiting = {
        let mut g = lock(p);
        if g.dead.is_none() {
            g.dead = Some(err.clone());
        }
        std::mem::take(&mut g.waiting)
    };
    for w in waiting {
        let _ = w.send(Err(err.clone()));
    }
}

impl Producer {
    /// A producer for the nsqd at `addr` (`host:port` of its TCP listener). Nothing is
    /// connected yet.
    pub fn new(addr: impl Into<String>, config: Config) -> Producer {
        Producer {
            inner: Arc::new(Inner {
                addr: addr.into(),
                config,
                conn: tokio::sync::Mutex::new(None),
                stopped: AtomicBool::new(false),
            }),
        }
    }

    /// The nsqd address this producer publishes to.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Connects now (if not connected), so that a bad address or refused handshake shows
    /// before the first publish (go-nsq's `Ping`).
    pub async fn connect(&self) -> Result<()> {
        self.sender().await.map(|_| ())
    }

    /// `PUB`: one message.
    pub async fn publish(&self, topic: &str, body: impl AsRef<[u8]>) -> Result<()> {
        let body = body.as_ref();
        let mut out = BytesMut::with_capacity(topic.len() + body.len() + 9);
        encode::put_pub(&mut out, topic, body);
        self.send(out.freeze()).await
    }

    /// `MPUB`: several messages, taken or refused together.
    pub async fn multi_publish<B: AsRef<[u8]>>(&self, topic: &str, bodies: &[B]) -> Result<()> {
        if bodies.is_empty() {
            return Err(Error::Invalid("MPUB of no messages".into()));
        }
        let mut out = BytesMut::with_capacity(topic.len() + 10 + encode::mpub_body_len(bodies));
        encode::put_mpub(&mut out, topic, bodies);
        self.send(out.freeze()).await
    }

    /// `DPUB`: one message, delivered after `delay` (millisecond resolution).
    pub async fn deferred_publish(
        &self,
        topic: &str,
        delay: Duration,
        body: impl AsRef<[u8]>,
    ) -> Result<()> {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let mut out = BytesMut::new();
        encode::put_dpub(&mut out, topic, ms, body.as_ref());
        self.send(out.freeze()).await
    }

    /// Closes the connection once the publishes already sent are answered; later calls
    /// fail with [`Error::Stopped`].
    pub async fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        // Dropping the last sender ends the writer, which closes the connection.
        self.inner.conn.lock().await.take();
    }

    async fn send(&self, bytes: Bytes) -> Result<()> {
        let tx = self.sender().await?;
        let (reply, answer) = oneshot::channel();
        tx.send(Request {
            bytes,
            reply: Some(reply),
        })
        .map_err(|_| Error::lost(&self.inner.addr, "connection closed"))?;
        answer
            .await
            .unwrap_or_else(|_| Err(Error::lost(&self.inner.addr, "connection closed")))
    }

    /// The live connection's queue, connecting first if there is none.
    async fn sender(&self) -> Result<mpsc::UnboundedSender<Request>> {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Err(Error::Stopped);
        }
        let mut conn = self.inner.conn.lock().await;
        if let Some(tx) = conn.as_ref() {
            if !tx.is_closed() {
                return Ok(tx.clone());
            }
        }
        *conn = None;
        let c = conn::connect(&self.inner.addr, &self.inner.config).await?;
        tracing::debug!(addr = %self.inner.addr, "producer connected");
        let (tx, rx) = mpsc::unbounded_channel();
        let tx_weak = tx.downgrade();
        let addr = self.inner.addr.clone();
        let pending: Shared = Arc::default();
        let (reader_done, reader_gone) = oneshot::channel();
        tokio::spawn(write_loop(c.writer, rx, Arc::clone(&pending), reader_gone));
        tokio::spawn(async move {
            read_loop(c.reader, tx_weak, pending, addr).await;
            let _ = reader_done.send(());
        });
        *conn = Some(tx.clone());
        Ok(tx)
    }
}

/// Most bytes gathered into one write.
const BATCH_BYTES: usize = 256 * 1024;

async fn write_loop(
    mut w: FrameWriter,
    mut rx: mpsc::UnboundedReceiver<Request>,
    pending: Shared,
    mut reader_gone: oneshot::Receiver<()>,
) {
    let mut buf = BytesMut::new();
    loop {
        let first = tokio::select! {
            r = rx.recv() => match r {
                Some(r) => r,
                None => break,
            },
            // The read side failed: no answer can come any more.
            _ = &mut reader_gone => {
                rx.close();
                break;
            }
        };
        buf.clear();
        let mut next = Some(first);
        while let Some(req) = next.take() {
            {
                let mut g = lock(&pending);
                if let Some(err) = &g.dead {
                    if let Some(r) = req.reply {
                        let _ = r.send(Err(err.clone()));
                    }
                } else {
                    buf.extend_from_slice(&req.bytes);
                    if let Some(r) = req.reply {
                        g.waiting.push_back(r);
                    }
                }
            }
            if buf.len() < BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if buf.is_empty() {
            continue;
        }
        if let Err(e) = w.write(&buf).await {
            fail_all(&pending, e);
            rx.close();
            break;
        }
    }
    // Requests still queued are dropped with their reply senders: they fail as lost.
    drop(rx);
    w.shutdown().await;
}

async fn read_loop(
    mut r: FrameReader,
    tx: mpsc::WeakUnboundedSender<Request>,
    pending: Shared,
    addr: String,
) {
    let err = loop {
        let frame = match r.next().await {
            Ok(f) => f,
            Err(e) => break e,
        };
        let answer = match frame {
            Frame::Response(d) if &d[..] == HEARTBEAT => {
                let mut nop = BytesMut::new();
                encode::put_nop(&mut nop);
                if let Some(tx) = tx.upgrade() {
                    let _ = tx.send(Request {
                        bytes: nop.freeze(),
                        reply: None,
                    });
                }
                continue;
            }
            Frame::Response(d) if &d[..] == OK => Ok(()),
            Frame::Response(d) => Err(Error::Protocol(format!(
                "unexpected response {:?}",
                String::from_utf8_lossy(&d)
            ))),
            Frame::Error(d) => Err(Error::from_frame(&d)),
            Frame::Message(_) => Err(Error::Protocol("message frame on a producer".into())),
        };
        let Some(waiter) = lock(&pending).waiting.pop_front() else {
            break Error::Protocol("answer to no command".into());
        };
        let _ = waiter.send(answer);
    };
    let quiet = matches!(&err, Error::ConnectionLost { .. }) && lock(&pending).waiting.is_empty();
    if quiet {
        tracing::debug!(%addr, "producer connection closed: {err}");
    } else {
        tracing::warn!(%addr, "producer connection failed: {err}");
    }
    fail_all(&pending, err);
}
