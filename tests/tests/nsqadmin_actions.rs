//! nsqadmin's admin actions against real daemons. Twin clusters (one nsqlookupd, two
//! nsqd each): ours acts on one, Go nsqadmin v1.3.0 on the other, the same action at
//! the same moment; the HTTP answers are compared (addresses masked), the effect is
//! checked in each cluster's nsqd `/stats` and lookupd `/lookup`/`/channels`/`/topics`,
//! and the notification each posts to a listener in the test is compared key by key:
//! create topic/channel, pause/unpause/empty topic and channel, delete channel,
//! tombstone a topic on a node, delete topic. Then the ACL (`--admin-user`): the admin
//! acts, others get 403 `FORBIDDEN`, reads stay open.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nsq_tests::admin_norm::{self, exact};
use nsq_tests::cluster::{Cluster, SETTLE};
use nsq_tests::fake_http::{Listener, Received};
use nsq_tests::http;
use nsq_tests::nsqadmin::{assert_same, Admin, Pair, Req};
use nsq_tests::ordered_json::{Json, MASKED};
use nsq_tests::poll::wait_for;

/// Topic `act` on both nodes with channel `ch` (2 messages each), topic `solo` on node
/// 0 without channels (3 messages).
fn populated() -> Cluster {
    let c = Cluster::start(1, 2);
    for n in 0..2 {
        c.create_channel(n, "act", "ch");
        c.publish(n, "act", &["x", "y"]);
    }
    c.publish(0, "solo", &["1", "2", "3"]);
    c.wait_lookup("act", 2, &["ch"]);
    c.wait_lookup("solo", 1, &[]);
    c
}

fn with_endpoint(c: &Cluster, l: &Listener) -> Vec<String> {
    let mut args = c.lookupd_args();
    args.push(format!("--notification-http-endpoint={}", l.url()));
    args
}

/// Waits until `check` holds for the cluster (nsqd and lookupd state change async).
fn wait_effect(what: &str, c: &Cluster, check: impl Fn(&Cluster) -> (bool, String)) {
    wait_for(what, SETTLE, || check(c));
}

fn topic_field(c: &Cluster, n: usize, topic: &str, key: &str) -> Option<serde_json::Value> {
    http::topic_stats(c.nsqd_http(n), topic).map(|t| t[key].clone())
}

fn channel_field(c: &Cluster, n: usize, topic: &str, ch: &str, key: &str) -> serde_json::Value {
    http::channel_stats(c.nsqd_http(n), topic, ch)
        .map(|t| t[key].clone())
        .unwrap_or(serde_json::Value::Null)
}

/// The lookupd's `/channels?topic=` list, sorted.
fn lookupd_channels(c: &Cluster, topic: &str) -> Vec<String> {
    let v = c.lookupd_get(0, &format!("/channels?topic={topic}"));
    let mut out: Vec<String> = v["channels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn lookupd_producer_ports(c: &Cluster, topic: &str) -> Vec<u64> {
    let v = c.lookupd_get(0, &format!("/lookup?topic={topic}"));
    let mut out: Vec<u64> = v["producers"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["http_port"].as_u64()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn lookupd_topics(c: &Cluster) -> Vec<String> {
    let v = c.lookupd_get(0, "/topics");
    v["topics"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Compares the `count` notifications ours and Go's posted for one action (sorted by
/// `action`: each is posted on its own, so two may arrive in either order); returns
/// ours.
/// Ignored: `timestamp` (checked to be now, in Unix seconds), `remote_ip` (the test's
/// ephemeral port; the IP is checked), the host in `url` (each nsqadmin's address),
/// node ports (each twin cluster's own).
fn compare_notifications(
    pair: &Pair,
    ours: &Listener,
    go: &Listener,
    what: &str,
    count: usize,
) -> Vec<Json> {
    let mut all = Vec::new();
    for (listener, admin, who) in [(ours, &pair.ours, "ours"), (go, &pair.go, "Go")] {
        let mut got: Vec<Json> = (0..count)
            .map(|_| {
                let r = listener
                    .next(Duration::from_secs(10))
                    .unwrap_or_else(|| panic!("{what}: no notification from {who}"));
                normalise_notification(&r, admin, what)
            })
            .collect();
        got.sort_by_key(|j| j.get("action").map(|a| a.to_string()));
        all.push(got);
    }
    let (o, g) = (&all[0], &all[1]);
    assert!(
        o == g,
        "{what}: notifications differ\nours: {o:?}\nGo:   {g:?}"
    );
    all.swap_remove(0)
}

fn normalise_notification(r: &Received, admin: &Admin, what: &str) -> Json {
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json"),
        "{what}: {r:?}"
    );
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/notify"),
        "{r:?}"
    );
    let mut j = Json::parse(&String::from_utf8_lossy(&r.body))
        .unwrap_or_else(|e| panic!("{what}: notification not JSON ({e}): {r:?}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match j.get("timestamp") {
        Some(Json::Num(t)) => {
            let t: u64 = t
                .parse()
                .unwrap_or_else(|_| panic!("{what}: timestamp {t}"));
            assert!(t.abs_diff(now) < 120, "{what}: timestamp {t}, now {now}");
        }
        other => panic!("{what}: timestamp {other:?}"),
    }
    let ip = j
        .get("remote_ip")
        .and_then(Json::as_str)
        .unwrap_or_default();
    assert!(ip.starts_with("127.0.0.1:"), "{what}: remote_ip {ip:?}");
    let host = admin.addr().to_string();
    j.map_strings(&|s| s.replace(&host, "ADMIN"));
    // The twin clusters' node addresses (tombstone `node`) differ in their ports.
    admin_norm::ports(&mut j);
    for key in ["timestamp", "remote_ip"] {
        if let Some(v) = j.get_mut(key) {
            *v = Json::Str(MASKED.to_string());
        }
    }
    j
}

#[test]
fn actions_change_the_daemons_and_notify_like_go() {
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(populated);
        (populated(), b.join().expect("Go's twin cluster"))
    });
    let (la, lb) = (Listener::start(), Listener::start());
    let pair = Pair::start_each(&with_endpoint(&a, &la), &with_endpoint(&b, &lb));
    let clusters = [&a, &b];

    // Each step: the request, the notification's action, and the effect to wait for.
    type Check = Box<dyn Fn(&Cluster) -> (bool, String)>;
    let node1 = |c: &Cluster| c.node(1);
    let steps: Vec<(Req, &str, Check)> = vec![
        (
            Req::post("/api/topics", r#"{"topic":"fresh","channel":"fc"}"#),
            "create_topic",
            Box::new(|c| {
                let (t, ch) = (lookupd_topics(c), lookupd_channels(c, "fresh"));
                (
                    t.contains(&"fresh".to_string()) && ch == ["fc"],
                    format!("{t:?} {ch:?}"),
                )
            }),
        ),
        (
            Req::post("/api/topics", r#"{"topic":"act","channel":"ch2"}"#),
            "create_topic",
            Box::new(|c| {
                let on: Vec<bool> = (0..2)
                    .map(|n| !channel_field(c, n, "act", "ch2", "depth").is_null())
                    .collect();
                (on == [true, true], format!("ch2 on nodes: {on:?}"))
            }),
        ),
        (
            Req::post("/api/topics/act", r#"{"action":"pause"}"#),
            "pause_topic",
            Box::new(|c| paused_topic(c, true)),
        ),
        (
            Req::post("/api/topics/act", r#"{"action":"unpause"}"#),
            "unpause_topic",
            Box::new(|c| paused_topic(c, false)),
        ),
        (
            Req::post("/api/topics/act/ch", r#"{"action":"pause"}"#),
            "pause_channel",
            Box::new(|c| paused_channel(c, true)),
        ),
        (
            Req::post("/api/topics/act/ch", r#"{"action":"unpause"}"#),
            "unpause_channel",
            Box::new(|c| paused_channel(c, false)),
        ),
        (
            Req::post("/api/topics/act/ch", r#"{"action":"empty"}"#),
            "empty_channel",
            Box::new(|c| {
                let d: Vec<_> = (0..2)
                    .map(|n| channel_field(c, n, "act", "ch", "depth"))
                    .collect();
                (d == [0, 0], format!("ch depths {d:?}"))
            }),
        ),
        (
            Req::post("/api/topics/solo", r#"{"action":"empty"}"#),
            "empty_topic",
            Box::new(|c| {
                let d = topic_field(c, 0, "solo", "depth");
                (d == Some(0.into()), format!("solo depth {d:?}"))
            }),
        ),
        (
            Req::delete("/api/topics/act/ch2", ""),
            "delete_channel",
            Box::new(|c| {
                let on: Vec<bool> = (0..2)
                    .map(|n| !channel_field(c, n, "act", "ch2", "depth").is_null())
                    .collect();
                let l = lookupd_channels(c, "act");
                (on == [false, false] && l == ["ch"], format!("{on:?} {l:?}"))
            }),
        ),
        (
            Req::delete(&format!("/api/nodes/{}", node1(&a)), r#"{"topic":"act"}"#),
            "tombstone_topic_producer",
            Box::new(|c| {
                let ports = lookupd_producer_ports(c, "act");
                let gone = topic_field(c, 1, "act", "depth").is_none();
                let want = vec![u64::from(c.nsqd_http(0).port())];
                (
                    ports == want && gone,
                    format!("producers {ports:?}, gone on 1: {gone}"),
                )
            }),
        ),
        (
            Req::delete("/api/topics/act", ""),
            "delete_topic",
            Box::new(|c| {
                let t = lookupd_topics(c);
                let gone = (0..2).all(|n| topic_field(c, n, "act", "depth").is_none());
                (
                    !t.contains(&"act".to_string()) && gone,
                    format!("{t:?} {gone}"),
                )
            }),
        ),
    ];
    for (req, action, check) in &steps {
        // The tombstone names a node of each admin's own cluster.
        let go_req = if *action == "tombstone_topic_producer" {
            Req::delete(&format!("/api/nodes/{}", node1(&b)), r#"{"topic":"act"}"#)
        } else {
            req.clone()
        };
        let (ours, go) = std::thread::scope(|s| {
            let go = s.spawn(|| pair.go.send(&go_req));
            (pair.ours.send(req), go.join().expect("Go request"))
        });
        let what = format!("{} {} ({action})", req.method, req.path);
        assert_same(&what, &ours, &go, &|j| {
            admin_norm::ports(j);
            admin_norm::sorted_errors(j);
        });
        assert_eq!(ours.status, 200, "{what}: {ours:?}");
        for c in clusters {
            wait_effect(&what, c, check);
        }
        // Creating with a channel notifies create_channel too.
        let with_channel =
            req.path == "/api/topics" && req.body.windows(7).any(|w| w == b"channel");
        let notes = compare_notifications(&pair, &la, &lb, &what, 1 + usize::from(with_channel));
        let actions: Vec<&str> = notes
            .iter()
            .filter_map(|n| n.get("action").and_then(Json::as_str))
            .collect();
        let mut want = vec![*action];
        if with_channel {
            want.insert(0, "create_channel");
        }
        assert_eq!(actions, want, "{what}: {notes:?}");
    }

    // With HTTP Basic credentials the notification names the user.
    let req = Req::post("/api/topics/solo", r#"{"action":"pause"}"#)
        .header("Authorization", "Basic YWxpY2U6c2VjcmV0"); // alice:secret
    let (ours, go) = pair.both(&req);
    assert_same("pause with basic auth", &ours, &go, &admin_norm::ports);
    let notes = compare_notifications(&pair, &la, &lb, "pause with basic auth", 1);
    let note = &notes[0];
    assert_eq!(
        note.get("user").and_then(Json::as_str),
        Some("alice"),
        "{note}"
    );
}

fn paused_topic(c: &Cluster, want: bool) -> (bool, String) {
    let p: Vec<_> = (0..2).map(|n| topic_field(c, n, "act", "paused")).collect();
    (p.iter().all(|v| *v == Some(want.into())), format!("{p:?}"))
}

fn paused_channel(c: &Cluster, want: bool) -> (bool, String) {
    let p: Vec<_> = (0..2)
        .map(|n| channel_field(c, n, "act", "ch", "paused"))
        .collect();
    (p.iter().all(|v| *v == want), format!("{p:?}"))
}

#[test]
fn only_admin_users_act() {
    let c = Cluster::start(1, 1);
    c.create_channel(0, "guarded", "g");
    c.wait_lookup("guarded", 1, &["g"]);
    let mut args = c.lookupd_args();
    args.push("--admin-user=alice".to_string());
    args.push("--admin-user=carol".to_string());
    let pair = Pair::start(&args);
    let pause = Req::post("/api/topics/guarded", r#"{"action":"pause"}"#);
    let actions = [
        pause.clone(),
        Req::post("/api/topics", r#"{"topic":"guarded2"}"#),
        Req::post("/api/topics/guarded/g", r#"{"action":"empty"}"#),
        Req::delete("/api/topics/guarded/g", ""),
        Req::delete("/api/topics/guarded", ""),
        Req::delete(
            &format!("/api/nodes/{}", c.node(0)),
            r#"{"topic":"guarded"}"#,
        ),
    ];
    for req in &actions {
        for forbidden in [
            req.clone(),
            req.clone().header("X-Forwarded-User", "bob"),
            req.clone().header("X-Forwarded-User", "ALICE"),
            // The ACL is the header, not Basic credentials.
            req.clone()
                .header("Authorization", "Basic YWxpY2U6c2VjcmV0"),
        ] {
            let (ours, go) = pair.both(&forbidden);
            assert_eq!(
                (ours.status, ours.text()),
                (403, r#"{"message":"FORBIDDEN"}"#.to_string()),
                "{} {}",
                req.method,
                req.path
            );
            assert_same(&req.path, &ours, &go, &exact);
        }
    }
    // Nothing changed.
    assert_eq!(topic_field(&c, 0, "guarded", "paused"), Some(false.into()));
    // Reads need no identity.
    for path in [
        "/api/topics",
        "/api/topics/guarded",
        "/api/nodes",
        "/api/counter",
    ] {
        let (ours, _) = pair.both(&Req::get(path));
        assert_eq!(ours.status, 200, "{path}: {ours:?}");
    }
    // The admin acts.
    let (ours, go) = pair.both(&pause.clone().header("X-Forwarded-User", "carol"));
    assert_same("pause as carol", &ours, &go, &exact);
    assert_eq!(
        (ours.status, ours.text()),
        (200, r#"{"message":""}"#.to_string())
    );
    assert_eq!(topic_field(&c, 0, "guarded", "paused"), Some(true.into()));

    // Another header name.
    let mut args = c.lookupd_args();
    args.extend([
        "--admin-user=alice".to_string(),
        "--acl-http-header=X-User".to_string(),
    ]);
    let custom = Pair::start(&args);
    let unpause = Req::post("/api/topics/guarded", r#"{"action":"unpause"}"#);
    let (ours, _) = custom.both(&unpause.clone().header("X-Forwarded-User", "alice"));
    assert_eq!(ours.status, 403, "{ours:?}");
    let (ours, go) = custom.both(&unpause.header("X-User", "alice"));
    assert_same("unpause as alice via X-User", &ours, &go, &exact);
    assert_eq!(ours.status, 200, "{ours:?}");
    assert_eq!(topic_field(&c, 0, "guarded", "paused"), Some(false.into()));
}

#[test]
fn notifications_are_posted_even_when_the_action_fails() {
    // No lookupd listens here: every action's upstream step fails (502).
    let (la, lb) = (Listener::start(), Listener::start());
    let args = |l: &Listener| {
        vec![
            "--lookupd-http-address=127.0.0.1:1".to_string(),
            format!("--notification-http-endpoint={}", l.url()),
        ]
    };
    let pair = Pair::start_each(&args(&la), &args(&lb));
    let req = Req::post("/api/topics/t/c", r#"{"action":"empty"}"#);
    let (ours, go) = pair.both(&req);
    assert_same("empty with no lookupd", &ours, &go, &exact);
    assert_eq!(ours.status, 502, "{ours:?}");
    let notes = compare_notifications(&pair, &la, &lb, "empty with no lookupd", 1);
    assert_eq!(
        notes[0].get("action").and_then(Json::as_str),
        Some("empty_channel")
    );
}
