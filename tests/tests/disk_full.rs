//! A full disk: nsqd's data dir on a 2 MiB tmpfs (`mount -t tmpfs -o size=2m`; skipped,
//! saying so, where mounting is not permitted, e.g. not root). Publishing into a channel's
//! disk queue until the disk is full must turn PUB into `E_PUB_FAILED` and HTTP `/pub` into
//! Go's error answer, lose nothing that was acknowledged, and work again once space is
//! freed. Also run against Go nsqd v1.3.0, printed for comparison.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nsq_tests::client::{Client, Frame};
use nsq_tests::consumer::{drain_until_empty, Consumer, Tally, DRAIN_RDY};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http::{post, post_ok};

const TOPIC: &str = "full";
const CHANNEL: &str = "c";
const ARGS: [&str; 3] = [
    "--mem-queue-size=0",
    "--sync-every=1",
    "--max-bytes-per-file=262144",
];
/// Space taken before nsqd starts and given back once publishing fails.
const FILLER: usize = 768 * 1024;

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path) -> Result<Mount, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Mount(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// What one daemon did.
#[derive(Debug)]
struct Seen {
    acked: usize,
    tcp_error: String,
    http_status: u16,
    http_body: String,
    acked_after_freeing: usize,
    lost: usize,
}

fn body(i: usize) -> Vec<u8> {
    let mut b = format!("{i:06}-").into_bytes();
    b.resize(8 * 1024, b'x');
    b
}

fn scenario(bin: &Path, data: &Path) -> Seen {
    let filler = data.join("filler");
    fs::write(&filler, vec![0u8; FILLER]).expect("write filler");
    let mut nsqd = Nsqd::start(bin, data, &ARGS);
    post_ok(nsqd.http_addr(), &format!("/topic/create?topic={TOPIC}"));
    post_ok(
        nsqd.http_addr(),
        &format!("/channel/create?topic={TOPIC}&channel={CHANNEL}"),
    );
    let mut acked = Vec::new();
    let mut client = Client::connect(nsqd.tcp_addr());
    let mut tcp_error = String::new();
    // 2 MiB cannot hold 400 bodies of 8 KiB: the disk fills first.
    for i in 0..400 {
        client.pub_(TOPIC, &body(i));
        match client.read_frame() {
            Frame::Response(r) if r == b"OK" => acked.push(body(i)),
            Frame::Error(e) => {
                tcp_error = e;
                break;
            }
            other => panic!("PUB got {other:?}"),
        }
    }
    assert!(!tcp_error.is_empty(), "the disk never filled");
    let response = post(
        nsqd.http_addr(),
        &format!("/pub?topic={TOPIC}"),
        &body(9999),
    );
    fs::remove_file(&filler).expect("free space");
    let mut client = Client::connect(nsqd.tcp_addr());
    let mut acked_after_freeing = 0;
    for i in 1000..1010 {
        client.pub_(TOPIC, &body(i));
        match client.try_read_frame(Duration::from_secs(15)) {
            Ok(Some(Frame::Response(r))) if r == b"OK" => {
                acked.push(body(i));
                acked_after_freeing += 1;
            }
            _ => break,
        }
    }
    let mut consumer = Consumer::subscribe(nsqd.tcp_addr(), TOPIC, CHANNEL, DRAIN_RDY);
    let mut tally = Tally::default();
    drain_until_empty(&mut consumer, &mut tally, nsqd.http_addr(), TOPIC, CHANNEL);
    let output = nsqd.output();
    assert!(!output.contains("panicked"), "nsqd panicked:\n{output}");
    nsqd.stop();
    Seen {
        acked: acked.len(),
        tcp_error,
        http_status: response.status,
        http_body: response.text(),
        acked_after_freeing,
        lost: acked.iter().filter(|b| !tally.contains(b)).count(),
    }
}

#[test]
fn full_disk_fails_publishes_clearly_and_loses_nothing_acked() {
    let base = TempDir::new("diskfull");
    let mut seen = Vec::new();
    for (who, bin) in [("Go nsqd v1.3.0", go_nsqd_bin()), ("ours", nsqd_bin())] {
        let data = base.path().join(who.split(' ').next().unwrap_or("x"));
        fs::create_dir_all(&data).expect("mkdir");
        let _mount = match Mount::tmpfs(&data) {
            Ok(m) => m,
            Err(e) => {
                println!(
                    "SKIP full-disk test: cannot mount a tmpfs here ({e}); CI runs it as root"
                );
                return;
            }
        };
        let s = scenario(&bin, &data);
        println!("full disk: {who}: {s:#?}");
        seen.push(s);
    }
    let (go, ours) = (&seen[0], &seen[1]);
    assert!(ours.acked > 0 && go.acked > 0, "nothing was acknowledged");
    // The client is told why, as by Go ("... no space left on device").
    assert!(
        ours.tcp_error.starts_with("E_PUB_FAILED PUB failed")
            && ours.tcp_error.contains("No space left on device"),
        "{ours:#?}"
    );
    assert_eq!(ours.lost, 0, "acked messages lost: {ours:#?}");
    assert_eq!(
        ours.acked_after_freeing, 10,
        "publishing did not recover: {ours:#?}"
    );
    // HTTP answers as Go's does.
    assert_eq!(
        (ours.http_status, &ours.http_body),
        (go.http_status, &go.http_body)
    );
}
