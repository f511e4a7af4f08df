//! Ephemeral topics and channels (`#ephemeral` suffix)
//! against a real nsqd: deleted when their last client (channel) goes, memory-only with
//! overflow dropped, never in `nsqd.dat` nor in disk queue files. Other delivery
//! semantics live in `delivery.rs`.
//!
//! Every test also passes against the Go reference (`NSQD_BIN=tests/reference/bin/nsqd`).

use std::path::Path;
use std::time::Duration;

use nsq_tests::client::Client;
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use nsq_tests::publish::{mpub_all, unique_bodies};
use serde_json::{json, Value};

/// Failure bound for conditions polled through `/stats`.
const WAIT: Duration = Duration::from_secs(15);
/// Observation window for "nothing else arrives" once `/stats` shows an empty channel.
const QUIET: Duration = Duration::from_millis(300);
/// `--mem-queue-size` for the overflow test.
const MEM_QUEUE: usize = 10;

fn subscriber(nsqd: &Nsqd, topic: &str, channel: &str) -> Client {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.sub(topic, channel);
    client.expect_ok();
    client
}

/// Channel names of `topic` in `/stats`, or None if the topic does not exist.
fn channel_names(nsqd: &Nsqd, topic: &str) -> Option<Vec<String>> {
    let t = http::topic_stats(nsqd.http_addr(), topic)?;
    let names = t["channels"].as_array().expect("channels array");
    Some(
        names
            .iter()
            .map(|c| c["channel_name"].as_str().expect("name").to_string())
            .collect(),
    )
}

/// Waits until `channel_names(topic)` equals `expected` (None: topic gone).
#[track_caller]
fn wait_channels(nsqd: &Nsqd, topic: &str, expected: Option<&[&str]>) {
    let expected: Option<Vec<String>> =
        expected.map(|names| names.iter().map(|n| n.to_string()).collect());
    wait_for(&format!("channels of {topic} = {expected:?}"), WAIT, || {
        let seen = channel_names(nsqd, topic);
        (seen == expected, seen)
    });
}

#[track_caller]
fn wait_field(nsqd: &Nsqd, what: &str, expected: Value, probe: impl Fn(&Nsqd) -> Value) {
    wait_for(what, WAIT, || {
        let seen = probe(nsqd);
        (seen == expected, seen)
    });
}

fn channel_field(nsqd: &Nsqd, topic: &str, channel: &str, key: &str) -> Value {
    http::channel_stats(nsqd.http_addr(), topic, channel).map_or(Value::Null, |c| c[key].clone())
}

fn topic_field(nsqd: &Nsqd, topic: &str, key: &str) -> Value {
    http::topic_stats(nsqd.http_addr(), topic).map_or(Value::Null, |t| t[key].clone())
}

/// Files in `dir` that belong to the queue of an ephemeral topic (`<topic>.diskqueue.*`)
/// or ephemeral channel (`<topic>:<channel>.diskqueue.*`). A durable channel of an
/// ephemeral topic does have a disk queue in the reference, so it is not counted.
fn ephemeral_queue_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read data dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| {
            let queue = name.split(".diskqueue").next().unwrap_or_default();
            let own_name = queue.rsplit(':').next().unwrap_or_default();
            own_name.ends_with("#ephemeral")
        })
        .collect()
}

#[test]
fn ephemeral_channel_goes_with_its_last_client() {
    let (_dir, nsqd) = Nsqd::start_in_temp("eph-channel", &[]);
    let a = subscriber(&nsqd, "t", "c#ephemeral");
    let b = subscriber(&nsqd, "t", "c#ephemeral");
    let _durable = subscriber(&nsqd, "t", "d");
    wait_field(&nsqd, "two clients", json!(2), |n| {
        channel_field(n, "t", "c#ephemeral", "client_count")
    });
    drop(a);
    wait_field(&nsqd, "one client left", json!(1), |n| {
        channel_field(n, "t", "c#ephemeral", "client_count")
    });
    assert_eq!(
        channel_names(&nsqd, "t"),
        Some(vec!["c#ephemeral".to_string(), "d".to_string()])
    );
    drop(b);
    // The topic is not ephemeral: it stays, with its other channel.
    wait_channels(&nsqd, "t", Some(&["d"]));
}

#[test]
fn ephemeral_topic_goes_with_its_last_channel() {
    let (_dir, nsqd) = Nsqd::start_in_temp("eph-topic", &[]);
    let addr = nsqd.http_addr();
    // Deleted through its ephemeral channel losing its last client.
    let client = subscriber(&nsqd, "e#ephemeral", "c#ephemeral");
    wait_channels(&nsqd, "e#ephemeral", Some(&["c#ephemeral"]));
    drop(client);
    wait_channels(&nsqd, "e#ephemeral", None);

    // Deleted through an HTTP channel delete; one that never had a channel stays.
    http::post_ok(addr, "/topic/create?topic=lonely%23ephemeral");
    http::post_ok(addr, "/topic/create?topic=h%23ephemeral");
    http::post_ok(addr, "/channel/create?topic=h%23ephemeral&channel=a");
    http::post_ok(addr, "/channel/create?topic=h%23ephemeral&channel=b");
    http::post_ok(addr, "/channel/delete?topic=h%23ephemeral&channel=a");
    wait_channels(&nsqd, "h#ephemeral", Some(&["b"]));
    http::post_ok(addr, "/channel/delete?topic=h%23ephemeral&channel=b");
    wait_channels(&nsqd, "h#ephemeral", None);
    assert_eq!(channel_names(&nsqd, "lonely#ephemeral"), Some(vec![]));
}

#[test]
fn ephemeral_names_are_not_persisted() {
    let (dir, mut nsqd) = Nsqd::start_in_temp("eph-metadata", &[]);
    let _clients = [
        subscriber(&nsqd, "keep", "d"),
        subscriber(&nsqd, "keep", "c#ephemeral"),
        subscriber(&nsqd, "e#ephemeral", "c"),
    ];
    let bodies = unique_bodies("m", 5);
    mpub_all(nsqd.tcp_addr(), "keep", &bodies, 5);
    mpub_all(nsqd.tcp_addr(), "e#ephemeral", &bodies, 5);
    mpub_all(nsqd.tcp_addr(), "lone#ephemeral", &bodies, 5);
    wait_field(&nsqd, "keep/c#ephemeral holds 5", json!(5), |n| {
        channel_field(n, "keep", "c#ephemeral", "depth")
    });
    wait_field(&nsqd, "e#ephemeral/c holds 5", json!(5), |n| {
        channel_field(n, "e#ephemeral", "c", "depth")
    });
    wait_field(&nsqd, "lone#ephemeral holds 5", json!(5), |n| {
        topic_field(n, "lone#ephemeral", "depth")
    });
    // Shutdown writes metadata and flushes every memory queue to disk.
    nsqd.stop();

    let raw = std::fs::read(dir.path().join("nsqd.dat")).expect("nsqd.dat exists");
    let meta: Value = serde_json::from_slice(&raw).expect("nsqd.dat is JSON");
    let topics: Vec<_> = meta["topics"].as_array().expect("topics").iter().collect();
    assert_eq!(topics.len(), 1, "{meta}");
    assert_eq!(topics[0]["name"], "keep", "{meta}");
    let channels = topics[0]["channels"].as_array().expect("channels");
    let names: Vec<_> = channels.iter().map(|c| &c["name"]).collect();
    assert_eq!(names, [&json!("d")], "{meta}");

    assert_eq!(ephemeral_queue_files(dir.path()), Vec::<String>::new());
    // Sanity: the durable channel's backlog did go to disk.
    let durable = std::fs::read_dir(dir.path())
        .expect("read data dir")
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("keep:d.diskqueue")
        });
    assert!(durable, "no disk queue file for keep:d");
}

#[test]
fn ephemeral_overflow_is_dropped_not_written() {
    let mem_queue = MEM_QUEUE.to_string();
    let (dir, nsqd) = Nsqd::start_in_temp("eph-overflow", &["--mem-queue-size", &mem_queue]);
    let published = 3 * MEM_QUEUE;
    let bodies = unique_bodies("o", published);

    // Ephemeral channel of a durable topic: the topic passes everything on, the
    // channel keeps what fits in memory.
    let mut client = subscriber(&nsqd, "t", "c#ephemeral");
    mpub_all(nsqd.tcp_addr(), "t", &bodies, published);
    wait_field(&nsqd, "channel got every copy", json!(published), |n| {
        channel_field(n, "t", "c#ephemeral", "message_count")
    });
    wait_field(&nsqd, "topic drained", json!(0), |n| {
        topic_field(n, "t", "depth")
    });
    let c = http::channel_stats(nsqd.http_addr(), "t", "c#ephemeral").expect("channel");
    assert_eq!(
        (&c["depth"], &c["backend_depth"]),
        (&json!(MEM_QUEUE), &json!(0)),
        "{c}"
    );

    // Ephemeral topic without channels: same for the topic's own queue.
    mpub_all(nsqd.tcp_addr(), "e#ephemeral", &bodies, published);
    let t = http::topic_stats(nsqd.http_addr(), "e#ephemeral").expect("topic");
    let counts = (&t["message_count"], &t["depth"], &t["backend_depth"]);
    assert_eq!(
        counts,
        (&json!(published), &json!(MEM_QUEUE), &json!(0)),
        "{t}"
    );

    assert_eq!(ephemeral_queue_files(dir.path()), Vec::<String>::new());

    client.rdy(published as u32);
    let got: Vec<_> = (0..MEM_QUEUE).map(|_| client.expect_message()).collect();
    assert!(got.iter().all(|m| bodies.contains(&m.body)));
    wait_field(
        &nsqd,
        "all held messages in flight",
        json!(MEM_QUEUE),
        |n| channel_field(n, "t", "c#ephemeral", "in_flight_count"),
    );
    assert_eq!(channel_field(&nsqd, "t", "c#ephemeral", "depth"), json!(0));
    match client.try_read_frame(QUIET) {
        Ok(None) => {}
        other => panic!("only {MEM_QUEUE} messages were kept, got {other:?}"),
    }
}
