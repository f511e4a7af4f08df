//! nsqd on unix sockets (an address that is not `host:port` is a socket
//! path): V2 over the TCP-listener socket (PUB, SUB, delivery), HTTP over the other one
//! (`/ping`, `/info` ports -1), and a clean SIGTERM that exits 0 and removes the socket
//! files.
//!
//! Passes against the Go reference too (`NSQD_BIN=tests/reference/bin/nsqd`).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nsq_tests::harness::{nsqd_bin, TempDir};

const WAIT: Duration = Duration::from_secs(20);

fn wait_for_socket(path: &Path) {
    let deadline = Instant::now() + WAIT;
    while UnixStream::connect(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never accepted a connection",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_frame(s: &mut UnixStream) -> (u32, Vec<u8>) {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).expect("frame size");
    let mut data = vec![0u8; u32::from_be_bytes(size) as usize];
    s.read_exact(&mut data).expect("frame data");
    let frame_type = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    (frame_type, data[4..].to_vec())
}

fn http_get(path: &Path, target: &str) -> String {
    let mut s = UnixStream::connect(path).expect("connect http socket");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(s, "GET {target} HTTP/1.0\r\nHost: nsqd\r\n\r\n").expect("request");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reply");
    reply
}

#[test]
fn nsqd_serves_tcp_protocol_and_http_on_unix_sockets() {
    let dir = TempDir::new("unix");
    let tcp = dir.path().join("nsqd-tcp.sock");
    let http = dir.path().join("nsqd-http.sock");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut child = Command::new(nsqd_bin())
        .arg(format!("--tcp-address={}", tcp.display()))
        .arg(format!("--http-address={}", http.display()))
        .arg(format!("--data-path={}", data.display()))
        .stderr(Stdio::null())
        .spawn()
        .expect("start nsqd");
    wait_for_socket(&tcp);
    wait_for_socket(&http);

    let ping = http_get(&http, "/ping");
    assert!(
        ping.starts_with("HTTP/1.") && ping.contains(" 200 ") && ping.ends_with("OK"),
        "{ping}"
    );
    let info = http_get(&http, "/info");
    let body = info.split("\r\n\r\n").nth(1).expect("body");
    let info: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(info["tcp_port"], -1, "{info}");
    assert_eq!(info["http_port"], -1, "{info}");

    let mut c = UnixStream::connect(&tcp).expect("connect");
    c.set_read_timeout(Some(WAIT)).expect("timeout");
    c.write_all(b"  V2SUB unix c\nRDY 1\nPUB unix\n\x00\x00\x00\x05hello")
        .expect("write");
    assert_eq!(read_frame(&mut c), (0, b"OK".to_vec()), "SUB");
    // The PUB's OK and the message may come in either order.
    let frames = [read_frame(&mut c), read_frame(&mut c)];
    assert!(frames.contains(&(0, b"OK".to_vec())), "{frames:?}");
    let msg = frames.iter().find(|f| f.0 == 2).expect("a message frame");
    assert_eq!(&msg.1[26..], b"hello");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "nsqd did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    // The socket files go with the process, so the same paths can be bound again.
    assert!(!tcp.exists() && !http.exists(), "socket files left behind");
}
