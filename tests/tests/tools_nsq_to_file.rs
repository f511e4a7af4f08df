//! nsq_to_file, ours beside Go's v1.3.0 (`tests/reference/bin/nsq_to_file`): the same
//! topic content consumed by each on its own channel into its own directory gives the
//! same sequence of files with the same contents (after decompression with `--gzip`)
//! across size rotation; `<REV>` bumps for names taken in the output dir, both when a
//! file is opened and when a finished file is moved from `--work-dir`; `--topic-pattern`
//! discovery through nsqlookupd; the command line (usage, flag errors, checks) as Go's.
//! Ours alone: a full disk (a small tmpfs, root only) is fatal with nothing lost, and
//! SIGTERM mid-stream leaves complete files with every message in a file or in nsqd.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nsq_tests::cluster::Cluster;
use nsq_tests::daemon::{reference_bin, workspace_bin};
use nsq_tests::harness::{Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::{wait_for, wait_until};
use testkit::{Process, Spec};

/// Failure bound for consuming a test's messages (machine shared with builds).
const SETTLE: Duration = Duration::from_secs(60);

fn ours() -> PathBuf {
    workspace_bin("nsq_to_file", "NSQ_TO_FILE_BIN")
}

fn go() -> PathBuf {
    reference_bin("nsq_to_file", "GO_NSQ_TO_FILE_BIN").expect(
        "Go reference nsq_to_file not found: run `make reference` or set GO_NSQ_TO_FILE_BIN",
    )
}

fn spawn(bin: &Path, args: &[String]) -> Process {
    Spec::new(bin)
        .args(args)
        .markers(&[])
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn stop(p: &mut Process) -> ExitStatus {
    p.signal_and_wait("TERM", SETTLE)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `n` lines of different lengths, unique.
fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}-{i:05} {}", "abcdefghij".repeat(i % 7)))
        .collect()
}

fn publish(addr: SocketAddr, topic: &str, bodies: &[String]) {
    for chunk in bodies.chunks(200) {
        let r = http::post(
            addr,
            &format!("/mpub?topic={topic}"),
            chunk.join("\n").as_bytes(),
        );
        assert_eq!(r.status, 200, "mpub: {}", r.text());
    }
}

fn create_channel(addr: SocketAddr, topic: &str, channel: &str) {
    let r = http::post(addr, &format!("/topic/create?topic={topic}"), b"");
    assert_eq!(r.status, 200, "topic create: {}", r.text());
    let r = http::post(
        addr,
        &format!("/channel/create?topic={topic}&channel={channel}"),
        b"",
    );
    assert_eq!(r.status, 200, "channel create: {}", r.text());
}

/// (depth, in flight, message count) of a channel.
fn channel(addr: SocketAddr, topic: &str, channel: &str) -> (i64, i64, i64) {
    let c = http::channel_stats(addr, topic, channel).unwrap_or_default();
    let n = |k: &str| c[k].as_i64().unwrap_or(-1);
    (n("depth"), n("in_flight_count"), n("message_count"))
}

/// Every message of `n` delivered to the channel (held or FINished).
fn wait_consumed(addr: SocketAddr, topic: &str, ch: &str, n: i64) {
    wait_for(
        &format!("{topic}/{ch} to take {n} messages"),
        SETTLE,
        || {
            let s = channel(addr, topic, ch);
            (s.0 == 0 && s.2 == n, s)
        },
    );
}

/// The files of `dir` (name order) with their contents, gzip members decoded.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let raw = std::fs::read(entry.path()).expect("read file");
        let content = if name.ends_with(".gz") {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut plain)
                .unwrap_or_else(|e| panic!("{name}: not complete gzip: {e}"));
            plain
        } else {
            raw
        };
        out.insert(name, content);
    }
    out
}

/// Every line of every file.
fn lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    files
        .values()
        .flat_map(|c| {
            String::from_utf8_lossy(c)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn common_args(nsqd: &Nsqd, topic: &str, channel: &str, out: &Path) -> Vec<String> {
    vec![
        format!("--nsqd-tcp-address={}", nsqd.tcp_addr()),
        format!("--topic={topic}"),
        format!("--channel={channel}"),
        format!("--output-dir={}", out.display()),
        "--host-identifier=host".into(),
        // A name that changes only at the new year: rotation is by size alone.
        "--datetime-format=%Y".into(),
        // No timer syncs: every sync and rotation follows from the messages.
        "--sync-interval=1h".into(),
        "--max-in-flight=50".into(),
    ]
}

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

/// Drains `topic`/`channel` with our nsq_to_file into a fresh dir; its lines.
fn drain(nsqd: &Nsqd, topic: &str, ch: &str, label: &str) -> Vec<String> {
    let out = TempDir::new(label);
    let mut p = spawn(&ours(), &common_args(nsqd, topic, ch, out.path()));
    wait_for(&format!("{topic}/{ch} drained"), SETTLE, || {
        let s = channel(nsqd.http_addr(), topic, ch);
        (s.0 == 0, s)
    });
    let status = stop(&mut p);
    assert!(status.success(), "drain: {status}\n{}", p.output_tail(40));
    assert_eq!(
        channel(nsqd.http_addr(), topic, ch).1,
        0,
        "drain FINished all"
    );
    lines(&files(out.path()))
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Mounts a tmpfs of `size` on a new temp dir; `None` (the caller skips) without root.
fn tmpfs(label: &str, size: &str) -> Option<(TempDir, Unmount)> {
    let dir = TempDir::new(label);
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir.path())
        .output();
    match mounted {
        Ok(o) if o.status.success() => {
            let unmount = Unmount(dir.path().to_path_buf());
            Some((dir, unmount))
        }
        other => {
            eprintln!("SKIP: cannot mount a tmpfs (needs root): {other:?}");
            None
        }
    }
}

/// A full disk is fatal (exit status 1, the same FATAL line as Go's) and loses nothing:
/// what was not synced was not FINished, so nsqd delivers it again.
#[test]
fn full_disk_is_fatal_and_loses_nothing() {
    // nsqd requeues what a gone client held when it times out (as Go nsqd does).
    let (_dir, nsqd) = Nsqd::start_in_temp("ntf-full", &["--msg-timeout=3s"]);
    let topic = "full";
    // About 300 KB of lines for 64 KB of disk.
    let sent: Vec<String> = (0..1500)
        .map(|i| format!("f-{i:05} {}", "z".repeat(190)))
        .collect();
    for ch in ["go", "ours"] {
        create_channel(nsqd.http_addr(), topic, ch);
    }
    publish(nsqd.http_addr(), topic, &sent);
    let mut fatal_lines = Vec::new();
    for (ch, bin) in [("go", go()), ("ours", ours())] {
        // Dropped in reverse: unmounted, then the dir removed.
        let Some((mount, _unmount)) = tmpfs(&format!("ntf-tmpfs-{ch}"), "64k") else {
            return;
        };
        let mut p = spawn(&bin, &common_args(&nsqd, topic, ch, mount.path()));
        let status = p.wait_exit(SETTLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.code(), Some(1), "{ch}: {}", p.output_tail(40));
        let log = p.stderr();
        let fatal = log
            .lines()
            .find(|l| l.contains(" FATAL: "))
            .unwrap_or_else(|| panic!("{ch}: no FATAL line: {log}"));
        assert!(fatal.contains("no space left on device"), "{ch}: {fatal}");
        // `[nsq_to_file] <date> <time> FATAL: ...`, the path made the same.
        let fatal = fatal
            .split_once(" FATAL: ")
            .map(|(_, m)| {
                m.replace(&mount.path().display().to_string(), "<dir>")
                    .replace(&format!("[{topic}/{ch}]"), "[<topic>/<channel>]")
            })
            .unwrap_or_default();
        fatal_lines.push(fatal);
        // The client is gone: what it held times out back into the queue.
        let (depth, ..) = wait_for(&format!("{ch}: in-flight requeued"), SETTLE, || {
            let s = channel(nsqd.http_addr(), topic, ch);
            (s.1 == 0, s)
        });
        assert!(depth > 0, "{ch}: messages remain in nsqd");
        let on_disk = lines(&files(mount.path()));
        let drained = drain(&nsqd, topic, ch, &format!("ntf-full-drain-{ch}"));
        let seen: HashSet<&String> = on_disk.iter().chain(drained.iter()).collect();
        let lost: Vec<&String> = sent.iter().filter(|s| !seen.contains(s)).collect();
        assert!(
            lost.is_empty(),
            "{ch}: {} lost, first {:?}",
            lost.len(),
            lost.first()
        );
    }
    assert_eq!(fatal_lines[0], fatal_lines[1]);
}

/// SIGTERM while messages stream in: the files are complete (every gzip member whole)
/// and every message is in a file or still in nsqd, none in both.
#[test]
fn sigterm_mid_stream_leaves_complete_files() {
    let (_dir, nsqd) = Nsqd::start_in_temp("ntf-term", &[]);
    let topic = "stream";
    create_channel(nsqd.http_addr(), topic, "c");
    let out = TempDir::new("ntf-term-out");
    let mut args = common_args(&nsqd, topic, "c", out.path());
    args.extend(["--gzip".to_string(), "--rotate-size=20000".to_string()]);
    let mut p = spawn(&ours(), &args);
    let stopping = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicUsize::new(0));
    let addr = nsqd.http_addr();
    let publisher = {
        let (stopping, published) = (Arc::clone(&stopping), Arc::clone(&published));
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut round = 0;
            while !stopping.load(Ordering::SeqCst) && round < 400 {
                let batch = bodies(&format!("s{round:03}"), 50);
                publish(addr, topic, &batch);
                published.fetch_add(batch.len(), Ordering::SeqCst);
                all.extend(batch);
                round += 1;
            }
            all
        })
    };
    wait_for("some messages taken", SETTLE, || {
        let s = channel(addr, topic, "c");
        (s.2 >= 1000, s)
    });
    let status = stop(&mut p);
    stopping.store(true, Ordering::SeqCst);
    let sent = publisher.join().expect("publisher");
    assert!(status.success(), "{status}\n{}", p.output_tail(40));
    assert_eq!(channel(addr, topic, "c").1, 0, "nothing left in flight");
    let on_disk = lines(&files(out.path()));
    assert!(!on_disk.is_empty());
    let drained = drain(&nsqd, topic, "c", "ntf-term-drain");
    let mut seen = HashSet::new();
    let dupes: Vec<&String> = on_disk
        .iter()
        .chain(drained.iter())
        .filter(|l| !seen.insert(*l))
        .collect();
    assert!(dupes.is_empty(), "in a file and still in nsqd: {dupes:?}");
    let lost: Vec<&String> = sent.iter().filter(|s| !seen.contains(s)).collect();
    assert!(
        lost.is_empty(),
        "{} lost, first {:?}",
        lost.len(),
        lost.first()
    );
    assert_eq!(seen.len(), sent.len());
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
