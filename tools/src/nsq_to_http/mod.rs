//! `nsq_to_http`: consumes one topic and forwards each message body over HTTP, as Go
//! nsq_to_http v1.3.0 does: POSTed as the body to the `--post` URLs, or put
//! (query-escaped) into the one `%s` of the `--get` URLs; one URL per message chosen by
//! `--mode` (`round-robin`, `hostpool` the default, `epsilon-greedy`; any other value sends
//! to every URL in turn); `--sample` forwards only that share (the rest are FINed unsent).
//! A POST answered 2xx or a GET answered 200 FINs the message; anything else (another
//! status, a refused connection, `--http-client-request-timeout` passed) is a handler error,
//! so the message is requeued with backoff. `--n` handlers run at once. Timings are
//! logged every `--status-every` requests. SIGINT/SIGTERM stops the consumer cleanly and
//! exits 0.

mod publish;

use crate::cli;
use crate::flagtypes::SignedDuration;
use crate::goconfig::NsqOpts;
use crate::golog;
use crate::hostpool::HostPool;
use crate::timer_metrics::TimerMetrics;
use nsq_client::{Consumer, HandlerError, Message};
use publish::{Method, Publisher};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOOL: &str = "nsq_to_http";
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

options::options! {
    /// Go nsq_to_http's flags.
    #[derive(Debug, Clone)]
    pub struct Config in OPTIONS {
        topic: String = String::new(), "topic" _ shown "nsq topic";
        channel: String = "nsq_to_http".to_string(), "channel" _ shown "nsq channel";
        max_in_flight: i64 = 200, "max-in-flight" _ shown
            "max number of messages to allow in flight";
        publishers: i64 = 100, "n" _ shown "number of concurrent publishers";
        mode: String = "hostpool".to_string(), "mode" _ shown
            "the upstream request mode options: round-robin, hostpool (default), epsilon-greedy";
        sample: f64 = 1.0, "sample" _ shown "% of messages to publish (float b/w 0 -> 1)";
        connect_timeout: SignedDuration = SignedDuration::of(Duration::from_secs(2)),
            "http-client-connect-timeout" _ shown "timeout for HTTP connect";
        request_timeout: SignedDuration = SignedDuration::of(Duration::from_secs(20)),
            "http-client-request-timeout" _ shown "timeout for HTTP request";
        status_every: i64 = 250, "status-every" _ shown
            "the # of requests between logging status (per handler), 0 disables";
        content_type: String = DEFAULT_CONTENT_TYPE.to_string(), "content-type" _ shown
            "the Content-Type used for POST requests";
        post: Vec<String> = Vec::new(), "post" _ shown
            "HTTP address to make a POST request to.  data will be in the body (may be given multiple times)";
        headers: Vec<String> = Vec::new(), "header" _ shown
            "Custom header for HTTP requests (may be given multiple times)";
        get: Vec<String> = Vec::new(), "get" _ shown
            "HTTP address to make a GET request to. '%s' will be printf replaced with data (may be given multiple times)";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "nsqd TCP address (may be given multiple times)";
        lookupd_http_addresses: Vec<String> = Vec::new(), "lookupd-http-address" _ shown
            "lookupd HTTP address (may be given multiple times)";
        consumer_opts: NsqOpts = NsqOpts::default(), "consumer-opt" _ shown
            "option to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)";
    }
    flags {
        "version" Bool "print version string";
    }
}

/// How a message picks its URLs (Go's modes; an unknown `--mode` is "all").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    RoundRobin,
    HostPool,
}

/// go nsq_to_http's `parseCustomHeaders`: `Key: Value`, split at the first `:`, both
/// trimmed and non-empty; a later key replaces an earlier one.
fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in raw {
        let (k, v) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid header: {s:?}"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("invalid header: {s:?}"));
        }
        out.retain(|(old, _)| !old.eq_ignore_ascii_case(k));
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// What Go's checks after parsing leave.
struct Settings {
    headers: Vec<(String, String)>,
    method: Method,
    addresses: Vec<String>,
    mode: Mode,
}

/// Go nsq_to_http's checks, in its order, with its texts.
fn check(c: &Config) -> Result<Settings, String> {
    let headers = parse_headers(&c.headers)
        .map_err(|_| "--header value format should be 'key=value'".to_string())?;
    if c.topic.is_empty() || c.channel.is_empty() {
        return Err("--topic and --channel are required".into());
    }
    if c.content_type != DEFAULT_CONTENT_TYPE {
        if c.post.is_empty() {
            return Err("--content-type only used with --post".into());
        }
        if c.content_type.is_empty() {
            return Err("--content-type requires a value when used".into());
        }
    }
    cli::check_sources(&c.nsqd_tcp_addresses, &c.lookupd_http_addresses)?;
    if c.get.is_empty() && c.post.is_empty() {
        return Err("--get or --post required".into());
    }
    if !c.get.is_empty() && !c.post.is_empty() {
        return Err("use --get or --post not both".into());
    }
    if c.get.iter().any(|g| g.matches("%s").count() != 1) {
        return Err("invalid GET address - must be a printf string".into());
    }
    let mode = match c.mode.as_str() {
        "round-robin" => Mode::RoundRobin,
        "hostpool" | "epsilon-greedy" => Mode::HostPool,
        _ => Mode::All,
    };
    if c.sample > 1.0 || c.sample < 0.0 {
        return Err("ERROR: --sample must be between 0.0 and 1.0".into());
    }
    let (method, addresses) = if c.post.is_empty() {
        (Method::Get, c.get.clone())
    } else {
        (Method::Post, c.post.clone())
    };
    Ok(Settings {
        headers,
        method,
        addresses,
        mode,
    })
}

/// Go's `PublishHandler`.
struct Forward {
    publisher: Publisher,
    addresses: Vec<String>,
    mode: Mode,
    pool: HostPool,
    counter: AtomicU64,
    sample: f64,
    rng: Mutex<crate::rng::Rng>,
    per_address: HashMap<String, TimerMetrics>,
    aggregate: TimerMetrics,
}

impl Forward {
    fn sampled_out(&self) -> bool {
        self.sample < 1.0 && {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            rng.f64() > self.sample
        }
    }

    fn address_status(&self, addr: &str, start: Instant) {
        if let Some(m) = self.per_address.get(addr) {
            m.status(start);
        }
    }

    async fn handle(&self, m: Message) -> Result<(), HandlerError> {
        if self.sampled_out() {
            return Ok(());
        }
        let start = Instant::now();
        match self.mode {
            Mode::All => {
                for addr in &self.addresses {
                    let st = Instant::now();
                    self.publisher.publish(addr, &m.body).await?;
                    self.address_status(addr, st);
                }
            }
            Mode::RoundRobin => {
                let n = self.counter.fetch_add(1, Ordering::SeqCst).wrapping_add(1);
                let len = self.addresses.len().max(1) as u64;
                let Some(addr) = self.addresses.get((n % len) as usize) else {
                    return Ok(());
                };
                self.publisher.publish(addr, &m.body).await?;
                self.address_status(addr, start);
            }
            Mode::HostPool => {
                let Some((addr, pick)) = self.pool.get() else {
                    return Ok(());
                };
                let result = self.publisher.publish(&addr, &m.body).await;
                self.pool.mark(pick, result.is_ok());
                result?;
                self.address_status(&addr, start);
            }
        }
        self.aggregate.status(start);
        Ok(())
    }
}

/// The `nsq_to_http` binary.
pub fn main() -> ExitCode {
    let config = cli::parse_or_exit(TOOL, OPTIONS, Config::default());
    golog::init();
    let settings = check(&config).unwrap_or_else(|e| golog::fatal(&e));
    cli::run_to_exit(run(config, settings))
}

/// go-nsq's `NewConsumer` checks: the configuration, then the names.
pub(crate) fn consumer_config(
    opts: &NsqOpts,
    tool: &str,
    max_in_flight: i64,
    topic: &str,
    channel: &str,
) -> Result<nsq_client::Config, String> {
    let mut client = opts.client_config(&cli::user_agent(tool))?;
    if max_in_flight < 0 {
        // go-nsq's Validate names the field.
        return Err(format!("invalid MaxInFlight ! {max_in_flight} < 0"));
    }
    client.max_in_flight = u64::try_from(max_in_flight).unwrap_or(0);
    if !protocol::names::is_valid(topic.as_bytes()) {
        return Err("invalid topic name".into());
    }
    if !protocol::names::is_valid(channel.as_bytes()) {
        return Err("invalid channel name".into());
    }
    Ok(client)
}

/// Go's per-address timers: one silent timer when there is one address, else one each.
pub(crate) fn per_address_metrics(
    addresses: &[String],
    status_every: i64,
) -> HashMap<String, TimerMetrics> {
    let mut out = HashMap::new();
    if let [only] = addresses {
        out.insert(only.clone(), TimerMetrics::new(0, ""));
    } else {
        for a in addresses {
            out.insert(
                a.clone(),
                TimerMetrics::new(status_every, &format!("[{a}]:")),
            );
        }
    }
    out
}

async fn run(config: Config, settings: Settings) -> Result<(), String> {
    let shutdown = daemon::signals::shutdown_token().map_err(|e| e.to_string())?;
    let publisher = Publisher::new(
        settings.method,
        config.connect_timeout.positive(),
        config.request_timeout.positive(),
        &config.content_type,
        settings.headers,
    )?;
    let client = consumer_config(
        &config.consumer_opts,
        TOOL,
        config.max_in_flight,
        &config.topic,
        &config.channel,
    )?;
    let consumer =
        Consumer::new(&config.topic, &config.channel, client).map_err(|e| cli::go_error(&e))?;
    let per_address = per_address_metrics(&settings.addresses, config.status_every);
    let pool = if config.mode == "epsilon-greedy" {
        HostPool::epsilon_greedy(&settings.addresses)
    } else {
        HostPool::new(&settings.addresses)
    };
    let forward = Arc::new(Forward {
        publisher,
        addresses: settings.addresses,
        mode: settings.mode,
        pool,
        counter: AtomicU64::new(0),
        sample: config.sample,
        rng: Mutex::new(crate::rng::Rng::new()),
        per_address,
        aggregate: TimerMetrics::new(config.status_every, "[aggregate]:"),
    });
    consumer.add_handler(
        move |m: Message| {
            let forward = Arc::clone(&forward);
            async move { forward.handle(m).await }
        },
        usize::try_from(config.publishers).unwrap_or(0),
    );
    for addr in &config.nsqd_tcp_addresses {
        consumer
            .connect_to_nsqd(addr)
            .await
            .map_err(|e| cli::go_error(&e))?;
    }
    for addr in &config.lookupd_http_addresses {
        consumer
            .connect_to_nsqlookupd(addr)
            .await
            .map_err(|e| cli::go_error(&e))?;
    }
    shutdown.cancelled().await;
    consumer.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests;
