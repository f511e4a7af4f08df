//! nsqadmin when upstreams fail. Lookupd mode, ours against Go nsqadmin v1.3.0 on the
//! same cluster: a lookupd down (200 `WARNING: ...`), a registered node whose HTTP
//! port is closed, every lookupd down (502 `UPSTREAM_ERROR: ...`), texts compared.
//! Fake nsqd nodes (`--nsqd-http-address`, `--http-client-request-timeout=1s`) that
//! answer non-JSON, non-HTTP, or hang: a JSON error well within the timeout, never a
//! hang (asserted of both; the texts are Go's net/http's own, so not compared).
//! Ours only (Go v1.3.0 crashes on a failed notification POST): an unreachable or
//! hanging `--notification-http-endpoint` neither fails nor delays the action.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use nsq_tests::admin_norm::{self, Norm};
use nsq_tests::cluster::Cluster;
use nsq_tests::fake_http::{FakeNode, Misbehaviour};
use nsq_tests::lookupd::LookupClient;
use nsq_tests::nsqadmin::{message_of, nsqadmin_bin, ours_is_go, Admin, Pair, Req};
use nsq_tests::ordered_json::Json;

/// A 127.0.0.1 port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn warnings(j: &mut Json) {
    admin_norm::stats(j);
    admin_norm::nodes_multi_lookupd(j);
    admin_norm::sorted_errors(j);
}

fn topic_warnings(j: &mut Json) {
    admin_norm::topic(j);
    admin_norm::sorted_errors(j);
}

#[test]
fn lookupd_and_node_failures_match_go() {
    let mut c = Cluster::start(2, 2);
    c.create_channel(0, "t", "ch");
    c.create_channel(1, "t", "ch");
    c.wait_lookup("t", 2, &["ch"]);
    // A node that registered but whose HTTP port answers nothing.
    let ghost_http = closed_port();
    let mut ghost = LookupClient::identified(c.lookupds[0].tcp_addr(), "127.0.0.1", 1, ghost_http);
    ghost.register("t", Some("ch"));
    let p = Pair::start(&c.lookupd_args());
    let reads: [(&str, Norm); 6] = [
        ("/api/topics", warnings),
        ("/api/topics/t", topic_warnings),
        ("/api/topics/t/ch", warnings),
        ("/api/nodes", warnings),
        ("/api/counter", warnings),
        ("/api/topics?inactive=true", warnings),
    ];

    for (path, norm) in reads {
        p.compare(&Req::get(path), &norm);
    }
    let (ours, _) = p.both(&Req::get("/api/topics/t"));
    assert_eq!(ours.status, 200);
    let message = message_of(&ours);
    assert!(
        message.starts_with("WARNING: ") && message.contains(&format!("127.0.0.1:{ghost_http}")),
        "{message}"
    );
    p.compare(
        &Req::post("/api/topics/t", r#"{"action":"pause"}"#),
        &admin_norm::sorted_errors,
    );

    // One lookupd down.
    let dead = c.lookupd_http(1);
    c.lookupds[1].kill9();
    for (path, norm) in reads {
        p.compare(&Req::get(path), &norm);
    }
    let (ours, _) = p.both(&Req::get("/api/topics"));
    let message = message_of(&ours);
    assert_eq!(ours.status, 200);
    assert!(
        message.starts_with("WARNING: ") && message.contains(&dead.to_string()),
        "{message}"
    );

    // Every lookupd down.
    c.lookupds[0].kill9();
    for (path, norm) in reads {
        p.compare(&Req::get(path), &norm);
    }
    let (ours, _) = p.both(&Req::get("/api/nodes"));
    assert_eq!(ours.status, 502, "{ours:?}");
    assert!(
        message_of(&ours).starts_with("UPSTREAM_ERROR: failed to query any nsqlookupd: "),
        "{ours:?}"
    );
    p.compare(
        &Req::post("/api/topics", r#"{"topic":"x"}"#),
        &admin_norm::sorted_errors,
    );
}

/// Upper bound for an answer when a node hangs past `--http-client-request-timeout=1s`.
const ANSWER_BOUND: Duration = Duration::from_secs(4);

#[test]
fn misbehaving_nodes_give_json_errors_within_the_timeout() {
    let c = Cluster::start(0, 1);
    c.create_channel(0, "t", "ch");
    // Every (misbehaviour, with or without a healthy node) at once: the hangs overlap.
    std::thread::scope(|s| {
        for how in [
            Misbehaviour::NotJson,
            Misbehaviour::NotHttp,
            Misbehaviour::Hang,
        ] {
            for with_real in [true, false] {
                let c = &c;
                s.spawn(move || check_misbehaving(c, how, with_real));
            }
        }
    });
}

/// nsqd mode with a fake node (and the real one if `with_real`): every read answers
/// within [`ANSWER_BOUND`], 200 with a warning, or 502 when no node answered.
fn check_misbehaving(c: &Cluster, how: Misbehaviour, with_real: bool) {
    let fake = FakeNode::start(how);
    let mut args = vec![
        format!("--nsqd-http-address={}", fake.addr()),
        "--http-client-request-timeout=1s".to_string(),
    ];
    if with_real {
        args.push(format!("--nsqd-http-address={}", c.nsqd_http(0)));
    }
    let (status, prefix) = if with_real {
        (200, "WARNING: ")
    } else {
        (502, "UPSTREAM_ERROR: ")
    };
    let p = Pair::start(&args);
    let paths = [
        "/api/topics".to_string(),
        "/api/nodes".to_string(),
        "/api/counter".to_string(),
        format!("/api/nodes/{}", c.node(0)),
    ];
    std::thread::scope(|s| {
        for path in &paths {
            let p = &p;
            let fake = &fake;
            s.spawn(move || {
                let start = Instant::now();
                let (ours, go) = p.both(&Req::get(path));
                let took = start.elapsed();
                let what = format!(
                    "{path} with {how:?} node {} (real node: {with_real})",
                    fake.addr()
                );
                assert!(took < ANSWER_BOUND, "{what}: took {took:?}");
                for (who, r) in [("ours", &ours), ("Go", &go)] {
                    assert_eq!(r.status, status, "{who} {what}: {r:?}");
                    let message = message_of(r);
                    // Go names the node for transport errors; for a body that is not
                    // JSON it gives only the decoder's text.
                    let names_node = how == Misbehaviour::NotJson
                        || message.contains(&fake.addr().port().to_string());
                    assert!(
                        message.len() > prefix.len() && message.starts_with(prefix) && names_node,
                        "{who} {what}: {message}"
                    );
                }
            });
        }
    });
}

#[test]
fn failing_notification_endpoints_do_not_hold_up_actions() {
    if ours_is_go() {
        eprintln!("skipped: Go nsqadmin v1.3.0 crashes when a notification POST fails");
        return;
    }
    let c = Cluster::start(1, 1);
    c.create_channel(0, "t", "ch");
    c.wait_lookup("t", 1, &["ch"]);
    let hang = FakeNode::start(Misbehaviour::Hang);
    for endpoint in [
        format!("http://127.0.0.1:{}/notify", closed_port()),
        format!("http://{}/notify", hang.addr()),
    ] {
        let mut args = c.lookupd_args();
        args.push(format!("--notification-http-endpoint={endpoint}"));
        args.push("--http-client-request-timeout=1s".to_string());
        let mut ours = Admin::start(&nsqadmin_bin(), &args);
        for action in ["pause", "unpause", "pause", "unpause"] {
            let start = Instant::now();
            let r = ours.send(&Req::post(
                "/api/topics/t",
                &format!(r#"{{"action":"{action}"}}"#),
            ));
            assert_eq!(
                (r.status, r.text()),
                (200, r#"{"message":""}"#.into()),
                "{endpoint}"
            );
            assert!(
                start.elapsed() < ANSWER_BOUND,
                "{endpoint}: {:?}",
                start.elapsed()
            );
        }
        // A negative condition (must not crash) needs a window: keep checking through
        // the time every POST needs to fail (refused at once, or the 1 s timeout).
        let window = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < window {
            assert!(ours.alive(), "{endpoint}: ours exited:\n{}", ours.output());
            let r = ours.send(&Req::get("/ping"));
            assert_eq!(r.status, 200, "{endpoint}: {r:?}");
            std::thread::sleep(nsq_tests::poll::POLL_INTERVAL);
        }
        let r = ours.send(&Req::get("/api/topics"));
        assert_eq!(r.status, 200, "{endpoint}: {r:?}");
    }
}
