//! `nsq_tail`: consume one or more topics and print the bodies on stdout, with Go
//! nsq_tail v1.3.0's flags, checks (and their order), messages and exit codes. One
//! consumer per topic, one handler each; `--n` exits (status 0) once a topic has shown
//! that many; SIGINT/SIGTERM stops the consumers cleanly.

use crate::{cli, fatal, log, nsq_opt};
use nsq_client::{Config, Consumer, HandlerError, Message};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

options::options! {
    /// nsq_tail's flags.
    #[derive(Debug, Clone)]
    pub struct Options in OPTIONS {
        channel: String = String::new(), "channel" _ shown "NSQ channel";
        max_in_flight: i64 = 200, "max-in-flight" _ shown
            "max number of messages to allow in flight";
        n: i64 = 0, "n" _ shown "total messages to show (will wait if starved)";
        print_topic: bool = false, "print-topic" _ shown
            "print topic name where message was received";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "nsqd TCP address (may be given multiple times)";
        lookupd_http_addresses: Vec<String> = Vec::new(), "lookupd-http-address" _ shown
            "lookupd HTTP address (may be given multiple times)";
        topics: Vec<String> = Vec::new(), "topic" _ shown
            "NSQ topic (may be given multiple times)";
        consumer_opts: Vec<String> = Vec::new(), "consumer-opt" _ shown
            "option to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)";
    }
    flags {
        "version" Bool "print version string";
    }
}

/// `tail<6 digits>#ephemeral`, as Go picks it.
fn random_channel() -> String {
    let nanos = daemon::clock::unix_nanos().unsigned_abs();
    let mixed = nanos ^ (u64::from(std::process::id()) << 32);
    format!("tail{:06}#ephemeral", mixed % 999_999)
}

/// The whole program; returns the exit status.
pub fn main() -> i32 {
    let (mut o, version) = cli::parse("nsq_tail", OPTIONS, Options::default());
    if version {
        println!("nsq_tail v{}", daemon::VERSION);
        return 0;
    }
    let mut config = Config::default();
    if let Err(e) = nsq_opt::apply(&mut config, &o.consumer_opts) {
        let bad = o.consumer_opts.join(" ");
        cli::usage_error(
            "nsq_tail",
            OPTIONS,
            &Options::default(),
            &format!("invalid value {bad:?} for flag -consumer-opt: {e}"),
        );
    }
    if o.channel.is_empty() {
        o.channel = random_channel();
    }
    if o.nsqd_tcp_addresses.is_empty() && o.lookupd_http_addresses.is_empty() {
        fatal("--nsqd-tcp-address or --lookupd-http-address required");
    }
    if !o.nsqd_tcp_addresses.is_empty() && !o.lookupd_http_addresses.is_empty() {
        fatal("use --nsqd-tcp-address or --lookupd-http-address not both");
    }
    if o.topics.is_empty() {
        fatal("--topic required");
    }
    // Don't ask for more messages than we want.
    if o.n > 0 && o.n < o.max_in_flight {
        o.max_in_flight = o.n;
    }
    config.user_agent = format!(
        "nsq_tail/{} nsq-client/{}",
        daemon::VERSION,
        daemon::VERSION
    );
    config.max_in_flight = u64::try_from(o.max_in_flight).unwrap_or(0);
    crate::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fatal(&format!("runtime: {e}")),
    };
    rt.block_on(run(o, config));
    0
}

async fn run(o: Options, config: Config) {
    let shutdown = match daemon::signals::shutdown_token() {
        Ok(t) => t,
        Err(e) => fatal(&format!("signals: {e}")),
    };
    let total = u64::try_from(o.n).unwrap_or(0);
    let mut consumers = Vec::new();
    for topic in &o.topics {
        log(&format!("Adding consumer for topic: {topic}\n"));
        let consumer = match Consumer::new(topic, &o.channel, config.clone()) {
            Ok(c) => c,
            Err(e) => fatal(&e.to_string()),
        };
        let shown = Arc::new(AtomicU64::new(0));
        let (topic_name, print_topic) = (topic.clone(), o.print_topic);
        consumer.add_handler(
            move |m: Message| {
                let n = shown.fetch_add(1, Ordering::SeqCst) + 1;
                print(&topic_name, print_topic, &m.body);
                if total > 0 && n >= total {
                    std::process::exit(0);
                }
                async { Ok::<(), HandlerError>(()) }
            },
            1,
        );
        for addr in &o.nsqd_tcp_addresses {
            if let Err(e) = consumer.connect_to_nsqd(addr).await {
                fatal(&e.to_string());
            }
        }
        for addr in &o.lookupd_http_addresses {
            if let Err(e) = consumer.connect_to_nsqlookupd(addr).await {
                fatal(&e.to_string());
            }
        }
        consumers.push(consumer);
    }
    shutdown.cancelled().await;
    for c in &consumers {
        c.stop().await;
    }
}

/// `[topic | ]body\n`, written at once; a failed write is fatal as in Go.
fn print(topic: &str, print_topic: bool, body: &[u8]) {
    let mut line = Vec::with_capacity(body.len() + topic.len() + 4);
    if print_topic {
        line.extend_from_slice(topic.as_bytes());
        line.extend_from_slice(b" | ");
    }
    line.extend_from_slice(body);
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
        fatal(&format!("ERROR: failed to write to os.Stdout - {e}"));
    }
}
