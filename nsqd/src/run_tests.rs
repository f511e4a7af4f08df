//! nsqd in process: `bind` on port 0, `run` in a task, and a raw V2 client over a real
//! loopback socket within the test process. Publish and subscribe, FIN, REQ, the message
//! timeout, a paused channel, and shutdown writing every queue to disk for the next start.

use crate::config::Config;
use crate::listener::Listener;
use protocol::frame::{FRAME_TYPE_ERROR, FRAME_TYPE_MESSAGE, FRAME_TYPE_RESPONSE};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any one expected frame may take.
const FRAME_DEADLINE: Duration = Duration::from_secs(10);

/// A fresh data directory per test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("nsqd-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One nsqd running in this process.
struct Node {
    tcp: SocketAddr,
    http: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Node {
    async fn start(data: &Path, tweak: impl FnOnce(&mut Config)) -> Node {
        let mut config = Config {
            tcp_address: "127.0.0.1:0".to_string(),
            http_address: String::new(),
            data_path: data.display().to_string(),
            ..Config::default()
        };
        tweak(&mut config);
        let listeners = crate::bind(&config).await.expect("bind");
        let tcp = match &listeners.tcp {
            Listener::Tcp(l) => l.local_addr().expect("tcp addr"),
            Listener::Unix(..) => panic!("TCP listener expected"),
        };
        let http = match &listeners.http {
            Some(Listener::Tcp(l)) => Some(l.local_addr().expect("http addr")),
            _ => None,
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(crate::run(config, listeners, shutdown.clone()));
        Node {
            tcp,
            http,
            shutdown,
            task,
        }
    }

    /// Cancel, and wait for `run` to return (clients gone, queues on disk).
    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run task");
        result.expect("run ends cleanly");
    }

    /// One HTTP/1.1 request; returns the status line and the body.
    async fn http(&self, method: &str, path: &str) -> (String, String) {
        let addr = self.http.expect("HTTP listener");
        let mut s = TcpStream::connect(addr).await.expect("http connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("http write");
        let mut raw = Vec::new();
        tokio::time::timeout(FRAME_DEADLINE, s.read_to_end(&mut raw))
            .await
            .expect("http reply in time")
            .expect("http read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.lines().next().unwrap_or_default().to_string();
        let body = text
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        (status, body)
    }
}

/// A delivered message.
struct Msg {
    id: String,
    attempts: u16,
    body: Vec<u8>,
}

/// A raw V2 client: commands as bytes, frames read back one by one.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(b"  V2").await.expect("magic");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    async fn publish(&mut self, topic: &str, body: &[u8]) {
        let mut cmd = format!("PUB {topic}\n").into_bytes();
        cmd.extend_from_slice(&(body.len() as u32).to_be_bytes());
        cmd.extend_from_slice(body);
        self.send(&cmd).await;
        assert_eq!(self.response().await, b"OK");
    }

    async fn subscribe(&mut self, topic: &str, channel: &str, rdy: u32) {
        self.send(format!("SUB {topic} {channel}\n").as_bytes())
            .await;
        assert_eq!(self.response().await, b"OK");
        self.send(format!("RDY {rdy}\n").as_bytes()).await;
    }

    /// The next frame: (type, data).
    async fn frame(&mut self) -> (u32, Vec<u8>) {
        loop {
            if self.buf.len() >= 8 {
                let size = u32::from_be_bytes(self.buf[0..4].try_into().expect("4")) as usize;
                if self.buf.len() >= 4 + size {
                    let kind = u32::from_be_bytes(self.buf[4..8].try_into().expect("4"));
                    let data = self.buf[8..4 + size].to_vec();
                    self.buf.drain(..4 + size);
                    return (kind, data);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(FRAME_DEADLINE, self.stream.read(&mut chunk))
                .await
                .expect("a frame in time")
                .expect("read");
            assert!(n > 0, "connection closed while a frame was expected");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn response(&mut self) -> Vec<u8> {
        let (kind, data) = self.frame().await;
        assert_eq!(
            kind,
            FRAME_TYPE_RESPONSE,
            "{}",
            String::from_utf8_lossy(&data)
        );
        data
    }

    async fn error(&mut self) -> String {
        let (kind, data) = self.frame().await;
        assert_eq!(kind, FRAME_TYPE_ERROR, "{}", String::from_utf8_lossy(&data));
        String::from_utf8_lossy(&data).into_owned()
    }

    async fn message(&mut self) -> Msg {
        let (kind, data) = self.frame().await;
        assert_eq!(
            kind,
            FRAME_TYPE_MESSAGE,
            "{}",
            String::from_utf8_lossy(&data)
        );
        Msg {
            attempts: u16::from_be_bytes([data[8], data[9]]),
            id: String::from_utf8_lossy(&data[10..26]).into_owned(),
            body: data[26..].to_vec(),
        }
    }

    /// A command that can only fail, and its error: every frame the session wrote before
    /// answering it has been read by the time this returns.
    async fn barrier(&mut self) -> String {
        self.send(b"FIN 0000000000000000\n").await;
        self.error().await
    }
}

#[tokio::test]
async fn publish_then_subscribe_delivers_and_fin_completes() {
    let dir = TempDir::new("pubsub");
    let node = Node::start(&dir.0, |_| {}).await;
    let mut publisher = Client::connect(node.tcp).await;
    // No channel yet: the message waits in the topic until SUB creates one.
    publisher.publish("t", b"hello").await;
    let mut consumer = Client::connect(node.tcp).await;
    consumer.subscribe("t", "c", 1).await;
    let m = consumer.message().await;
    assert_eq!(m.body, b"hello");
    assert_eq!(m.attempts, 1);
    consumer.send(format!("FIN {}\n", m.id).as_bytes()).await;
    // A second FIN of the same ID finds nothing in flight: the first one completed it.
    consumer.send(format!("FIN {}\n", m.id).as_bytes()).await;
    assert_eq!(
        consumer.error().await,
        format!("E_FIN_FAILED FIN {} failed ID not in flight", m.id)
    );
    // Published while subscribed: straight to the channel.
    publisher.publish("t", b"second").await;
    assert_eq!(consumer.message().await.body, b"second");
    node.stop().await;
}

#[tokio::test]
async fn req_redelivers_with_the_next_attempt() {
    let dir = TempDir::new("req");
    let node = Node::start(&dir.0, |_| {}).await;
    let mut consumer = Client::connect(node.tcp).await;
    consumer.subscribe("t", "c", 1).await;
    let mut publisher = Client::connect(node.tcp).await;
    publisher.publish("t", b"again").await;
    let first = consumer.message().await;
    assert_eq!(first.attempts, 1);
    consumer
        .send(format!("REQ {} 0\n", first.id).as_bytes())
        .await;
    let second = consumer.message().await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.body, b"again");
    assert_eq!(second.attempts, 2);
    node.stop().await;
}

#[tokio::test]
async fn message_timeout_redelivers() {
    let dir = TempDir::new("timeout");
    let node = Node::start(&dir.0, |c| c.msg_timeout = Duration::from_millis(200)).await;
    let mut consumer = Client::connect(node.tcp).await;
    consumer.subscribe("t", "c", 1).await;
    let mut publisher = Client::connect(node.tcp).await;
    publisher.publish("t", b"slow").await;
    let first = consumer.message().await;
    // Not FINished: after msg_timeout it is taken back and sent again.
    let second = consumer.message().await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    // The redelivery is this client's to finish (an error would come before the barrier's).
    consumer
        .send(format!("FIN {}\n", second.id).as_bytes())
        .await;
    assert_eq!(
        consumer.barrier().await,
        "E_FIN_FAILED FIN 0000000000000000 failed ID not in flight"
    );
    node.stop().await;
}

#[tokio::test]
async fn paused_channel_holds_messages_until_unpaused() {
    let dir = TempDir::new("pause");
    let node = Node::start(&dir.0, |c| c.http_address = "127.0.0.1:0".to_string()).await;
    let mut consumer = Client::connect(node.tcp).await;
    consumer.subscribe("t", "c", 10).await;
    let (status, _) = node.http("POST", "/channel/pause?topic=t&channel=c").await;
    assert!(status.contains(" 200 "), "{status}");
    let mut publisher = Client::connect(node.tcp).await;
    publisher.publish("t", b"held").await;
    // Two round trips after the publish: a deliverable message would have come first.
    consumer.barrier().await;
    consumer.barrier().await;
    let (_, stats) = node.http("GET", "/stats?format=json&topic=t").await;
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats json");
    let ch = &stats["topics"][0]["channels"][0];
    assert_eq!(ch["paused"], true);
    assert_eq!(ch["depth"], 1);
    let (status, _) = node
        .http("POST", "/channel/unpause?topic=t&channel=c")
        .await;
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(consumer.message().await.body, b"held");
    node.stop().await;
}

#[tokio::test]
async fn shutdown_writes_queues_and_the_next_start_delivers_them() {
    let dir = TempDir::new("restart");
    let node = Node::start(&dir.0, |_| {}).await;
    let mut consumer = Client::connect(node.tcp).await;
    // RDY 0: the channel exists but nothing is delivered.
    consumer.subscribe("t", "c", 0).await;
    let mut publisher = Client::connect(node.tcp).await;
    for body in [&b"one"[..], b"two", b"three"] {
        publisher.publish("t", body).await;
    }
    // A topic without channels keeps its own backlog.
    publisher.publish("lonely", b"waiting").await;
    node.stop().await;
    assert!(dir.0.join("nsqd.dat").exists(), "metadata written");

    let node = Node::start(&dir.0, |_| {}).await;
    let mut consumer = Client::connect(node.tcp).await;
    consumer.subscribe("t", "c", 3).await;
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(consumer.message().await.body);
    }
    assert_eq!(bodies, [&b"one"[..], b"two", b"three"]);
    let mut other = Client::connect(node.tcp).await;
    other.subscribe("lonely", "c", 1).await;
    assert_eq!(other.message().await.body, b"waiting");
    node.stop().await;
}
