//! The tools' command lines beside Go's v1.3.0 ones, run as the same `argv[0]`: `-h`
//! usage byte for byte, `--version`, flag errors (text, usage, exit status 2), the
//! `--producer-opt`/`--consumer-opt` errors go-nsq's `Config.Set` words, and the checks
//! after parsing (`log.Fatal` lines, exit status 1; compared without the time stamps).

use nsq_tests::tools::{both, run_args, Run};

const TOOLS: [&str; 3] = ["to_nsq", "nsq_tail", "nsq_stat"];

/// Runs `tool` ours and Go's with `args` (no stdin) and asserts the same exit status;
/// returns (ours, go).
fn side_by_side(tool: &str, args: &[&str]) -> (Run, Run) {
    let [(_, ours), (_, go)] = both(tool);
    let a = run_args(&ours, tool, args, b"");
    let b = run_args(&go, tool, args, b"");
    assert_eq!(a.code(), b.code(), "{tool} {args:?}: ours {a:?}\ngo {b:?}");
    (a, b)
}

/// Same exit status, stdout and stderr byte for byte.
fn identical(tool: &str, args: &[&str]) -> Run {
    let (a, b) = side_by_side(tool, args);
    assert_eq!(a.stdout, b.stdout, "{tool} {args:?} stdout");
    assert_eq!(a.stderr, b.stderr, "{tool} {args:?} stderr");
    a
}

/// Same exit status and log lines (time stamps aside).
fn same_log(tool: &str, args: &[&str]) -> Run {
    let (a, b) = side_by_side(tool, args);
    assert_eq!(a.stdout, b.stdout, "{tool} {args:?} stdout");
    assert_eq!(a.log(), b.log(), "{tool} {args:?} log");
    a
}

#[test]
fn usage_is_gos_byte_for_byte() {
    for tool in TOOLS {
        for flag in ["-h", "--help", "-help"] {
            let r = identical(tool, &[flag]);
            assert_eq!(r.code(), Some(0));
            assert!(
                r.stderr.starts_with(&format!("Usage of {tool}:\n")),
                "{r:?}"
            );
        }
    }
}

#[test]
fn version_lines() {
    for tool in ["nsq_tail", "nsq_stat"] {
        let r = identical(tool, &["--version"]);
        assert_eq!(r.code(), Some(0));
        assert_eq!(r.stdout, format!("{tool} v1.3.0\n"));
    }
    // Go's to_nsq has no --version: a flag error there, and here.
    let r = identical("to_nsq", &["--version"]);
    assert_eq!(r.code(), Some(2));
}

#[test]
fn flag_errors_are_gos() {
    let cases: &[(&str, &[&str])] = &[
        ("to_nsq", &["--bogus"]),
        ("to_nsq", &["--topic"]),
        ("to_nsq", &["--rate=x"]),
        ("to_nsq", &["---topic=x"]),
        ("to_nsq", &["--producer-opt=nope"]),
        ("to_nsq", &["--producer-opt=tls_v1,maybe"]),
        ("to_nsq", &["--producer-opt=max_in_flight,-1"]),
        ("to_nsq", &["--producer-opt=max_attempts,x"]),
        ("to_nsq", &["--producer-opt=heartbeat_interval,5"]),
        ("to_nsq", &["--producer-opt=deflate_level,10"]),
        ("to_nsq", &["--producer-opt=sample_rate,100"]),
        ("to_nsq", &["--producer-opt=msg_timeout,abc"]),
        ("to_nsq", &["--producer-opt=read_timeout,1ms"]),
        (
            "to_nsq",
            &["--producer-opt=tls_root_ca_file,/nonexistent/ca.pem"],
        ),
        ("nsq_tail", &["--n=x"]),
        ("nsq_tail", &["--print-topic=maybe"]),
        ("nsq_tail", &["--consumer-opt=max_in_flight"]),
        ("nsq_tail", &["--consumer-opt=lookupd_poll_interval,1ms"]),
        ("nsq_stat", &["--count=x"]),
        ("nsq_stat", &["--interval=soon"]),
        ("nsq_stat", &["--version=maybe"]),
    ];
    for (tool, args) in cases {
        let r = identical(tool, args);
        assert_eq!(r.code(), Some(2), "{tool} {args:?}");
        assert!(r.stderr.contains(&format!("\nUsage of {tool}:\n")), "{r:?}");
    }
}

#[test]
fn startup_checks_are_gos() {
    let cases: &[(&str, &[&str])] = &[
        ("to_nsq", &[]),
        ("to_nsq", &["--topic=t"]),
        ("to_nsq", &["--topic=t", "--delimiter=ab"]),
        ("to_nsq", &["--topic=t", "--delimiter="]),
        ("nsq_tail", &[]),
        ("nsq_tail", &["--topic=t"]),
        ("nsq_tail", &["--nsqd-tcp-address=127.0.0.1:1"]),
        (
            "to_nsq",
            &["--topic=t", "--producer-opt=heartbeat_interval,2m"],
        ),
        (
            "nsq_tail",
            &[
                "--topic=t",
                "--nsqd-tcp-address=a:1",
                "--lookupd-http-address=b:1",
            ],
        ),
        ("nsq_stat", &[]),
        ("nsq_stat", &["--topic=t"]),
        ("nsq_stat", &["--topic=t", "--channel=c"]),
        ("nsq_stat", &["--topic=t", "--channel=c", "--interval=0"]),
        ("nsq_stat", &["--topic=t", "--channel=c", "--interval=-1s"]),
        ("nsq_stat", &["--topic=t", "--channel=c", "--count=0"]),
        (
            "nsq_stat",
            &[
                "--topic=t",
                "--channel=c",
                "--http-client-connect-timeout=0s",
            ],
        ),
        (
            "nsq_stat",
            &[
                "--topic=t",
                "--channel=c",
                "--http-client-request-timeout=-2s",
            ],
        ),
        (
            "nsq_stat",
            &[
                "--topic=t",
                "--channel=c",
                "--nsqd-http-address=a:1",
                "--lookupd-http-address=b:1",
            ],
        ),
        (
            "nsq_stat",
            &["--topic=t", "--channel=c", "--nsqd-http-address=http://a:1"],
        ),
        (
            "nsq_stat",
            &[
                "--topic=t",
                "--channel=c",
                "--lookupd-http-address=https://a:1",
            ],
        ),
    ];
    for (tool, args) in cases {
        let r = same_log(tool, args);
        assert_eq!(r.code(), Some(1), "{tool} {args:?}: {r:?}");
        assert_eq!(r.log().lines().count(), 1, "{tool} {args:?}: {r:?}");
    }
}

/// go-nsq's `NewConsumer` checks, after nsq_tail's "Adding consumer" line.
#[test]
fn consumer_checks_are_gos() {
    let cases: &[&[&str]] = &[
        &["--topic=bad!", "--nsqd-tcp-address=127.0.0.1:1"],
        &[
            "--topic=ok",
            "--channel=b!",
            "--nsqd-tcp-address=127.0.0.1:1",
        ],
        &[
            "--topic=ok",
            "--consumer-opt=heartbeat_interval,2m",
            "--nsqd-tcp-address=127.0.0.1:1",
        ],
    ];
    for args in cases {
        let r = same_log("nsq_tail", args);
        assert_eq!(r.code(), Some(1), "{args:?}: {r:?}");
        assert_eq!(r.log().lines().count(), 2, "{args:?}: {r:?}");
    }
}
