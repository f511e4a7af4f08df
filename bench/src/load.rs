//! The loads: NSQ's bench_writer (MPUB batches, one outstanding per connection) and
//! bench_reader (RDY, FIN batched per read) methods, an HTTP `/pub` / `/mpub` loop over
//! keep-alive connections, and a paced publish-to-deliver latency probe.

use crate::nsq::{self, Frame};
use anyhow::{anyhow, bail, Context, Result};
use bytes::{BufMut, Bytes, BytesMut};
use protocol::encode;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Barrier};

/// What a publishing phase achieved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phase {
    pub msgs: u64,
    pub secs: f64,
}

impl Phase {
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.msgs as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// NSQ's bench_writer: `conns` connections, each sending one MPUB of `batch` × `size` zero
/// bytes and waiting for its OK before the next, until `duration` has passed.
pub async fn tcp_mpub(
    addr: SocketAddr,
    topic: &str,
    conns: usize,
    batch: usize,
    size: usize,
    duration: Duration,
) -> Result<Phase> {
    let body = vec![0u8; size];
    let frame = nsq::mpub(topic, &vec![&body[..]; batch]);
    let barrier = Arc::new(Barrier::new(conns + 1));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (frame, barrier) = (frame.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(4096);
            let conn = nsq::connect(addr, "writer", &mut buf).await;
            // Always reach the barrier, so a failed connect cannot hang the others.
            barrier.wait().await;
            let mut s = conn?;
            let deadline = Instant::now() + duration;
            let mut batches = 0u64;
            while Instant::now() < deadline {
                s.write_all(&frame).await?;
                nsq::expect_ok(&mut s, &mut buf).await.context("MPUB")?;
                batches += 1;
            }
            Ok::<_, anyhow::Error>((batches, Instant::now()))
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut phase = Phase::default();
    let mut end = start;
    for t in tasks {
        let (batches, done) = t.await??;
        phase.msgs += batches * batch as u64;
        end = end.max(done);
    }
    phase.secs = (end - start).as_secs_f64();
    Ok(phase)
}

/// Options of a draining reader.
#[derive(Debug, Clone)]
pub struct Drain {
    pub topic: String,
    pub channel: String,
    pub conns: usize,
    pub rdy: u64,
    /// Stop with an error when no message arrived for this long.
    pub stall: Duration,
}

/// What the readers received.
#[derive(Debug, Default)]
pub struct Drained {
    pub phase: Phase,
    /// Deliveries with attempts > 1 (redeliveries after a timeout).
    pub redelivered: u64,
    /// Publish-to-deliver latencies in ns, when the bodies carry send timestamps.
    pub latencies_ns: Vec<u64>,
}

struct Shared {
    received: AtomicU64,
    redelivered: AtomicU64,
    expect: AtomicU64,
    /// Set once `expect` is final (the publisher has finished).
    expect_final: AtomicBool,
    done: watch::Sender<bool>,
    finished_at: Mutex<Option<Instant>>,
}

impl Shared {
    fn maybe_done(&self) {
        if self.expect_final.load(Ordering::Acquire)
            && self.received.load(Ordering::Acquire) >= self.expect.load(Ordering::Acquire)
        {
            let mut at = self.finished_at.lock().expect("finished_at lock");
            if at.is_none() {
                *at = Some(Instant::now());
            }
            let _ = self.done.send(true);
        }
    }
}

/// A set of readers that runs until it has received the expected number of messages.
pub struct Readers {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<u64>>>>,
    start: Instant,
    stall: Duration,
}

impl Readers {
    /// Connects and subscribes every reader (SUB answered) before returning; `latency_base`
    /// makes the readers decode an 8-byte send time (ns since that instant) from each body.
    pub async fn start(
        addr: SocketAddr,
        opts: &Drain,
        latency_base: Option<Instant>,
    ) -> Result<Readers> {
        let (done, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            received: AtomicU64::new(0),
            redelivered: AtomicU64::new(0),
            expect: AtomicU64::new(u64::MAX),
            expect_final: AtomicBool::new(false),
            done,
            finished_at: Mutex::new(None),
        });
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..opts.conns.max(1) {
            let mut buf = BytesMut::with_capacity(256 * 1024);
            let mut s = nsq::connect(addr, "reader", &mut buf).await?;
            let mut cmd = BytesMut::new();
            encode::put_sub(&mut cmd, &opts.topic, &opts.channel);
            s.write_all(&cmd).await?;
            nsq::expect_ok(&mut s, &mut buf).await.context("SUB")?;
            cmd.clear();
            encode::put_rdy(&mut cmd, opts.rdy);
            s.write_all(&cmd).await?;
            let shared = Arc::clone(&shared);
            tasks.push(tokio::spawn(read_loop(s, buf, shared, latency_base)));
        }
        Ok(Readers {
            shared,
            tasks,
            start,
            stall: opts.stall,
        })
    }

    /// The publisher is done: `total` messages must arrive.
    pub fn expect(&self, total: u64) {
        self.shared.expect.store(total, Ordering::Release);
        self.shared.expect_final.store(true, Ordering::Release);
        self.shared.maybe_done();
    }

    /// Waits until every expected message has arrived; fails when they stop coming.
    pub async fn finish(self) -> Result<Drained> {
        let mut done = self.shared.done.subscribe();
        let mut last = (0u64, Instant::now());
        loop {
            if *done.borrow() {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), done.changed()).await;
            // A reader that ended before the target was reached has failed.
            if !*done.borrow() && self.tasks.iter().any(|t| t.is_finished()) {
                break;
            }
            let now = self.shared.received.load(Ordering::Acquire);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > self.stall {
                break;
            }
        }
        let _ = self.shared.done.send(true);
        let mut latencies = Vec::new();
        let mut first_err = None;
        for t in self.tasks {
            match t.await? {
                Ok(mut l) => latencies.append(&mut l),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let received = self.shared.received.load(Ordering::Acquire);
        let expect = self.shared.expect.load(Ordering::Acquire);
        if let Some(e) = first_err {
            return Err(e.context(format!("reader failed after {received} messages")));
        }
        if received != expect {
            bail!(
                "message count mismatch: published {expect}, received {received} \
                 (no message for {:?})",
                self.stall
            );
        }
        let end = self
            .shared
            .finished_at
            .lock()
            .expect("finished_at lock")
            .unwrap_or_else(Instant::now);
        Ok(Drained {
            phase: Phase {
                msgs: received,
                secs: (end - self.start).as_secs_f64(),
            },
            redelivered: self.shared.redelivered.load(Ordering::Acquire),
            latencies_ns: latencies,
        })
    }
}

/// NSQ's bench_reader loop: read, FIN every message of the read in one write.
async fn read_loop(
    mut s: TcpStream,
    mut buf: BytesMut,
    shared: Arc<Shared>,
    latency_base: Option<Instant>,
) -> Result<Vec<u64>> {
    let mut done = shared.done.subscribe();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut latencies = Vec::new();
    loop {
        if buf.capacity() - buf.len() < 64 * 1024 {
            buf.reserve(128 * 1024);
        }
        let n = tokio::select! {
            biased;
            r = s.read_buf(&mut buf) => r?,
            _ = done.wait_for(|d| *d) => break,
        };
        if n == 0 {
            if *shared.done.borrow() {
                break;
            }
            bail!("nsqd closed the connection");
        }
        let now_ns = latency_base.map(|b| b.elapsed().as_nanos() as u64);
        let (mut count, mut redelivered, mut nop) = (0u64, 0u64, false);
        let used = nsq::scan_frames(&buf, |f| {
            match f {
                Frame::Message {
                    attempts, id, body, ..
                } => {
                    count += 1;
                    if attempts > 1 {
                        redelivered += 1;
                    }
                    encode::put_fin(&mut out, &id);
                    if let (Some(now), Some(sent)) = (now_ns, body.get(..8)) {
                        let mut t = [0u8; 8];
                        t.copy_from_slice(sent);
                        latencies.push(now.saturating_sub(u64::from_be_bytes(t)));
                    }
                }
                Frame::Response(d) if d == protocol::frame::HEARTBEAT => nop = true,
                Frame::Response(_) => {}
                Frame::Error(e) => {
                    return Err(anyhow!("nsqd error: {}", String::from_utf8_lossy(e)))
                }
            }
            Ok(())
        })?;
        bytes::Buf::advance(&mut buf, used);
        if nop {
            encode::put_nop(&mut out);
        }
        if !out.is_empty() {
            s.write_all(&out).await?;
            out.clear();
        }
        if count > 0 {
            shared.redelivered.fetch_add(redelivered, Ordering::Relaxed);
            shared.received.fetch_add(count, Ordering::AcqRel);
            shared.maybe_done();
        }
    }
    Ok(latencies)
}

/// Publishes over HTTP on `conns` keep-alive connections until `duration` has passed:
/// `/pub` with one `size`-byte body per request, or `/mpub` with `batch` bodies joined by
/// newlines. Returns messages published (requests answered 200 × messages per request).
pub async fn http_publish(
    addr: SocketAddr,
    topic: &str,
    conns: usize,
    mpub_batch: Option<usize>,
    size: usize,
    duration: Duration,
) -> Result<Phase> {
    // Zero bytes never contain the newline that separates /mpub bodies.
    let one = vec![0u8; size];
    let (path, body, per_req) = match mpub_batch {
        None => (format!("/pub?topic={topic}"), one, 1u64),
        Some(n) => {
            let mut b = Vec::with_capacity(n * (size + 1));
            for i in 0..n {
                if i > 0 {
                    b.push(b'\n');
                }
                b.extend_from_slice(&one);
            }
            (format!("/mpub?topic={topic}"), b, n as u64)
        }
    };
    let mut req = BytesMut::new();
    req.put_slice(
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    req.put_slice(&body);
    let req: Bytes = req.freeze();
    let barrier = Arc::new(Barrier::new(conns + 1));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (req, barrier) = (req.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            let conn = TcpStream::connect(addr).await;
            barrier.wait().await;
            let mut s = conn?;
            s.set_nodelay(true)?;
            let mut buf = BytesMut::with_capacity(4096);
            let deadline = Instant::now() + duration;
            let mut n = 0u64;
            while Instant::now() < deadline {
                s.write_all(&req).await?;
                let (status, body) = read_http_response(&mut s, &mut buf).await?;
                if status != 200 {
                    bail!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&body).trim_end()
                    );
                }
                n += 1;
            }
            Ok::<_, anyhow::Error>((n, Instant::now()))
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let (mut reqs, mut end) = (0u64, start);
    for t in tasks {
        let (n, done) = t.await??;
        reqs += n;
        end = end.max(done);
    }
    Ok(Phase {
        msgs: reqs * per_req,
        secs: (end - start).as_secs_f64(),
    })
}

/// Reads one HTTP/1.1 response (Content-Length or chunked body); returns status and body.
pub async fn read_http_response(s: &mut TcpStream, buf: &mut BytesMut) -> Result<(u16, Bytes)> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            bail!("HTTP response head too large");
        }
        buf.reserve(4096);
        if s.read_buf(buf).await? == 0 {
            bail!("HTTP connection closed by nsqd");
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("HTTP head is not UTF-8")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad HTTP status line: {head:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for line in head.split("\r\n").skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = Some(v.trim().parse::<usize>().context("Content-Length")?);
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let _ = buf.split_to(head_end);
    if chunked {
        let mut body = BytesMut::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                if s.read_buf(buf).await? == 0 {
                    bail!("HTTP connection closed inside a chunked body");
                }
            };
            let size_text = std::str::from_utf8(&buf[..line_end])?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .context("chunk size")?;
            while buf.len() < line_end + 2 + size + 2 {
                if s.read_buf(buf).await? == 0 {
                    bail!("HTTP connection closed inside a chunk");
                }
            }
            let chunk = buf.split_to(line_end + 2 + size + 2);
            if size == 0 {
                return Ok((status, body.freeze()));
            }
            body.put_slice(&chunk[line_end + 2..line_end + 2 + size]);
        }
    }
    let length = length.ok_or_else(|| anyhow!("HTTP response without Content-Length"))?;
    while buf.len() < length {
        if s.read_buf(buf).await? == 0 {
            bail!("HTTP connection closed inside the body");
        }
    }
    Ok((status, buf.split_to(length).freeze()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One publisher, paced at `rate` msg/s (in 1 ms ticks) with `PUB`s whose bodies start
/// with the send time in ns since `base`; OKs are read by a second task. Returns the
/// number published (all acknowledged).
pub async fn paced_pub(
    addr: SocketAddr,
    topic: &str,
    rate: u64,
    size: usize,
    duration: Duration,
    base: Instant,
) -> Result<Phase> {
    let mut buf = BytesMut::with_capacity(4096);
    let s = nsq::connect(addr, "latency-writer", &mut buf).await?;
    let (mut rd, mut wr) = s.into_split();
    let acks = Arc::new(AtomicU64::new(0));
    let acks_in = Arc::clone(&acks);
    let ack_task = tokio::spawn(async move {
        loop {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
            if rd.read_buf(&mut buf).await? == 0 {
                return Ok::<_, anyhow::Error>(());
            }
            let mut oks = 0;
            let used = nsq::scan_frames(&buf, |f| match f {
                Frame::Response(d) if d == protocol::frame::OK => {
                    oks += 1;
                    Ok(())
                }
                Frame::Response(_) => Ok(()),
                Frame::Error(e) => Err(anyhow!("PUB: {}", String::from_utf8_lossy(e))),
                Frame::Message { .. } => Err(anyhow!("message frame on a publisher")),
            })?;
            bytes::Buf::advance(&mut buf, used);
            acks_in.fetch_add(oks, Ordering::AcqRel);
        }
    });
    let mut body = vec![0u8; size.max(8)];
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        tick.tick().await;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        let target = (elapsed.as_secs_f64() * rate as f64) as u64;
        while sent < target {
            let now = base.elapsed().as_nanos() as u64;
            body[..8].copy_from_slice(&now.to_be_bytes());
            encode::put_pub(&mut out, topic, &body);
            sent += 1;
        }
        if !out.is_empty() {
            wr.write_all(&out).await?;
            out.clear();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let wait_until = Instant::now() + Duration::from_secs(30);
    while acks.load(Ordering::Acquire) < sent {
        if ack_task.is_finished() || Instant::now() > wait_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked = acks.load(Ordering::Acquire);
    drop(wr);
    ack_task.abort();
    if let Ok(r) = ack_task.await {
        r?;
    }
    if acked != sent {
        bail!("sent {sent} PUBs but got {acked} OKs");
    }
    Ok(Phase { msgs: sent, secs })
}
