//! nsq_to_file under faults: a full disk (a small tmpfs, root only; skipped with a
//! message otherwise) is fatal for ours as for Go's, with the same FATAL line, and loses
//! nothing; SIGTERM while messages stream in leaves complete files and every message
//! either in a file or still in nsqd, none in both.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use nsq_tests::harness::Nsqd;
use nsq_tests::harness::TempDir;
use nsq_tests::poll::wait_for;

#[path = "support/nsq_to_file.rs"]
mod support;
use support::*;

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
