//! nsq_to_nsq, ours beside Go's v1.3.0, between nsqd processes on loopback: the same
//! command line (`-h`, `--version`, flag errors, the checks after parsing); every message
//! of several topics republished to the destination (and FINed at the source), spread
//! over two destinations round-robin; the JSON filters (`--whitelist-json-field`,
//! `--require-json-field`/`--require-json-value`) giving byte-identical output to Go's
//! for the same input; a destination unreachable at start and lost mid-run (requeues
//! with backoff, no busy loop, everything delivered once it is back); SIGTERM mid-stream
//! (exit 0, every message delivered or still in the source nsqd).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use nsq_tests::consumer::{drain, drain_until_empty, Consumer, Tally, DRAIN_RDY};
use nsq_tests::harness::{nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::{wait_for, wait_until};
use nsq_tests::publish::{body_set, mpub_all, unique_bodies};
use nsq_tests::tools::{both, closed_port, run_args, Run, Running};

const TOOL: &str = "nsq_to_nsq";
const CHANNEL: &str = "nsq_to_nsq";
/// Failure bound for deliveries.
const LIMIT: Duration = Duration::from_secs(30);
/// Quick requeues and backoff, so a retried message comes back within the test.
const FAST_RETRY: [&str; 4] = [
    "--consumer-opt=default_requeue_delay,50ms",
    "--consumer-opt=backoff_multiplier,50ms",
    "--consumer-opt=max_backoff_duration,200ms",
    "--consumer-opt=lookupd_poll_interval,200ms",
];

/// Runs ours and Go's with `args`; same exit status, stdout, and log (time stamps aside).
fn same_outcome(args: &[&str]) -> Run {
    let [(_, ours), (_, go)] = both(TOOL);
    let a = run_args(&ours, TOOL, args, b"");
    let b = run_args(&go, TOOL, args, b"");
    assert_eq!(a.code(), b.code(), "{args:?}: ours {a:?}\ngo {b:?}");
    assert_eq!(a.stdout, b.stdout, "{args:?} stdout");
    assert_eq!(a.log(), b.log(), "{args:?} log");
    a
}

#[test]
fn command_line_is_gos() {
    for flag in ["-h", "--help"] {
        let r = same_outcome(&[flag]);
        assert_eq!(r.code(), Some(0));
        assert!(r.stderr.starts_with("Usage of nsq_to_nsq:\n"), "{r:?}");
    }
    let r = same_outcome(&["--version"]);
    assert_eq!(
        (r.code(), r.stdout.as_str()),
        (Some(0), "nsq_to_nsq v1.3.0\n")
    );
    for bad in [
        &["--bogus"][..],
        &["--max-in-flight=x"],
        &["--status-every="],
        &["--producer-opt=nope"],
        &["--producer-opt=snappy,maybe"],
        &["--consumer-opt=max_attempts,x"],
    ] {
        let r = same_outcome(bad);
        assert_eq!(r.code(), Some(2), "{bad:?}");
    }
    let src = "--nsqd-tcp-address=127.0.0.1:1";
    let checks: &[&[&str]] = &[
        &[],
        &["--topic=t", "--channel="],
        &["--topic=t", "--topic=bad topic"],
        &["--topic=t", "--destination-topic=x*"],
        &["--topic=t", "--channel=c c"],
        &["--topic=t"],
        &["--topic=t", src, "--lookupd-http-address=127.0.0.1:1"],
        &["--topic=t", src],
    ];
    for args in checks {
        let r = same_outcome(args);
        assert_eq!(r.code(), Some(1), "{args:?}: {r:?}");
        assert_eq!(r.log().lines().count(), 1, "{args:?}: {r:?}");
    }
    // Producer options that go-nsq's Config.Validate refuses, worded by the tool.
    let r = same_outcome(&[
        "--topic=t",
        src,
        "--destination-nsqd-tcp-address=127.0.0.1:1",
        "--producer-opt=heartbeat_interval,2m",
    ]);
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert_eq!(
        r.last_log_line(),
        "failed creating producer HeartbeatInterval 2m0s must be less than ReadTimeout 1m0s"
    );
}

fn args_for(
    topics: &[&str],
    source: SocketAddr,
    dests: &[SocketAddr],
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = topics.iter().map(|t| format!("--topic={t}")).collect();
    args.push(format!("--nsqd-tcp-address={source}"));
    args.extend(
        dests
            .iter()
            .map(|d| format!("--destination-nsqd-tcp-address={d}")),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Waits until the source channel of `topic` has nothing left (depth, in flight,
/// deferred) after `count` messages.
fn settled(source: &Nsqd, topic: &str, count: u64) {
    let web = source.http_addr();
    wait_for(&format!("{topic} FINed at the source"), LIMIT, || {
        let c = http::channel_stats(web, topic, CHANNEL).unwrap_or_default();
        let done = c["message_count"].as_u64() >= Some(count)
            && c["depth"] == 0
            && c["in_flight_count"] == 0
            && c["deferred_count"] == 0;
        (done, c)
    });
}

fn topic_count(nsqd: &Nsqd, topic: &str) -> u64 {
    http::topic_stats(nsqd.http_addr(), topic)
        .and_then(|t| t["message_count"].as_u64())
        .unwrap_or(0)
}

#[test]
fn every_message_republished() {
    let dir = TempDir::new("to-nsq-src");
    let source = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let (d1, d2) = (TempDir::new("to-nsq-d1"), TempDir::new("to-nsq-d2"));
    let dest = Nsqd::start(&nsqd_bin(), d1.path(), &[]);
    let other = Nsqd::start(&nsqd_bin(), d2.path(), &[]);
    for (label, bin) in both(TOOL) {
        // Two topics into their own names on one destination.
        let (a, b) = (format!("a-{label}"), format!("b-{label}"));
        let (ba, bb) = (unique_bodies(&a, 300), unique_bodies(&b, 100));
        mpub_all(source.tcp_addr(), &a, &ba, 100);
        mpub_all(source.tcp_addr(), &b, &bb, 100);
        let args = args_for(&[&a, &b], source.tcp_addr(), &[dest.tcp_addr()], &[]);
        let mut tool = Running::start(&bin, &args);
        settled(&source, &a, 300);
        settled(&source, &b, 100);
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
        let got = drain(dest.tcp_addr(), &a, "check", &body_set(&ba));
        assert_eq!(got.unique(), 300, "{label}");
        let got = drain(dest.tcp_addr(), &b, "check", &body_set(&bb));
        assert_eq!(got.unique(), 100, "{label}");

        // One topic into --destination-topic, round-robin over two destinations.
        let (c, to) = (format!("c-{label}"), format!("to-{label}"));
        let bc = unique_bodies(&c, 100);
        mpub_all(source.tcp_addr(), &c, &bc, 100);
        let args = args_for(
            &[&c],
            source.tcp_addr(),
            &[dest.tcp_addr(), other.tcp_addr()],
            &["--mode=round-robin", &format!("--destination-topic={to}")],
        );
        let mut tool = Running::start(&bin, &args);
        settled(&source, &c, 100);
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
        assert_eq!(
            (topic_count(&dest, &to), topic_count(&other, &to)),
            (50, 50),
            "{label}: round-robin"
        );
        assert_eq!(topic_count(&dest, &c), 0, "{label}");
    }
}

/// Runs `bin` over `input` with `filter` flags and returns what reached the
/// destination topic, sorted.
fn filtered(
    bin: &Path,
    source: &Nsqd,
    dest: &Nsqd,
    topic: &str,
    input: &[Vec<u8>],
    filter: &[&str],
) -> Vec<String> {
    mpub_all(source.tcp_addr(), topic, input, 100);
    let mut extra: Vec<&str> = filter.to_vec();
    extra.extend_from_slice(&FAST_RETRY);
    extra.push("--consumer-opt=max_attempts,2");
    let args = args_for(&[topic], source.tcp_addr(), &[dest.tcp_addr()], &extra);
    let mut tool = Running::start(bin, &args);
    settled(source, topic, input.len() as u64);
    assert_eq!(tool.signal_and_wait("TERM").code(), Some(0));
    let mut out: Vec<String> = Vec::new();
    if http::topic_stats(dest.http_addr(), topic).is_some() {
        let mut consumer = Consumer::subscribe(dest.tcp_addr(), topic, "check", DRAIN_RDY);
        let mut tally = Tally::default();
        drain_until_empty(&mut consumer, &mut tally, dest.http_addr(), topic, "check");
        out = tally
            .bodies()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
    }
    out.sort();
    out
}

#[test]
fn json_filters_give_gos_output() {
    let dir = TempDir::new("to-nsq-json-src");
    let source = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let d = TempDir::new("to-nsq-json-dst");
    let dest = Nsqd::start(&nsqd_bin(), d.path(), &[]);
    let input: Vec<Vec<u8>> = [
        r#"{"k":"5","a":1,"b":{"z":1,"y":[1.5,2e21]},"c":3}"#,
        r#"{"k":5,"a":2.5,"b":"<&>"}"#,
        r#"{"k":5.0,"a":-0,"b":null}"#,
        r#"{"k":6,"a":3}"#,
        r#"{"k":"6","a":4}"#,
        r#"{"k":true,"a":5}"#,
        r#"{"a":6,"b":7}"#,
        r#"not json"#,
        r#"[1,2]"#,
        r#"null"#,
        r#"{"k":"5","a":"\u2028 é"}"#,
        r#"{"k":"5"}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let cases: [(&str, &[&str]); 3] = [
        (
            "wl-req-val",
            &[
                "--whitelist-json-field=a",
                "--whitelist-json-field=b",
                "--require-json-field=k",
                "--require-json-value=5",
            ],
        ),
        ("req", &["--require-json-field=k"]),
        (
            "wl",
            &["--whitelist-json-field=b", "--whitelist-json-field=k"],
        ),
    ];
    for (name, filter) in cases {
        let mut outs = Vec::new();
        for (label, bin) in both(TOOL) {
            let topic = format!("json-{name}-{label}");
            outs.push(filtered(&bin, &source, &dest, &topic, &input, filter));
        }
        assert_eq!(outs[0], outs[1], "{name}: ours vs Go's");
        assert!(!outs[0].is_empty(), "{name}");
        if name == "wl-req-val" {
            // Passed: "5", 5 and 5.0 (the value compared as a string, or as a number);
            // whitelisted and encoded as Go's encoding/json does.
            let want = [
                r#"{"a":"\u2028 é"}"#,
                r#"{"a":0,"b":null}"#,
                r#"{"a":1,"b":{"y":[1.5,2e+21],"z":1}}"#,
                r#"{"a":2.5,"b":"\u003c\u0026\u003e"}"#,
                r#"{}"#,
            ];
            assert_eq!(outs[0], want, "{name}");
        }
    }
}

#[test]
fn destination_down_at_start_and_lost_mid_run() {
    let dir = TempDir::new("to-nsq-down-src");
    let source = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    for (label, bin) in both(TOOL) {
        let down = closed_port();
        let topic = format!("down-{label}");
        let first = unique_bodies(&format!("{topic}-1"), 30);
        mpub_all(source.tcp_addr(), &topic, &first, 30);
        let args = args_for(&[&topic], source.tcp_addr(), &[down], &FAST_RETRY);
        let mut tool = Running::start(&bin, &args);
        wait_until(
            &format!("{label}: refused connection logged"),
            LIMIT,
            || tool.stderr().contains("connection refused"),
        );
        watch_quiet(&tool, label);

        // The destination comes up on that address: everything arrives.
        let d = TempDir::new("to-nsq-down-dst");
        let t = format!("--tcp-address={down}");
        let mut dest = Nsqd::start(&nsqd_bin(), d.path(), &[&t]);
        settled(&source, &topic, 30);
        let got = drain(dest.tcp_addr(), &topic, "check", &body_set(&first));
        assert_eq!(got.unique(), 30, "{label}");

        // Lost mid-run, and back.
        let h = format!("--http-address={}", dest.http_addr());
        dest.stop();
        let second = unique_bodies(&format!("{topic}-2"), 30);
        mpub_all(source.tcp_addr(), &topic, &second, 30);
        wait_until(&format!("{label}: publishing fails"), LIMIT, || {
            http::channel_stats(source.http_addr(), &topic, CHANNEL)
                .is_some_and(|c| c["requeue_count"].as_u64() > Some(0))
        });
        watch_quiet(&tool, label);
        let dest = Nsqd::start(&nsqd_bin(), d.path(), &[&t, &h]);
        settled(&source, &topic, 60);
        let got = drain(dest.tcp_addr(), &topic, "check", &body_set(&second));
        assert!(got.unique() >= 30, "{label}");
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
    }
}

/// While the destination is down: little CPU and a bounded number of log lines.
fn watch_quiet(tool: &Running, label: &str) {
    let cpu_before = testkit::cpu_secs(tool.pid()).expect("cpu");
    let lines_before = tool.stderr().lines().count();
    let start = Instant::now();
    wait_until("watch window", Duration::from_secs(4), || {
        start.elapsed() >= Duration::from_secs(1)
    });
    let cpu = testkit::cpu_secs(tool.pid()).expect("cpu") - cpu_before;
    let lines = tool.stderr().lines().count() - lines_before;
    assert!(
        cpu < 0.5,
        "{label}: {cpu}s of CPU in 1s with the destination down"
    );
    assert!(
        lines < 200,
        "{label}: {lines} log lines in 1s:\n{}",
        tool.stderr()
    );
}

#[test]
fn sigterm_mid_stream_loses_nothing() {
    let dir = TempDir::new("to-nsq-term-src");
    let source = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let d = TempDir::new("to-nsq-term-dst");
    let dest = Nsqd::start(&nsqd_bin(), d.path(), &[]);
    for (label, bin) in both(TOOL) {
        let topic = format!("term-{label}");
        let bodies = unique_bodies(&topic, 20_000);
        mpub_all(source.tcp_addr(), &topic, &bodies, 500);
        let args = args_for(&[&topic], source.tcp_addr(), &[dest.tcp_addr()], &[]);
        let mut tool = Running::start(&bin, &args);
        wait_until(&format!("{label}: republishing"), LIMIT, || {
            topic_count(&dest, &topic) >= 100
        });
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
        let delivered = topic_count(&dest, &topic);
        // Whatever was not republished is still at the source.
        let mut consumer = Consumer::subscribe(source.tcp_addr(), &topic, CHANNEL, DRAIN_RDY);
        let mut left = Tally::default();
        drain_until_empty(
            &mut consumer,
            &mut left,
            source.http_addr(),
            &topic,
            CHANNEL,
        );
        let mut consumer = Consumer::subscribe(dest.tcp_addr(), &topic, "check", DRAIN_RDY);
        let mut arrived = Tally::default();
        drain_until_empty(
            &mut consumer,
            &mut arrived,
            dest.http_addr(),
            &topic,
            "check",
        );
        assert_eq!(arrived.total() as u64, delivered, "{label}");
        let all: HashSet<&Vec<u8>> = left.bodies().chain(arrived.bodies()).collect();
        let missing = bodies.iter().filter(|b| !all.contains(b)).count();
        assert_eq!(
            missing, 0,
            "{label}: {missing} lost ({delivered} delivered)"
        );
    }
}
