//! `nsq_to_nsq`: consumes topics from one cluster and publishes every message to
//! destination nsqd, as Go nsq_to_nsq v1.3.0 does: one consumer per `--topic` on
//! `--channel`, each message published (PUB, to `--destination-topic` or the topic it came
//! from) to one `--destination-nsqd-tcp-address` chosen by `--mode` (`hostpool` the
//! default, `epsilon-greedy`, `round-robin`, which any other value also means), without
//! waiting in the handler: the message is FINed when nsqd answers OK and requeued with the
//! default (attempt-scaled) delay and backoff when it does not. A destination that cannot
//! be reached is a handler error (requeue, backoff), tried again by the next message. With
//! `--require-json-field` or `--whitelist-json-field`, JSON filters apply first (`json`).
//! SIGINT/SIGTERM stops the consumers cleanly (every publish answered) and exits 0.

mod json;

use crate::cli;
use crate::goconfig::NsqOpts;
use crate::golog;
use crate::hostpool::HostPool;
use crate::nsq_to_http::{consumer_config, per_address_metrics};
use crate::timer_metrics::TimerMetrics;
use json::{Filter, Verdict};
use nsq_client::{Consumer, HandlerError, Message, Producer};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const TOOL: &str = "nsq_to_nsq";

options::options! {
    /// Go nsq_to_nsq's flags.
    #[derive(Debug, Clone)]
    pub struct Config in OPTIONS {
        channel: String = "nsq_to_nsq".to_string(), "channel" _ shown "nsq channel";
        destination_topic: String = String::new(), "destination-topic" _ shown
            "use this destination topic for all consumed topics (default is consumed topic name)";
        max_in_flight: i64 = 200, "max-in-flight" _ shown
            "max number of messages to allow in flight";
        status_every: i64 = 250, "status-every" _ shown
            "the # of requests between logging status (per destination), 0 disables";
        mode: String = "hostpool".to_string(), "mode" _ shown
            "the upstream request mode options: round-robin, hostpool (default), epsilon-greedy";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "nsqd TCP address (may be given multiple times)";
        destination_addresses: Vec<String> = Vec::new(), "destination-nsqd-tcp-address" _ shown
            "destination nsqd TCP address (may be given multiple times)";
        lookupd_http_addresses: Vec<String> = Vec::new(), "lookupd-http-address" _ shown
            "lookupd HTTP address (may be given multiple times)";
        topics: Vec<String> = Vec::new(), "topic" _ shown "nsq topic (may be given multiple times)";
        whitelist_json_fields: Vec<String> = Vec::new(), "whitelist-json-field" _ shown
            "for JSON messages: pass this field (may be given multiple times)";
        require_json_field: String = String::new(), "require-json-field" _ shown
            "for JSON messages: only pass messages that contain this field";
        require_json_value: String = String::new(), "require-json-value" _ shown
            "for JSON messages: only pass messages in which the required field has this value";
        consumer_opts: NsqOpts = NsqOpts::default(), "consumer-opt" _ shown
            "option to passthrough to nsq.Consumer (may be given multiple times, see http://godoc.org/github.com/nsqio/go-nsq#Config)";
        producer_opts: NsqOpts = NsqOpts::default(), "producer-opt" _ shown
            "option to passthrough to nsq.Producer (may be given multiple times, see http://godoc.org/github.com/nsqio/go-nsq#Config)";
    }
    flags {
        "version" Bool "print version string";
    }
}

/// Go nsq_to_nsq's checks, in its order, with its texts; `Ok(true)` for round-robin.
fn check(c: &Config) -> Result<bool, String> {
    if c.topics.is_empty() || c.channel.is_empty() {
        return Err("--topic and --channel are required".into());
    }
    if c.topics
        .iter()
        .any(|t| !protocol::names::is_valid(t.as_bytes()))
    {
        return Err("--topic is invalid".into());
    }
    if !c.destination_topic.is_empty() && !protocol::names::is_valid(c.destination_topic.as_bytes())
    {
        return Err("--destination-topic is invalid".into());
    }
    if !protocol::names::is_valid(c.channel.as_bytes()) {
        return Err("--channel is invalid".into());
    }
    cli::check_sources(&c.nsqd_tcp_addresses, &c.lookupd_http_addresses)?;
    if c.destination_addresses.is_empty() {
        return Err("--destination-nsqd-tcp-address required".into());
    }
    Ok(!matches!(c.mode.as_str(), "hostpool" | "epsilon-greedy"))
}

/// Go's `PublishHandler`, shared by the topics' consumers.
struct Republish {
    addresses: Vec<String>,
    producers: HashMap<String, Producer>,
    round_robin: bool,
    pool: HostPool,
    counter: AtomicU64,
    filter: Filter,
    per_address: HashMap<String, TimerMetrics>,
    aggregate: TimerMetrics,
}

impl Republish {
    async fn handle(self: &Arc<Self>, m: Message, topic: &str) -> Result<(), HandlerError> {
        let body = match self.filter.apply(&m.body) {
            Verdict::Pass(b) => b,
            Verdict::Drop => return Ok(()),
            Verdict::Backoff => return Err("backoff".into()),
        };
        let start = Instant::now();
        let (addr, pick) = if self.round_robin {
            let n = self.counter.fetch_add(1, Ordering::SeqCst).wrapping_add(1);
            let len = self.addresses.len().max(1) as u64;
            let addr = self.addresses.get((n % len) as usize).cloned();
            (addr, None)
        } else {
            match self.pool.get() {
                Some((a, p)) => (Some(a), Some(p)),
                None => (None, None),
            }
        };
        let Some(producer) = addr.as_ref().and_then(|a| self.producers.get(a)).cloned() else {
            return Err("no destination".into());
        };
        let addr = addr.unwrap_or_default();
        // go-nsq's PublishAsync connects first, in the handler: a failure there is the
        // handler's error.
        if let Err(e) = producer.connect().await {
            if let Some(p) = pick {
                self.pool.mark(p, false);
            }
            return Err(cli::go_error(&e).into());
        }
        m.disable_auto_response();
        let this = Arc::clone(self);
        let topic = topic.to_string();
        tokio::spawn(async move {
            let ok = producer.publish(&topic, &body).await.is_ok();
            if let Some(p) = pick {
                this.pool.mark(p, ok);
            }
            if ok {
                m.finish();
            } else {
                m.requeue(None);
            }
            if let Some(t) = this.per_address.get(&addr) {
                t.status(start);
            }
            this.aggregate.status(start);
        });
        Ok(())
    }
}

/// The `nsq_to_nsq` binary.
pub fn main() -> ExitCode {
    let config = cli::parse_or_exit(TOOL, OPTIONS, Config::default());
    golog::init();
    let round_robin = check(&config).unwrap_or_else(|e| golog::fatal(&e));
    cli::run_to_exit(run(config, round_robin))
}

async fn run(config: Config, round_robin: bool) -> Result<(), String> {
    let shutdown = daemon::signals::shutdown_token().map_err(|e| e.to_string())?;
    let producer_config = config
        .producer_opts
        .client_config(&cli::user_agent(TOOL))
        .map_err(|e| format!("failed creating producer {e}"))?;
    let mut producers = HashMap::new();
    for addr in &config.destination_addresses {
        producers.insert(
            addr.clone(),
            Producer::new(addr.clone(), producer_config.clone()),
        );
    }
    let per_address = per_address_metrics(&config.destination_addresses, config.status_every);
    let pool = if config.mode == "epsilon-greedy" {
        HostPool::epsilon_greedy(&config.destination_addresses)
    } else {
        HostPool::new(&config.destination_addresses)
    };
    let republish = Arc::new(Republish {
        addresses: config.destination_addresses.clone(),
        producers,
        round_robin,
        pool,
        counter: AtomicU64::new(0),
        filter: Filter::new(
            &config.require_json_field,
            &config.require_json_value,
            &config.whitelist_json_fields,
        ),
        per_address,
        aggregate: TimerMetrics::new(config.status_every, "[aggregate]:"),
    });
    let mut consumers = Vec::new();
    for topic in &config.topics {
        let client = consumer_config(
            &config.consumer_opts,
            TOOL,
            config.max_in_flight,
            topic,
            &config.channel,
        )?;
        let consumer =
            Consumer::new(topic, &config.channel, client).map_err(|e| cli::go_error(&e))?;
        let destination = if config.destination_topic.is_empty() {
            topic.clone()
        } else {
            config.destination_topic.clone()
        };
        let r = Arc::clone(&republish);
        let destination = Arc::new(destination);
        consumer.add_handler(
            move |m: Message| {
                let (r, destination) = (Arc::clone(&r), Arc::clone(&destination));
                async move { r.handle(m, &destination).await }
            },
            config.destination_addresses.len(),
        );
        consumers.push(consumer);
    }
    for consumer in &consumers {
        for addr in &config.nsqd_tcp_addresses {
            consumer
                .connect_to_nsqd(addr)
                .await
                .map_err(|e| cli::go_error(&e))?;
        }
    }
    for consumer in &consumers {
        for addr in &config.lookupd_http_addresses {
            consumer
                .connect_to_nsqlookupd(addr)
                .await
                .map_err(|e| cli::go_error(&e))?;
        }
    }
    shutdown.cancelled().await;
    // Go stops every consumer, then waits for each.
    let stops: Vec<_> = consumers
        .iter()
        .map(|c| {
            let c = c.clone();
            tokio::spawn(async move { c.stop().await })
        })
        .collect();
    for s in stops {
        let _ = s.await;
    }
    for p in republish.producers.values() {
        p.stop().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
