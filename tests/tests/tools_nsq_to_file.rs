//! nsq_to_file, ours beside Go's v1.3.0 (`tests/reference/bin/nsq_to_file`): the same
//! topic content consumed by each on its own channel into its own directory gives the
//! same sequence of files with the same contents (after decompression with `--gzip`)
//! across size rotation; `<REV>` bumps for names taken in the output dir, both when a
//! file is opened and when a finished file is moved from `--work-dir`; SIGHUP;
//! `--topic-pattern` discovery through nsqlookupd; the command line (usage, flag errors,
//! checks) as Go's. Faults (full disk, SIGTERM mid-stream) are in
//! `tools_nsq_to_file_faults.rs`.

use std::path::Path;
use std::time::Duration;

use nsq_tests::cluster::Cluster;
use nsq_tests::harness::{Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::{wait_for, wait_until};

#[path = "support/nsq_to_file.rs"]
mod support;
use support::*;

/// Both tools on one topic, each on its own channel and directory, stopped once every
/// message reached them; the output dirs.
fn side_by_side(label: &str, extra: &[&str], n: usize) -> (TempDir, Vec<String>) {
    let (_dir, nsqd) = Nsqd::start_in_temp(label, &[]);
    let out = TempDir::new(&format!("{label}-out"));
    let topic = "archive";
    let sent = bodies("m", n);
    for ch in ["go", "ours"] {
        create_channel(nsqd.http_addr(), topic, ch);
    }
    publish(nsqd.http_addr(), topic, &sent);
    let mut running = Vec::new();
    for (ch, bin) in [("go", go()), ("ours", ours())] {
        let dir = out.path().join(ch);
        let mut args = common_args(&nsqd, topic, ch, &dir);
        args.extend(extra.iter().map(|s| s.to_string()));
        running.push((ch, spawn(&bin, &args)));
    }
    for (ch, _) in &running {
        wait_consumed(nsqd.http_addr(), topic, ch, n as i64);
    }
    for (ch, p) in &mut running {
        let status = stop(p);
        assert!(status.success(), "{ch}: {status}\n{}", p.output_tail(40));
        // Everything synced and FINished on the way out.
        assert_eq!(
            channel(nsqd.http_addr(), topic, ch),
            (0, 0, n as i64),
            "{ch}"
        );
        // Synced in batches (a starved consumer is one whose handler holds ~85% of its
        // RDY count, not one whose messages wait in a queue): not one fsync per message.
        let syncs = p.stderr().matches(" records to disk").count();
        assert!(syncs <= n / 10, "{ch}: {syncs} syncs for {n} messages");
    }
    (out, sent)
}

fn compare(out: &Path, sent: &[String], suffix: &str) {
    let theirs = files(&out.join("go"));
    let mine = files(&out.join("ours"));
    assert!(theirs.len() > 2, "rotation by size: {:?}", theirs.keys());
    let year = &mine.keys().next().expect("a file")["archive.host-000000.".len()..][..4];
    let expected: Vec<String> = (0..theirs.len())
        .map(|i| format!("archive.host-{i:06}.{year}.log{suffix}"))
        .collect();
    assert_eq!(theirs.keys().cloned().collect::<Vec<_>>(), expected);
    assert_eq!(mine.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, content) in &theirs {
        assert!(mine[name] == *content, "{name} differs from Go's");
    }
    assert_eq!(lines(&mine), sent);
}

#[test]
fn plain_output_is_gos_across_rotation() {
    let (out, sent) = side_by_side("ntf-plain", &["--rotate-size=6000"], 1500);
    compare(out.path(), &sent, "");
}

#[test]
fn gzip_output_is_gos_across_rotation() {
    let (out, sent) = side_by_side("ntf-gzip", &["--rotate-size=6000", "--gzip"], 1500);
    compare(out.path(), &sent, ".gz");
}

/// `<REV>`: a name taken in the output dir is skipped when opening, and a name taken
/// while the file was written is skipped when it is moved out of the work dir.
#[test]
fn rev_bumps_and_work_dir_move_as_go() {
    let (_dir, nsqd) = Nsqd::start_in_temp("ntf-rev", &[]);
    let root = TempDir::new("ntf-rev-out");
    let topic = "revs";
    let sent = bodies("r", 300);
    for ch in ["go", "ours"] {
        create_channel(nsqd.http_addr(), topic, ch);
    }
    let mut running = Vec::new();
    for (ch, bin) in [("go", go()), ("ours", ours())] {
        let out = root.path().join(ch).join("out");
        let work = root.path().join(ch).join("work");
        std::fs::create_dir_all(&out).expect("mkdir");
        let mut args = common_args(&nsqd, topic, ch, &out);
        args.push(format!("--work-dir={}", work.display()));
        args.push("--datetime-format=X%Y".to_string());
        running.push((ch, out, work, bin, args));
    }
    // Taken before the start: -000000 in the output dir.
    let this_year = {
        let p = std::process::Command::new("date")
            .arg("+%Y")
            .output()
            .expect("date");
        String::from_utf8_lossy(&p.stdout).trim().to_string()
    };
    for (_, out, ..) in &running {
        std::fs::write(
            out.join(format!("revs.host-000000.X{this_year}.log")),
            "taken\n",
        )
        .expect("write");
    }
    publish(nsqd.http_addr(), topic, &sent);
    let mut procs = Vec::new();
    for (ch, out, work, bin, args) in running {
        let p = spawn(&bin, &args);
        let working = work.join(format!("revs.host-000001.X{this_year}.log"));
        wait_until(
            &format!("{ch}: {} written", working.display()),
            SETTLE,
            || working.exists(),
        );
        // Taken while it is being written: the move bumps to -000002.
        std::fs::write(
            out.join(format!("revs.host-000001.X{this_year}.log")),
            "taken\n",
        )
        .expect("write");
        procs.push((ch, out, work, p));
    }
    for (ch, out, work, mut p) in procs {
        wait_consumed(nsqd.http_addr(), topic, ch, sent.len() as i64);
        let status = stop(&mut p);
        assert!(status.success(), "{ch}: {status}\n{}", p.output_tail(40));
        let left = std::fs::read_dir(&work).expect("work dir").count();
        assert_eq!(left, 0, "{ch}: the work dir is emptied");
        let got = files(&out);
        let names: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                format!("revs.host-000000.X{this_year}.log"),
                format!("revs.host-000001.X{this_year}.log"),
                format!("revs.host-000002.X{this_year}.log"),
            ],
            "{ch}\n{}",
            p.output_tail(40)
        );
        assert_eq!(lines(&got)[2..], sent[..], "{ch}");
        let log = p.stderr();
        assert!(
            log.contains("destination file already exists"),
            "{ch}: {log}"
        );
    }
}

/// Without `--topic`: topics from nsqlookupd `/topics` matching `--topic-pattern`.
#[test]
fn topic_pattern_discovery_through_lookupd() {
    let cluster = Cluster::start(1, 1);
    let addr = cluster.nsqd_http(0);
    let (a, b) = (bodies("a", 120), bodies("b", 80));
    for ch in ["go", "ours"] {
        create_channel(addr, "match_one", ch);
    }
    publish(addr, "match_one", &a);
    publish(addr, "other_two", &b);
    cluster.wait_lookup("match_one", 1, &["go", "ours"]);
    cluster.wait_lookup("other_two", 1, &[]);
    let out = TempDir::new("ntf-pattern-out");
    let mut procs = Vec::new();
    for (ch, bin) in [("go", go()), ("ours", ours())] {
        let dir = out.path().join(ch);
        let mut args = vec![
            format!("--lookupd-http-address={}", cluster.lookupd_http(0)),
            "--topic-pattern=^match".into(),
            "--topic-refresh=200ms".into(),
            format!("--channel={ch}"),
            format!("--output-dir={}", dir.display()),
            "--host-identifier=host".into(),
            "--datetime-format=%Y".into(),
            "--sync-interval=1h".into(),
        ];
        args.push("--max-in-flight=50".into());
        procs.push((ch, dir, spawn(&bin, &args)));
    }
    for (ch, dir, mut p) in procs {
        wait_consumed(addr, "match_one", ch, a.len() as i64);
        let status = stop(&mut p);
        assert!(status.success(), "{ch}: {status}\n{}", p.output_tail(40));
        let got = files(&dir);
        assert_eq!(got.len(), 1, "{ch}: {:?}", got.keys());
        assert!(got.keys().all(|k| k.starts_with("match_one.host.")), "{ch}");
        assert_eq!(lines(&got), a, "{ch}");
        assert!(
            p.stderr()
                .contains("WARNING: skipping topic other_two (doesn't match pattern ^match)"),
            "{ch}: {}",
            p.stderr()
        );
        assert!(http::channel_stats(addr, "other_two", ch).is_none(), "{ch}");
    }
}

/// Drops Go's `log` timestamps (`2026/12/03 16:41:32 `) from each line.
fn without_stamps(s: &str) -> String {
    s.lines()
        .map(|l| {
            let b = l.as_bytes();
            if b.len() >= 20 && b[4] == b'/' && b[7] == b'/' && b[13] == b':' {
                &l[20..]
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Usage, flag errors and the checks before anything starts: the same stdout, stderr
/// (timestamps aside) and exit status as Go's.
#[test]
fn command_line_is_gos() {
    let cases: &[&[&str]] = &[
        &["-h"],
        &["--bogus"],
        &["--max-in-flight=x"],
        &["--rotate-size=1k"],
        &["--gzip=maybe"],
        &["--version"],
        &["--log-level=loud", "--version"],
        &[],
        &["--channel="],
        &["--topic=a"],
        &["--nsqd-tcp-address=a", "--lookupd-http-address=b"],
        &["--nsqd-tcp-address=a", "--gzip-level=0"],
        &["--nsqd-tcp-address=a"],
        &["--nsqd-tcp-address=a", "--topic-pattern=x"],
        &[
            "--nsqd-tcp-address=a",
            "--topic=t",
            "--http-client-connect-timeout=0",
        ],
        &[
            "--nsqd-tcp-address=a",
            "--topic=t",
            "--http-client-request-timeout=-1s",
        ],
        &["--topic=t", "--nsqd-tcp-address=a", "extra", "more"],
    ];
    for args in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let run = |bin: &Path| {
            let mut p = spawn(bin, &args);
            let status = p
                .wait_exit(Duration::from_secs(20))
                .unwrap_or_else(|e| panic!("{e}"));
            (status.code(), p.stdout(), without_stamps(&p.stderr()))
        };
        assert_eq!(run(&ours()), run(&go()), "{args:?}");
    }
}

/// SIGHUP syncs and closes the file (its messages FINished); the next message opens the
/// next `<REV>`, as Go's; a `--datetime-format` with literal layout digits named as Go's.
#[test]
fn sighup_closes_the_file_as_go() {
    let (_dir, nsqd) = Nsqd::start_in_temp("ntf-hup", &[]);
    let out = TempDir::new("ntf-hup-out");
    let topic = "hup";
    let (first, second) = (bodies("h1", 30), bodies("h2", 20));
    for ch in ["go", "ours"] {
        create_channel(nsqd.http_addr(), topic, ch);
    }
    publish(nsqd.http_addr(), topic, &first);
    let mut procs = Vec::new();
    for (ch, bin) in [("go", go()), ("ours", ours())] {
        let mut args = common_args(&nsqd, topic, ch, &out.path().join(ch));
        args.push("--gzip".into());
        // Go formats literal text as a time layout too (`1` the month, `2` the day).
        args.push("--datetime-format=%Y-%b-%a_v1.2".into());
        procs.push((ch, spawn(&bin, &args)));
    }
    for (ch, p) in &procs {
        wait_consumed(nsqd.http_addr(), topic, ch, first.len() as i64);
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &p.pid().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        // Synced: FINished, nothing in flight.
        wait_for(&format!("{ch}: FINished on SIGHUP"), SETTLE, || {
            let s = channel(nsqd.http_addr(), topic, ch);
            (s.1 == 0, s)
        });
    }
    publish(nsqd.http_addr(), topic, &second);
    let mut names = Vec::new();
    for (ch, mut p) in procs {
        wait_consumed(
            nsqd.http_addr(),
            topic,
            ch,
            (first.len() + second.len()) as i64,
        );
        let status = stop(&mut p);
        assert!(status.success(), "{ch}: {status}\n{}", p.output_tail(40));
        let got = files(&out.path().join(ch));
        let contents: Vec<Vec<String>> = got
            .values()
            .map(|c| {
                String::from_utf8_lossy(c)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        assert_eq!(contents, [first.clone(), second.clone()], "{ch}");
        names.push(got.keys().cloned().collect::<Vec<_>>());
    }
    assert_eq!(names[0], names[1]);
    assert!(
        names[1][1].starts_with("hup.host-000001."),
        "{:?}",
        names[1]
    );
}
