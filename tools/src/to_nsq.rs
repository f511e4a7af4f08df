//! `to_nsq`: read stdin, split at a one-byte delimiter and PUB every chunk to every
//! `--nsqd-tcp-address`, with Go to_nsq v1.3.0's flags, checks, exit codes and quirk (the
//! last byte of every chunk is dropped as "the delimiter", so a final chunk without one
//! loses its last character; empty chunks are skipped). `--rate` throttles with Go's
//! token bucket (refilled every 1/rate s, capped at rate). EOF or SIGINT/SIGTERM stops the
//! producers and exits 0; a failed publish is fatal.

use crate::{cli, fatal, log, nsq_opt};
use nsq_client::{Config, Producer};
use std::io::BufRead;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

options::options! {
    /// to_nsq's flags (Go's to_nsq has no `--version`).
    #[derive(Debug, Clone)]
    pub struct Options in OPTIONS {
        topic: String = String::new(), "topic" _ shown "NSQ topic to publish to";
        delimiter: String = "\n".to_string(), "delimiter" _ shown
            "character to split input from stdin";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "destination nsqd TCP address (may be given multiple times)";
        producer_opts: Vec<String> = Vec::new(), "producer-opt" _ shown
            "option to passthrough to nsq.Producer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)";
        rate: i64 = 0, "rate" _ shown "Throttle messages to n/second. 0 to disable";
    }
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let (o, _) = cli::parse("to_nsq", OPTIONS, Options::default());
    let mut config = Config::default();
    if let Err(e) = nsq_opt::apply(&mut config, &o.producer_opts) {
        let bad = o.producer_opts.join(" ");
        cli::usage_error(
            "to_nsq",
            OPTIONS,
            &Options::default(),
            &format!("invalid value {bad:?} for flag -producer-opt: {e}"),
        );
    }
    if o.topic.is_empty() {
        fatal("--topic required");
    }
    if o.delimiter.len() != 1 {
        fatal("--delimiter must be a single byte");
    }
    config.user_agent = format!("to_nsq/{} nsq-client/{}", daemon::VERSION, daemon::VERSION);
    crate::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fatal(&format!("runtime: {e}")),
    };
    // One producer per distinct address (Go keeps them in a map).
    let mut producers: Vec<Producer> = Vec::new();
    for addr in &o.nsqd_tcp_addresses {
        if !producers.iter().any(|p| p.addr() == addr) {
            producers.push(Producer::new(addr.clone(), config.clone()));
        }
    }
    if producers.is_empty() {
        fatal("--nsqd-tcp-address required");
    }
    let producers = Arc::new(producers);
    {
        // SIGINT/SIGTERM: stop the producers and exit 0, as Go's main returns.
        let _g = rt.enter();
        let shutdown = match daemon::signals::shutdown_token() {
            Ok(t) => t,
            Err(e) => fatal(&format!("signals: {e}")),
        };
        let p = Arc::clone(&producers);
        rt.spawn(async move {
            shutdown.cancelled().await;
            for producer in p.iter() {
                producer.stop().await;
            }
            std::process::exit(0);
        });
    }
    let throttle = throttle(o.rate);
    let delim = o.delimiter.as_bytes()[0];
    let mut input = std::io::stdin().lock();
    loop {
        if let Some((balance, interval)) = &throttle {
            if balance.load(Ordering::SeqCst) <= 0 {
                std::thread::sleep(*interval);
            }
        }
        let mut line = Vec::new();
        let read = input.read_until(delim, &mut line);
        if let Some((balance, _)) = &throttle {
            balance.fetch_sub(1, Ordering::SeqCst);
        }
        let eof = match read {
            Ok(0) => true,
            Ok(_) => line.last() != Some(&delim),
            Err(e) => fatal(&e.to_string()),
        };
        // The reference drops the last byte whether or not it is the delimiter.
        line.pop();
        if !line.is_empty() {
            for producer in producers.iter() {
                if let Err(e) = rt.block_on(producer.publish(&o.topic, &line)) {
                    fatal(&e.to_string());
                }
            }
        }
        if eof {
            break;
        }
    }
    rt.block_on(async {
        for producer in producers.iter() {
            producer.stop().await;
        }
    });
    0
}

/// Go's token bucket: one token every 1/rate s, at most `rate`, starting at 1.
fn throttle(rate: i64) -> Option<(Arc<AtomicI64>, Duration)> {
    if rate < 1 {
        return None;
    }
    let interval = Duration::from_nanos(1_000_000_000 / rate.unsigned_abs());
    let balance = Arc::new(AtomicI64::new(1));
    log(&format!("Throttling messages rate to max:{rate}/second"));
    let b = Arc::clone(&balance);
    std::thread::spawn(move || loop {
        std::thread::sleep(interval);
        if b.fetch_add(1, Ordering::SeqCst) + 1 > rate {
            b.store(rate, Ordering::SeqCst);
        }
    });
    Some((balance, interval))
}
