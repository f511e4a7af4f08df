//! nsqlookupd under test: which binary (`$NSQLOOKUPD_BIN`, else `nsqlookupd` beside the
//! test executable; point it at `tests/reference/bin/nsqlookupd` to check the suite
//! against Go), starting it on port 0, and a blocking V1 TCP client speaking as nsqd does
//! (`"  V1"`, command lines, length-prefixed responses), its bytes from `protocol::lookup`.

use bytes::BytesMut;
use protocol::lookup;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::daemon::{is_go_build, workspace_bin, Daemon};

/// Failure bound for one expected response or close.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The nsqlookupd under test.
pub fn nsqlookupd_bin() -> PathBuf {
    workspace_bin("nsqlookupd", "NSQLOOKUPD_BIN")
}

/// True when the nsqlookupd under test is the Go reference (for the few documented
/// places where ours deliberately differs).
pub fn is_reference() -> bool {
    static GO: OnceLock<bool> = OnceLock::new();
    *GO.get_or_init(|| is_go_build(&nsqlookupd_bin()))
}

/// Starts the nsqlookupd under test on 127.0.0.1 port 0, plus `extra_args`.
pub fn start(extra_args: &[&str]) -> Daemon {
    let mut args = vec!["--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0"];
    args.extend_from_slice(extra_args);
    Daemon::start(&nsqlookupd_bin(), &args)
}

/// What nsqd sends in IDENTIFY (v1.3.0 keys).
pub fn identify_body(broadcast: &str, tcp_port: u16, http_port: u16) -> serde_json::Value {
    serde_json::json!({
        "broadcast_address": broadcast,
        "hostname": format!("{broadcast}.example"),
        "http_port": http_port,
        "tcp_port": tcp_port,
        "version": "1.3.0",
    })
}

/// A V1 connection.
pub struct LookupClient {
    stream: TcpStream,
    /// Bytes read but not yet taken as a response.
    buf: BytesMut,
}

impl LookupClient {
    /// Connects and sends the `"  V1"` magic.
    pub fn connect(addr: SocketAddr) -> LookupClient {
        let mut c = LookupClient::connect_raw(addr);
        c.send(lookup::MAGIC_V1);
        c
    }

    /// Connects without sending anything.
    pub fn connect_raw(addr: SocketAddr) -> LookupClient {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set read timeout");
        stream.set_nodelay(true).expect("nodelay");
        LookupClient {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// The client's address: the peer id nsqlookupd shows as `remote_address`.
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local_addr")
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to nsqlookupd");
    }

    /// Half-closes: nsqlookupd sees end of input.
    pub fn shutdown_write(&mut self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown write");
    }

    /// `IDENTIFY` with `json`; returns the response data (reply JSON or error text).
    pub fn identify(&mut self, json: &serde_json::Value) -> Vec<u8> {
        self.identify_raw(json.to_string().as_bytes())
    }

    pub fn identify_raw(&mut self, body: &[u8]) -> Vec<u8> {
        self.send(&lookup::identify(body));
        self.read_response()
    }

    /// Connects and identifies as nsqd `broadcast` with these ports; returns the client.
    pub fn identified(addr: SocketAddr, broadcast: &str, tcp: u16, http: u16) -> LookupClient {
        let mut c = LookupClient::connect(addr);
        let reply = c.identify(&identify_body(broadcast, tcp, http));
        assert!(
            reply.starts_with(b"{"),
            "IDENTIFY failed: {}",
            String::from_utf8_lossy(&reply)
        );
        c
    }

    /// `REGISTER topic [channel]`, requiring `OK`.
    pub fn register(&mut self, topic: &str, channel: Option<&str>) {
        self.send(&lookup::register(topic, channel));
        self.expect_ok();
    }

    /// `UNREGISTER topic [channel]`, requiring `OK`.
    pub fn unregister(&mut self, topic: &str, channel: Option<&str>) {
        self.send(&lookup::unregister(topic, channel));
        self.expect_ok();
    }

    pub fn ping(&mut self) {
        self.send(lookup::PING);
        self.expect_ok();
    }

    /// The next response's data; panics on timeout or close.
    pub fn read_response(&mut self) -> Vec<u8> {
        match self.try_read_response() {
            Ok(Some(data)) => data,
            Ok(None) => panic!("connection closed while a response was expected"),
            Err(e) => panic!("no response from nsqlookupd: {e}"),
        }
    }

    /// The next response, `Ok(None)` if the connection closed cleanly before one began.
    pub fn try_read_response(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(data) = lookup::read_response(&mut self.buf) {
                return Ok(Some(data.to_vec()));
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk)? {
                0 if self.buf.is_empty() => return Ok(None),
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    #[track_caller]
    pub fn expect_ok(&mut self) {
        let data = self.read_response();
        assert_eq!(String::from_utf8_lossy(&data), "OK");
    }

    /// Requires exactly the error response `text`, then the connection closing.
    #[track_caller]
    pub fn expect_fatal(&mut self, text: &str) {
        let data = self.read_response();
        assert_eq!(String::from_utf8_lossy(&data), text);
        self.expect_closed();
    }

    /// Requires end of stream (or a reset) with no further data.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "expected the connection to close, got data"
        );
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(_) => panic!("expected the connection to close, got data"),
            Err(e) => panic!("expected the connection to close: {e}"),
        }
    }
}
