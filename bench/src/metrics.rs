//! `bench metrics`: what `/metrics` costs. One nsqd with `--channels` channels (spread over
//! topics of 100 channels each), then: the time and size of single scrapes, and PUB/SUB
//! throughput (concurrent TCP MPUB writers and readers on one more topic) in rounds that
//! alternate between no scraper and a scraper fetching `/metrics` every `--scrape-every`.
//! Prints figures; asserts nothing about times.

use crate::daemon::Nsqd;
use crate::load::{self, Drain, Readers};
use anyhow::{bail, Result};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// Channels per topic.
const PER_TOPIC: usize = 100;

pub struct Options {
    pub channels: usize,
    pub scrapes: usize,
    pub rounds: usize,
    pub duration: Duration,
    pub scrape_every: Duration,
    pub writers: usize,
    pub batch: usize,
    pub size: usize,
}

/// One keep-alive HTTP connection.
struct Http {
    s: TcpStream,
    buf: BytesMut,
    addr: SocketAddr,
}

impl Http {
    async fn connect(addr: SocketAddr) -> Result<Http> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Http {
            s,
            buf: BytesMut::with_capacity(64 * 1024),
            addr,
        })
    }

    async fn request(&mut self, method: &str, path: &str) -> Result<bytes::Bytes> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            self.addr
        );
        self.s.write_all(req.as_bytes()).await?;
        let (status, body) = load::read_http_response(&mut self.s, &mut self.buf).await?;
        if status != 200 {
            bail!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }
}

pub fn run(rt: &Runtime, bin: &std::path::Path, o: &Options) -> Result<()> {
    let nsqd = Nsqd::start(bin, &[], &[])?;
    let result = rt.block_on(measure(&nsqd, o));
    if let Err(e) = &result {
        eprintln!("last nsqd output:\n{}", nsqd.log_tail());
        let _ = nsqd.stop();
        bail!("bench metrics: {e:#}");
    }
    nsqd.stop()
}

async fn measure(nsqd: &Nsqd, o: &Options) -> Result<()> {
    let mut http = Http::connect(nsqd.http).await?;
    let t0 = Instant::now();
    for i in 0..o.channels {
        let topic = format!("t{:04}", i / PER_TOPIC);
        if i % PER_TOPIC == 0 {
            http.request("POST", &format!("/topic/create?topic={topic}"))
                .await?;
        }
        http.request(
            "POST",
            &format!(
                "/channel/create?topic={topic}&channel=c{:03}",
                i % PER_TOPIC
            ),
        )
        .await?;
    }
    println!(
        "created {} channels in {} topics in {:.1}s",
        o.channels,
        o.channels.div_ceil(PER_TOPIC),
        t0.elapsed().as_secs_f64()
    );

    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..o.scrapes.max(1) {
        let t = Instant::now();
        let body = http.request("GET", "/metrics").await?;
        times.push(t.elapsed());
        size = body.len();
        let lines = body.iter().filter(|&&b| b == b'\n').count();
        if times.len() == 1 {
            println!("scrape: {size} bytes, {lines} lines");
        }
    }
    times.sort();
    println!(
        "scrape time over {} scrapes: min {:.1} ms, median {:.1} ms, max {:.1} ms ({:.0} bytes/channel)",
        times.len(),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        size as f64 / o.channels.max(1) as f64
    );

    println!(
        "PUB/SUB on one more topic: {} writers, MPUB of {} x {} B, {:?} per phase; \
         scraper: every {:?}",
        o.writers, o.batch, o.size, o.duration, o.scrape_every
    );
    for round in 0..o.rounds.max(1) {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for scraping in order {
            let (pub_rate, total_rate, scrapes) = pubsub(nsqd, o, scraping).await?;
            println!(
                "round {} {:<14} PUB {:>9.0} msg/s   PUB+SUB done {:>9.0} msg/s   scrapes {scrapes}",
                round + 1,
                if scraping { "with scrapes" } else { "no scrapes" },
                pub_rate,
                total_rate
            );
        }
    }
    Ok(())
}

/// One phase: readers subscribed, writers for `duration`, then until every message has
/// arrived; a scraper alongside when `scraping`. (publish msg/s, all-received msg/s,
/// scrapes done).
async fn pubsub(nsqd: &Nsqd, o: &Options, scraping: bool) -> Result<(f64, f64, u64)> {
    let drain = Drain {
        topic: "sub_bench".into(),
        channel: "ch".into(),
        conns: o.writers,
        rdy: 2500,
        stall: Duration::from_secs(30),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let scraper = scraping.then(|| {
        let (addr, every, stop) = (nsqd.http, o.scrape_every, stop_rx.clone());
        tokio::spawn(async move {
            let mut http = Http::connect(addr).await?;
            let mut n = 0u64;
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if *stop.borrow() {
                    return Ok::<u64, anyhow::Error>(n);
                }
                http.request("GET", "/metrics").await?;
                n += 1;
            }
        })
    });
    let start = Instant::now();
    let readers = Readers::start(nsqd.tcp, &drain, None).await?;
    let published = load::tcp_mpub(
        nsqd.tcp,
        &drain.topic,
        o.writers,
        o.batch,
        o.size,
        o.duration,
    )
    .await?;
    readers.expect(published.msgs);
    readers.finish().await?;
    let total = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let scrapes = match scraper {
        Some(t) => t.await??,
        None => 0,
    };
    Ok((published.rate(), published.msgs as f64 / total, scrapes))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
