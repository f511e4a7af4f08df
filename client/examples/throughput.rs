//! The client's throughput against a running nsqd, in the load generator's method (NSQ's
//! bench_writer / bench_reader): `writers` producers each sending one MPUB of
//! `batch` × `size` bytes and waiting for its answer, for `secs` seconds; then one
//! consumer (max-in-flight 2500 over `readers` connections' worth of handlers) drains
//! the topic. Prints messages per second of both phases.
//!
//! `cargo run --release -p nsq-client --example throughput -- 127.0.0.1:4150 [secs] [writers]`

use nsq_client::{Config, Consumer, HandlerError, Message, Producer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4150".into());
    let secs: u64 = args.next().map_or(Ok(4), |s| s.parse())?;
    let writers: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    let (batch, size) = (200usize, 200usize);
    let topic = "client_bench";
    let body = vec![0u8; size];
    let bodies = vec![&body[..]; batch];

    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let producer = Producer::new(addr.clone(), Config::default());
        let bodies: Vec<Vec<u8>> = bodies.iter().map(|b| b.to_vec()).collect();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0u64;
            while Instant::now() < deadline {
                producer.multi_publish(topic, &bodies).await?;
                sent += bodies.len() as u64;
            }
            producer.stop().await;
            Ok::<_, nsq_client::Error>(sent)
        }));
    }
    let mut published = 0;
    for t in tasks {
        published += t.await??;
    }
    let pub_secs = start.elapsed().as_secs_f64();
    println!(
        "publish: {published} msgs in {pub_secs:.2}s = {:.0} msg/s",
        published as f64 / pub_secs
    );

    let consumer = Consumer::new(
        topic,
        "ch",
        Config {
            max_in_flight: 2500,
            ..Config::default()
        },
    )?;
    let got = Arc::new(AtomicU64::new(0));
    let g = Arc::clone(&got);
    consumer.add_handler(
        move |_m: Message| {
            g.fetch_add(1, Ordering::Relaxed);
            async { Ok::<(), HandlerError>(()) }
        },
        4,
    );
    let start = Instant::now();
    consumer.connect_to_nsqd(&addr).await?;
    while got.load(Ordering::Relaxed) < published {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sub_secs = start.elapsed().as_secs_f64();
    println!(
        "consume: {published} msgs in {sub_secs:.2}s = {:.0} msg/s",
        published as f64 / sub_secs
    );
    consumer.stop().await;
    Ok(())
}
