//! nsq_to_http, ours beside Go's v1.3.0, against test HTTP servers on loopback: the same
//! command line (`-h`, `--version`, flag errors, the checks after parsing); every message
//! POSTed once with the same method, path, body, user agent, content type and custom
//! headers, and FINed on 2xx; GET with the body query-escaped into the URL, where only 200
//! is success (201 requeues); 5xx requeued and sent again once the server recovers; a
//! server that hangs past `--http-client-request-timeout` is a requeue too; the modes
//! (round-robin, hostpool, epsilon-greedy, "all") spread or copy the same way; an
//! unreachable endpoint backs off without a busy loop; an unreachable nsqd at start is
//! fatal with Go's line; SIGTERM mid-stream exits 0 with every message sent or still in
//! nsqd.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nsq_tests::consumer::{drain_until_empty, Consumer, Tally, DRAIN_RDY};
use nsq_tests::fake_http::{Received, Reply, Scripted};
use nsq_tests::harness::{nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::{wait_for, wait_until};
use nsq_tests::publish::{mpub_all, unique_bodies};
use nsq_tests::tools::{both, closed_port, run_args, Run, Running};

const TOOL: &str = "nsq_to_http";
/// Failure bound for deliveries.
const LIMIT: Duration = Duration::from_secs(30);
/// Quick requeues and backoff, so a retried message comes back within the test.
const FAST_RETRY: [&str; 3] = [
    "--consumer-opt=default_requeue_delay,50ms",
    "--consumer-opt=backoff_multiplier,50ms",
    "--consumer-opt=max_backoff_duration,200ms",
];

fn ok(status: u16) -> Reply {
    Reply::Answer {
        status,
        content_type: "text/plain".into(),
        body: "ok".into(),
    }
}

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
        assert!(r.stderr.starts_with("Usage of nsq_to_http:\n"), "{r:?}");
    }
    let r = same_outcome(&["--version"]);
    assert_eq!(
        (r.code(), r.stdout.as_str()),
        (Some(0), "nsq_to_http v1.3.0\n")
    );
    for bad in [
        &["--bogus"][..],
        &["--sample=x"],
        &["--n=1.5"],
        &["--http-client-request-timeout=soon"],
        &["--consumer-opt=nope"],
        &["--consumer-opt=max_in_flight,-1"],
    ] {
        let r = same_outcome(bad);
        assert_eq!(r.code(), Some(2), "{bad:?}");
    }
    let src = "--nsqd-tcp-address=127.0.0.1:1";
    let checks: &[&[&str]] = &[
        &[],
        &["--header=novalue:"],
        &["--topic=t", "--channel="],
        &[
            "--topic=t",
            "--content-type=text/plain",
            "--get=http://h/%s",
        ],
        &["--topic=t", "--content-type=", "--post=http://h/"],
        &["--topic=t", "--post=http://h/"],
        &["--topic=t", src, "--lookupd-http-address=127.0.0.1:1"],
        &["--topic=t", src],
        &["--topic=t", src, "--get=http://h/%s", "--post=http://h/"],
        &["--topic=t", src, "--get=http://h/%s%s"],
        &["--topic=t", src, "--post=http://h/", "--sample=-0.5"],
        &["--topic=t t", src, "--post=http://h/"],
        &["--topic=t", "--channel=c!", src, "--post=http://h/"],
        &["--topic=t", src, "--post=http://h/", "--max-in-flight=-1"],
    ];
    for args in checks {
        let r = same_outcome(args);
        assert_eq!(r.code(), Some(1), "{args:?}: {r:?}");
        assert_eq!(r.log().lines().count(), 1, "{args:?}: {r:?}");
    }
}

#[test]
fn unreachable_nsqd_at_start_is_fatal() {
    let dead = closed_port();
    let a = format!("--nsqd-tcp-address={dead}");
    for (label, bin) in both(TOOL) {
        // go-nsq logs "connecting to nsqd" first; the last line is the fatal one.
        let r = run_args(
            &bin,
            TOOL,
            &["--topic=t", &a, "--post=http://127.0.0.1:1/"],
            b"",
        );
        assert_eq!(r.code(), Some(1), "{label}: {r:?}");
        assert_eq!(
            r.last_log_line(),
            format!("dial tcp {dead}: connect: connection refused"),
            "{label}"
        );
    }
}

/// Publishes `bodies` to `topic` and runs the tool until the server has answered 2xx (or
/// 200 for GET) to each of them and nsqd shows them FINed; then SIGTERM (exit 0).
fn forward(
    bin: &std::path::Path,
    nsqd: &Nsqd,
    topic: &str,
    bodies: &[Vec<u8>],
    extra: &[String],
    done: impl Fn() -> bool,
) -> Running {
    mpub_all(nsqd.tcp_addr(), topic, bodies, 100);
    let mut args = vec![
        format!("--topic={topic}"),
        format!("--nsqd-tcp-address={}", nsqd.tcp_addr()),
    ];
    args.extend_from_slice(extra);
    let mut tool = Running::start(bin, &args);
    wait_until(
        &format!("{} forwarded {topic}", bin.display()),
        LIMIT,
        &done,
    );
    let web = nsqd.http_addr();
    wait_for("every message FINed", LIMIT, || {
        let c = http::channel_stats(web, topic, "nsq_to_http").unwrap_or_default();
        let settled = c["depth"] == 0 && c["in_flight_count"] == 0 && c["deferred_count"] == 0;
        (settled, c)
    });
    assert_eq!(tool.signal_and_wait("TERM").code(), Some(0));
    tool
}

/// Every request answered (not those left hanging), with the status it got.
type Seen = Arc<Mutex<Vec<(Received, u16)>>>;

/// A server answering `reply(request, n)` to its `n`th request (from 0).
fn counting_server(
    reply: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
) -> (Scripted, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Scripted::start(move |r| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let reply = reply(r, n);
        if let Reply::Answer { status, .. } = &reply {
            log.lock().expect("log").push((r.clone(), *status));
        }
        reply
    });
    (server, seen)
}

/// The requests of `seen` answered with a status `ok` accepts.
fn answered(seen: &Seen, ok: impl Fn(u16) -> bool) -> Vec<Received> {
    let seen = seen.lock().expect("seen");
    seen.iter()
        .filter(|(_, s)| ok(*s))
        .map(|(r, _)| r.clone())
        .collect()
}

fn two_xx(s: u16) -> bool {
    (200..300).contains(&s)
}

fn header_view(r: &Received) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = [
        "user-agent",
        "content-type",
        "accept-encoding",
        "x-test",
        "x-other",
    ]
    .iter()
    .filter_map(|k| r.header(k).map(|v| (k.to_string(), v.to_string())))
    .collect();
    h.sort();
    h
}

#[test]
fn post_every_message_once_with_gos_headers() {
    let dir = TempDir::new("to-http-post");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let mut views = Vec::new();
    for (label, bin) in both(TOOL) {
        // Any 2xx is success for POST: answer 200, 201 and 204 in turn.
        let (server, seen) = counting_server(|_, n| ok([200, 201, 204][n % 3]));
        let topic = format!("post-{label}");
        let bodies = unique_bodies(&topic, 60);
        let extra = vec![
            format!("--post=http://{}/in?x=1", server.addr()),
            "--content-type=text/plain".into(),
            "--header=X-Test: yes".into(),
            "--header=x-other:a:b".into(),
            "--n=4".into(),
        ];
        let s = Arc::clone(&seen);
        forward(&bin, &nsqd, &topic, &bodies, &extra, move || {
            answered(&s, two_xx).len() >= 60
        });
        let got = answered(&seen, two_xx);
        let set: HashSet<Vec<u8>> = got.iter().map(|r| r.body.clone()).collect();
        assert_eq!(set, bodies.iter().cloned().collect(), "{label}");
        assert_eq!(got.len(), 60, "{label}: every message once");
        let c = http::channel_stats(nsqd.http_addr(), &topic, "nsq_to_http").expect("channel");
        assert_eq!(c["requeue_count"], 0, "{label}: {c}");
        let first = &got[0];
        let len = first.body.len().to_string();
        assert_eq!(
            first.header("content-length"),
            Some(len.as_str()),
            "{label}"
        );
        assert_eq!(
            (first.method.as_str(), first.path.as_str()),
            ("POST", "/in?x=1")
        );
        views.push(header_view(first));
    }
    assert_eq!(views[0], views[1], "ours vs Go's request headers");
    assert!(views[0].contains(&("user-agent".into(), "nsq_to_http v1.3.0".into())));
    assert!(views[0].contains(&("content-type".into(), "text/plain".into())));
    assert!(views[0].contains(&("x-other".into(), "a:b".into())));
    assert!(views[0].contains(&("accept-encoding".into(), "gzip".into())));
}

#[test]
fn get_escapes_the_body_and_wants_200() {
    let dir = TempDir::new("to-http-get");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let bodies: Vec<Vec<u8>> = vec![
        b"plain".to_vec(),
        b"a b&c=d/e?f+g#h%i".to_vec(),
        "caf\u{e9} ~_.-".as_bytes().to_vec(),
        b"100%".to_vec(),
    ];
    let mut paths = Vec::new();
    for (label, bin) in both(TOOL) {
        // The first answer to each body is 201 (not success for GET), then 200.
        let firsts = Arc::new(Mutex::new(HashSet::new()));
        let (server, seen) = counting_server(move |r, _| {
            if firsts.lock().expect("firsts").insert(r.path.clone()) {
                ok(201)
            } else {
                ok(200)
            }
        });
        let topic = format!("get-{label}");
        let mut extra = vec![format!("--get=http://{}/g?d=%s&pct=100%%", server.addr())];
        extra.extend(FAST_RETRY.iter().map(|s| s.to_string()));
        let s = Arc::clone(&seen);
        forward(&bin, &nsqd, &topic, &bodies, &extra, move || {
            answered(&s, |st| st == 200).len() >= 4
        });
        let got = answered(&seen, |_| true);
        assert_eq!(got.len(), 8, "{label}: each body answered 201, then 200");
        let mut p: Vec<String> = got.iter().map(|r| r.path.clone()).collect();
        p.sort();
        p.dedup();
        assert_eq!(p.len(), 4, "{label}: {p:?}");
        assert!(got.iter().all(|r| r.method == "GET" && r.body.is_empty()));
        assert!(
            got.iter().all(|r| r.header("content-type").is_none()),
            "{label}"
        );
        let c = http::channel_stats(nsqd.http_addr(), &topic, "nsq_to_http").expect("channel");
        assert!(c["requeue_count"].as_u64() >= Some(4), "{label}: {c}");
        paths.push(p);
    }
    assert_eq!(paths[0], paths[1], "ours vs Go's GET URLs");
    assert!(paths[0].contains(&"/g?d=a+b%26c%3Dd%2Fe%3Ff%2Bg%23h%25i&pct=100%".to_string()));
    assert!(paths[0].contains(&"/g?d=caf%C3%A9+~_.-&pct=100%".to_string()));
}

#[test]
fn server_errors_requeue_until_it_recovers() {
    let dir = TempDir::new("to-http-5xx");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    for (label, bin) in both(TOOL) {
        // The first 10 requests fail with 500.
        let (server, seen) = counting_server(|_, n| if n < 10 { ok(500) } else { ok(200) });
        let topic = format!("fail-{label}");
        let bodies = unique_bodies(&topic, 20);
        let mut extra = vec![format!("--post=http://{}/", server.addr()), "--n=2".into()];
        extra.extend(FAST_RETRY.iter().map(|s| s.to_string()));
        let expected: HashSet<Vec<u8>> = bodies.iter().cloned().collect();
        let s = Arc::clone(&seen);
        let want = expected.clone();
        let tool = forward(&bin, &nsqd, &topic, &bodies, &extra, move || {
            let got: HashSet<Vec<u8>> = answered(&s, two_xx).into_iter().map(|r| r.body).collect();
            got == want
        });
        let total = server.received().len();
        assert!(
            total >= 30,
            "{label}: {total} requests for 20 messages and 10 failures"
        );
        let c = http::channel_stats(nsqd.http_addr(), &topic, "nsq_to_http").expect("channel");
        assert!(c["requeue_count"].as_u64() >= Some(10), "{label}: {c}");
        assert!(
            tool.stderr().contains("got status code 500"),
            "{label}: {}",
            tool.stderr()
        );
    }
}

#[test]
fn a_hung_request_times_out_and_is_requeued() {
    let dir = TempDir::new("to-http-timeout");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    for (label, bin) in both(TOOL) {
        let (server, seen) = counting_server(|_, n| if n == 0 { Reply::Hang } else { ok(200) });
        let topic = format!("hang-{label}");
        let mut extra = vec![
            format!("--post=http://{}/", server.addr()),
            "--http-client-request-timeout=1s".into(),
        ];
        extra.extend(FAST_RETRY.iter().map(|s| s.to_string()));
        let s = Arc::clone(&seen);
        let tool = forward(
            &bin,
            &nsqd,
            &topic,
            &[b"slow".to_vec()],
            &extra,
            move || !answered(&s, two_xx).is_empty(),
        );
        assert_eq!(
            server.received().len(),
            2,
            "{label}: hung once, then answered"
        );
        let c = http::channel_stats(nsqd.http_addr(), &topic, "nsq_to_http").expect("channel");
        assert_eq!(c["requeue_count"], 1, "{label}: {c}");
        assert!(
            // Go words it "context deadline exceeded" or "net/http: timeout awaiting
            // response headers" depending on which of its two timers fires first.
            tool.stderr()
                .contains("(Client.Timeout exceeded while awaiting headers)"),
            "{label}: {}",
            tool.stderr()
        );
    }
}

#[test]
fn modes_spread_or_copy_as_gos() {
    let dir = TempDir::new("to-http-modes");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let mut outcomes: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for mode in ["round-robin", "hostpool", "epsilon-greedy", "every-one"] {
        for (label, bin) in both(TOOL) {
            let (a, seen_a) = counting_server(|_, _| ok(200));
            let (b, seen_b) = counting_server(|_, _| ok(200));
            let topic = format!("mode-{mode}-{label}");
            let bodies = unique_bodies(&topic, 10);
            let extra = vec![
                format!("--post=http://{}/", a.addr()),
                format!("--post=http://{}/", b.addr()),
                format!("--mode={mode}"),
                "--status-every=5".into(),
            ];
            let want = if mode == "every-one" { 20 } else { 10 };
            let (sa, sb) = (Arc::clone(&seen_a), Arc::clone(&seen_b));
            let tool = forward(&bin, &nsqd, &topic, &bodies, &extra, move || {
                answered(&sa, two_xx).len() + answered(&sb, two_xx).len() >= want
            });
            let counts = (
                answered(&seen_a, two_xx).len(),
                answered(&seen_b, two_xx).len(),
            );
            outcomes.entry(mode.into()).or_default().push(counts);
            // Timer lines: a warning for each timer under 100, then a line every 5.
            let log = nsq_tests::tools::strip_log_times(&tool.stderr());
            assert!(
                log.contains("Warning: use more than 100 status values for accurate percentiles (configured with 5)"),
                "{label} {mode}: {log}"
            );
            assert!(
                log.contains("[aggregate]: finished 5 - 99th: "),
                "{label} {mode}: {log}"
            );
        }
    }
    for (mode, counts) in &outcomes {
        match mode.as_str() {
            "every-one" => assert!(counts.iter().all(|c| *c == (10, 10)), "{mode}: {counts:?}"),
            "round-robin" | "hostpool" => {
                assert!(counts.iter().all(|c| *c == (5, 5)), "{mode}: {counts:?}")
            }
            _ => assert!(
                counts.iter().all(|(a, b)| a + b == 10),
                "{mode}: {counts:?}"
            ),
        }
    }
}

#[test]
fn unreachable_endpoint_backs_off_without_a_busy_loop() {
    let dir = TempDir::new("to-http-down");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let dead = closed_port();
    for (label, bin) in both(TOOL) {
        let topic = format!("down-{label}");
        mpub_all(nsqd.tcp_addr(), &topic, &unique_bodies(&topic, 50), 50);
        let args = vec![
            format!("--topic={topic}"),
            format!("--nsqd-tcp-address={}", nsqd.tcp_addr()),
            format!("--post=http://{dead}/"),
        ];
        let mut tool = Running::start(&bin, &args);
        wait_until(&format!("{label}: first failure logged"), LIMIT, || {
            tool.stderr().contains("connection refused")
        });
        let cpu_before = testkit::cpu_secs(tool.pid()).expect("cpu");
        let start = Instant::now();
        wait_until("watch window", Duration::from_secs(4), || {
            start.elapsed() >= Duration::from_secs(2)
        });
        let cpu = testkit::cpu_secs(tool.pid()).expect("cpu") - cpu_before;
        let lines = tool.stderr().lines().count();
        assert!(cpu < 0.5, "{label}: {cpu}s of CPU in 2s");
        // Backoff: the 50 messages in flight fail once each (a line each, as with Go's),
        // then a handful of attempts, not a stream of them.
        assert!(lines < 90, "{label}: {lines} log lines:\n{}", tool.stderr());
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
        wait_for(
            &format!("{label}: every message back in nsqd"),
            LIMIT,
            || {
                let c = http::channel_stats(nsqd.http_addr(), &topic, "nsq_to_http")
                    .unwrap_or_default();
                let left =
                    c["depth"].as_u64().unwrap_or(0) + c["deferred_count"].as_u64().unwrap_or(0);
                (left == 50 && c["in_flight_count"] == 0, c)
            },
        );
    }
}

#[test]
fn sigterm_mid_stream_loses_nothing() {
    let dir = TempDir::new("to-http-term");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    for (label, bin) in both(TOOL) {
        let (server, seen) = counting_server(|_, _| {
            std::thread::sleep(Duration::from_millis(20));
            ok(200)
        });
        let topic = format!("term-{label}");
        let bodies = unique_bodies(&topic, 300);
        mpub_all(nsqd.tcp_addr(), &topic, &bodies, 100);
        let args = vec![
            format!("--topic={topic}"),
            format!("--nsqd-tcp-address={}", nsqd.tcp_addr()),
            format!("--post=http://{}/", server.addr()),
            "--n=4".into(),
        ];
        let mut tool = Running::start(&bin, &args);
        wait_until(&format!("{label}: forwarding"), LIMIT, || {
            answered(&seen, two_xx).len() >= 20
        });
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
        let sent: HashSet<Vec<u8>> = answered(&seen, two_xx)
            .into_iter()
            .map(|r| r.body)
            .collect();
        assert!(sent.len() < 300, "{label}: stopped mid-stream");
        // What was not answered 2xx is still in nsqd.
        let mut consumer = Consumer::subscribe(nsqd.tcp_addr(), &topic, "nsq_to_http", DRAIN_RDY);
        let mut tally = Tally::default();
        drain_until_empty(
            &mut consumer,
            &mut tally,
            nsqd.http_addr(),
            &topic,
            "nsq_to_http",
        );
        let left: HashSet<Vec<u8>> = tally.bodies().cloned().collect();
        let missing: Vec<&Vec<u8>> = bodies
            .iter()
            .filter(|b| !sent.contains(*b) && !left.contains(*b))
            .collect();
        assert!(
            missing.is_empty(),
            "{label}: lost {} messages",
            missing.len()
        );
        drop(server);
    }
}

#[test]
fn finds_nsqd_through_nsqlookupd() {
    let lookupd = nsq_tests::lookupd::start(&["--broadcast-address=127.0.0.1"]);
    let dir = TempDir::new("to-http-lookupd");
    let l = format!("--lookupd-tcp-address={}", lookupd.tcp_addr());
    let nsqd = Nsqd::start(
        &nsqd_bin(),
        dir.path(),
        &["--broadcast-address=127.0.0.1", &l],
    );
    for (label, bin) in both(TOOL) {
        let (server, seen) = counting_server(|_, _| ok(200));
        let topic = format!("lookup-{label}");
        let bodies = unique_bodies(&topic, 20);
        mpub_all(nsqd.tcp_addr(), &topic, &bodies, 20);
        wait_for("the topic registered in nsqlookupd", LIMIT, || {
            let r = http::get(lookupd.http_addr(), &format!("/lookup?topic={topic}"));
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            (v["producers"].as_array().map_or(0, Vec::len) == 1, v)
        });
        let args = vec![
            format!("--topic={topic}"),
            format!("--lookupd-http-address={}", lookupd.http_addr()),
            format!("--post=http://{}/", server.addr()),
        ];
        let mut tool = Running::start(&bin, &args);
        wait_until(
            &format!("{label}: forwarded through lookupd"),
            LIMIT,
            || answered(&seen, two_xx).len() >= 20,
        );
        assert_eq!(tool.signal_and_wait("TERM").code(), Some(0), "{label}");
        let got: HashSet<Vec<u8>> = answered(&seen, two_xx)
            .into_iter()
            .map(|r| r.body)
            .collect();
        assert_eq!(got, bodies.iter().cloned().collect(), "{label}");
    }
}
