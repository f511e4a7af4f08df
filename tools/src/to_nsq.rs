//! `to_nsq`: reads stdin, splits it at `--delimiter` and publishes every chunk with PUB to
//! every `--nsqd-tcp-address`, one after the other, as Go to_nsq v1.3.0 does: each chunk
//! loses its last byte as "the delimiter" (so an unterminated last chunk loses its last
//! character), empty chunks are skipped, `--rate` throttles with Go's token bucket, and a
//! publish error is fatal (exit status 1). EOF or SIGINT/SIGTERM stops the producers and
//! exits 0.

use crate::cli;
use crate::goconfig::NsqOpts;
use crate::golog;
use nsq_client::Producer;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

const TOOL: &str = "to_nsq";

options::options! {
    /// Go to_nsq's flags (it has no `--version`).
    #[derive(Debug, Clone)]
    pub struct Config in OPTIONS {
        topic: String = String::new(), "topic" _ shown "NSQ topic to publish to";
        delimiter: String = "\n".to_string(), "delimiter" _ shown
            "character to split input from stdin";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "destination nsqd TCP address (may be given multiple times)";
        producer_opts: NsqOpts = NsqOpts::default(), "producer-opt" _ shown
            "option to passthrough to nsq.Producer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)";
        rate: i64 = 0, "rate" _ shown "Throttle messages to n/second. 0 to disable";
    }
}

/// The `to_nsq` binary.
pub fn main() -> ExitCode {
    let config = cli::parse_or_exit(TOOL, OPTIONS, Config::default());
    golog::init();
    if config.topic.is_empty() {
        golog::fatal("--topic required");
    }
    let &[delimiter] = config.delimiter.as_bytes() else {
        golog::fatal("--delimiter must be a single byte");
    };
    // Go checks the options when it makes the first producer, so only with an address.
    let mut producers: Vec<Producer> = Vec::new();
    if !config.nsqd_tcp_addresses.is_empty() {
        let client_config = match config.producer_opts.client_config(&cli::user_agent(TOOL)) {
            Ok(c) => c,
            Err(e) => golog::fatal(&format!("failed to create nsq.Producer - {e}")),
        };
        // Go keeps the producers in a map by address: a repeated address publishes once.
        for addr in &config.nsqd_tcp_addresses {
            if !producers.iter().any(|p| p.addr() == addr) {
                producers.push(Producer::new(addr.clone(), client_config.clone()));
            }
        }
    }
    if producers.is_empty() {
        golog::fatal("--nsqd-tcp-address required");
    }
    cli::run_to_exit(run(&config, delimiter, &producers))
}

async fn run(config: &Config, delimiter: u8, producers: &[Producer]) -> Result<(), String> {
    let shutdown = daemon::signals::shutdown_token().map_err(|e| e.to_string())?;
    let throttle = Throttle::start(config.rate);
    let stdin = tokio::io::stdin();
    let publishing = publish_all(stdin, delimiter, &config.topic, producers, throttle);
    let result = tokio::select! {
        r = publishing => r,
        () = shutdown.cancelled() => Ok(()),
    };
    if result.is_ok() {
        for p in producers {
            p.stop().await;
        }
    }
    result
}

/// Reads chunks until EOF, publishing each to every producer.
async fn publish_all(
    input: impl AsyncRead + Unpin,
    delimiter: u8,
    topic: &str,
    producers: &[Producer],
    throttle: Option<Throttle>,
) -> Result<(), String> {
    let mut reader = BufReader::new(input);
    let mut chunk = Vec::new();
    loop {
        if let Some(t) = &throttle {
            t.wait().await;
        }
        chunk.clear();
        let n = reader
            .read_until(delimiter, &mut chunk)
            .await
            .map_err(|e| e.to_string())?;
        let eof = n == 0 || chunk.last() != Some(&delimiter);
        // Go drops the last byte whether or not it is the delimiter.
        chunk.pop();
        if !chunk.is_empty() {
            for p in producers {
                p.publish(topic, &chunk)
                    .await
                    .map_err(|e| cli::go_error(&e))?;
            }
        }
        if let Some(t) = &throttle {
            t.spent();
        }
        if eof {
            return Ok(());
        }
    }
}

/// Go to_nsq's throttle: a balance starting at 1, raised by one every `1s / rate` up to
/// `rate`; a read waits one interval when the balance is spent (and then goes on anyway).
struct Throttle {
    balance: Arc<AtomicI64>,
    interval: Duration,
}

impl Throttle {
    fn start(rate: i64) -> Option<Throttle> {
        if rate < 1 {
            return None;
        }
        golog::printf(&format!("Throttling messages rate to max:{rate}/second"));
        let interval = Duration::from_nanos(1_000_000_000 / rate.unsigned_abs());
        let balance = Arc::new(AtomicI64::new(1));
        let b = Arc::clone(&balance);
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + interval;
            let mut tick = tokio::time::interval_at(start, interval.max(Duration::from_nanos(1)));
            loop {
                tick.tick().await;
                if b.fetch_add(1, Ordering::Relaxed) + 1 > rate {
                    b.store(rate, Ordering::Relaxed);
                }
            }
        });
        Some(Throttle { balance, interval })
    }

    async fn wait(&self) {
        if self.balance.load(Ordering::Relaxed) <= 0 {
            tokio::time::sleep(self.interval).await;
        }
    }

    fn spent(&self) {
        self.balance.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, cli::Exit> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        cli::parse(TOOL, "to_nsq", OPTIONS, Config::default(), &args)
    }

    #[test]
    fn table_is_consistent() {
        assert_eq!(options::check(OPTIONS), Ok(()));
    }

    #[test]
    fn usage_is_go_to_nsq_s() {
        let Err(cli::Exit::Help(text)) = parse(&["-h"]) else {
            panic!("help");
        };
        assert_eq!(
            text,
            "Usage of to_nsq:\n  -delimiter string\n    \tcharacter to split input from stdin (default \"\\n\")\n  -nsqd-tcp-address value\n    \tdestination nsqd TCP address (may be given multiple times)\n  -producer-opt value\n    \toption to passthrough to nsq.Producer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)\n  -rate int\n    \tThrottle messages to n/second. 0 to disable\n  -topic string\n    \tNSQ topic to publish to\n"
        );
    }

    #[test]
    fn flags() {
        let c = parse(&[
            "--topic=t",
            "--nsqd-tcp-address",
            "a:1",
            "-nsqd-tcp-address=b:2",
            "--rate=5",
            "--producer-opt=max_in_flight,3",
            "--delimiter",
            ",",
        ])
        .expect("parses");
        assert_eq!(c.topic, "t");
        assert_eq!(c.nsqd_tcp_addresses, ["a:1", "b:2"]);
        assert_eq!(c.rate, 5);
        assert_eq!(c.delimiter, ",");
        let Err(cli::Exit::Usage(text)) = parse(&["--producer-opt=nope"]) else {
            panic!("usage error");
        };
        assert!(text.starts_with(
            "invalid value \"nope\" for flag -producer-opt: invalid option nope\nUsage of to_nsq:\n"
        ));
        assert!(matches!(parse(&["--version"]), Err(cli::Exit::Usage(_))));
    }
}
