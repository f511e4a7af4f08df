//! Small servers inside a test, on 127.0.0.1 port 0: a notification listener that
//! records every HTTP request it receives (for nsqadmin's
//! `--notification-http-endpoint`), fake nsqd nodes that answer garbage or never
//! answer (for nsqadmin's `--nsqd-http-address`), and a scripted server that records
//! every request and answers what the test's function says (a fake graphite for
//! nsqadmin's `--graphite-url`). Each serves on a thread of its own until dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One request received by a [`Listener`].
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers every request 200 (empty body) and hands it to the test.
pub struct Listener {
    addr: SocketAddr,
    received: Receiver<Received>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    pub fn start() -> Listener {
        let (tx, received) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let addr = serve(stop.clone(), move |stream| record(stream, &tx));
        Listener {
            addr,
            received,
            stop,
        }
    }

    /// `http://127.0.0.1:<port>/notify`.
    pub fn url(&self) -> String {
        format!("http://{}/notify", self.addr)
    }

    /// The next request received within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Received> {
        self.received.recv_timeout(timeout).ok()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        stop_server(&self.stop, self.addr);
    }
}

fn record(mut stream: TcpStream, tx: &Sender<Received>) {
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = tx.send(request);
}

/// Reads one request (head and Content-Length body).
fn read_request(stream: &mut TcpStream) -> Option<Received> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

/// How a [`FakeNode`] misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Answers 200 with a body that is not JSON.
    NotJson,
    /// Writes bytes that are not HTTP at all, then closes.
    NotHttp,
    /// Reads the request and never answers (the connection stays open until drop).
    Hang,
}

/// A fake nsqd HTTP listener.
pub struct FakeNode {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections held open by [`Misbehaviour::Hang`].
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl FakeNode {
    pub fn start(how: Misbehaviour) -> FakeNode {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        let addr = serve(stop.clone(), move |mut stream| {
            let _ = read_request(&mut stream);
            match how {
                Misbehaviour::NotJson => {
                    let body = "this is not json";
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                Misbehaviour::NotHttp => {
                    let _ = stream.write_all(b"garbage garbage garbage\r\n\r\n");
                }
                Misbehaviour::Hang => {
                    if let Ok(mut h) = keep.lock() {
                        h.push(stream);
                    }
                }
            }
        });
        FakeNode { addr, stop, held }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        if let Ok(mut h) = self.held.lock() {
            h.clear();
        }
        stop_server(&self.stop, self.addr);
    }
}

/// What a [`Scripted`] server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answers `status` with this `Content-Type` and body, then closes.
    Answer {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Never answers (the connection stays open until drop).
    Hang,
}

/// Records every request and answers each with `script(&request)`.
pub struct Scripted {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Scripted {
    pub fn start(script: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Scripted {
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (keep, log, script) = (held.clone(), received.clone(), Arc::new(script));
        let addr = serve(stop.clone(), move |mut stream| {
            let Some(request) = read_request(&mut stream) else {
                return;
            };
            let reply = script(&request);
            if let Ok(mut log) = log.lock() {
                log.push(request);
            }
            match reply {
                Reply::Answer {
                    status,
                    content_type,
                    body,
                } => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        reason(status),
                        body.len()
                    );
                }
                Reply::Hang => {
                    if let Ok(mut h) = keep.lock() {
                        h.push(stream);
                    }
                }
            }
        });
        Scripted {
            addr,
            received,
            stop,
            held,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        if let Ok(mut r) = self.received.lock() {
            r.clear();
        }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Ok(mut h) = self.held.lock() {
            h.clear();
        }
        stop_server(&self.stop, self.addr);
    }
}

/// The reason phrase for the statuses the scripts use.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Binds 127.0.0.1:0 and runs `handle` for each connection on a thread of its own.
fn serve(
    stop: Arc<AtomicBool>,
    handle: impl Fn(TcpStream) + Send + Sync + Clone + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            if let Ok(stream) = stream {
                let handle = handle.clone();
                thread::spawn(move || handle(stream));
            }
        }
    });
    addr
}

/// Makes the accept loop of the server at `addr` return.
fn stop_server(stop: &AtomicBool, addr: SocketAddr) {
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
}
