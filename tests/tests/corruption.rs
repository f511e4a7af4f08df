//! Damaged data dirs: a truncated last data file, a garbage record length mid-file, a
//! missing or garbled disk-queue metadata file, a garbled `nsqd.dat`. Each scenario
//! fills a channel's disk queue (small files, several of them), stops nsqd, damages the
//! dir, restarts and drains: nsqd must start (or refuse with a clear message, never a
//! panic), deliver every message in the undamaged parts, and move a damaged file aside as
//! `<name>.bad` with a log line. Each scenario also runs against Go nsqd v1.3.0 and
//! prints what it did (not asserted: where Go loses data, the test says so).
//!
//! The full-disk scenario is in `disk_full.rs`.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nsq_tests::consumer::{drain_until_empty, Consumer, Tally, DRAIN_RDY};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http::post_ok;
use nsq_tests::publish::mpub_all;

const TOPIC: &str = "t";
const CHANNEL: &str = "c";
/// 130-byte records (4 + 26 + 100): 31 to a file, 200 messages in 7 files.
const ARGS: [&str; 2] = ["--mem-queue-size=0", "--max-bytes-per-file=4096"];
const MESSAGES: usize = 200;

/// What a scenario saw.
#[derive(Debug)]
struct Seen {
    /// Bodies that should have survived but were not delivered.
    kept_but_lost: usize,
    delivered: usize,
    bad_files: Vec<String>,
    /// Log lines about the damage.
    log: Vec<String>,
    panicked: bool,
}

/// The channel's data files in order, each with the bodies of its whole records.
fn channel_files(dir: &Path) -> Vec<(PathBuf, Vec<Vec<u8>>)> {
    queue_files(dir, &format!("{TOPIC}:{CHANNEL}"))
}

/// Bodies in the topic's own queue (Go keeps part of what it got there on shutdown).
fn topic_bodies(dir: &Path) -> HashSet<Vec<u8>> {
    queue_files(dir, TOPIC)
        .into_iter()
        .flat_map(|(_, bodies)| bodies)
        .collect()
}

/// A disk queue's data files in order, each with the bodies of its whole records.
fn queue_files(dir: &Path, queue: &str) -> Vec<(PathBuf, Vec<Vec<u8>>)> {
    let prefix = format!("{queue}.diskqueue.");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list data dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&prefix) && n.ends_with(".dat") && !n.contains("meta")
            })
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let data = fs::read(&p).expect("read data file");
            (
                p,
                records(&data).into_iter().map(|(_, body)| body).collect(),
            )
        })
        .collect()
}

/// (offset, body) of each whole record in a go-diskqueue data file.
fn records(data: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= data.len() {
        let len = u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
        let end = pos + 4 + len as usize;
        if end > data.len() || len < 26 {
            break;
        }
        out.push((pos, data[pos + 4 + 26..end].to_vec()));
        pos = end;
    }
    out
}

fn bodies() -> Vec<Vec<u8>> {
    (0..MESSAGES)
        .map(|i| format!("{i:05}-{}", "x".repeat(94)).into_bytes())
        .collect()
}

/// Fills the channel's disk queue and stops nsqd gracefully.
fn fill(bin: &Path, dir: &Path) {
    let mut nsqd = Nsqd::start(bin, dir, &ARGS);
    post_ok(nsqd.http_addr(), &format!("/topic/create?topic={TOPIC}"));
    post_ok(
        nsqd.http_addr(),
        &format!("/channel/create?topic={TOPIC}&channel={CHANNEL}"),
    );
    mpub_all(nsqd.tcp_addr(), TOPIC, &bodies(), 10);
    nsqd.stop();
}

fn bad_files(dir: &Path) -> Vec<String> {
    let mut bad: Vec<String> = fs::read_dir(dir)
        .expect("list data dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".bad"))
        .collect();
    bad.sort();
    bad
}

fn damage_lines(output: &str) -> Vec<String> {
    const WORDS: [&str; 6] = ["bad", "corrupt", "metadata", "error", "loss", "panic"];
    output
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            WORDS.iter().any(|w| l.contains(w))
        })
        .map(str::to_string)
        .collect()
}

/// Restarts on the damaged dir and drains the channel.
fn restart_and_drain(bin: &Path, dir: &Path, kept: &HashSet<Vec<u8>>) -> Seen {
    let mut nsqd = Nsqd::start(bin, dir, &ARGS);
    // Created if the damage took it away (nsqd.dat); a no-op otherwise.
    let mut consumer = Consumer::subscribe(nsqd.tcp_addr(), TOPIC, CHANNEL, DRAIN_RDY);
    let mut tally = Tally::default();
    drain_until_empty(&mut consumer, &mut tally, nsqd.http_addr(), TOPIC, CHANNEL);
    let output = nsqd.output();
    nsqd.stop();
    Seen {
        kept_but_lost: kept.iter().filter(|b| !tally.contains(b)).count(),
        delivered: tally.unique(),
        bad_files: bad_files(dir),
        log: damage_lines(&output),
        panicked: output.contains("panicked"),
    }
}

/// Runs `scenario` against ours (returned) and Go's nsqd (printed).
fn both(name: &str, scenario: impl Fn(&Path) -> Seen) -> Seen {
    let go = scenario(&go_nsqd_bin());
    println!(
        "{name}: Go nsqd v1.3.0: delivered {}: {go:#?}",
        go.delivered
    );
    let ours = scenario(&nsqd_bin());
    println!("{name}: ours: delivered {}: {ours:#?}", ours.delivered);
    assert!(!ours.panicked, "{name}: nsqd panicked");
    ours
}

/// Fills, lets `damage` change the files and name the bodies that must survive, drains.
fn run(bin: &Path, label: &str, damage: impl Fn(&Path) -> HashSet<Vec<u8>>) -> Seen {
    let dir = TempDir::new(label);
    fill(bin, dir.path());
    let kept = damage(dir.path());
    restart_and_drain(bin, dir.path(), &kept)
}

#[test]
fn truncated_last_data_file_keeps_every_whole_record() {
    let seen = both("truncated last file", |bin| {
        run(bin, "trunc", |dir| {
            let files = channel_files(dir);
            // Go may have kept everything in the topic's queue at shutdown: nothing to cut.
            let Some((last, _)) = files.last() else {
                return topic_bodies(dir);
            };
            let data = fs::read(last).expect("read");
            let cut = data.len() - 50; // inside the last record
            fs::write(last, &data[..cut]).expect("truncate");
            let mut kept = topic_bodies(dir);
            for (path, bodies) in &files {
                let n = if path == last {
                    bodies.len() - 1
                } else {
                    bodies.len()
                };
                kept.extend(bodies[..n].iter().cloned());
            }
            kept
        })
    });
    assert_eq!(seen.kept_but_lost, 0, "{seen:#?}");
    assert_eq!(
        seen.bad_files,
        [format!("{TOPIC}:{CHANNEL}.diskqueue.000006.dat.bad")]
    );
}

#[test]
fn garbage_length_mid_file_moves_that_file_aside_and_keeps_the_rest() {
    let seen = both("garbage length", |bin| {
        run(bin, "garbage", |dir| {
            let files = channel_files(dir);
            let Some((second, _)) = files.get(1) else {
                return files
                    .into_iter()
                    .flat_map(|(_, b)| b)
                    .chain(topic_bodies(dir))
                    .collect();
            };
            let mut data = fs::read(second).expect("read");
            let third = records(&data)[2].0;
            data[third..third + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
            fs::write(second, &data).expect("write");
            let mut kept = topic_bodies(dir);
            for (path, bodies) in &files {
                let n = if path == second { 2 } else { bodies.len() };
                kept.extend(bodies[..n].iter().cloned());
            }
            kept
        })
    });
    assert_eq!(seen.kept_but_lost, 0, "{seen:#?}");
    assert_eq!(
        seen.bad_files,
        [format!("{TOPIC}:{CHANNEL}.diskqueue.000001.dat.bad")]
    );
    assert!(
        seen.log.iter().any(|l| l.contains(".bad")),
        "no log line names the bad file: {:#?}",
        seen.log
    );
}

fn meta_file(dir: &Path) -> PathBuf {
    dir.join(format!("{TOPIC}:{CHANNEL}.diskqueue.meta.dat"))
}

fn all_bodies() -> HashSet<Vec<u8>> {
    bodies().into_iter().collect()
}

#[test]
fn missing_disk_queue_metadata_reads_the_files_found() {
    let seen = both("missing metadata", |bin| {
        run(bin, "nometa", |dir| {
            fs::remove_file(meta_file(dir)).expect("remove metadata");
            all_bodies()
        })
    });
    assert_eq!(seen.kept_but_lost, 0, "{seen:#?}");
    assert!(seen.bad_files.is_empty(), "{seen:#?}");
}

#[test]
fn garbled_disk_queue_metadata_reads_the_files_found() {
    let seen = both("garbled metadata", |bin| {
        run(bin, "badmeta", |dir| {
            fs::write(meta_file(dir), "garbage\n\x00\x01").expect("garble metadata");
            all_bodies()
        })
    });
    assert_eq!(seen.kept_but_lost, 0, "{seen:#?}");
    assert!(
        seen.log.iter().any(|l| l.contains("metadata")),
        "no log line about the metadata: {:#?}",
        seen.log
    );
}

/// Runs `bin` on `dir` expecting it to exit by itself; returns (success, output).
fn run_to_exit(bin: &Path, dir: &Path) -> (bool, String) {
    let mut child = Command::new(bin)
        .args([
            "--tcp-address=127.0.0.1:0".to_string(),
            "--http-address=127.0.0.1:0".to_string(),
            format!("--data-path={}", dir.display()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nsqd");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "nsqd kept running on a garbled nsqd.dat: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn garbled_nsqd_dat_refuses_to_start_clearly_and_loses_nothing() {
    for (who, bin) in [("Go nsqd v1.3.0", go_nsqd_bin()), ("ours", nsqd_bin())] {
        let dir = TempDir::new("baddat");
        fill(&bin, dir.path());
        let dat = dir.path().join("nsqd.dat");
        let good = fs::read(&dat).expect("read nsqd.dat");
        fs::write(&dat, b"{\"topics\":[{\"name\":").expect("garble nsqd.dat");
        let (ok, output) = run_to_exit(&bin, dir.path());
        println!("garbled nsqd.dat: {who}: exit ok={ok}: {output}");
        assert!(!ok, "{who} started on a garbled nsqd.dat");
        assert!(!output.contains("panicked"), "{who} panicked: {output}");
        assert!(
            output.contains("failed to parse metadata"),
            "{who} did not say why: {output}"
        );
        // Nothing was touched: with the file repaired, every message is there.
        fs::write(&dat, good).expect("restore nsqd.dat");
        let seen = restart_and_drain(&bin, dir.path(), &all_bodies());
        assert_eq!(seen.kept_but_lost, 0, "{who}: {seen:#?}");
    }
}
