//! nsq_stat beside Go's v1.3.0 on the same cluster: the header and rows byte for byte
//! after known traffic (no traffic while they run, so the rates are 0 for both), found
//! through nsqd `/stats` (our nsqd and Go's) and through nsqlookupd `/lookup` over two
//! nodes (the channel summed); a missing channel, an unknown topic and an unreachable
//! upstream are fatal with the same log line and exit status. The rate columns: traffic
//! published between a run's first round and its second, seen by ours and Go's alike.

use std::net::SocketAddr;
use std::time::Duration;

use nsq_tests::cluster::Cluster;
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::tools::{both, closed_port, run_args, Run, Running};

/// Failure bound for a run to print.
const LIMIT: Duration = Duration::from_secs(30);

const HEADER: &str = "------rate------+----------------depth----------------+--------------metadata---------------\n\
                      ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients\n";

/// Runs ours and Go's nsq_stat with `args`; asserts the same status, stdout and log.
fn same(args: &[&str]) -> Run {
    let [(_, ours), (_, go)] = both("nsq_stat");
    let a = run_args(&ours, "nsq_stat", args, b"");
    let b = run_args(&go, "nsq_stat", args, b"");
    assert_eq!(a.code(), b.code(), "{args:?}: ours {a:?}\ngo {b:?}");
    assert_eq!(a.stdout, b.stdout, "{args:?} stdout");
    assert_eq!(a.log(), b.log(), "{args:?} log");
    a
}

/// 10 messages and one deferred one in `stat`/`c` on the nsqd at `web`.
fn traffic(web: SocketAddr) {
    http::post_ok(web, "/topic/create?topic=stat");
    http::post_ok(web, "/channel/create?topic=stat&channel=c");
    for i in 0..10 {
        let r = http::post(web, "/pub?topic=stat", format!("m{i}").as_bytes());
        assert_eq!(r.status, 200);
    }
    let r = http::post(web, "/pub?topic=stat&defer=600000", b"later");
    assert_eq!(r.status, 200, "{}", r.text());
}

fn columns_via_nsqd(bin: &std::path::Path) {
    let dir = TempDir::new("tools-stat");
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let web = nsqd.http_addr();
    traffic(web);
    let addr = format!("--nsqd-http-address={web}");
    let base = ["--topic=stat", "--channel=c", addr.as_str()];
    let r = same(&[base[0], base[1], base[2], "--interval=100ms", "--count=2"]);
    assert_eq!(r.code(), Some(0));
    let row = "      0       0 |      10      10       0     0     1 |       0       0           11       0\n";
    assert_eq!(r.stdout, format!("{HEADER}{row}{row}"));

    let r = same(&["--topic=stat", "--channel=nope", base[2], "--count=1"]);
    assert_eq!(r.code(), Some(1));
    assert_eq!(
        r.log(),
        "ERROR: failed to find channel(nope) in stats metadata for topic(stat)\n"
    );
    let r = same(&["--topic=none", "--channel=c", base[2], "--count=1"]);
    assert_eq!(r.code(), Some(1));
    assert_eq!(
        r.log(),
        "ERROR: failed to get nsqd stats - failed to query any nsqd: \n"
    );
    // One of two nsqd unreachable: Go's nsq_stat stops on the partial failure too.
    let dead = format!("--nsqd-http-address={}", closed_port());
    let r = same(&[base[0], base[1], base[2], &dead, "--count=1"]);
    assert_eq!(r.code(), Some(1));
    assert!(
        r.log()
            .starts_with("ERROR: failed to get topic producers - Get \"http://"),
        "{r:?}"
    );
}

#[test]
fn columns_via_our_nsqd() {
    columns_via_nsqd(&nsqd_bin());
}

#[test]
fn columns_via_go_nsqd() {
    columns_via_nsqd(&go_nsqd_bin());
}

#[test]
fn columns_via_lookupd_over_two_nodes() {
    let cluster = Cluster::start(1, 2);
    for n in 0..2 {
        traffic(cluster.nsqd_http(n));
    }
    cluster.wait_lookup("stat", 2, &["c"]);
    let lookupd = format!("--lookupd-http-address={}", cluster.lookupd_http(0));
    let r = same(&[
        "--topic=stat",
        "--channel=c",
        &lookupd,
        "--interval=100ms",
        "--count=1",
    ]);
    assert_eq!(r.code(), Some(0));
    let row = "      0       0 |      20      20       0     0     2 |       0       0           22       0\n";
    assert_eq!(r.stdout, format!("{HEADER}{row}"));
}

#[test]
fn unreachable_upstream() {
    let dead = closed_port();
    for flag in ["--nsqd-http-address", "--lookupd-http-address"] {
        let r = same(&["--topic=t", "--channel=c", &format!("{flag}={dead}")]);
        assert_eq!(r.code(), Some(1));
        assert!(r.log().contains("connect: connection refused"), "{r:?}");
    }
}

/// Both tools run at once; 10 messages are published after both took their first round
/// (their header is out), well inside the interval, so both rows see the same change:
/// 10 in over 3 s (3/s as Go truncates), none out.
#[test]
fn rates_over_the_interval() {
    let dir = TempDir::new("tools-stat-rate");
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let web = nsqd.http_addr();
    http::post_ok(web, "/topic/create?topic=rate");
    http::post_ok(web, "/channel/create?topic=rate&channel=c");
    let args: Vec<String> = vec![
        "--topic=rate".into(),
        "--channel=c".into(),
        format!("--nsqd-http-address={web}"),
        "--interval=3s".into(),
        "--count=1".into(),
    ];
    let mut runs: Vec<(&str, Running)> = both("nsq_stat")
        .into_iter()
        .map(|(label, bin)| (label, Running::start(&bin, &args)))
        .collect();
    for (_, r) in &runs {
        r.wait_lines(2, LIMIT);
    }
    for i in 0..10 {
        let r = http::post(web, "/pub?topic=rate", format!("m{i}").as_bytes());
        assert_eq!(r.status, 200);
    }
    let row = "      3       0 |      10      10       0     0     0 |       0       0           10       0\n";
    for (label, r) in &mut runs {
        assert_eq!(r.wait().code(), Some(0), "{label}");
        assert_eq!(r.stdout(), format!("{HEADER}{row}"), "{label}");
    }
}
