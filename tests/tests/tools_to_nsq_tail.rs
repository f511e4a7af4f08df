//! to_nsq and nsq_tail, ours beside Go's v1.3.0: the round trip both ways through our
//! nsqd (ours -> Go's tail, Go's to_nsq -> our tail) and through Go nsqd, with to_nsq's
//! quirks (each chunk's last byte dropped, empty chunks skipped) seen by both; the same
//! lines from the same input; an unreachable nsqd at start (the same last log line and
//! exit status); SIGTERM mid-stream (exit 0, every message tailed FINed, every line
//! piped in published); discovery through nsqlookupd.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use nsq_tests::cluster::Cluster;
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use nsq_tests::tools::{both, closed_port, gos, ours, run_args, Running};

const INPUT: &[u8] = b"a\nbb\n\nccc\nhello world\n\n\nlast";
/// What the Go tools deliver for [`INPUT`]: "last" loses its "t" (no delimiter after it).
const EXPECTED: &str = "a\nbb\nccc\nhello world\nlas\n";

/// Failure bound for messages to show up.
const LIMIT: Duration = Duration::from_secs(30);

fn publish(to_nsq: &Path, addr: SocketAddr, topic: &str, extra: &[&str], input: &[u8]) {
    let t = format!("--topic={topic}");
    let a = format!("--nsqd-tcp-address={addr}");
    let mut args = vec![t.as_str(), a.as_str()];
    args.extend_from_slice(extra);
    let r = run_args(to_nsq, "to_nsq", &args, input);
    assert_eq!(r.code(), Some(0), "{} {args:?}: {r:?}", to_nsq.display());
}

fn tail(nsq_tail: &Path, addr: SocketAddr, topic: &str, n: usize, extra: &[&str]) -> String {
    let t = format!("--topic={topic}");
    let a = format!("--nsqd-tcp-address={addr}");
    let n = format!("--n={n}");
    let mut args = vec![t.as_str(), a.as_str(), n.as_str()];
    args.extend_from_slice(extra);
    let r = run_args(nsq_tail, "nsq_tail", &args, b"");
    assert_eq!(r.code(), Some(0), "{} {args:?}: {r:?}", nsq_tail.display());
    assert!(
        r.log()
            .starts_with(&format!("Adding consumer for topic: {topic}\n")),
        "{r:?}"
    );
    r.stdout
}

fn round_trips(nsqd: &Nsqd) {
    let addr = nsqd.tcp_addr();
    let pairs = [
        ("ours-go", ours("to_nsq"), gos("nsq_tail")),
        ("go-ours", gos("to_nsq"), ours("nsq_tail")),
        ("ours-ours", ours("to_nsq"), ours("nsq_tail")),
    ];
    for (label, to_nsq, nsq_tail) in &pairs {
        let topic = format!("rt-{label}");
        publish(to_nsq, addr, &topic, &[], INPUT);
        assert_eq!(tail(nsq_tail, addr, &topic, 5, &[]), EXPECTED, "{label}");
    }
    // A one-byte delimiter other than newline, the throttle, and --print-topic.
    for (label, to_nsq) in both("to_nsq") {
        let topic = format!("delim-{label}");
        publish(
            &to_nsq,
            addr,
            &topic,
            &["--delimiter=,", "--rate=1000"],
            b"x,yy,,zz,",
        );
        for (tail_label, nsq_tail) in both("nsq_tail") {
            let out = tail(
                &nsq_tail,
                addr,
                &topic,
                3,
                &["--print-topic", "--channel=c"],
            );
            let want = format!("{topic} | x\n{topic} | yy\n{topic} | zz\n");
            assert_eq!(out, want, "{label} to_nsq, {tail_label} nsq_tail");
            // Both tails read the same channel: publish again for the second one.
            publish(&to_nsq, addr, &topic, &["--delimiter=,"], b"x,yy,,zz,");
        }
    }
}

#[test]
fn round_trip_through_our_nsqd() {
    let dir = TempDir::new("tools-rt-ours");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    round_trips(&nsqd);
}

#[test]
fn round_trip_through_go_nsqd() {
    let dir = TempDir::new("tools-rt-go");
    let nsqd = Nsqd::start(&go_nsqd_bin(), dir.path(), &[]);
    round_trips(&nsqd);
}

#[test]
fn throttle_is_announced_as_go_does() {
    let dir = TempDir::new("tools-rate");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    for (label, to_nsq) in both("to_nsq") {
        let a = format!("--nsqd-tcp-address={}", nsqd.tcp_addr());
        let r = run_args(
            &to_nsq,
            "to_nsq",
            &["--topic=r", &a, "--rate=50"],
            b"1\n2\n",
        );
        assert_eq!(r.code(), Some(0), "{label}: {r:?}");
        assert!(
            r.log()
                .lines()
                .any(|l| l == "Throttling messages rate to max:50/second"),
            "{label}: {r:?}"
        );
    }
    let t = http::topic_stats(nsqd.http_addr(), "r").expect("topic r");
    assert_eq!(t["message_count"], 4, "{t}");
}

#[test]
fn unreachable_nsqd_at_start() {
    let dead = format!("--nsqd-tcp-address={}", closed_port());
    let refused = format!(
        "dial tcp {}: connect: connection refused",
        dead.trim_start_matches("--nsqd-tcp-address=")
    );
    for (label, bin) in both("to_nsq") {
        // Nothing read, nothing published: no connection is made, exit 0.
        let r = run_args(&bin, "to_nsq", &["--topic=t", &dead], b"");
        assert_eq!(r.code(), Some(0), "{label}: {r:?}");
        let r = run_args(&bin, "to_nsq", &["--topic=t", &dead], b"x\n");
        assert_eq!(r.code(), Some(1), "{label}: {r:?}");
        assert_eq!(r.last_log_line(), refused, "{label}: {r:?}");
    }
    for (label, bin) in both("nsq_tail") {
        let r = run_args(&bin, "nsq_tail", &["--topic=t", &dead], b"");
        assert_eq!(r.code(), Some(1), "{label}: {r:?}");
        assert_eq!(r.last_log_line(), refused, "{label}: {r:?}");
    }
}

#[test]
fn sigterm_mid_stream() {
    let dir = TempDir::new("tools-sigterm");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let (tcp, web) = (nsqd.tcp_addr(), nsqd.http_addr());

    // nsq_tail on two topics: stopped while idle after 6 messages, all of them FINed.
    for (label, bin) in both("nsq_tail") {
        let (t1, t2, ch) = (format!("s1-{label}"), format!("s2-{label}"), "keep");
        let args: Vec<String> = vec![
            format!("--topic={t1}"),
            format!("--topic={t2}"),
            format!("--channel={ch}"),
            "--print-topic".into(),
            format!("--nsqd-tcp-address={tcp}"),
        ];
        let mut tail = Running::start(&bin, &args);
        for t in [&t1, &t2] {
            wait_for(&format!("{label} tail subscribed to {t}"), LIMIT, || {
                let c = http::channel_stats(web, t, ch);
                let n = c
                    .as_ref()
                    .map_or(0, |c| c["client_count"].as_u64().unwrap_or(0));
                (n == 1, c)
            });
        }
        for i in 0..3 {
            for t in [&t1, &t2] {
                let r = http::post(web, &format!("/pub?topic={t}"), format!("m{i}").as_bytes());
                assert_eq!(r.status, 200);
            }
        }
        let out = tail.wait_lines(6, LIMIT);
        let status = tail.signal_and_wait("TERM");
        assert_eq!(status.code(), Some(0), "{label}");
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort_unstable();
        let mut want: Vec<String> = (0..3)
            .flat_map(|i| [format!("{t1} | m{i}"), format!("{t2} | m{i}")])
            .collect();
        want.sort();
        assert_eq!(lines, want, "{label}");
        for t in [&t1, &t2] {
            let c = http::channel_stats(web, t, ch).expect("channel");
            for (k, v) in [
                ("message_count", 3),
                ("depth", 0),
                ("in_flight_count", 0),
                ("requeue_count", 0),
                ("timeout_count", 0),
            ] {
                assert_eq!(c[k], v, "{label} {t} {k}: {c}");
            }
        }
    }

    // to_nsq with stdin still open: what was read is published, then SIGTERM exits 0.
    for (label, bin) in both("to_nsq") {
        let topic = format!("pipe-{label}");
        let args = vec![
            format!("--topic={topic}"),
            format!("--nsqd-tcp-address={tcp}"),
        ];
        let mut p = Running::start(&bin, &args);
        p.write(b"one\ntwo\n");
        wait_for(&format!("{label} to_nsq published"), LIMIT, || {
            let n = http::topic_stats(web, &topic)
                .map_or(0, |t| t["message_count"].as_u64().unwrap_or(0));
            (n == 2, n)
        });
        let status = p.signal_and_wait("TERM");
        assert_eq!(status.code(), Some(0), "{label}: {}", p.stderr());
    }
}

/// `--n` below `--max-in-flight` lowers the RDY count to it, `--consumer-opt` reaches
/// IDENTIFY (snappy here, deflate for to_nsq), and the user agent names the tool: the
/// client as our nsqd's `/stats` shows it, for ours and Go's.
#[test]
fn n_lowers_rdy_and_options_reach_identify() {
    let dir = TempDir::new("tools-rdy");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &["--max-rdy-count=2500"]);
    let (tcp, web) = (nsqd.tcp_addr(), nsqd.http_addr());
    for (label, bin) in both("nsq_tail") {
        let topic = format!("n-{label}");
        let args: Vec<String> = vec![
            format!("--topic={topic}"),
            "--channel=c".into(),
            "--n=3".into(),
            "--consumer-opt=snappy,true".into(),
            format!("--nsqd-tcp-address={tcp}"),
        ];
        let mut tail = Running::start(&bin, &args);
        let client = wait_for(&format!("{label} tail with RDY 3"), LIMIT, || {
            let c = http::channel_stats(web, &topic, "c")
                .and_then(|c| c["clients"].as_array().and_then(|a| a.first().cloned()));
            let rdy = c.as_ref().and_then(|c| c["ready_count"].as_u64());
            (rdy == Some(3), c)
        });
        let client = client.expect("client");
        assert_eq!(client["snappy"], true, "{label}: {client}");
        let ua = client["user_agent"].as_str().unwrap_or_default();
        assert!(ua.starts_with("nsq_tail/1.3.0 "), "{label}: {ua}");
        let to_nsq = ours("to_nsq");
        publish(
            &to_nsq,
            tcp,
            &topic,
            &["--producer-opt=deflate"],
            b"1\n2\n3\n4\n",
        );
        assert_eq!(tail.wait().code(), Some(0), "{label}");
        assert_eq!(tail.stdout(), "1\n2\n3\n", "{label}");
    }
}

/// Discovery: nsq_tail (ours and Go's) finds the nsqd of its topic through nsqlookupd.
#[test]
fn tail_through_nsqlookupd() {
    let cluster = Cluster::start(1, 1);
    let lookupd = format!("--lookupd-http-address={}", cluster.lookupd_http(0));
    for (label, bin) in both("nsq_tail") {
        let topic = format!("lk-{label}");
        cluster.publish(0, &topic, &["one", "two", "three"]);
        cluster.wait_lookup(&topic, 1, &[]);
        let t = format!("--topic={topic}");
        let r = run_args(&bin, "nsq_tail", &[&t, &lookupd, "--n=3"], b"");
        assert_eq!(r.code(), Some(0), "{label}: {r:?}");
        assert_eq!(r.stdout, "one\ntwo\nthree\n", "{label}");
    }
}
