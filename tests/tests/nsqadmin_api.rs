//! nsqadmin's read-only JSON API in lookupd mode, ours against Go nsqadmin v1.3.0 on the
//! same cluster (one nsqlookupd, two nsqd) at the same moment: `/api/topics` (and
//! `?inactive=true`), `/api/topics/:t`, `/api/topics/:t/:c` (with connected clients,
//! a paused channel, the unknown-channel `{"message":""}` quirk, the unknown-topic
//! 502), `/api/nodes`, `/api/nodes/:n` (and 404 `NODE_NOT_FOUND`), `/api/counter`,
//! `/ping`, unknown routes; `/config/:opt` GET/PUT (and the CIDR 403); bad input
//! (JSON decoder texts, wrong methods with `Allow`, `INVALID_ACTION`, `INVALID_TOPIC`,
//! `INVALID_CHANNEL`, `INVALID_BODY`). What the comparison ignores is in `admin_norm`.
//!
//! Binaries: ours `$NSQADMIN_BIN`, Go's `$GO_NSQADMIN_BIN` (else
//! `tests/reference/bin/nsqadmin`); the cluster is `$NSQD_BIN`/`$NSQLOOKUPD_BIN`.

use nsq_tests::admin_norm::{self, exact};
use nsq_tests::client::Client;
use nsq_tests::cluster::Cluster;
use nsq_tests::nsqadmin::{message_of, Pair, Req};
use nsq_tests::ordered_json::Json;
use nsq_tests::{http, poll};
use serde_json::json;

/// A cluster with topics, channels and clients, and both nsqadmins in lookupd mode.
struct Fixture {
    pair: Pair,
    /// Consumers holding one message in flight each; kept connected.
    _clients: Vec<Client>,
    cluster: Cluster,
}

/// `t_both` on both nodes (channel `ch_a` on both with a client each holding a message
/// in flight, `ch_b` paused on node 0 only), `t_one` on node 1 without channels, and
/// `orphan`/`oc` registered in the lookupd with no producer (inactive).
fn fixture() -> Fixture {
    let cluster = Cluster::start(1, 2);
    // nsqd creates the channels the lookupds know when it creates a topic: node 1 goes
    // first so that ch_b stays on node 0 only.
    cluster.create_channel(1, "t_both", "ch_a");
    cluster.wait_lookup("t_both", 1, &["ch_a"]);
    cluster.create_channel(0, "t_both", "ch_a");
    cluster.create_channel(0, "t_both", "ch_b");
    cluster.publish(0, "t_both", &["m1", "m2", "m3"]);
    cluster.publish(1, "t_both", &["m4", "m5"]);
    cluster.publish(1, "t_one", &["m6"]);
    http::post_ok(
        cluster.nsqd_http(0),
        "/channel/pause?topic=t_both&channel=ch_b",
    );
    let lookupd = cluster.lookupd_http(0);
    http::post_ok(lookupd, "/topic/create?topic=orphan");
    http::post_ok(lookupd, "/channel/create?topic=orphan&channel=oc");
    let clients = (0..2)
        .map(|n| {
            let mut c = Client::connect(cluster.nsqds[n].tcp_addr());
            c.identify(&json!({
                "client_id": format!("client{n}"),
                "hostname": format!("client{n}.example"),
                "user_agent": "nsq-tests/1.0",
                "feature_negotiation": false,
            }));
            c.expect_ok();
            c.sub("t_both", "ch_a");
            c.expect_ok();
            c.rdy(1);
            c.expect_message();
            c
        })
        .collect();
    cluster.wait_lookup("t_both", 2, &["ch_a", "ch_b"]);
    cluster.wait_lookup("t_one", 1, &[]);
    let pair = Pair::start(&cluster.lookupd_args());
    Fixture {
        pair,
        _clients: clients,
        cluster,
    }
}

fn num(j: &Json, key: &str) -> String {
    match j.get(key) {
        Some(Json::Num(n)) => n.clone(),
        other => panic!("{key} is not a number: {other:?} in {j}"),
    }
}

#[test]
fn reads_match_go_in_lookupd_mode() {
    let f = fixture();
    let p = &f.pair;
    let (n0, n1) = (f.cluster.node(0), f.cluster.node(1));

    let topics = p.compare(&Req::get("/api/topics"), &exact).expect("JSON");
    assert_eq!(
        topics.to_string(),
        r#"{"topics":["orphan","t_both","t_one"],"message":""}"#
    );
    let inactive = p
        .compare(&Req::get("/api/topics?inactive=true"), &exact)
        .expect("JSON");
    assert_eq!(
        inactive.to_string(),
        r#"{"topics":{"orphan":["oc"]},"message":""}"#
    );

    let topic = p
        .compare(&Req::get("/api/topics/t_both"), &admin_norm::topic)
        .expect("JSON");
    assert_eq!(
        (num(&topic, "depth"), num(&topic, "message_count")),
        // ch_a on both nodes and ch_b on node 0 hold the messages; the topics are drained.
        ("0".to_string(), "5".to_string()),
        "{topic}"
    );
    p.compare(&Req::get("/api/topics/t_one"), &admin_norm::topic);

    let ch_a = p
        .compare(&Req::get("/api/topics/t_both/ch_a"), &admin_norm::stats)
        .expect("JSON");
    assert_eq!(
        (
            num(&ch_a, "depth"),
            num(&ch_a, "in_flight_count"),
            num(&ch_a, "client_count")
        ),
        ("3".to_string(), "2".to_string(), "2".to_string()),
        "{ch_a}"
    );
    let ch_b = p
        .compare(&Req::get("/api/topics/t_both/ch_b"), &admin_norm::stats)
        .expect("JSON");
    assert_eq!(ch_b.get("paused"), Some(&Json::Bool(true)), "{ch_b}");

    // Go's quirk: a channel no node has answers 200 with only the message.
    let unknown = p
        .compare(&Req::get("/api/topics/t_both/nope"), &exact)
        .expect("JSON");
    assert_eq!(unknown.to_string(), r#"{"message":""}"#);
    // A topic with no producer: the lookupd's 404, Go-quoted, as a 502.
    let (ours, _) = p.both(&Req::get("/api/topics/nope"));
    assert_eq!(ours.status, 502);
    assert_eq!(
        message_of(&ours),
        r#"UPSTREAM_ERROR: failed to query any nsqlookupd: got response 404 Not Found "{\"message\":\"TOPIC_NOT_FOUND\"}""#
    );
    for path in ["/api/topics/nope", "/api/topics/nope/x"] {
        p.compare(&Req::get(path), &exact);
    }

    let nodes = p
        .compare(&Req::get("/api/nodes"), &admin_norm::nodes)
        .expect("JSON");
    assert_eq!(
        nodes.get("nodes").and_then(Json::as_array).map(Vec::len),
        Some(2)
    );
    for n in [&n0, &n1] {
        p.compare(&Req::get(&format!("/api/nodes/{n}")), &admin_norm::stats);
    }
    let missing = p
        .compare(&Req::get("/api/nodes/127.0.0.1:1"), &exact)
        .expect("JSON");
    assert_eq!(missing.to_string(), r#"{"message":"NODE_NOT_FOUND"}"#);

    let counter = p.compare(&Req::get("/api/counter"), &exact).expect("JSON");
    let stats = counter.get("stats").expect("stats");
    // A JSON object from a Go map: keys sorted as strings.
    let mut keys = vec![
        format!("t_both:ch_a:{n0}"),
        format!("t_both:ch_a:{n1}"),
        format!("t_both:ch_b:{n0}"),
    ];
    keys.sort();
    assert_eq!(stats.keys(), keys, "{counter}");

    assert!(p.compare(&Req::get("/ping"), &exact).is_none());
    for path in ["/api/nope", "/nope", "/api/topics/a/b/c", "/api/graphite"] {
        p.compare(&Req::get(path), &exact);
    }
}

/// Both nsqadmins against a lookupd address nothing listens on: enough for `/config`
/// and for input rejected before any upstream call.
fn lonely_pair(extra: &[&str]) -> Pair {
    let mut args = vec!["--lookupd-http-address=127.0.0.1:1".to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    Pair::start(&args)
}

#[test]
fn config_matches_go() {
    let p = lonely_pair(&["--admin-user=bob", "--statsd-prefix=nsq.%s"]);
    for opt in [
        "log_level",
        "statsd_prefix",
        "base_path",
        "graphite_url",
        "nsqlookupd_http_addresses",
        "nsqd_http_addresses",
        "admin_users",
        "acl_http_header",
        "http_client_request_timeout",
        "statsd_interval",
        "proxy_graphite",
        "allow_config_from_cidr",
        "nope",
    ] {
        p.compare(&Req::get(&format!("/config/{opt}")), &exact);
    }
    for (opt, body) in [
        ("log_level", "warn"),
        ("log_level", "loud"),
        ("log_level", ""),
        ("nsqlookupd_http_addresses", "x"),
        (
            "nsqlookupd_http_addresses",
            r#"["127.0.0.1:2","127.0.0.1:3"]"#,
        ),
        ("statsd_prefix", "x"),
        ("nope", "x"),
    ] {
        p.compare(&Req::put(&format!("/config/{opt}"), body), &exact);
        p.compare(&Req::get(&format!("/config/{opt}")), &exact);
    }
    let (ours, _) = p.both(&Req::get("/config/log_level"));
    assert_eq!(ours.text(), "3", "log level warn is 3 in Go's numbering");
    p.compare(&Req::post("/config/log_level", "x"), &exact);
    p.compare(&Req::delete("/config/log_level", ""), &exact);

    let walled = lonely_pair(&["--allow-config-from-cidr=10.0.0.0/8"]);
    for req in [
        Req::get("/config/log_level"),
        Req::put("/config/log_level", "warn"),
    ] {
        let (ours, _) = walled.both(&req);
        assert_eq!(
            (ours.status, ours.text()),
            (403, r#"{"message":"FORBIDDEN"}"#.into())
        );
        walled.compare(&req, &exact);
    }
}

#[test]
fn bad_input_matches_go() {
    let p = lonely_pair(&[]);
    // Go's decoder texts for end of input and bad syntax are compared; its type-mismatch
    // texts name Go types (`json: cannot unmarshal array into Go value of type struct
    // {...}`), so for those only a 400 with a message is required of ours.
    for body in ["[1]", r#"{"topic":1}"#, r#"{"action":true}"#] {
        for req in [
            Req::post("/api/topics", body),
            Req::post("/api/topics/t", body),
            Req::delete("/api/nodes/127.0.0.1:1", body),
        ] {
            let (ours, go) = p.both(&req);
            assert_eq!(
                (ours.status, go.status),
                (400, 400),
                "{body}: {ours:?} {go:?}"
            );
            assert!(!message_of(&ours).is_empty(), "{ours:?}");
        }
    }
    let bodies = ["", "{", "x", "{}", r#"{"topic":"t""#, "{}x"];
    for body in bodies {
        for path in ["/api/topics", "/api/topics/t", "/api/topics/t/c"] {
            p.compare(&Req::post(path, body), &exact);
        }
        p.compare(&Req::delete("/api/nodes/127.0.0.1:1", body), &exact);
    }
    let expectations = [
        (Req::post("/api/topics", ""), 400, "EOF"),
        (Req::post("/api/topics", "{"), 400, "unexpected EOF"),
        (
            Req::post("/api/topics", "x"),
            400,
            "invalid character 'x' looking for beginning of value",
        ),
        (
            Req::post("/api/topics", r#"{"topic":"a b"}"#),
            400,
            "INVALID_TOPIC",
        ),
        (
            Req::post("/api/topics", r#"{"topic":""}"#),
            400,
            "INVALID_TOPIC",
        ),
        (
            Req::post("/api/topics", r#"{"topic":"ok","channel":"a b"}"#),
            400,
            "INVALID_CHANNEL",
        ),
        (
            Req::post("/api/topics/t", r#"{"action":"explode"}"#),
            400,
            "INVALID_ACTION",
        ),
        (
            Req::post("/api/topics/t/c", r#"{"action":""}"#),
            400,
            "INVALID_ACTION",
        ),
        (
            Req::delete("/api/nodes/127.0.0.1:1", "zz"),
            400,
            "INVALID_BODY",
        ),
        (
            Req::delete("/api/nodes/127.0.0.1:1", r#"{"topic":"a b"}"#),
            400,
            "INVALID_TOPIC",
        ),
        (
            Req::new("PUT", "/api/topics", b""),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Req::new("PATCH", "/api/topics/t", b""),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            Req::new("PUT", "/api/nodes/n", b""),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (Req::post("/api/counter", ""), 405, "METHOD_NOT_ALLOWED"),
        (Req::post("/ping", ""), 405, "METHOD_NOT_ALLOWED"),
        (Req::get("/api/nope"), 404, "NOT_FOUND"),
    ];
    for (req, status, message) in expectations {
        let (ours, go) = p.both(&req);
        assert_eq!(
            (ours.status, message_of(&ours)),
            (status, message.to_string()),
            "{} {}: {ours:?}",
            req.method,
            req.path
        );
        if status == 405 {
            assert!(
                ours.header("Allow").is_some(),
                "405 without Allow: {ours:?}"
            );
        }
        nsq_tests::nsqadmin::assert_same(&req.path, &ours, &go, &exact);
    }
    // A trailing slash is redirected (301 with Location), as Go's router does.
    p.compare(&Req::get("/api/nodes/"), &exact);
    // Nothing above may have taken the process down.
    poll::wait_until(
        "both nsqadmins still answer /ping",
        cluster_settle(),
        || p.both(&Req::get("/ping")).0.status == 200,
    );
}

fn cluster_settle() -> std::time::Duration {
    nsq_tests::cluster::SETTLE
}
