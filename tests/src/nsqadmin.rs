//! nsqadmin under test and the Go reference side by side: which binaries
//! (`$NSQADMIN_BIN`, else `nsqadmin` beside the test executable; `$GO_NSQADMIN_BIN`,
//! else `tests/reference/bin/nsqadmin` from `make reference`), starting one on
//! 127.0.0.1 port 0 (it has only an HTTP listener), requests with custom headers, and a
//! [`Pair`] that sends each request to both at the same moment and requires the same
//! status, content type, `Allow` header and JSON (keys in order, values after the
//! caller's normalisation, see `admin_norm`).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread;

use testkit::{Process, Spec, HTTP_MARKER};

use crate::daemon::{is_go_build, reference_bin, workspace_bin};
use crate::http::{send_raw, Response};
use crate::ordered_json::Json;

/// The nsqadmin under test.
pub fn nsqadmin_bin() -> PathBuf {
    workspace_bin("nsqadmin", "NSQADMIN_BIN")
}

/// The Go reference nsqadmin v1.3.0. Missing is a failure: `make test` builds it.
pub fn go_nsqadmin_bin() -> PathBuf {
    reference_bin("nsqadmin", "GO_NSQADMIN_BIN")
        .expect("Go reference nsqadmin not found: run `make reference` or set GO_NSQADMIN_BIN")
}

/// True when the nsqadmin under test is a Go build (the suite checking itself against
/// the reference): the few tests of places where Go crashes are then skipped.
pub fn ours_is_go() -> bool {
    static GO: OnceLock<bool> = OnceLock::new();
    *GO.get_or_init(|| is_go_build(&nsqadmin_bin()))
}

/// One HTTP request to nsqadmin.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: &str, path: &str, body: &[u8]) -> Req {
        Req {
            method: method.to_string(),
            path: path.to_string(),
            body: body.to_vec(),
            headers: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Req {
        Req::new("GET", path, b"")
    }

    pub fn post(path: &str, body: &str) -> Req {
        Req::new("POST", path, body.as_bytes())
    }

    pub fn delete(path: &str, body: &str) -> Req {
        Req::new("DELETE", path, body.as_bytes())
    }

    pub fn put(path: &str, body: &str) -> Req {
        Req::new("PUT", path, body.as_bytes())
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sends it to `addr` (one connection, `Connection: close`).
    pub fn send(&self, addr: SocketAddr) -> io::Result<Response> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: nsq-tests\r\n\
             Content-Length: {}\r\n",
            self.method,
            self.path,
            self.body.len()
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&self.body);
        send_raw(addr, &raw)
    }
}

/// A running nsqadmin.
pub struct Admin(Process);

impl Admin {
    /// Starts `bin --http-address=127.0.0.1:0 args...` and waits for `/ping`.
    pub fn start<S: AsRef<str>>(bin: &std::path::Path, args: &[S]) -> Admin {
        let spec = Spec::new(bin)
            .args(["--http-address=127.0.0.1:0"])
            .args(args.iter().map(|a| a.as_ref()))
            .markers(&[HTTP_MARKER]);
        Admin(spec.start().unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn addr(&self) -> SocketAddr {
        self.0
            .addr(HTTP_MARKER)
            .expect("waited for the HTTP marker")
    }

    /// Sends `req`; an I/O error (no answer, reset) fails the test.
    pub fn send(&self, req: &Req) -> Response {
        req.send(self.addr())
            .unwrap_or_else(|e| panic!("{} {} to {}: {e}", req.method, req.path, self.label()))
    }

    pub fn label(&self) -> String {
        self.0.label().to_string()
    }

    pub fn output(&self) -> String {
        self.0.output()
    }

    /// True while the process is running.
    pub fn alive(&mut self) -> bool {
        self.0.try_exit().ok().flatten().is_none()
    }
}

/// Ours and Go's nsqadmin started with the same arguments.
pub struct Pair {
    pub ours: Admin,
    pub go: Admin,
}

impl Pair {
    pub fn start<S: AsRef<str> + Sync>(args: &[S]) -> Pair {
        Pair::start_each(args, args)
    }

    /// Ours with `ours_args`, Go's with `go_args` (twin clusters, own listeners).
    pub fn start_each<S: AsRef<str> + Sync>(ours_args: &[S], go_args: &[S]) -> Pair {
        let (ours, go) = thread::scope(|s| {
            let go = s.spawn(|| Admin::start(&go_nsqadmin_bin(), go_args));
            let ours = Admin::start(&nsqadmin_bin(), ours_args);
            (ours, go.join().expect("start Go nsqadmin"))
        });
        Pair { ours, go }
    }

    /// Sends `req` to both at the same moment; returns (ours, Go's).
    pub fn both(&self, req: &Req) -> (Response, Response) {
        thread::scope(|s| {
            let go = s.spawn(|| self.go.send(req));
            let ours = self.ours.send(req);
            (ours, go.join().expect("request to Go nsqadmin"))
        })
    }

    /// [`Pair::both`] then [`assert_same`]; returns ours, normalised (JSON) or `None`.
    #[track_caller]
    pub fn compare(&self, req: &Req, norm: &dyn Fn(&mut Json)) -> Option<Json> {
        let (ours, go) = self.both(req);
        assert_same(&format!("{} {}", req.method, req.path), &ours, &go, norm)
    }
}

/// Requires the same status, `Content-Type`, `X-NSQ-Content-Type`, `Allow` and
/// `Location`, and the
/// same body: for JSON, the same tree (keys in order) once `norm` has run on both; else
/// the same bytes. Returns ours, normalised, when it is JSON.
#[track_caller]
pub fn assert_same(
    what: &str,
    ours: &Response,
    go: &Response,
    norm: &dyn Fn(&mut Json),
) -> Option<Json> {
    let context = || format!("{what}\nours: {ours:?}\nGo:   {go:?}");
    assert_eq!(ours.status, go.status, "status differs: {}", context());
    for header in ["Content-Type", "X-NSQ-Content-Type", "Allow", "Location"] {
        assert_eq!(
            ours.header(header),
            go.header(header),
            "{header} differs: {}",
            context()
        );
    }
    let is_json = go
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("application/json"));
    if !is_json {
        assert_eq!(ours.text(), go.text(), "body differs: {}", context());
        return None;
    }
    let parse = |r: &Response, who: &str| {
        Json::parse(&r.text())
            .unwrap_or_else(|e| panic!("{who} body is not JSON ({e}): {}", context()))
    };
    let (mut o, mut g) = (parse(ours, "ours"), parse(go, "Go's"));
    norm(&mut o);
    norm(&mut g);
    assert!(
        o == g,
        "{what}: JSON differs (after normalisation)\nours: {}\nGo:   {}",
        o.pretty(),
        g.pretty()
    );
    Some(o)
}

/// Parses a response body that must be JSON.
#[track_caller]
pub fn json_of(r: &Response) -> Json {
    Json::parse(&r.text()).unwrap_or_else(|e| panic!("not JSON ({e}): {r:?}"))
}

/// The `message` field of a JSON response.
#[track_caller]
pub fn message_of(r: &Response) -> String {
    json_of(r)
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("no message: {r:?}"))
        .to_string()
}
