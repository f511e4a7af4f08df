//! What the nsq_to_file tests share: the two binaries (ours and Go's), spawning and
//! stopping them, test content published over HTTP, a channel's `/stats`, the output
//! files read back (gzip members decoded), a drain of a channel with our tool, and a
//! small tmpfs for the full-disk case.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nsq_tests::daemon::{reference_bin, workspace_bin};
use nsq_tests::harness::{Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use testkit::{Process, Spec};

/// Failure bound for consuming a test's messages (machine shared with builds).
pub const SETTLE: Duration = Duration::from_secs(60);

pub fn ours() -> PathBuf {
    workspace_bin("nsq_to_file", "NSQ_TO_FILE_BIN")
}

pub fn go() -> PathBuf {
    reference_bin("nsq_to_file", "GO_NSQ_TO_FILE_BIN").expect(
        "Go reference nsq_to_file not found: run `make reference` or set GO_NSQ_TO_FILE_BIN",
    )
}

pub fn spawn(bin: &Path, args: &[String]) -> Process {
    Spec::new(bin)
        .args(args)
        .markers(&[])
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn stop(p: &mut Process) -> ExitStatus {
    p.signal_and_wait("TERM", SETTLE)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `n` lines of different lengths, unique.
pub fn bodies(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}-{i:05} {}", "abcdefghij".repeat(i % 7)))
        .collect()
}

pub fn publish(addr: SocketAddr, topic: &str, bodies: &[String]) {
    for chunk in bodies.chunks(200) {
        let r = http::post(
            addr,
            &format!("/mpub?topic={topic}"),
            chunk.join("\n").as_bytes(),
        );
        assert_eq!(r.status, 200, "mpub: {}", r.text());
    }
}

pub fn create_channel(addr: SocketAddr, topic: &str, channel: &str) {
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
pub fn channel(addr: SocketAddr, topic: &str, channel: &str) -> (i64, i64, i64) {
    let c = http::channel_stats(addr, topic, channel).unwrap_or_default();
    let n = |k: &str| c[k].as_i64().unwrap_or(-1);
    (n("depth"), n("in_flight_count"), n("message_count"))
}

/// Every message of `n` delivered to the channel (held or FINished).
pub fn wait_consumed(addr: SocketAddr, topic: &str, ch: &str, n: i64) {
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
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
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
pub fn lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
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

pub fn common_args(nsqd: &Nsqd, topic: &str, channel: &str, out: &Path) -> Vec<String> {
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

/// Drains `topic`/`channel` with our nsq_to_file into a fresh dir; its lines.
pub fn drain(nsqd: &Nsqd, topic: &str, ch: &str, label: &str) -> Vec<String> {
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

pub struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Mounts a tmpfs of `size` on a new temp dir; `None` (the caller skips) without root.
pub fn tmpfs(label: &str, size: &str) -> Option<(TempDir, Unmount)> {
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
