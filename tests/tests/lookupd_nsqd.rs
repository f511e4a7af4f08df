//! A real nsqd registering with the nsqlookupd under test: topic and channel creation show up in `/lookup` and `/nodes`, channel
//! deletion unregisters, and stopping nsqd removes its registrations. The nsqd is the Go
//! reference (`$GO_NSQD_BIN`, else `tests/reference/bin/nsqd` from `make reference`;
//! missing is a skip unless `GO_NSQD_BIN` is set), then ours (`$NSQD_BIN` or the one
//! beside the test executable, when built).

use std::path::PathBuf;
use std::time::Duration;

use nsq_tests::daemon::{reference_bin, Daemon};
use nsq_tests::harness::{Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::lookupd;
use nsq_tests::poll::wait_for;
use serde_json::{json, Value};

/// Failure bound for registrations to propagate (nsqd connects and registers at once,
/// but the machine is shared with compilers).
const SETTLE: Duration = Duration::from_secs(20);

fn get(d: &Daemon, path: &str) -> Value {
    let r = http::get(d.http_addr(), path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// Runs the registration scenario with the nsqd binary `nsqd_bin`.
fn nsqd_registers(nsqd_bin: PathBuf) {
    let lookupd = lookupd::start(&[]);
    let dir = TempDir::new("lookupd-nsqd");
    let lookupd_arg = format!("--lookupd-tcp-address={}", lookupd.tcp_addr());
    let mut nsqd = Nsqd::start(
        &nsqd_bin,
        dir.path(),
        &[&lookupd_arg, "--broadcast-address=127.0.0.1"],
    );
    let (tcp_port, http_port) = (nsqd.tcp_addr().port(), nsqd.http_addr().port());

    // The IDENTIFY alone makes nsqd a node without topics.
    wait_for("nsqd listed in /nodes", SETTLE, || {
        let v = get(&lookupd, "/nodes");
        (v["producers"].as_array().map(Vec::len) == Some(1), v)
    });

    http::post_ok(nsqd.http_addr(), "/topic/create?topic=lookup_t");
    http::post_ok(
        nsqd.http_addr(),
        "/channel/create?topic=lookup_t&channel=ch",
    );
    http::post_ok(
        nsqd.http_addr(),
        "/channel/create?topic=lookup_t&channel=tmp%23ephemeral",
    );
    let v = wait_for("topic and channels registered", SETTLE, || {
        let r = http::get(lookupd.http_addr(), "/lookup?topic=lookup_t");
        let v = if r.status == 200 {
            r.json()
        } else {
            Value::Null
        };
        let mut channels: Vec<String> = v["channels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        channels.sort();
        let done = channels == ["ch", "tmp#ephemeral"]
            && v["producers"].as_array().map(Vec::len) == Some(1);
        (done, v)
    });
    let producer = &v["producers"][0];
    assert_eq!(producer["broadcast_address"], "127.0.0.1");
    assert_eq!(producer["tcp_port"], tcp_port);
    assert_eq!(producer["http_port"], http_port);
    assert_eq!(producer["version"], "1.3.0");

    let node = &get(&lookupd, "/nodes")["producers"][0];
    assert_eq!(node["topics"], json!(["lookup_t"]));
    assert_eq!(node["tombstones"], json!([false]));
    assert_eq!(node["http_port"], http_port);

    // Deleting channels sends UNREGISTER: the ephemeral one disappears, the other stays
    // as a key without producers.
    http::post_ok(
        nsqd.http_addr(),
        "/channel/delete?topic=lookup_t&channel=ch",
    );
    http::post_ok(
        nsqd.http_addr(),
        "/channel/delete?topic=lookup_t&channel=tmp%23ephemeral",
    );
    wait_for("channels unregistered", SETTLE, || {
        let debug = get(&lookupd, "/debug");
        let channels = get(&lookupd, "/channels?topic=lookup_t");
        let done =
            debug.get("channel:lookup_t:ch").is_none() && channels["channels"] == json!(["ch"]);
        (done, (debug, channels))
    });

    nsqd.stop();
    wait_for("nsqd's registrations removed", SETTLE, || {
        let nodes = get(&lookupd, "/nodes");
        let t = get(&lookupd, "/lookup?topic=lookup_t");
        (
            nodes["producers"] == json!([]) && t["producers"] == json!([]),
            (nodes, t),
        )
    });
}

#[test]
fn go_nsqd_registers_with_lookupd() {
    match reference_bin("nsqd", "GO_NSQD_BIN") {
        Some(bin) => nsqd_registers(bin),
        None => eprintln!(
            "skipped: Go reference nsqd not found (`make reference` builds \
             tests/reference/bin/nsqd, or set GO_NSQD_BIN)"
        ),
    }
}

#[test]
fn our_nsqd_registers_with_lookupd() {
    nsqd_registers(nsq_tests::harness::nsqd_bin());
}
