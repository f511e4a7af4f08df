//! nsqadmin's graphite endpoints, ours against Go nsqadmin v1.3.0, each with a fake
//! graphite of its own (a scripted server on port 0 that records every request):
//! `GET /api/graphite?metric=rate&target=...` (the rate with two decimals =
//! value/interval, `N/A` for a negative value, `INVALID_ARG_METRIC`,
//! `INVALID_ARG_TARGET`, 500 `INTERNAL_ERROR` when graphite answers garbage, a 500,
//! a null or no datapoint, or hangs past `--http-client-request-timeout`) and the
//! `--proxy-graphite` `GET /render` reverse proxy (same path and query upstream, the
//! graphite URL's `user:pass` as basic auth, the client's headers passed along, the
//! answer passed back; 502 when graphite hangs); without `--proxy-graphite`, `/render`
//! is 404. Besides the answers, what each fake graphite received must be the same: the
//! `/render?format=json&from=-<2*interval>sec&target=...&until=-<interval>sec` query
//! ours sends equals Go's.
//!
//! Binaries: ours `$NSQADMIN_BIN`, Go's `$GO_NSQADMIN_BIN` (else
//! `tests/reference/bin/nsqadmin`); the lookupd is `$NSQLOOKUPD_BIN`.

use nsq_tests::admin_norm::exact;
use nsq_tests::cluster::Cluster;
use nsq_tests::fake_http::{Received, Reply, Scripted};
use nsq_tests::nsqadmin::{message_of, Pair, Req};
use nsq_tests::ordered_json::Json;

/// `user:pass` in base64, as basic auth sends it.
const USER_PASS_BASIC: &str = "Basic dXNlcjpwYXNz";

/// Render JSON with `value` as the first datapoint (JSON text) and a null after it.
fn render_json(target: &str, value: &str) -> String {
    format!(r#"[{{"target":"{target}","datapoints":[[{value}, 1700000000],[null, 1700000060]]}}]"#)
}

/// The fake graphite's answer, chosen by the keyword in the request's target.
fn script(r: &Received) -> Reply {
    let json = |body: String| Reply::Answer {
        status: 200,
        content_type: "application/json".into(),
        body,
    };
    let path = r.path.as_str();
    let has = |k: &str| path.contains(k);
    if has("rate_ok") {
        json(render_json("rate_ok", "12.5"))
    } else if has("rate_tie") {
        // 10.5/4 = 2.625 exactly: the two-decimal rounding of a tie.
        json(render_json("rate_tie", "10.5"))
    } else if has("rate_int") {
        json(render_json("rate_int", "9"))
    } else if has("rate_zero") {
        json(render_json("rate_zero", "0"))
    } else if has("rate_negative") {
        json(render_json("rate_negative", "-3"))
    } else if has("rate_null") {
        json(r#"[{"target":"rate_null","datapoints":[[null, 1700000000]]}]"#.into())
    } else if has("rate_empty") {
        json("[]".into())
    } else if has("rate_garbage") {
        Reply::Answer {
            status: 200,
            content_type: "text/plain".into(),
            body: "this is not json".into(),
        }
    } else if has("rate_fail") {
        Reply::Answer {
            status: 500,
            content_type: "text/plain; charset=utf-8".into(),
            body: "graphite exploded\n".into(),
        }
    } else if has("rate_hang") {
        Reply::Hang
    } else {
        Reply::Answer {
            status: 404,
            content_type: "text/plain".into(),
            body: "no such target\n".into(),
        }
    }
}

/// Ours and Go's, each with its own fake graphite.
struct Fixture {
    pair: Pair,
    ours_graphite: Scripted,
    go_graphite: Scripted,
    _cluster: Cluster,
}

/// Both nsqadmins on one lookupd with `--graphite-url=http://<userinfo><fake>`,
/// `--statsd-interval=<interval>`, a 1 s request timeout (for the hang), and `extra`.
fn fixture(userinfo: &str, interval: &str, extra: &[&str]) -> Fixture {
    let cluster = Cluster::start(1, 0);
    let (ours_graphite, go_graphite) = (Scripted::start(script), Scripted::start(script));
    let args = |g: &Scripted| {
        let mut a = cluster.lookupd_args();
        a.push(format!("--graphite-url=http://{userinfo}{}", g.addr()));
        a.push(format!("--statsd-interval={interval}"));
        a.push("--http-client-request-timeout=1s".into());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let pair = Pair::start_each(&args(&ours_graphite), &args(&go_graphite));
    Fixture {
        pair,
        ours_graphite,
        go_graphite,
        _cluster: cluster,
    }
}

impl Fixture {
    /// Sends `req` to both, requires the same answer; returns ours (JSON, if any) and
    /// what each graphite received for it (ours, Go's).
    #[track_caller]
    fn compare(&self, req: &Req) -> (Option<Json>, Vec<Received>, Vec<Received>) {
        self.ours_graphite.clear();
        self.go_graphite.clear();
        let ours = self.pair.compare(req, &exact);
        (
            ours,
            self.ours_graphite.received(),
            self.go_graphite.received(),
        )
    }

    /// [`Fixture::compare`] for a request graphite must receive exactly once; returns
    /// ours and the request each graphite received.
    #[track_caller]
    fn compare_one(&self, req: &Req) -> (Option<Json>, Received, Received) {
        let (ours, o, g) = self.compare(req);
        assert_eq!(
            (o.len(), g.len()),
            (1, 1),
            "{}: graphite requests\nours: {o:?}\nGo:   {g:?}",
            req.path
        );
        (ours, o[0].clone(), g[0].clone())
    }

    /// `/api/graphite?metric=rate&target=<target>` must answer 200 `{"rate":"<rate>"}`
    /// for both, and both graphites must have received `/render?...&target=<escaped>`
    /// with the same headers.
    #[track_caller]
    fn rate(&self, target_query: &str, escaped: &str, from: u64, until: u64, rate: &str) {
        let req = Req::get(&format!("/api/graphite?metric=rate&target={target_query}"));
        let (ours, o, g) = self.compare_one(&req);
        let ours = ours.unwrap_or_else(|| panic!("{}: not JSON", req.path));
        assert_eq!(ours.pretty(), json_rate(rate).pretty(), "{}", req.path);
        let want =
            format!("/render?format=json&from=-{from}sec&target={escaped}&until=-{until}sec");
        assert_eq!(go_request_line(&g), ("GET".into(), want), "Go's");
        assert_same_request(&o, &g, &["Accept", "Authorization"]);
    }

    /// `/api/graphite?...` must answer `status` with `message` for both.
    #[track_caller]
    fn rate_error(&self, query: &str, status: u16, message: &str, graphite_asked: bool) {
        let req = Req::get(&format!("/api/graphite{query}"));
        let (_, o, g) = self.compare(&req);
        let (ours, _) = self.pair.both(&req);
        assert_eq!((ours.status, message_of(&ours)), (status, message.into()));
        let asked = usize::from(graphite_asked);
        assert_eq!((o.len(), g.len()), (asked, asked), "{query}");
        if graphite_asked {
            assert_same_request(&o[0], &g[0], &["Accept", "Authorization"]);
            assert_eq!(o[0].path, g[0].path);
        }
    }
}

fn json_rate(rate: &str) -> Json {
    Json::parse(&format!(r#"{{"rate":"{rate}"}}"#)).expect("rate JSON")
}

fn go_request_line(r: &Received) -> (String, String) {
    (r.method.clone(), r.path.clone())
}

/// The same method, path and values of `headers` (absent counts).
#[track_caller]
fn assert_same_request(ours: &Received, go: &Received, headers: &[&str]) {
    assert_eq!(
        go_request_line(ours),
        go_request_line(go),
        "request line\nours: {ours:?}\nGo:   {go:?}"
    );
    for h in headers {
        assert_eq!(
            ours.header(h),
            go.header(h),
            "header {h}\nours: {ours:?}\nGo:   {go:?}"
        );
    }
}

#[test]
fn api_graphite_rate_matches_go() {
    let f = fixture("", "4s", &[]);
    f.rate("rate_ok", "rate_ok", 8, 4, "3.12");
    f.rate("rate_tie", "rate_tie", 8, 4, "2.62");
    f.rate("rate_int", "rate_int", 8, 4, "2.25");
    // The target is query-escaped as Go's url.Values.Encode does.
    f.rate(
        "sumSeries(stats.rate_ok.*)%20%2Fx%27y%27~%2B",
        "sumSeries%28stats.rate_ok.%2A%29+%2Fx%27y%27~%2B",
        8,
        4,
        "3.12",
    );
    f.rate("rate_negative", "rate_negative", 8, 4, "N/A");
    let (_, o, g) = f.compare_one(&Req::get("/api/graphite?metric=rate&target=rate_ok"));
    assert_eq!(o.header("Authorization"), None);
    assert_eq!(g.header("Authorization"), None);
    assert_eq!(
        g.header("Accept"),
        Some("application/vnd.nsq; version=1.0"),
        "{g:?}"
    );

    // Bad arguments: graphite is never asked.
    f.rate_error("", 400, "INVALID_ARG_METRIC", false);
    f.rate_error("?target=rate_ok", 400, "INVALID_ARG_METRIC", false);
    f.rate_error(
        "?metric=count&target=rate_ok",
        400,
        "INVALID_ARG_METRIC",
        false,
    );
    f.rate_error("?metric=rate", 400, "INVALID_ARG_TARGET", false);
    // An empty target is still a target (graphite then answers 404).
    f.rate_error("?metric=rate&target=", 500, "INTERNAL_ERROR", true);
    // Upstream failures (Go: decode error, non-200, nil datapoint or empty array
    // panic caught by the router, request timeout).
    for target in [
        "rate_garbage",
        "rate_fail",
        "rate_null",
        "rate_empty",
        "rate_hang",
        "unknown",
    ] {
        f.rate_error(
            &format!("?metric=rate&target={target}"),
            500,
            "INTERNAL_ERROR",
            true,
        );
    }
}

#[test]
fn api_graphite_uses_whole_seconds_and_url_credentials_like_go() {
    // Go divides the interval by time.Second: `from` is 2*interval truncated (1500ms:
    // -3sec), `until` and the divisor the interval truncated; below one second the
    // divisor is 0 (`+Inf`, `NaN` for 0/0).
    let f = fixture("user:pass@", "1500ms", &["--proxy-graphite"]);
    f.rate("rate_ok", "rate_ok", 3, 1, "12.50");
    f.rate("rate_zero", "rate_zero", 3, 1, "0.00");
    let (_, o, g) = f.compare_one(&Req::get("/api/graphite?metric=rate&target=rate_ok"));
    assert_eq!(g.header("Authorization"), Some(USER_PASS_BASIC), "{g:?}");
    assert_eq!(o.header("Authorization"), Some(USER_PASS_BASIC), "{o:?}");
    let f = fixture("", "500ms", &[]);
    f.rate("rate_ok", "rate_ok", 1, 0, "+Inf");
    f.rate("rate_zero", "rate_zero", 1, 0, "NaN");
}

#[test]
fn render_is_proxied_like_go() {
    let f = fixture("user:pass@", "10s", &["--proxy-graphite"]);
    let path = "/render?target=sumSeries(stats.rate_ok.*)&format=json&from=-2h&until=-10sec";
    let (_, o, g) = f.compare_one(
        &Req::get(path)
            .header("X-Test", "kept")
            .header("Accept", "image/png,*/*;q=0.8"),
    );
    let (ours, _) = f.pair.both(&Req::get(path));
    assert_eq!(ours.status, 200);
    assert_eq!(ours.text(), render_json("rate_ok", "12.5"));
    assert_eq!(g.path, path, "Go's");
    assert_same_request(&o, &g, &["Authorization", "X-Test", "User-Agent", "Accept"]);
    assert_eq!(g.header("Authorization"), Some(USER_PASS_BASIC), "{g:?}");
    assert_forwarded_for(&o, &g);
    // The graphite URL's credentials replace the client's own; the client's address
    // is appended to its X-Forwarded-For; hop-by-hop headers (and those the client
    // names in Connection) stay behind.
    let (_, o, g) = f.compare_one(
        &Req::get(path)
            .header("Authorization", "Basic Y2xpZW50Og==")
            .header("X-Forwarded-For", "10.0.0.1")
            .header("Connection", "X-Drop")
            .header("X-Drop", "1")
            .header("Keep-Alive", "timeout=5")
            .header("Proxy-Authorization", "Basic eDp5"),
    );
    let hop = ["Connection", "X-Drop", "Keep-Alive", "Proxy-Authorization"];
    assert_same_request(&o, &g, &hop);
    assert_same_request(&o, &g, &["Authorization", "X-Forwarded-For"]);
    assert_eq!(o.header("Authorization"), Some(USER_PASS_BASIC), "{o:?}");
    assert_eq!(o.header("X-Forwarded-For"), Some("10.0.0.1, 127.0.0.1"));
    for h in hop {
        assert_eq!(o.header(h), None, "{h}: {o:?}");
    }
    // The query goes upstream as received (Go: byte for byte; ours percent-encodes
    // `'` as the url crate does, which graphite decodes the same).
    let (_, mut o, g) = f.compare_one(&Req::get("/render?target=alias(rate_ok,'a%20b')&x=%22y%22"));
    o.path = o.path.replace("%27", "'");
    assert_eq!(g.path, "/render?target=alias(rate_ok,'a%20b')&x=%22y%22");
    assert_same_request(&o, &g, &["Authorization", "Content-Length"]);
    // The Host graphite sees is the one the client sent nsqadmin.
    assert_eq!(
        g.header("Host"),
        Some(f.pair.go.addr().to_string().as_str())
    );
    assert_eq!(
        o.header("Host"),
        Some(f.pair.ours.addr().to_string().as_str())
    );

    // Graphite's own errors pass through; a hang is a 502 with an empty body.
    for target in ["rate_fail", "unknown", "rate_garbage"] {
        f.compare_one(&Req::get(&format!("/render?target={target}")));
    }
    let (ours, _) = f.pair.both(&Req::get("/render?target=rate_fail"));
    assert_eq!(
        (ours.status, ours.text()),
        (500, "graphite exploded\n".into())
    );
    let (_, o, g) = f.compare(&Req::get("/render?target=rate_hang"));
    assert_eq!((o.len(), g.len()), (1, 1));
    let (ours, _) = f.pair.both(&Req::get("/render?target=rate_ok&format=png"));
    assert_eq!(ours.status, 200);
    // Only GET, only /render.
    for req in [
        Req::post("/render?target=rate_ok", ""),
        Req::get("/render/x?target=rate_ok"),
    ] {
        let (_, o, g) = f.compare(&req);
        assert_eq!((o.len(), g.len()), (0, 0), "{}", req.path);
    }
}

/// Go's reverse proxy adds the client's address as `X-Forwarded-For`.
#[track_caller]
fn assert_forwarded_for(ours: &Received, go: &Received) {
    assert_eq!(go.header("X-Forwarded-For"), Some("127.0.0.1"), "{go:?}");
    assert_eq!(
        ours.header("X-Forwarded-For"),
        Some("127.0.0.1"),
        "{ours:?}"
    );
}

#[test]
fn render_without_proxy_graphite_is_not_found() {
    let f = fixture("user:pass@", "10s", &[]);
    for req in [
        Req::get("/render?target=rate_ok&format=json"),
        Req::get("/render"),
        Req::post("/render", ""),
    ] {
        let (_, o, g) = f.compare(&req);
        assert_eq!((o.len(), g.len()), (0, 0), "{}", req.path);
        let (ours, _) = f.pair.both(&req);
        assert_eq!(ours.status, 404, "{}: {ours:?}", req.path);
    }
    // /api/graphite does not need the proxy.
    f.rate("rate_ok", "rate_ok", 20, 10, "1.25");
}
