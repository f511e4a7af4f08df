//! `nsq_tail`: prints the messages of one or more topics on stdout, as Go nsq_tail v1.3.0
//! does: one consumer per `--topic` on one channel (default `tail<6 digits>#ephemeral`),
//! each message printed as `[<topic> | ]<body>\n` and FINed; after `--n` messages of one
//! topic the process exits 0 at once (the last one is not FINed: nsqd requeues it, as with
//! Go's); SIGINT/SIGTERM stops the consumers cleanly and exits 0.

use crate::cli;
use crate::goconfig::NsqOpts;
use crate::golog;
use nsq_client::{HandlerError, Message};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const TOOL: &str = "nsq_tail";

options::options! {
    /// Go nsq_tail's flags.
    #[derive(Debug, Clone)]
    pub struct Config in OPTIONS {
        channel: String = String::new(), "channel" _ shown "NSQ channel";
        max_in_flight: i64 = 200, "max-in-flight" _ shown
            "max number of messages to allow in flight";
        total_messages: i64 = 0, "n" _ shown "total messages to show (will wait if starved)";
        print_topic: bool = false, "print-topic" _ shown
            "print topic name where message was received";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "nsqd TCP address (may be given multiple times)";
        lookupd_http_addresses: Vec<String> = Vec::new(), "lookupd-http-address" _ shown
            "lookupd HTTP address (may be given multiple times)";
        topics: Vec<String> = Vec::new(), "topic" _ shown "NSQ topic (may be given multiple times)";
        consumer_opts: NsqOpts = NsqOpts::default(), "consumer-opt" _ shown
            "option to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)";
    }
    flags {
        "version" Bool "print version string";
    }
}

/// `tail<6 digits>#ephemeral`, as Go's `rand.Int() % 999999`.
fn random_channel() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("tail{:06}#ephemeral", h.finish() % 999_999)
}

/// One topic's handler (Go's `TailHandler`): the count is per topic.
struct Tail {
    topic: String,
    print_topic: bool,
    total: i64,
    shown: AtomicI64,
}

impl Tail {
    async fn handle(&self, m: Message) -> Result<(), HandlerError> {
        let shown = self.shown.fetch_add(1, Ordering::SeqCst) + 1;
        let mut line = Vec::with_capacity(m.body.len() + self.topic.len() + 4);
        if self.print_topic {
            line.extend_from_slice(self.topic.as_bytes());
            line.extend_from_slice(b" | ");
        }
        line.extend_from_slice(&m.body);
        line.push(b'\n');
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
            golog::fatal(&format!("ERROR: failed to write to os.Stdout - {e}"));
        }
        if self.total > 0 && shown >= self.total {
            std::process::exit(0);
        }
        Ok(())
    }
}

/// The `nsq_tail` binary.
pub fn main() -> ExitCode {
    let mut config = cli::parse_or_exit(TOOL, OPTIONS, Config::default());
    golog::init();
    if config.channel.is_empty() {
        config.channel = random_channel();
    }
    if let Err(e) = cli::check_sources(&config.nsqd_tcp_addresses, &config.lookupd_http_addresses) {
        golog::fatal(&e);
    }
    if config.topics.is_empty() {
        golog::fatal("--topic required");
    }
    // Don't ask for more messages than we want.
    if config.total_messages > 0 && config.total_messages < config.max_in_flight {
        config.max_in_flight = config.total_messages;
    }
    cli::run_to_exit(run(config))
}

async fn run(config: Config) -> Result<(), String> {
    let shutdown = daemon::signals::shutdown_token().map_err(|e| e.to_string())?;
    // Checked when the first consumer is made, after its "Adding consumer" line, as Go.
    let client = config
        .consumer_opts
        .client_config(&cli::user_agent(TOOL))
        .map(|mut c| {
            c.max_in_flight = u64::try_from(config.max_in_flight).unwrap_or(0);
            c
        });
    let mut consumers = Vec::new();
    for topic in &config.topics {
        golog::printf(&format!("Adding consumer for topic: {topic}"));
        let consumer = cli::new_consumer(topic, &config.channel, client.clone()?)?;
        let tail = Arc::new(Tail {
            topic: topic.clone(),
            print_topic: config.print_topic,
            total: config.total_messages,
            shown: AtomicI64::new(0),
        });
        consumer.add_handler(
            move |m: Message| {
                let tail = Arc::clone(&tail);
                async move { tail.handle(m).await }
            },
            1,
        );
        cli::connect(
            &consumer,
            &config.nsqd_tcp_addresses,
            &config.lookupd_http_addresses,
        )
        .await?;
        consumers.push(consumer);
    }
    shutdown.cancelled().await;
    for c in &consumers {
        c.stop().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, cli::Exit> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        cli::parse(TOOL, "nsq_tail", OPTIONS, Config::default(), &args)
    }

    #[test]
    fn usage_is_go_nsq_tail_s() {
        assert_eq!(options::check(OPTIONS), Ok(()));
        let Err(cli::Exit::Help(text)) = parse(&["-h"]) else {
            panic!("help");
        };
        assert_eq!(
            text,
            "Usage of nsq_tail:\n  -channel string\n    \tNSQ channel\n  -consumer-opt value\n    \toption to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)\n  -lookupd-http-address value\n    \tlookupd HTTP address (may be given multiple times)\n  -max-in-flight int\n    \tmax number of messages to allow in flight (default 200)\n  -n int\n    \ttotal messages to show (will wait if starved)\n  -nsqd-tcp-address value\n    \tnsqd TCP address (may be given multiple times)\n  -print-topic\n    \tprint topic name where message was received\n  -topic value\n    \tNSQ topic (may be given multiple times)\n  -version\n    \tprint version string\n"
        );
        assert_eq!(
            parse(&["--version"]).err(),
            Some(cli::Exit::Version("nsq_tail v1.3.0".into()))
        );
    }

    #[test]
    fn flags_and_default_channel() {
        let c = parse(&[
            "--topic=a",
            "--topic",
            "b",
            "--n=3",
            "--print-topic",
            "--consumer-opt=snappy",
        ])
        .expect("parses");
        assert_eq!(c.topics, ["a", "b"]);
        assert_eq!(c.total_messages, 3);
        assert!(c.print_topic);
        let ch = random_channel();
        assert_eq!(ch.len(), "tail123456#ephemeral".len(), "{ch}");
        assert!(ch.starts_with("tail") && ch.ends_with("#ephemeral"));
        assert!(ch[4..10].bytes().all(|b| b.is_ascii_digit()));
    }
}
