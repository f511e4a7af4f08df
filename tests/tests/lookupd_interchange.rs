//! nsqd ↔ nsqlookupd interchange:
//! our nsqd registers with the Go nsqlookupd, the Go nsqd registers with the nsqlookupd
//! under test, and with both implementations of both daemons in one cluster the answers
//! agree. Checked through `/nodes`, `/lookup`, `/debug`: IDENTIFY fields (broadcast
//! address, ports, version, hostname), REGISTER/UNREGISTER on creation and deletion,
//! `PUT /config/nsqlookupd_tcp_addresses` at runtime, and re-registration of everything
//! after a lookupd restarts (its registry is in memory only).
//!
//! Binaries: the nsqd under test is `$NSQD_BIN` (else beside the test executable), the
//! nsqlookupd under test `$NSQLOOKUPD_BIN` (else beside the test executable); the Go
//! references are `$GO_NSQD_BIN` / `$GO_NSQLOOKUPD_BIN`, else `tests/reference/bin/`
//! (`make reference`); a missing reference is a skip, said on stderr.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use nsq_tests::daemon::{reference_bin, Daemon};
use nsq_tests::harness::{nsqd_bin, TempDir};
use nsq_tests::http;
use nsq_tests::json_order::object_keys;
use nsq_tests::lookupd::nsqlookupd_bin;
use nsq_tests::poll::wait_for;
use serde_json::{json, Value};

/// Failure bound for registrations to propagate (the machine is shared with compilers).
const SETTLE: Duration = Duration::from_secs(20);
/// Go's `tombstoned_at` for a producer never tombstoned (the zero time's UnixNano).
const ZERO_TIME_NANOS: i64 = -6795364578871345152;

fn start_lookupd(bin: &Path, tcp_port: u16, http_port: u16) -> Daemon {
    let tcp = format!("--tcp-address=127.0.0.1:{tcp_port}");
    let http = format!("--http-address=127.0.0.1:{http_port}");
    // nsqd queries /channels at this address: an IP, so nothing is resolved.
    Daemon::start(bin, &[&tcp, &http, "--broadcast-address=127.0.0.1"])
}

/// An nsqd on `host` (a 127.0.0.0/8 address) broadcasting `host`, registered with
/// `lookupds`.
fn start_nsqd(bin: &Path, host: &str, dir: &TempDir, lookupds: &[&Daemon]) -> Daemon {
    let mut args = vec![
        format!("--tcp-address={host}:0"),
        format!("--http-address={host}:0"),
        format!("--broadcast-address={host}"),
        format!("--data-path={}", dir.path().display()),
    ];
    for l in lookupds {
        args.push(format!("--lookupd-tcp-address={}", l.tcp_addr()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Daemon::start(bin, &args);
    assert_eq!(nsqd.tcp_addr().ip().to_string(), host, "nsqd TCP listener");
    nsqd
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let r = http::get(addr, path);
    assert_eq!(r.status, 200, "GET {addr}{path}: {}", r.text());
    r.json()
}

/// The `/nodes` entry whose broadcast_address is `host`.
fn node_entry(lookupd: &Daemon, host: &str) -> Option<Value> {
    get_json(lookupd.http_addr(), "/nodes")["producers"]
        .as_array()
        .expect("/nodes producers is an array")
        .iter()
        .find(|p| p["broadcast_address"] == host)
        .cloned()
}

/// `(topic, tombstoned)` pairs of a `/nodes` entry, sorted (their order is unspecified).
fn topics_of(node: &Value) -> Vec<(String, bool)> {
    let topics = node["topics"].as_array().expect("topics array");
    let tombstones = node["tombstones"].as_array().expect("tombstones array");
    assert_eq!(
        topics.len(),
        tombstones.len(),
        "topics and tombstones differ in length: {node}"
    );
    let mut out: Vec<(String, bool)> = topics
        .iter()
        .zip(tombstones)
        .map(|(t, s)| {
            (
                t.as_str().expect("topic").to_string(),
                s.as_bool().expect("tombstone"),
            )
        })
        .collect();
    out.sort();
    out
}

fn untombstoned(topics: &[&str]) -> Vec<(String, bool)> {
    topics.iter().map(|t| (t.to_string(), false)).collect()
}

/// Waits until `lookupd` lists `host` with exactly `topics`; returns the entry.
fn wait_node_topics(lookupd: &Daemon, host: &str, topics: &[(String, bool)]) -> Value {
    wait_for(
        &format!("{host} in /nodes with topics {topics:?}"),
        SETTLE,
        || match node_entry(lookupd, host) {
            Some(n) => (topics_of(&n) == topics, Some(n)),
            None => (false, None),
        },
    )
    .expect("node entry")
}

fn wait_node_gone(lookupd: &Daemon, host: &str) {
    wait_for(&format!("{host} gone from /nodes"), SETTLE, || {
        let n = node_entry(lookupd, host);
        (n.is_none(), n)
    });
}

/// Broadcast addresses of the producers in `/debug` under `key` (e.g. `channel:t:c`).
fn debug_producers(lookupd: &Daemon, key: &str) -> Vec<String> {
    let debug = get_json(lookupd.http_addr(), "/debug");
    let mut out: Vec<String> = debug[key]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["broadcast_address"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn wait_debug(lookupd: &Daemon, key: &str, want: &[&str]) {
    wait_for(
        &format!("/debug {key} to hold producers {want:?}"),
        SETTLE,
        || {
            let got = debug_producers(lookupd, key);
            (got == want, got)
        },
    );
}

/// The OS hostname, as both nsqd implementations send it in IDENTIFY.
fn os_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("read /proc/sys/kernel/hostname")
        .trim()
        .to_string()
}

/// One nsqd and its lookupds over a whole registration life cycle.
fn registration_life_cycle(nsqd_bin: &Path, lookupd_bin: &Path) {
    let host = "127.0.0.2";
    let l1 = start_lookupd(lookupd_bin, 0, 0);
    let dir = TempDir::new("lookupd-interchange");
    let mut nsqd = start_nsqd(nsqd_bin, host, &dir, &[&l1]);
    let api = nsqd.http_addr();

    // IDENTIFY alone makes it a node without topics.
    let node = wait_node_topics(&l1, host, &[]);
    assert_eq!(node["tcp_port"], nsqd.tcp_addr().port(), "{node}");
    assert_eq!(node["http_port"], api.port(), "{node}");
    assert_eq!(node["version"], "1.3.0", "{node}");
    assert_eq!(node["hostname"], os_hostname(), "{node}");
    let remote = node["remote_address"].as_str().expect("remote_address");
    assert!(remote.parse::<SocketAddr>().is_ok(), "{node}");

    // REGISTER on creation: a topic without channels, a topic with two.
    http::post_ok(api, "/topic/create?topic=ix_a");
    http::post_ok(api, "/topic/create?topic=ix_b");
    http::post_ok(api, "/channel/create?topic=ix_b&channel=c1");
    http::post_ok(api, "/channel/create?topic=ix_b&channel=c2");
    wait_node_topics(&l1, host, &untombstoned(&["ix_a", "ix_b"]));
    wait_debug(&l1, "channel:ix_b:c1", &[host]);
    wait_debug(&l1, "channel:ix_b:c2", &[host]);
    let lookup = get_json(l1.http_addr(), "/lookup?topic=ix_b");
    let mut channels = lookup["channels"].as_array().expect("channels").clone();
    channels.sort_by_key(|c| c.to_string());
    assert_eq!(channels, [json!("c1"), json!("c2")], "{lookup}");
    let producers = lookup["producers"].as_array().expect("producers");
    assert_eq!(producers.len(), 1, "{lookup}");
    assert_eq!(producers[0]["broadcast_address"], host, "{lookup}");
    assert_eq!(producers[0]["tcp_port"], nsqd.tcp_addr().port(), "{lookup}");
    assert_eq!(producers[0]["http_port"], api.port(), "{lookup}");
    assert_eq!(producers[0]["version"], "1.3.0", "{lookup}");

    // UNREGISTER on deletion.
    http::post_ok(api, "/topic/delete?topic=ix_a");
    http::post_ok(api, "/channel/delete?topic=ix_b&channel=c2");
    wait_node_topics(&l1, host, &untombstoned(&["ix_b"]));
    wait_debug(&l1, "channel:ix_b:c2", &[]);
    wait_debug(&l1, "channel:ix_b:c1", &[host]);
    let lookup = get_json(l1.http_addr(), "/lookup?topic=ix_a");
    assert_eq!(lookup["producers"], json!([]), "{lookup}");

    // A new lookupd set at runtime: the new one gets everything, the old one is dropped.
    let l2 = start_lookupd(lookupd_bin, 0, 0);
    let body = json!([l2.tcp_addr().to_string()]).to_string();
    let r = http::put(api, "/config/nsqlookupd_tcp_addresses", body.as_bytes());
    assert_eq!(
        r.status,
        200,
        "PUT /config/nsqlookupd_tcp_addresses: {}",
        r.text()
    );
    wait_node_topics(&l2, host, &untombstoned(&["ix_b"]));
    wait_debug(&l2, "channel:ix_b:c1", &[host]);
    wait_node_gone(&l1, host);

    // That lookupd restarts (empty registry) on the same ports: nsqd registers
    // everything again. Go's nsqd notices the lost connection only when a command
    // fails and reconnects on the next one, so two topics are created.
    let (tcp, web) = (l2.tcp_addr(), l2.http_addr());
    let mut l2 = l2;
    l2.stop();
    let l2 = start_lookupd(lookupd_bin, tcp.port(), web.port());
    assert_eq!((l2.tcp_addr(), l2.http_addr()), (tcp, web));
    http::post_ok(api, "/topic/create?topic=ix_c");
    http::post_ok(api, "/topic/create?topic=ix_d");
    wait_node_topics(&l2, host, &untombstoned(&["ix_b", "ix_c", "ix_d"]));
    wait_debug(&l2, "channel:ix_b:c1", &[host]);

    // Stopping nsqd ends its connection: the lookupd forgets it.
    nsqd.stop();
    wait_node_gone(&l2, host);
    let lookup = get_json(l2.http_addr(), "/lookup?topic=ix_b");
    assert_eq!(lookup["producers"], json!([]), "{lookup}");
}

fn go_reference(name: &str, var: &str) -> Option<std::path::PathBuf> {
    let bin = reference_bin(name, var);
    if bin.is_none() {
        eprintln!(
            "skipped: Go reference {name} not found (`make reference` builds \
             tests/reference/bin/{name}, or set {var})"
        );
    }
    bin
}

#[test]
fn nsqd_under_test_registers_with_go_nsqlookupd() {
    if let Some(go_lookupd) = go_reference("nsqlookupd", "GO_NSQLOOKUPD_BIN") {
        registration_life_cycle(&nsqd_bin(), &go_lookupd);
    }
}

#[test]
fn go_nsqd_registers_with_nsqlookupd_under_test() {
    if let Some(go_nsqd) = go_reference("nsqd", "GO_NSQD_BIN") {
        registration_life_cycle(&go_nsqd, &nsqlookupd_bin());
    }
}

// ---- both implementations of both daemons in one cluster ----

/// A lookupd response with what legitimately differs between two lookupds (and two
/// connections) taken out: remote ports, `last_update`, the order of lists.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, val) in map {
                let val = match k.as_str() {
                    // The peer's ip is kept; its port is per connection.
                    "remote_address" | "id" => {
                        let s = val.as_str().unwrap_or_default();
                        json!(s.parse::<SocketAddr>().map(|a| a.ip().to_string()).ok())
                    }
                    "last_update" => json!(val.is_i64()),
                    "tombstoned_at" => json!(val.as_i64() != Some(ZERO_TIME_NANOS)),
                    _ => normalized(val),
                };
                out.insert(k.clone(), val);
            }
            // /nodes: topics and tombstones are parallel lists in unspecified order.
            if let (Some(Value::Array(_)), Some(Value::Array(_))) =
                (map.get("topics"), map.get("tombstones"))
            {
                let pairs = topics_of(v);
                out.insert(
                    "topics".into(),
                    json!(pairs.iter().map(|p| &p.0).collect::<Vec<_>>()),
                );
                out.insert(
                    "tombstones".into(),
                    json!(pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// The distinct key lists of the objects in a raw JSON text, sorted: the key order each
/// kind of object is written with, whatever the order of list elements.
fn key_orders(raw: &str) -> Vec<Vec<String>> {
    let mut keys = object_keys(raw);
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn both_implementations_agree() {
    let (Some(go_lookupd), Some(go_nsqd)) = (
        go_reference("nsqlookupd", "GO_NSQLOOKUPD_BIN"),
        go_reference("nsqd", "GO_NSQD_BIN"),
    ) else {
        return;
    };
    let go_l = start_lookupd(&go_lookupd, 0, 0);
    let test_l = start_lookupd(&nsqlookupd_bin(), 0, 0);
    let (go_dir, test_dir) = (TempDir::new("agree-go"), TempDir::new("agree-test"));
    let (go_host, test_host) = ("127.0.0.2", "127.0.0.3");
    let go_n = start_nsqd(&go_nsqd, go_host, &go_dir, &[&go_l, &test_l]);
    let test_n = start_nsqd(&nsqd_bin(), test_host, &test_dir, &[&go_l, &test_l]);

    for n in [&go_n, &test_n] {
        http::post_ok(n.http_addr(), "/topic/create?topic=ag_a");
        http::post_ok(n.http_addr(), "/topic/create?topic=ag_b");
        http::post_ok(n.http_addr(), "/channel/create?topic=ag_b&channel=c1");
        http::post_ok(n.http_addr(), "/channel/create?topic=ag_b&channel=c2");
    }
    let both = [go_host, test_host];
    for l in [&go_l, &test_l] {
        for host in both {
            wait_node_topics(l, host, &untombstoned(&["ag_a", "ag_b"]));
        }
        for key in [
            "client::",
            "topic:ag_a:",
            "topic:ag_b:",
            "channel:ag_b:c1",
            "channel:ag_b:c2",
        ] {
            wait_debug(l, key, &both);
        }
        let node = format!("{go_host}:{}", go_n.http_addr().port());
        http::post_ok(
            l.http_addr(),
            &format!("/topic/tombstone?topic=ag_a&node={node}"),
        );
    }

    // Our nsqd registers what Go's does: same IDENTIFY fields, same topics.
    for l in [&go_l, &test_l] {
        let go_node = node_entry(l, go_host).expect("Go nsqd listed");
        let test_node = node_entry(l, test_host).expect("our nsqd listed");
        for field in ["hostname", "version"] {
            assert_eq!(
                go_node[field], test_node[field],
                "{field}: {go_node} vs {test_node}"
            );
        }
        assert_eq!(
            topics_of(&go_node),
            [("ag_a".to_string(), true), ("ag_b".to_string(), false)]
        );
        assert_eq!(topics_of(&test_node), untombstoned(&["ag_a", "ag_b"]));
    }

    // The lookupd under test answers as Go's does, key order included.
    for path in [
        "/lookup?topic=ag_a",
        "/lookup?topic=ag_b",
        "/lookup?topic=absent",
        "/nodes",
        "/topics",
        "/channels?topic=ag_b",
        "/channels?topic=absent",
        "/debug",
        "/info",
    ] {
        let go_r = http::get(go_l.http_addr(), path);
        let test_r = http::get(test_l.http_addr(), path);
        assert_eq!(
            go_r.status,
            test_r.status,
            "GET {path}: {} vs {}",
            go_r.text(),
            test_r.text()
        );
        assert_eq!(
            normalized(&go_r.json()),
            normalized(&test_r.json()),
            "GET {path} (normalized): Go {} vs under test {}",
            go_r.text(),
            test_r.text()
        );
        assert_eq!(
            key_orders(&go_r.text()),
            key_orders(&test_r.text()),
            "GET {path}: key order, Go {} vs under test {}",
            go_r.text(),
            test_r.text()
        );
    }
}
