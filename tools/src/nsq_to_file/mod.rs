//! `nsq_to_file`: consumes topics and writes every message body, one per line, to
//! rotating local files, FINishing messages only once they are synced to disk, as Go
//! nsq_to_file v1.3.0 does, with its flags, defaults, checks and log lines. Topics are the
//! `--topic`s, or without any, those nsqlookupd `/topics` lists that match
//! `--topic-pattern`, looked up every `--topic-refresh`. Each topic has its own consumer
//! (`--channel`, `--max-in-flight`) and its own loop (`router`) over its file
//! (`file_logger`). SIGHUP syncs and closes every file; SIGINT/SIGTERM stop the
//! consumers, sync and close the files, and exit 0.

mod file_logger;
mod golayout;
mod gopath;
mod localtime;
mod log;
mod router;

use crate::cli;
use crate::flagtypes::SignedDuration;
use crate::goconfig::NsqOpts;
use crate::golog;
use log::{Level, Log};
use nsq_client::{Consumer, Message};
use options::{OptionValue, SetError};
use serde_json::Value;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TOOL: &str = "nsq_to_file";

/// `--rotate-size`: a Go `int64` flag whose usage names its value `rotate-size` (the
/// back-quoted word of its help text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotateSize(pub i64);

impl OptionValue for RotateSize {
    const WORD: &'static str = "rotate-size";

    fn set(&mut self, first: bool, text: &str) -> Result<(), SetError> {
        let mut v = 0i64;
        v.set(first, text)?;
        self.0 = v;
        Ok(())
    }

    fn to_json(&self) -> Value {
        Value::from(self.0)
    }

    fn usage_default(&self) -> Option<String> {
        (self.0 != 0).then(|| self.0.to_string())
    }
}

fn secs(n: u64) -> SignedDuration {
    SignedDuration::of(Duration::from_secs(n))
}

options::options! {
    /// Go nsq_to_file's flags.
    #[derive(Debug, Clone)]
    pub struct Config in OPTIONS {
        version: bool = false, "version" _ shown "print version string";
        log_level: String = "info".to_string(), "log-level" _ shown
            "set log verbosity: debug, info, warn, error, or fatal";
        log_prefix: String = "[nsq_to_file] ".to_string(), "log-prefix" _ shown
            "log message prefix";
        channel: String = "nsq_to_file".to_string(), "channel" _ shown "nsq channel";
        max_in_flight: i64 = 200, "max-in-flight" _ shown
            "max number of messages to allow in flight";
        output_dir: String = "/tmp".to_string(), "output-dir" _ shown
            "directory to write output files to";
        work_dir: String = String::new(), "work-dir" _ shown
            "directory for in-progress files before moving to output-dir";
        datetime_format: String = "%Y-%m-%d_%H".to_string(), "datetime-format" _ shown
            "strftime compatible format for <DATETIME> in filename format";
        filename_format: String = "<TOPIC>.<HOST><REV>.<DATETIME>.log".to_string(),
            "filename-format" _ shown
            "output filename format (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV> are replaced. <REV> is increased when file already exists)";
        host_identifier: String = String::new(), "host-identifier" _ shown
            "value to output in log filename in place of hostname. <SHORT_HOST> and <HOSTNAME> are valid replacement tokens";
        gzip_level: i64 = 6, "gzip-level" _ shown
            "gzip compression level (1-9, 1=BestSpeed, 9=BestCompression)";
        gzip: bool = false, "gzip" _ shown "gzip output files.";
        skip_empty_files: bool = false, "skip-empty-files" _ shown "skip writing empty files";
        topic_refresh: SignedDuration = secs(60), "topic-refresh" _ shown
            "how frequently the topic list should be refreshed";
        topic_pattern: String = String::new(), "topic-pattern" _ shown
            "only log topics matching the following pattern";
        rotate_size: RotateSize = RotateSize(0), "rotate-size" _ shown
            "rotate the file when it grows bigger than rotate-size bytes";
        rotate_interval: SignedDuration = SignedDuration::default(), "rotate-interval" _ shown
            "rotate the file every duration";
        sync_interval: SignedDuration = secs(30), "sync-interval" _ shown
            "sync file to disk every duration";
        connect_timeout: SignedDuration = secs(2), "http-client-connect-timeout" _ shown
            "timeout for HTTP connect";
        request_timeout: SignedDuration = secs(5), "http-client-request-timeout" _ shown
            "timeout for HTTP request";
        nsqd_tcp_addresses: Vec<String> = Vec::new(), "nsqd-tcp-address" _ shown
            "nsqd TCP address (may be given multiple times)";
        lookupd_http_addresses: Vec<String> = Vec::new(), "lookupd-http-address" _ shown
            "lookupd HTTP address (may be given multiple times)";
        topics: Vec<String> = Vec::new(), "topic" _ shown
            "nsq topic (may be given multiple times)";
        consumer_opts: Vec<String> = Vec::new(), "consumer-opt" _ shown
            "option to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)";
    }
}

/// What the checks after parsing leave, shared by every topic.
#[derive(Debug)]
pub(crate) struct Settings {
    pub channel: String,
    pub output_dir: String,
    /// `--work-dir`, or the output dir when not given.
    pub work_dir: String,
    pub datetime_format: String,
    pub filename_format: String,
    pub host_identifier: String,
    pub gzip: bool,
    pub gzip_level: u32,
    pub skip_empty_files: bool,
    pub rotate_size: i64,
    /// Set when above zero (Go ignores a negative interval).
    pub rotate_interval: Option<Duration>,
    /// Zero when not above zero (Go's ticker then panics).
    pub sync_interval: Duration,
    pub topics: Vec<String>,
    pub topic_pattern: String,
    pub topic_refresh: Option<Duration>,
    pub nsqd_tcp_addresses: Vec<String>,
    pub lookupd_http_addresses: Vec<String>,
    pub max_in_flight: i64,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub consumer_opts: NsqOpts,
}

/// Go nsq_to_file's checks after parsing, in its order (`--log-level` and `--version`
/// come before these, in `main`).
fn check(c: &Config) -> Result<Settings, String> {
    if c.channel.is_empty() {
        return Err("--channel is required".into());
    }
    let connect_timeout = c
        .connect_timeout
        .positive()
        .ok_or("--http-client-connect-timeout should be positive")?;
    let request_timeout = c
        .request_timeout
        .positive()
        .ok_or("--http-client-request-timeout should be positive")?;
    if c.nsqd_tcp_addresses.is_empty() && c.lookupd_http_addresses.is_empty() {
        return Err("--nsqd-tcp-address or --lookupd-http-address required.".into());
    }
    if !c.nsqd_tcp_addresses.is_empty() && !c.lookupd_http_addresses.is_empty() {
        return Err("use --nsqd-tcp-address or --lookupd-http-address not both".into());
    }
    if !(1..=9).contains(&c.gzip_level) {
        return Err(format!(
            "invalid --gzip-level value ({}), should be 1-9",
            c.gzip_level
        ));
    }
    if c.topics.is_empty() && c.topic_pattern.is_empty() {
        return Err("--topic or --topic-pattern required".into());
    }
    if c.topics.is_empty() && c.lookupd_http_addresses.is_empty() {
        return Err("--lookupd-http-address must be specified when no --topic specified".into());
    }
    // go-nsq's ConfigFlag.Set, whose errors nsq_to_file ignores.
    let mut consumer_opts = NsqOpts::default();
    for opt in &c.consumer_opts {
        let _ = consumer_opts.set(false, opt);
    }
    Ok(Settings {
        channel: c.channel.clone(),
        output_dir: c.output_dir.clone(),
        work_dir: if c.work_dir.is_empty() {
            c.output_dir.clone()
        } else {
            c.work_dir.clone()
        },
        datetime_format: c.datetime_format.clone(),
        filename_format: c.filename_format.clone(),
        host_identifier: c.host_identifier.clone(),
        gzip: c.gzip,
        gzip_level: u32::try_from(c.gzip_level).unwrap_or(6),
        skip_empty_files: c.skip_empty_files,
        rotate_size: c.rotate_size.0,
        rotate_interval: c.rotate_interval.positive(),
        sync_interval: c.sync_interval.positive().unwrap_or_default(),
        topics: c.topics.clone(),
        topic_pattern: c.topic_pattern.clone(),
        topic_refresh: c.topic_refresh.positive(),
        nsqd_tcp_addresses: c.nsqd_tcp_addresses.clone(),
        lookupd_http_addresses: c.lookupd_http_addresses.clone(),
        max_in_flight: c.max_in_flight,
        connect_timeout,
        request_timeout,
        consumer_opts,
    })
}

/// Parses the command line as Go's `flag.NewFlagSet("nsqd", ...)` does (its usage says
/// `Usage of nsqd:`).
fn parse(args: &[String]) -> Result<(Config, Vec<String>), cli::Exit> {
    match options::parse(OPTIONS, Config::default(), args) {
        Ok(options::Outcome::Run { config, ignored }) => Ok((config, ignored)),
        Ok(options::Outcome::Version) => Err(cli::Exit::Version(cli::version_line(TOOL))),
        Ok(options::Outcome::Help) => Err(cli::Exit::Help(usage())),
        Err(e) => Err(cli::Exit::Usage(format!("{e}\n{}", usage()))),
    }
}

fn usage() -> String {
    options::usage("nsqd", OPTIONS, &Config::default())
}

/// The `nsq_to_file` binary.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (config, ignored) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(cli::Exit::Help(text)) => {
            eprint!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(cli::Exit::Usage(text)) => {
            eprint!("{text}");
            return ExitCode::from(2);
        }
        Err(cli::Exit::Version(line)) => {
            println!("{line}");
            return ExitCode::SUCCESS;
        }
    };
    if !ignored.is_empty() {
        golog::fatal(&format!("unknown arguments: [{}]", ignored.join(" ")));
    }
    let Some(level) = Level::parse(&config.log_level) else {
        golog::fatal("--log-level is invalid");
    };
    if config.version {
        println!("{}", cli::version_line(TOOL));
        return ExitCode::SUCCESS;
    }
    let settings = check(&config).unwrap_or_else(|e| golog::fatal(&e));
    golog::init();
    let log = Arc::new(Log {
        prefix: config.log_prefix.clone(),
        level,
    });
    cli::run_to_exit(discover(Arc::new(settings), log))
}

/// One topic's loop, as the discoverer holds it.
struct Topic {
    hangup: mpsc::UnboundedSender<()>,
    term: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Go's `TopicDiscoverer`.
struct Discoverer {
    settings: Arc<Settings>,
    log: Arc<Log>,
    pattern: Option<Result<regex::Regex, regex::Error>>,
    topics: HashMap<String, Topic>,
}

/// Go's `TopicDiscoverer.run`: the `--topic`s now; without any, the topics nsqlookupd
/// lists every `--topic-refresh` (the first time after one interval, as Go's ticker);
/// signals passed to every topic's loop; on SIGINT/SIGTERM, wait for them all.
async fn discover(settings: Arc<Settings>, log: Arc<Log>) -> Result<(), String> {
    let shutdown = daemon::signals::shutdown_token().map_err(|e| e.to_string())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| e.to_string())?;
    let cluster = cluster::ClusterInfo::new(cluster::Client::new(&cluster::ClientConfig {
        connect_timeout: settings.connect_timeout,
        request_timeout: settings.request_timeout,
        ..cluster::ClientConfig::default()
    })?);
    let pattern =
        (!settings.topic_pattern.is_empty()).then(|| regex::Regex::new(&settings.topic_pattern));
    let mut d = Discoverer {
        settings: Arc::clone(&settings),
        log: Arc::clone(&log),
        pattern,
        topics: HashMap::new(),
    };
    let refresh = settings
        .topic_refresh
        .filter(|_| settings.topics.is_empty());
    let mut ticker = refresh.map(|every| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    d.update_topics(&settings.topics).await;
    loop {
        tokio::select! {
            _ = async { if let Some(t) = ticker.as_mut() { t.tick().await; } }, if ticker.is_some() => {
                match cluster.lookupd_topics(&settings.lookupd_http_addresses).await {
                    Ok((topics, partial)) if partial.is_empty() => d.update_topics(&topics).await,
                    Ok((_, partial)) => {
                        log.error(&format!("could not retrieve topic list: {}", partial.text()));
                    }
                    Err(fatal) => log.error(&format!("could not retrieve topic list: {fatal}")),
                }
            }
            () = shutdown.cancelled() => {
                for t in d.topics.values() {
                    t.term.cancel();
                }
                break;
            }
            _ = hangup.recv() => {
                for t in d.topics.values() {
                    let _ = t.hangup.send(());
                }
            }
        }
    }
    for (_, t) in d.topics.drain() {
        let _ = t.task.await;
    }
    Ok(())
}

impl Discoverer {
    /// Go's `isTopicAllowed`: no pattern, or a match anywhere in the name (a pattern that
    /// does not compile matches nothing).
    fn is_topic_allowed(&self, topic: &str) -> bool {
        match &self.pattern {
            None => true,
            Some(Ok(re)) => re.is_match(topic),
            Some(Err(_)) => false,
        }
    }

    async fn update_topics(&mut self, topics: &[String]) {
        for topic in topics {
            if self.topics.contains_key(topic) {
                continue;
            }
            if !self.is_topic_allowed(topic) {
                self.log.warn(&format!(
                    "skipping topic {topic} (doesn't match pattern {})",
                    self.settings.topic_pattern
                ));
                continue;
            }
            match self.start_topic(topic).await {
                Ok(t) => {
                    self.topics.insert(topic.clone(), t);
                }
                Err(e) => self.log.error(&format!(
                    "couldn't create logger for new topic {topic}: {e}"
                )),
            }
        }
    }

    /// Go's `NewFileLogger` and the start of its router: the consumer connected to every
    /// nsqd or nsqlookupd, its one handler passing messages on without answering them.
    async fn start_topic(&self, topic: &str) -> Result<Topic, String> {
        let s = &self.settings;
        let format = file_logger::filename_format(s, topic)?;
        let mut config = s.consumer_opts.client_config(&cli::user_agent(TOOL))?;
        config.max_in_flight = u64::try_from(s.max_in_flight)
            .map_err(|_| format!("invalid max_in_flight ! {} < 0", s.max_in_flight))?;
        let consumer = Consumer::new(topic, &s.channel, config).map_err(|e| match e {
            nsq_client::Error::Invalid(what) if what.starts_with("topic") => {
                "invalid topic name".to_string()
            }
            nsq_client::Error::Invalid(what) if what.starts_with("channel") => {
                "invalid channel name".to_string()
            }
            other => other.to_string(),
        })?;
        let (tx, messages) = mpsc::channel::<Message>(1);
        consumer.add_handler(
            move |m: Message| {
                let tx = tx.clone();
                async move {
                    m.disable_auto_response();
                    let _ = tx.send(m).await;
                    Ok::<(), std::convert::Infallible>(())
                }
            },
            1,
        );
        let connected = async {
            for addr in &s.nsqd_tcp_addresses {
                consumer
                    .connect_to_nsqd(addr)
                    .await
                    .map_err(|e| crate::cli::go_error(&e))?;
            }
            for addr in &s.lookupd_http_addresses {
                consumer
                    .connect_to_nsqlookupd(addr)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }
        .await;
        if let Err(e) = connected {
            consumer.stop().await;
            return Err(e);
        }
        let file = file_logger::FileLogger::new(
            Arc::clone(&self.settings),
            Arc::clone(&self.log),
            topic,
            format,
        );
        let (hangup, hangup_rx) = mpsc::unbounded_channel();
        let term = CancellationToken::new();
        let r = router::Router {
            file,
            consumer,
            messages,
            hangup: hangup_rx,
            term: term.clone(),
            max_in_flight: usize::try_from(s.max_in_flight).unwrap_or(usize::MAX),
            sync_interval: s.sync_interval,
            skip_empty_files: s.skip_empty_files,
        };
        Ok(Topic {
            hangup,
            term,
            task: tokio::spawn(r.run()),
        })
    }
}

#[cfg(test)]
mod tests;
