//! Graceful restart on the same data dir: a backlog spilled to
//! disk, in-flight and deferred messages, and paused flags all survive SIGTERM and are
//! served by the next process; `nsqd.dat` and the disk-queue metadata have the
//! documented shape.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use nsq_tests::client::{Client, Message};
use nsq_tests::consumer::{drain, Tally};
use nsq_tests::harness::{nsqd_bin, Nsqd, TempDir};
use nsq_tests::http::{channel_stats, post_ok, topic_stats};
use nsq_tests::json_order::object_keys;
use nsq_tests::poll::wait_for;
use nsq_tests::publish::{body_set, mpub_all, unique_bodies};
use serde_json::{json, Value};

/// Upper bound for the daemon to settle (fan-out, loading a backlog); a failure bound only.
const SETTLE: Duration = Duration::from_secs(60);
/// The longest allowed REQ/DPUB delay (`--max-req-timeout` default, 1 h, in ms).
const ONE_HOUR_MS: u64 = 3_600_000;

fn create_topic(nsqd: &Nsqd, topic: &str, channels: &[&str]) {
    post_ok(nsqd.http_addr(), &format!("/topic/create?topic={topic}"));
    for channel in channels {
        post_ok(
            nsqd.http_addr(),
            &format!("/channel/create?topic={topic}&channel={channel}"),
        );
    }
}

/// Waits until `/stats` shows `topic` with the given depth and each channel with its
/// depth, in-flight and deferred counts.
fn wait_depths(nsqd: &Nsqd, topic: &str, topic_depth: u64, channels: &[(&str, u64, u64, u64)]) {
    let addr = nsqd.http_addr();
    wait_for(&format!("depths of {topic}"), SETTLE, || {
        let topic_seen = topic_stats(addr, topic);
        let done = topic_seen
            .as_ref()
            .is_some_and(|t| t["depth"] == topic_depth)
            && channels.iter().all(|(name, depth, in_flight, deferred)| {
                channel_stats(addr, topic, name).is_some_and(|c| {
                    c["depth"] == *depth
                        && c["in_flight_count"] == *in_flight
                        && c["deferred_count"] == *deferred
                })
            });
        (done, topic_seen)
    });
}

fn read_nsqd_dat(dir: &Path) -> (String, Value) {
    let raw = std::fs::read_to_string(dir.join("nsqd.dat")).expect("read nsqd.dat");
    let value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("nsqd.dat: {e}: {raw}"));
    (raw, value)
}

/// The topic entry named `name` in parsed `nsqd.dat`.
fn dat_topic<'a>(dat: &'a Value, name: &str) -> Option<&'a Value> {
    dat["topics"].as_array()?.iter().find(|t| t["name"] == name)
}

/// `{channel name: paused}` of a topic entry in `nsqd.dat`.
fn dat_channels(topic: &Value) -> Vec<(String, bool)> {
    let mut channels: Vec<(String, bool)> = topic["channels"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    let name = c["name"].as_str().expect("channel name").to_string();
                    (name, c["paused"].as_bool().expect("channel paused"))
                })
                .collect()
        })
        .unwrap_or_default();
    channels.sort();
    channels
}

/// Expected `dat_channels` output.
fn channels(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(n, p)| (n.to_string(), *p)).collect()
}

/// Depth recorded in a disk queue's metadata file (`<depth>\n<read>\n<write>\n`).
fn diskqueue_depth(dir: &Path, queue: &str) -> u64 {
    let path = dir.join(format!("{queue}.diskqueue.meta.dat"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text.lines();
    let depth = lines.next().and_then(|l| l.trim().parse().ok());
    assert_eq!(
        lines.count(),
        2,
        "metadata {} is not 3 lines: {text:?}",
        path.display()
    );
    depth.unwrap_or_else(|| panic!("bad depth line in {}: {text:?}", path.display()))
}

fn drain_in_parallel(nsqd: &Nsqd, topic: &str, channels: &[&str], expected: HashSet<Vec<u8>>) {
    let expected = Arc::new(expected);
    let handles: Vec<_> = channels
        .iter()
        .map(|channel| {
            let (addr, topic, channel) = (nsqd.tcp_addr(), topic.to_string(), channel.to_string());
            let expected = Arc::clone(&expected);
            thread::spawn(move || {
                let tally = drain(addr, &topic, &channel, &expected);
                (channel, tally)
            })
        })
        .collect();
    for handle in handles {
        let (channel, tally) = handle.join().expect("drain thread");
        println!(
            "channel {channel}: delivered={} unique={} duplicates={}",
            tally.total(),
            tally.unique(),
            tally.duplicates()
        );
        let missing = tally.missing(expected.iter());
        assert!(missing.is_empty(), "{channel}: {} missing", missing.len());
        assert_eq!(
            tally.unique(),
            expected.len(),
            "{channel}: unexpected bodies"
        );
    }
}

#[test]
fn disk_backlog_survives_restart() {
    const N: usize = 100_000;
    const TOPIC: &str = "spill";
    const CHANNELS: [&str; 2] = ["c1", "c2"];
    let dir = TempDir::new("spill");
    let bin = nsqd_bin();
    let args = ["--mem-queue-size=100"];
    let bodies = unique_bodies("spill", N);

    let mut nsqd = Nsqd::start(&bin, dir.path(), &args);
    create_topic(&nsqd, TOPIC, &CHANNELS);
    mpub_all(nsqd.tcp_addr(), TOPIC, &bodies, 1000);
    let full = N as u64;
    wait_depths(&nsqd, TOPIC, 0, &[("c1", full, 0, 0), ("c2", full, 0, 0)]);
    nsqd.stop();

    for channel in CHANNELS {
        assert_eq!(
            diskqueue_depth(dir.path(), &format!("{TOPIC}:{channel}")),
            full
        );
    }
    let (_, dat) = read_nsqd_dat(dir.path());
    let topic = dat_topic(&dat, TOPIC).expect("topic in nsqd.dat");
    assert_eq!(
        dat_channels(topic),
        channels(&[("c1", false), ("c2", false)])
    );

    let mut nsqd = Nsqd::start(&bin, dir.path(), &args);
    wait_depths(&nsqd, TOPIC, 0, &[("c1", full, 0, 0), ("c2", full, 0, 0)]);
    drain_in_parallel(&nsqd, TOPIC, &CHANNELS, body_set(&bodies));
    wait_depths(&nsqd, TOPIC, 0, &[("c1", 0, 0, 0), ("c2", 0, 0, 0)]);
    nsqd.stop();
}

/// Receives `n` messages on `client`, failing on anything else.
fn take_messages(client: &mut Client, n: usize) -> Vec<Message> {
    (0..n).map(|_| client.expect_message()).collect()
}

#[test]
fn in_flight_and_deferred_messages_are_delivered_after_restart() {
    const TOPIC: &str = "held";
    let dir = TempDir::new("held");
    let bin = nsqd_bin();
    let mut nsqd = Nsqd::start(&bin, dir.path(), &[]);
    create_topic(&nsqd, TOPIC, &["c"]);
    let plain = unique_bodies("plain", 100);
    mpub_all(nsqd.tcp_addr(), TOPIC, &plain, 50);

    let mut consumer = Client::connect(nsqd.tcp_addr());
    consumer.sub(TOPIC, "c");
    consumer.expect_ok();
    consumer.rdy(15);
    let taken = take_messages(&mut consumer, 15);
    consumer.rdy(0);
    let (in_flight, requeued) = taken.split_at(10);
    for message in requeued {
        consumer.req(&message.id, ONE_HOUR_MS);
    }
    let deferred = unique_bodies("deferred", 5);
    let mut publisher = Client::connect(nsqd.tcp_addr());
    for body in &deferred {
        publisher.dpub(TOPIC, ONE_HOUR_MS, body);
        publisher.expect_ok();
    }
    consumer.flush().expect("send REQs");
    wait_depths(&nsqd, TOPIC, 0, &[("c", 85, 10, 10)]);
    nsqd.stop();
    drop(consumer);

    let mut nsqd = Nsqd::start(&bin, dir.path(), &[]);
    // Deferral and in-flight deadlines are lost: everything is queued again.
    wait_depths(&nsqd, TOPIC, 0, &[("c", 105, 0, 0)]);
    let mut expected = body_set(&plain);
    expected.extend(deferred.iter().cloned());
    let tally = drain(nsqd.tcp_addr(), TOPIC, "c", &expected);
    assert_eq!(tally.unique(), 105);
    for before in in_flight {
        assert_redelivered(&tally, before);
    }
    for before in requeued {
        assert_redelivered(&tally, before);
    }
    wait_depths(&nsqd, TOPIC, 0, &[("c", 0, 0, 0)]);
    nsqd.stop();
}

/// `before` came back with the same id and timestamp and a higher attempt count.
fn assert_redelivered(tally: &Tally, before: &Message) {
    let after = &tally.deliveries(&before.body)[0];
    assert_eq!(after.id, before.id, "id changed for {:?}", before.body);
    assert_eq!(
        after.ts, before.ts,
        "timestamp changed for {:?}",
        before.body
    );
    assert!(
        after.attempts >= 2 && after.attempts > before.attempts,
        "attempts not preserved: before {} after {}",
        before.attempts,
        after.attempts
    );
}

#[test]
fn paused_topic_and_channel_survive_restart() {
    let dir = TempDir::new("paused");
    let bin = nsqd_bin();
    let mut nsqd = Nsqd::start(&bin, dir.path(), &[]);
    let http = nsqd.http_addr();
    create_topic(&nsqd, "paused_topic", &["c"]);
    post_ok(http, "/topic/pause?topic=paused_topic");
    create_topic(&nsqd, "paused_chan", &["pc", "live", "tmp%23ephemeral"]);
    post_ok(http, "/channel/pause?topic=paused_chan&channel=pc");
    create_topic(&nsqd, "lonely", &[]);
    create_topic(&nsqd, "eph%23ephemeral", &["c"]);
    let backlog_a = unique_bodies("a", 10);
    let backlog_b = unique_bodies("b", 10);
    mpub_all(nsqd.tcp_addr(), "paused_topic", &backlog_a, 10);
    mpub_all(nsqd.tcp_addr(), "paused_chan", &backlog_b, 10);
    wait_depths(&nsqd, "paused_topic", 10, &[("c", 0, 0, 0)]);
    wait_depths(
        &nsqd,
        "paused_chan",
        0,
        &[("pc", 10, 0, 0), ("live", 10, 0, 0)],
    );
    // HTTP pause persists nsqd.dat immediately.
    let (_, dat) = read_nsqd_dat(dir.path());
    assert_eq!(
        dat_topic(&dat, "paused_topic").expect("topic")["paused"],
        true
    );
    nsqd.stop();

    let (raw, dat) = read_nsqd_dat(dir.path());
    assert_dat_shape(&raw, &dat);
    let summary = |name: &str| {
        let topic = dat_topic(&dat, name).unwrap_or_else(|| panic!("{name} missing: {raw}"));
        (topic["paused"] == true, dat_channels(topic))
    };
    assert_eq!(summary("lonely"), (false, channels(&[])));
    assert_eq!(
        summary("paused_chan"),
        (false, channels(&[("live", false), ("pc", true)]))
    );
    assert_eq!(summary("paused_topic"), (true, channels(&[("c", false)])));
    assert_eq!(
        dat_topic(&dat, "lonely").expect("lonely")["channels"],
        Value::Null
    );
    assert!(
        !raw.contains("ephemeral"),
        "ephemeral names persisted: {raw}"
    );

    let mut nsqd = Nsqd::start(&bin, dir.path(), &[]);
    let http = nsqd.http_addr();
    assert_eq!(
        topic_stats(http, "paused_topic").expect("topic")["paused"],
        true
    );
    assert!(topic_stats(http, "lonely").is_some());
    assert!(topic_stats(http, "eph#ephemeral").is_none());
    let pc = channel_stats(http, "paused_chan", "pc").expect("pc");
    assert_eq!(
        (pc["paused"].clone(), pc["depth"].clone()),
        (json!(true), json!(10))
    );
    let live = channel_stats(http, "paused_chan", "live").expect("live");
    assert_eq!(
        (live["paused"].clone(), live["depth"].clone()),
        (json!(false), json!(10))
    );
    wait_depths(&nsqd, "paused_topic", 10, &[("c", 0, 0, 0)]);

    post_ok(http, "/topic/unpause?topic=paused_topic");
    wait_depths(&nsqd, "paused_topic", 0, &[("c", 10, 0, 0)]);
    let tally = drain(nsqd.tcp_addr(), "paused_topic", "c", &body_set(&backlog_a));
    assert_eq!(tally.unique(), 10);
    post_ok(http, "/channel/unpause?topic=paused_chan&channel=pc");
    let tally = drain(nsqd.tcp_addr(), "paused_chan", "pc", &body_set(&backlog_b));
    assert_eq!(tally.unique(), 10);
    nsqd.stop();
}

/// `{"topics":[{"name","paused","channels":[{"name","paused"}]|null}],"version"}`
/// with keys in that order.
fn assert_dat_shape(raw: &str, dat: &Value) {
    let objects = object_keys(raw);
    assert_eq!(objects[0], ["topics", "version"], "top level of {raw}");
    for keys in &objects[1..] {
        assert!(
            keys == &["name", "paused", "channels"] || keys == &["name", "paused"],
            "unexpected object keys {keys:?} in {raw}"
        );
    }
    assert_eq!(dat["version"], "1.3.0");
    for topic in dat["topics"].as_array().expect("topics array") {
        assert!(topic["name"].is_string() && topic["paused"].is_boolean());
        assert!(topic["channels"].is_null() || topic["channels"].is_array());
    }
}
