//! `nsq_stat`: polls `/stats` of every nsqd that has `--topic` (found through nsqlookupd
//! `/lookup` or the given nsqd's `/stats`) and prints the channel's figures summed over
//! them, as Go nsq_stat v1.3.0 does: a two-line header every 25 rounds, then from the
//! second round on one row per `--interval` (rates over the interval, depths, counters).
//! Any query failure, a partial one included, or a missing channel is fatal (exit status
//! 1); after `--count` rows, or on SIGHUP/SIGINT/SIGTERM, exit 0. Plain HTTP, no client.

use crate::cli;
use crate::flagtypes::{Count, SignedDuration};
use crate::golog;
use cluster::{ChannelStats, ClientConfig, ClusterInfo};
use std::process::ExitCode;
use std::time::Duration;

const TOOL: &str = "nsq_stat";

options::options! {
    /// Go nsq_stat's flags.
    #[derive(Debug, Clone)]
    pub struct Config in OPTIONS {
        topic: String = String::new(), "topic" _ shown "NSQ topic";
        channel: String = String::new(), "channel" _ shown "NSQ channel";
        interval: SignedDuration = SignedDuration::of(Duration::from_secs(2)), "interval" _ shown
            "duration of time between polling/printing output";
        connect_timeout: SignedDuration = SignedDuration::of(Duration::from_secs(2)),
            "http-client-connect-timeout" _ shown "timeout for HTTP connect";
        request_timeout: SignedDuration = SignedDuration::of(Duration::from_secs(5)),
            "http-client-request-timeout" _ shown "timeout for HTTP request";
        count: Count = Count::default(), "count" _ shown "number of reports";
        nsqd_http_addresses: Vec<String> = Vec::new(), "nsqd-http-address" _ shown
            "nsqd HTTP address (may be given multiple times)";
        lookupd_http_addresses: Vec<String> = Vec::new(), "lookupd-http-address" _ shown
            "lookupd HTTP address (may be given multiple times)";
    }
    flags {
        "version" Bool "print version";
    }
}

/// What the checks after parsing leave.
struct Settings {
    interval: Duration,
    client: ClientConfig,
}

/// Go nsq_stat's checks, in its order.
fn check(c: &Config) -> Result<Settings, String> {
    if c.topic.is_empty() || c.channel.is_empty() {
        return Err("--topic and --channel are required".into());
    }
    let interval = c
        .interval
        .positive()
        .ok_or("--interval should be positive")?;
    let connect_timeout = c
        .connect_timeout
        .positive()
        .ok_or("--http-client-connect-timeout should be positive")?;
    let request_timeout = c
        .request_timeout
        .positive()
        .ok_or("--http-client-request-timeout should be positive")?;
    if c.count.0.is_some_and(|n| n <= 0) {
        return Err("--count should be positive".into());
    }
    if c.nsqd_http_addresses.is_empty() && c.lookupd_http_addresses.is_empty() {
        return Err("--nsqd-http-address or --lookupd-http-address required".into());
    }
    if !c.nsqd_http_addresses.is_empty() && !c.lookupd_http_addresses.is_empty() {
        return Err("use --nsqd-http-address or --lookupd-http-address not both".into());
    }
    for (flag, addrs) in [
        ("--nsqd-http-address", &c.nsqd_http_addresses),
        ("--lookupd-http-address", &c.lookupd_http_addresses),
    ] {
        if addrs.iter().any(|a| a.starts_with("http")) {
            return Err(format!("{flag} error - address should not contain scheme"));
        }
    }
    Ok(Settings {
        interval,
        client: ClientConfig {
            connect_timeout,
            request_timeout,
            ..ClientConfig::default()
        },
    })
}

/// The `nsq_stat` binary.
pub fn main() -> ExitCode {
    let config = cli::parse_or_exit(TOOL, OPTIONS, Config::default());
    let settings = check(&config).unwrap_or_else(|e| golog::fatal(&e));
    cli::run_to_exit(async {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| e.to_string())?;
        let shutdown = daemon::signals::shutdown_token().map_err(|e| e.to_string())?;
        tokio::select! {
            r = stat_loop(&config, &settings) => r,
            () = shutdown.cancelled() => Ok(()),
            _ = hangup.recv() => Ok(()),
        }
    })
}

/// The header Go prints every 25 rounds.
pub(crate) fn header() -> String {
    format!(
        "{}+{}+{}\n{:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} | {:>7} {:>7} {:>12} {:>7}\n",
        "------rate------",
        "----------------depth----------------",
        "--------------metadata---------------",
        "ingress",
        "egress",
        "total",
        "mem",
        "disk",
        "inflt",
        "def",
        "req",
        "t-o",
        "msgs",
        "clients"
    )
}

/// One row: the rates over `interval` from `o` to `c`, and `c`'s figures.
pub(crate) fn row(o: &ChannelStats, c: &ChannelStats, interval: Duration) -> String {
    let secs = interval.as_secs_f64();
    let messages = c.message_count - o.message_count;
    let ingress = (messages as f64 / secs) as i64;
    let egress = ((messages - (c.depth - o.depth)) as f64 / secs) as i64;
    format!(
        "{:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} | {:>7} {:>7} {:>12} {:>7}\n",
        ingress,
        egress,
        c.depth,
        c.memory_depth,
        c.backend_depth,
        c.in_flight_count,
        c.deferred_count,
        c.requeue_count,
        c.timeout_count,
        c.message_count,
        c.client_count
    )
}

/// Go's `statLoop`: `--count` rows after the first round (which only sets the base).
async fn stat_loop(c: &Config, s: &Settings) -> Result<(), String> {
    let client = cluster::Client::new(&s.client)?;
    let ci = ClusterInfo::new(client);
    let mut previous: Option<ChannelStats> = None;
    let mut i: i64 = 0;
    while c.count.0.is_none_or(|n| i64::from(n) >= i) {
        let producers = if c.lookupd_http_addresses.is_empty() {
            ci.nsqd_topic_producers(&c.topic, &c.nsqd_http_addresses)
                .await
        } else {
            ci.lookupd_topic_producers(&c.topic, &c.lookupd_http_addresses)
                .await
        };
        let producers =
            fanout(producers).map_err(|e| format!("ERROR: failed to get topic producers - {e}"))?;
        let (_, channels) = fanout(ci.nsqd_stats(&producers, &c.topic, &c.channel, false).await)
            .map_err(|e| format!("ERROR: failed to get nsqd stats - {e}"))?;
        let Some(stats) = channels.get(&c.channel).cloned() else {
            return Err(format!(
                "ERROR: failed to find channel({}) in stats metadata for topic({})",
                c.channel, c.topic
            ));
        };
        let mut out = String::new();
        if i % 25 == 0 {
            out.push_str(&header());
        }
        if let Some(o) = &previous {
            out.push_str(&row(o, &stats, s.interval));
        }
        if !out.is_empty() {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| e.to_string())?;
        }
        previous = Some(stats);
        tokio::time::sleep(s.interval).await;
        i += 1;
    }
    Ok(())
}

/// Go's clusterinfo returns partial failures as an error too, and nsq_stat stops on any.
fn fanout<T>(r: cluster::Fanout<T>) -> Result<T, String> {
    match r {
        Err(fatal) => Err(fatal.0),
        Ok((_, partial)) if !partial.is_empty() => Err(partial.text()),
        Ok((value, _)) => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, cli::Exit> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        cli::parse(TOOL, "nsq_stat", OPTIONS, Config::default(), &args)
    }

    #[test]
    fn usage_is_go_nsq_stat_s() {
        assert_eq!(options::check(OPTIONS), Ok(()));
        let Err(cli::Exit::Help(text)) = parse(&["--help"]) else {
            panic!("help");
        };
        assert_eq!(
            text,
            "Usage of nsq_stat:\n  -channel string\n    \tNSQ channel\n  -count value\n    \tnumber of reports\n  -http-client-connect-timeout duration\n    \ttimeout for HTTP connect (default 2s)\n  -http-client-request-timeout duration\n    \ttimeout for HTTP request (default 5s)\n  -interval duration\n    \tduration of time between polling/printing output (default 2s)\n  -lookupd-http-address value\n    \tlookupd HTTP address (may be given multiple times)\n  -nsqd-http-address value\n    \tnsqd HTTP address (may be given multiple times)\n  -topic string\n    \tNSQ topic\n  -version\n    \tprint version\n"
        );
        assert_eq!(
            parse(&["--version"]).err(),
            Some(cli::Exit::Version("nsq_stat v1.3.0".into()))
        );
    }

    #[test]
    fn go_checks() {
        let err = |args: &[&str]| match parse(args) {
            Ok(c) => check(&c).err().unwrap_or_default(),
            Err(e) => format!("{e:?}"),
        };
        let base = ["--topic=t", "--channel=c"];
        assert_eq!(err(&[]), "--topic and --channel are required");
        assert_eq!(
            err(&[base[0], base[1], "--interval=-1s"]),
            "--interval should be positive"
        );
        assert_eq!(
            err(&[base[0], base[1], "--count=0"]),
            "--count should be positive"
        );
        assert_eq!(
            err(&[base[0], base[1]]),
            "--nsqd-http-address or --lookupd-http-address required"
        );
        assert_eq!(
            err(&[
                base[0],
                base[1],
                "--nsqd-http-address=a:1",
                "--lookupd-http-address=b:1"
            ]),
            "use --nsqd-http-address or --lookupd-http-address not both"
        );
        assert_eq!(
            err(&[base[0], base[1], "--nsqd-http-address=http://a:1"]),
            "--nsqd-http-address error - address should not contain scheme"
        );
        let Err(cli::Exit::Usage(text)) = parse(&["--count=x"]) else {
            panic!("usage");
        };
        assert!(text.starts_with(
            "invalid value \"x\" for flag -count: strconv.ParseInt: parsing \"x\": invalid syntax\n"
        ));
    }

    #[test]
    fn columns_as_go_prints_them() {
        assert_eq!(
            header(),
            "------rate------+----------------depth----------------+--------------metadata---------------\n\
             ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients\n"
        );
        let o = ChannelStats {
            message_count: 100,
            depth: 50,
            ..ChannelStats::default()
        };
        let c = ChannelStats {
            message_count: 300,
            depth: 70,
            memory_depth: 60,
            backend_depth: 10,
            in_flight_count: 3,
            deferred_count: 1,
            requeue_count: 4,
            timeout_count: 5,
            client_count: 2,
            ..ChannelStats::default()
        };
        assert_eq!(
            row(&o, &c, Duration::from_secs(2)),
            "    100      90 |      70      60      10     3     1 |       4       5          300       2\n"
        );
    }
}
