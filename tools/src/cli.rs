//! The command line of every tool, as Go's `flag.Parse()` on the default `FlagSet` treats
//! it: `-h`/`-help` print the usage (`Usage of <argv[0]>:`) on stderr and exit 0; a bad
//! flag prints the error and the usage on stderr and exits 2; `--version` (for the tools
//! that have it) prints `<tool> v1.3.0` on stdout and exits 0; arguments after the first
//! non-flag are ignored. Also the checks the consumer tools share.

use options::{Opt, Outcome};

/// The tool's name and version as Go's tools print them (`nsq_tail v1.3.0`).
pub(crate) fn version_line(tool: &str) -> String {
    format!("{tool} v{}", daemon::VERSION)
}

/// `<tool>/<version> nsq-client/<version>`, the user agent sent in IDENTIFY (Go's tools send
/// `<tool>/<version> go-nsq/<go-nsq version>`).
pub(crate) fn user_agent(tool: &str) -> String {
    format!("{tool}/{} nsq-client/{}", daemon::VERSION, daemon::VERSION)
}

/// The process arguments, lossy (a non-UTF-8 argument is then a bad value, not a panic).
fn process_args() -> (String, Vec<String>) {
    let mut args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let program = args.next().unwrap_or_default();
    (program, args.collect())
}

/// What the command line asked for, when it is not a run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Print on stdout, exit 0.
    Version(String),
    /// Print on stderr, exit 0.
    Help(String),
    /// Print on stderr, exit 2.
    Usage(String),
}

/// Parses `args` (without `argv[0]`) against a tool's table.
pub(crate) fn parse<C: Clone>(
    tool: &str,
    program: &str,
    table: &[Opt<C>],
    defaults: C,
    args: &[String],
) -> Result<C, Exit> {
    let usage = || options::usage(program, table, &defaults);
    match options::parse(table, defaults.clone(), args) {
        Ok(Outcome::Run { config, .. }) => Ok(config),
        Ok(Outcome::Version) => Err(Exit::Version(version_line(tool))),
        Ok(Outcome::Help) => Err(Exit::Help(usage())),
        Err(e) => Err(Exit::Usage(format!("{e}\n{}", usage()))),
    }
}

/// [`parse`] on the process arguments; anything but a run ends the process as Go's does.
pub(crate) fn parse_or_exit<C: Clone>(tool: &str, table: &[Opt<C>], defaults: C) -> C {
    let (program, args) = process_args();
    match parse(tool, &program, table, defaults, &args) {
        Ok(config) => config,
        Err(Exit::Version(line)) => {
            println!("{line}");
            std::process::exit(0)
        }
        Err(Exit::Help(text)) => {
            eprint!("{text}");
            std::process::exit(0)
        }
        Err(Exit::Usage(text)) => {
            eprint!("{text}");
            std::process::exit(2)
        }
    }
}

/// The consumer tools' rule: `--nsqd-tcp-address` or `--lookupd-http-address`, one kind.
pub(crate) fn check_sources(nsqd_tcp: &[String], lookupd_http: &[String]) -> Result<(), String> {
    if nsqd_tcp.is_empty() && lookupd_http.is_empty() {
        return Err("--nsqd-tcp-address or --lookupd-http-address required".into());
    }
    if !nsqd_tcp.is_empty() && !lookupd_http.is_empty() {
        return Err("use --nsqd-tcp-address or --lookupd-http-address not both".into());
    }
    Ok(())
}

/// A two-worker runtime (the tools are small); failing to make one is fatal.
/// Runs a tool's work on a fresh runtime to its end: exit status 0, or Go's `FATAL` line and
/// status 1 for an error. Tasks still running (a stopped consumer's) are not waited for.
pub(crate) fn run_to_exit(
    work: impl std::future::Future<Output = Result<(), String>>,
) -> std::process::ExitCode {
    let runtime = runtime();
    let result = runtime.block_on(work);
    runtime.shutdown_background();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => crate::golog::fatal(&e),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => crate::golog::fatal(&format!("failed to start runtime - {e}")),
    }
}

/// A client error as go-nsq words it: nsqd's error frame as it is, a refused connection
/// as Go's dialer says it.
pub(crate) fn go_error(e: &nsq_client::Error) -> String {
    match e {
        nsq_client::Error::Nsqd { text, .. } => text.clone(),
        nsq_client::Error::Connect { addr, reason } if reason.contains("Connection refused") => {
            format!("dial tcp {addr}: connect: connection refused")
        }
        other => other.to_string(),
    }
}

/// go-nsq's `NewConsumer`, with its error texts for bad names.
pub(crate) fn new_consumer(
    topic: &str,
    channel: &str,
    config: nsq_client::Config,
) -> Result<nsq_client::Consumer, String> {
    if !protocol::names::is_valid(topic.as_bytes()) {
        return Err("invalid topic name".into());
    }
    if !protocol::names::is_valid(channel.as_bytes()) {
        return Err("invalid channel name".into());
    }
    nsq_client::Consumer::new(topic, channel, config).map_err(|e| go_error(&e))
}

/// Go's `consumer.ConnectToNSQDs(nsqd)` then `ConnectToNSQLookupds(lookupd)`: a refused
/// nsqd is an error (the tools' `log.Fatal`); an unreachable nsqlookupd is only logged
/// and polled again, as go-nsq does.
pub(crate) async fn connect(
    consumer: &nsq_client::Consumer,
    nsqd_tcp: &[String],
    lookupd_http: &[String],
) -> Result<(), String> {
    for addr in nsqd_tcp {
        consumer
            .connect_to_nsqd(addr)
            .await
            .map_err(|e| go_error(&e))?;
    }
    for addr in lookupd_http {
        consumer
            .connect_to_nsqlookupd(addr)
            .await
            .map_err(|e| go_error(&e))?;
    }
    Ok(())
}
