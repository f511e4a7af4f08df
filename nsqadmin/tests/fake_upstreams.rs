//! nsqadmin in-process against fake nsqd (axum on 127.0.0.1, port 0): partial failure
//! (200 with `WARNING:`), every node failing (502 `UPSTREAM_ERROR`), an nsqd answering
//! garbage or hanging past the request timeout (a JSON error in bounded time), the ACL,
//! notifications (delivered, and an unreachable endpoint not failing the action),
//! compression, the base path and the history API.

use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const STATS: &str = r#"{"version":"1.3.0","health":"OK","start_time":1,"topics":[{"topic_name":"t","channels":[{"channel_name":"c","depth":2,"backend_depth":0,"in_flight_count":1,"deferred_count":0,"message_count":5,"requeue_count":0,"timeout_count":0,"client_count":0,"clients":[],"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}],"depth":1,"backend_depth":0,"message_count":7,"message_bytes":7,"paused":false,"e2e_processing_latency":{"count":0,"percentiles":null}}],"producers":[]}"#;

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A fake nsqd: `/info` names it, `/stats` answers `stats`, actions answer OK.
async fn fake_nsqd(stats: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let info = format!(
        r#"{{"version":"1.3.0","broadcast_address":"127.0.0.1","hostname":"fake","http_port":{},"tcp_port":1}}"#,
        addr.port()
    );
    let app = Router::new()
        .route("/info", get(move || async move { info.clone() }))
        .route("/stats", get(move || async move { stats }))
        .route("/channel/pause", post(|| async { "OK" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr.to_string()
}

/// An nsqd that accepts connections and never answers.
async fn hanging_nsqd() -> String {
    let app = Router::new().fallback(std::future::pending::<&'static str>);
    serve(app).await
}

/// An address nothing listens on.
async fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").to_string()
}

async fn start(args: &[String]) -> (String, CancellationToken) {
    let argv = std::iter::once("nsqadmin".to_string())
        .chain(["--http-address=127.0.0.1:0".to_string()])
        .chain(args.iter().cloned());
    let mut config = match nsqadmin::config::parse_args(argv).expect("flags") {
        nsqadmin::config::Parsed::Run(c) => *c,
        other => panic!("{other:?}"),
    };
    config.validate().expect("valid");
    let listener = nsqadmin::bind(&config).await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move { nsqadmin::run(config, listener, t).await });
    (addr, token)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let resp = client().get(url).send().await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).expect("JSON answer"))
}

fn message(v: &serde_json::Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn partial_and_total_failures() {
    let good = fake_nsqd(STATS).await;
    let down = closed_port().await;
    let (admin, token) = start(&[
        format!("--nsqd-http-address={good}"),
        format!("--nsqd-http-address={down}"),
    ])
    .await;
    let (status, v) = get_json(&format!("http://{admin}/api/nodes")).await;
    assert_eq!(status, 200);
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(1));
    let m = message(&v);
    assert!(m.starts_with("WARNING: Get \"http://"), "{m}");
    assert!(m.contains("connection refused"), "{m}");
    let (status, v) = get_json(&format!("http://{admin}/api/topics/t")).await;
    assert_eq!(status, 200);
    assert_eq!(v["depth"], 1);
    assert_eq!(v["channels"][0]["in_flight_count"], 1);
    assert!(message(&v).starts_with("WARNING: "));
    token.cancel();

    let (admin, token) = start(&[format!("--nsqd-http-address={down}")]).await;
    let (status, v) = get_json(&format!("http://{admin}/api/topics")).await;
    assert_eq!(status, 502);
    assert!(
        message(&v).starts_with("UPSTREAM_ERROR: failed to query any nsqd: Get \"http://"),
        "{v}"
    );
    // A topic nobody has: zero producers count as all failed (Go's quirk).
    let (status, v) = get_json(&format!("http://{admin}/api/counter")).await;
    assert_eq!(
        (status, message(&v).starts_with("UPSTREAM_ERROR: ")),
        (502, true)
    );
    token.cancel();
}

#[tokio::test]
async fn garbage_and_hanging_upstreams_give_json_errors_in_bounded_time() {
    let garbage = fake_nsqd("garbage").await;
    let hanging = hanging_nsqd().await;
    let (admin, token) = start(&[
        format!("--nsqd-http-address={garbage}"),
        format!("--nsqd-http-address={hanging}"),
        "--http-client-request-timeout=1s".to_string(),
    ])
    .await;
    let started = Instant::now();
    let (status, v) = get_json(&format!("http://{admin}/api/topics")).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status, 502);
    let m = message(&v);
    assert!(
        m.contains("invalid character 'g' looking for beginning of value"),
        "{m}"
    );
    assert!(m.contains("Client.Timeout exceeded"), "{m}");
    for path in [
        "/api/nodes",
        "/api/topics/t",
        "/api/topics/t/c",
        "/api/counter",
    ] {
        let (status, v) = get_json(&format!("http://{admin}{path}")).await;
        assert_eq!(status, 502, "{path}: {v}");
        assert!(message(&v).starts_with("UPSTREAM_ERROR: "), "{path}: {v}");
    }
    token.cancel();
}

#[tokio::test]
async fn acl_notifications_compression_base_path_and_history() {
    let nsqd = fake_nsqd(STATS).await;
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = received.clone();
    let listener = serve(Router::new().route(
        "/notify",
        post(move |body: String| {
            let sink = sink.clone();
            async move {
                if let Ok(v) = serde_json::from_str(&body) {
                    sink.lock().expect("lock").push(v);
                }
                "OK"
            }
        }),
    ))
    .await;
    let (admin, token) = start(&[
        format!("--nsqd-http-address={nsqd}"),
        "--admin-user=alice".to_string(),
        format!("--notification-http-endpoint=http://{listener}/notify"),
        "--base-path=/admin".to_string(),
        "--history-interval=1s".to_string(),
    ])
    .await;
    let base = format!("http://{admin}/admin");
    let c = client();
    let action = |user: &'static str| {
        c.post(format!("{base}/api/topics/t/c"))
            .header("X-Forwarded-User", user)
            .body(r#"{"action":"pause"}"#)
            .send()
    };
    assert_eq!(action("bob").await.expect("request").status().as_u16(), 403);
    assert_eq!(
        action("alice").await.expect("request").status().as_u16(),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(n) = received.lock().expect("lock").first().cloned() {
            assert_eq!(n["action"], "pause_channel");
            assert_eq!(
                (n["topic"].as_str(), n["channel"].as_str()),
                (Some("t"), Some("c"))
            );
            assert_eq!(n["url"], format!("http://{admin}/admin/api/topics/t/c"));
            break;
        }
        assert!(Instant::now() < deadline, "no notification");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Pages under the base path; `<base>/` redirects; assets with their types.
    let r = c.get(&base).send().await.expect("index");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("\"base_path\":\"/admin/\""));
    assert!(
        html.contains("\"is_admin\":false"),
        "no ACL header: not admin"
    );
    assert_eq!(
        c.get(format!("{base}/"))
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        301
    );
    let js = c
        .get(format!("{base}/static/app.js"))
        .send()
        .await
        .expect("js");
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        c.get(format!("http://{admin}/api/topics"))
            .send()
            .await
            .expect("r")
            .status()
            .as_u16(),
        404
    );

    // Compression as Go negotiates it.
    let r = c
        .get(format!("{base}/api/topics"))
        .header("Accept-Encoding", "br, gzip")
        .send()
        .await
        .expect("gzip");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let bytes = r.bytes().await.expect("body");
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    assert_eq!(text, r#"{"topics":["t"],"message":""}"#);
    let r = c
        .get(format!("{base}/api/topics"))
        .header("Accept-Encoding", "gzip;q=0.8")
        .send()
        .await
        .expect("plain");
    assert!(r.headers().get("content-encoding").is_none());

    // History: sampled within a couple of intervals; unknown keys are 404.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, v) = get_json(&format!("{base}/api/history/topics/t/c")).await;
        if status == 200 {
            assert_eq!(
                (v["topic"].as_str(), v["channel"].as_str()),
                (Some("t"), Some("c"))
            );
            assert_eq!(v["interval"], 1);
            assert_eq!(v["points"][0]["depth"], 2);
            assert_eq!(v["points"][0]["in_flight"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "never sampled: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, v) = get_json(&format!("{base}/api/history/topics/nope")).await;
    assert_eq!(
        (status, message(&v)),
        (404, "HISTORY_NOT_FOUND".to_string())
    );
    token.cancel();
}

#[tokio::test]
async fn an_unreachable_notification_endpoint_does_not_fail_the_action() {
    let nsqd = fake_nsqd(STATS).await;
    let down = closed_port().await;
    let (admin, token) = start(&[
        format!("--nsqd-http-address={nsqd}"),
        format!("--notification-http-endpoint=http://{down}/notify"),
    ])
    .await;
    for _ in 0..3 {
        let r = client()
            .post(format!("http://{admin}/api/topics/t/c"))
            .body(r#"{"action":"pause"}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 200);
    }
    let (status, _) = get_json(&format!("http://{admin}/api/nodes")).await;
    assert_eq!(status, 200, "still serving");
    token.cancel();
}

#[tokio::test]
async fn config_endpoint_checks_the_cidr() {
    let nsqd = fake_nsqd(STATS).await;
    let (admin, token) = start(&[
        format!("--nsqd-http-address={nsqd}"),
        "--allow-config-from-cidr=10.0.0.0/8".to_string(),
    ])
    .await;
    let (status, v) = get_json(&format!("http://{admin}/config/log_level")).await;
    assert_eq!((status, message(&v)), (403, "FORBIDDEN".to_string()));
    token.cancel();
    let (admin, token) = start(&[format!("--nsqd-http-address={nsqd}")]).await;
    let (status, v) = get_json(&format!("http://{admin}/config/nsqd_http_addresses")).await;
    assert_eq!((status, v), (200, serde_json::json!([nsqd])));
    token.cancel();
}
