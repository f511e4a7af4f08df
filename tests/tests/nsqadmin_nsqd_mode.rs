//! nsqadmin in nsqd mode (`--nsqd-http-address` twice, no lookupd), ours against Go
//! nsqadmin v1.3.0 on the same two nsqd at the same moment: the read API (topics,
//! inactive map, topic, channel with clients, unknown channel and topic, nodes, node,
//! counter), creation (lookupd-only: topic-only is a no-op 200, with a channel 502),
//! then one node killed (200 with `WARNING: ...`, message texts equal) and both killed
//! (502 `UPSTREAM_ERROR: ...`). What the comparison ignores is in `admin_norm`.

use nsq_tests::admin_norm::{self, exact, Norm};
use nsq_tests::client::Client;
use nsq_tests::cluster::Cluster;
use nsq_tests::nsqadmin::{message_of, Pair, Req};
use nsq_tests::ordered_json::Json;
use serde_json::json;

/// Every read endpoint, each with its normalisation.
fn reads(c: &Cluster) -> Vec<(Req, Norm)> {
    vec![
        (Req::get("/api/topics"), admin_norm::sorted_errors),
        (
            Req::get("/api/topics?inactive=true"),
            admin_norm::sorted_errors,
        ),
        (Req::get("/api/topics/t_both"), |j| {
            admin_norm::topic(j);
            admin_norm::sorted_errors(j);
        }),
        (Req::get("/api/topics/t_one"), |j| {
            admin_norm::topic(j);
            admin_norm::sorted_errors(j);
        }),
        (Req::get("/api/topics/t_both/ch_a"), |j| {
            admin_norm::stats(j);
            admin_norm::sorted_errors(j);
        }),
        (
            Req::get("/api/topics/t_both/nope"),
            admin_norm::sorted_errors,
        ),
        (Req::get("/api/topics/nope"), admin_norm::sorted_errors),
        (Req::get("/api/nodes"), |j| {
            admin_norm::nodes(j);
            admin_norm::sorted_errors(j);
        }),
        (Req::get(&format!("/api/nodes/{}", c.node(0))), |j| {
            admin_norm::stats(j);
            admin_norm::sorted_errors(j);
        }),
        (Req::get(&format!("/api/nodes/{}", c.node(1))), |j| {
            admin_norm::stats(j);
            admin_norm::sorted_errors(j);
        }),
        (Req::get("/api/counter"), admin_norm::sorted_errors),
    ]
}

#[test]
fn nsqd_mode_matches_go_and_reports_nodes_down() {
    let mut cluster = Cluster::start(0, 2);
    cluster.create_channel(0, "t_both", "ch_a");
    cluster.create_channel(1, "t_both", "ch_a");
    cluster.publish(0, "t_both", &["a", "b"]);
    cluster.publish(1, "t_both", &["c"]);
    cluster.publish(1, "t_one", &["d"]);
    let mut client = Client::connect(cluster.nsqds[0].tcp_addr());
    client.identify(&json!({"client_id": "c0", "hostname": "c0.example",
        "feature_negotiation": false}));
    client.expect_ok();
    client.sub("t_both", "ch_a");
    client.expect_ok();
    let p = Pair::start(&cluster.nsqd_args());

    for (req, norm) in reads(&cluster) {
        p.compare(&req, &norm);
    }
    let topics = p.compare(&Req::get("/api/topics"), &exact).expect("JSON");
    assert_eq!(
        topics.to_string(),
        r#"{"topics":["t_both","t_one"],"message":""}"#
    );
    let inactive = p
        .compare(&Req::get("/api/topics?inactive=true"), &exact)
        .expect("JSON");
    assert_eq!(inactive.to_string(), r#"{"topics":{},"message":""}"#);
    let (ours, _) = p.both(&Req::get("/api/topics/nope"));
    assert_eq!(
        (ours.status, message_of(&ours)),
        (
            502,
            "UPSTREAM_ERROR: failed to query any nsqd: ".to_string()
        )
    );
    let nodes = p
        .compare(&Req::get("/api/nodes"), &admin_norm::nodes)
        .expect("JSON");
    let first = &nodes.get("nodes").and_then(Json::as_array).expect("nodes")[0];
    assert_eq!(first.get("remote_addresses"), Some(&Json::Null), "{nodes}");
    assert_eq!(first.get("remote_address"), Some(&Json::Str(String::new())));

    // Creation goes through lookupds only: none here.
    let create = Req::post("/api/topics", r#"{"topic":"made"}"#);
    let (ours, _) = p.both(&create);
    assert_eq!(
        (ours.status, ours.text()),
        (200, r#"{"message":""}"#.into())
    );
    let with_channel = Req::post("/api/topics", r#"{"topic":"made","channel":"c"}"#);
    let (ours, _) = p.both(&with_channel);
    assert_eq!(
        (ours.status, message_of(&ours)),
        (
            502,
            "UPSTREAM_ERROR: failed to query any nsqlookupd: ".to_string()
        )
    );
    p.compare(&create, &exact);
    p.compare(&with_channel, &exact);

    // One node down: answers from the other, the failure in `message`.
    let dead = cluster.nsqd_http(1);
    cluster.nsqds[1].kill9();
    for (req, norm) in reads(&cluster) {
        p.compare(&req, &norm);
    }
    for path in ["/api/topics", "/api/nodes", "/api/topics/t_both"] {
        let (ours, _) = p.both(&Req::get(path));
        let message = message_of(&ours);
        assert_eq!(ours.status, 200, "{path}: {ours:?}");
        assert!(
            message.starts_with("WARNING: ") && message.contains(&dead.to_string()),
            "{path}: {message}"
        );
    }
    let pause = Req::post("/api/topics/t_both", r#"{"action":"pause"}"#);
    p.compare(&pause, &admin_norm::sorted_errors);

    // Every node down: 502 with every error.
    let other = cluster.nsqd_http(0);
    cluster.nsqds[0].kill9();
    for (req, norm) in reads(&cluster) {
        p.compare(&req, &norm);
    }
    let (ours, _) = p.both(&Req::get("/api/topics"));
    assert_eq!(ours.status, 502, "{ours:?}");
    let message = message_of(&ours);
    assert!(
        message.starts_with("UPSTREAM_ERROR: failed to query any nsqd: ")
            && message.contains(&dead.to_string())
            && message.contains(&other.to_string()),
        "{ours:?}"
    );
}
