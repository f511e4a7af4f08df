//! One subscribed connection of a consumer: SUB after the handshake, then a reader task
//! (messages to the handlers, heartbeats answered, CLOSE_WAIT noted) and a writer task
//! (RDY, FIN, REQ, TOUCH, NOP, CLS in batches). The handle keeps the connection's RDY
//! count and messages in flight for the consumer's flow control.

use super::message::Message;
use super::Inner;
use crate::conn::{self, FrameReader, FrameWriter};
use crate::error::{Error, Result};
use bytes::BytesMut;
use protocol::frame::{CLOSE_WAIT, HEARTBEAT, OK};
use protocol::{encode, ErrorCode, Frame, MessageId};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A command for the writer task.
#[derive(Debug)]
pub(crate) enum Cmd {
    Rdy(i64),
    Fin(MessageId),
    Req(MessageId, Duration),
    Touch(MessageId),
    Nop,
    Cls,
    /// Write what is queued before this, then close the connection.
    Close,
}

pub(crate) struct ConnHandle {
    pub addr: String,
    tx: mpsc::UnboundedSender<Cmd>,
    /// The RDY count last set (what the consumer counts against max-in-flight).
    pub rdy: AtomicI64,
    /// The RDY count last sent to nsqd.
    pub last_rdy: AtomicI64,
    /// nsqd's `max_rdy_count`.
    pub max_rdy: i64,
    pub in_flight: AtomicI64,
    /// Of those, read but not yet taken by a handler (go-nsq has no such queue: its read
    /// loop waits for a handler, so [`Consumer::is_starved`](super::Consumer::is_starved)
    /// leaves these out).
    pub queued: AtomicI64,
    pub last_msg: Mutex<Instant>,
    pub last_rdy_time: Mutex<Instant>,
    /// CLS sent: no RDY changes any more.
    pub closing: AtomicBool,
    /// nsqd answered CLS: it sends nothing more.
    pub close_acked: AtomicBool,
    pub cancel: CancellationToken,
}

impl ConnHandle {
    /// Queues a command; dropped silently once the connection is gone (nsqd requeues
    /// what was in flight on it).
    pub(crate) fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    pub(crate) fn rdy(&self) -> i64 {
        self.rdy.load(Ordering::SeqCst)
    }

    pub(crate) fn last_message(&self) -> Instant {
        *self.last_msg.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn last_rdy_change(&self) -> Instant {
        *self.last_rdy_time.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Connects, subscribes, and starts the connection's tasks. The handle is not yet in the
/// consumer's table; the caller adds it and then sets its RDY.
pub(crate) async fn open(inner: &Arc<Inner>, addr: &str) -> Result<Arc<ConnHandle>> {
    let c = conn::connect(addr, &inner.config).await?;
    let (mut reader, mut writer) = (c.reader, c.writer);
    let mut sub = BytesMut::new();
    encode::put_sub(&mut sub, &inner.topic, &inner.channel);
    writer.write(&sub).await?;
    let subscribed = tokio::time::timeout(inner.config.read_timeout, async {
        loop {
            match reader.next().await? {
                Frame::Response(d) if &d[..] == HEARTBEAT => {
                    let mut nop = BytesMut::new();
                    encode::put_nop(&mut nop);
                    writer.write(&nop).await?;
                }
                Frame::Response(d) if &d[..] == OK => return Ok(()),
                Frame::Response(d) => {
                    return Err(Error::Protocol(format!(
                        "SUB: unexpected response {:?}",
                        String::from_utf8_lossy(&d)
                    )))
                }
                Frame::Error(d) => return Err(Error::from_frame(&d)),
                Frame::Message(_) => return Err(Error::Protocol("SUB: message before OK".into())),
            }
        }
    })
    .await;
    match subscribed {
        Err(_) => return Err(Error::connect(addr, "SUB timed out")),
        Ok(r) => r?,
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let handle = Arc::new(ConnHandle {
        addr: addr.to_string(),
        tx,
        rdy: AtomicI64::new(0),
        last_rdy: AtomicI64::new(0),
        max_rdy: i64::try_from(c.negotiated.max_rdy_count).unwrap_or(i64::MAX),
        in_flight: AtomicI64::new(0),
        queued: AtomicI64::new(0),
        last_msg: Mutex::new(now),
        last_rdy_time: Mutex::new(now),
        closing: AtomicBool::new(false),
        close_acked: AtomicBool::new(false),
        cancel: inner.cancel.child_token(),
    });
    tokio::spawn(write_loop(writer, rx, Arc::clone(&handle)));
    let (inner2, handle2) = (Arc::clone(inner), Arc::clone(&handle));
    tokio::spawn(async move {
        let err = read_loop(reader, &inner2, &handle2).await;
        handle2.cancel.cancel();
        inner2.on_conn_closed(&handle2, err);
    });
    Ok(handle)
}

fn encode_cmd(cmd: &Cmd, out: &mut BytesMut) {
    match cmd {
        Cmd::Rdy(n) => encode::put_rdy(out, u64::try_from(*n).unwrap_or(0)),
        Cmd::Fin(id) => encode::put_fin(out, id),
        Cmd::Req(id, d) => {
            encode::put_req(out, id, u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }
        Cmd::Touch(id) => encode::put_touch(out, id),
        Cmd::Nop => encode::put_nop(out),
        Cmd::Cls => encode::put_cls(out),
        Cmd::Close => {}
    }
}

async fn write_loop(
    mut w: FrameWriter,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    conn: Arc<ConnHandle>,
) {
    let mut buf = BytesMut::new();
    'outer: loop {
        let first = tokio::select! {
            c = rx.recv() => match c {
                Some(c) => c,
                None => break,
            },
            _ = conn.cancel.cancelled() => break,
        };
        buf.clear();
        let mut close = false;
        let mut next = Some(first);
        // Once: let the handlers run before writing, so FINs go out in batches rather
        // than one write each.
        let mut yielded = false;
        while let Some(cmd) = next.take() {
            if matches!(cmd, Cmd::Close) {
                close = true;
                break;
            }
            encode_cmd(&cmd, &mut buf);
            if buf.len() < 64 * 1024 {
                next = rx.try_recv().ok();
                if next.is_none() && !yielded {
                    yielded = true;
                    tokio::task::yield_now().await;
                    next = rx.try_recv().ok();
                }
            }
        }
        if !buf.is_empty() {
            if let Err(e) = w.write(&buf).await {
                tracing::warn!(addr = %conn.addr, "consumer write failed: {e}");
                break 'outer;
            }
        }
        if close {
            // Half-close: nsqd reads every FIN/REQ sent before it sees the end and closes
            // its side, which ends the reader; so a stopped consumer's answers are all
            // applied when `stop` returns.
            w.shutdown().await;
            return;
        }
    }
    w.shutdown().await;
    conn.cancel.cancel();
}

/// Reads until the connection ends; the error says why (`None`: closed as asked).
async fn read_loop(
    mut r: FrameReader,
    inner: &Arc<Inner>,
    conn: &Arc<ConnHandle>,
) -> Option<Error> {
    loop {
        let frame = tokio::select! {
            f = r.next() => f,
            _ = conn.cancel.cancelled() => return None,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) if conn.close_acked.load(Ordering::SeqCst) => {
                tracing::debug!(addr = %conn.addr, "connection closed after CLS: {e}");
                return None;
            }
            Err(e) => return Some(e),
        };
        match frame {
            Frame::Response(d) if &d[..] == HEARTBEAT => conn.send(Cmd::Nop),
            Frame::Response(d) if &d[..] == CLOSE_WAIT => {
                conn.close_acked.store(true, Ordering::SeqCst);
                inner.maybe_close(conn);
            }
            Frame::Response(d) => {
                tracing::debug!(addr = %conn.addr, "response {:?}", String::from_utf8_lossy(&d))
            }
            Frame::Error(d) => {
                let err = Error::from_frame(&d);
                match err.code() {
                    Some(c) if !c.is_fatal() => tracing::warn!(addr = %conn.addr, "{err}"),
                    Some(ErrorCode::FinFailed) => {}
                    _ => tracing::error!(addr = %conn.addr, "{err}"),
                }
            }
            Frame::Message(m) => {
                conn.in_flight.fetch_add(1, Ordering::SeqCst);
                conn.queued.fetch_add(1, Ordering::SeqCst);
                *conn.last_msg.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                let msg = Message::new(m, Arc::clone(conn), Arc::clone(inner));
                inner.deliver(msg);
            }
        }
    }
}
