//! Beyond Go NSQ (opt-in): `--max-attempts` with the `<topic>.dead` dead-letter topic,
//! `--max-msg-age` (drop or dead-letter), the per-channel settings of
//! `POST /channel/config` kept in `nsqd.dat` (which Go nsqd v1.3.0 still reads), and
//! no message lost between a channel and its dead-letter topic across a clean restart
//! and a `kill -9` (`--sync-every=1 --mem-queue-size=0`). Without the flags, behaviour
//! is Go's: a message is delivered a 4th time and `/stats` has no new keys.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use nsq_tests::client::{Client, Frame, Message};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::{wait_for, wait_until};
use serde_json::{json, Value};

/// Failure bound for conditions polled through `/stats`.
const WAIT: Duration = Duration::from_secs(20);
/// A fixed bound for one frame that must arrive.
const FRAME_WAIT: Duration = Duration::from_secs(10);

fn subscriber(nsqd: &Nsqd, topic: &str, channel: &str, rdy: u32) -> Client {
    let mut c = Client::connect(nsqd.tcp_addr());
    c.sub(topic, channel);
    c.expect_ok();
    c.rdy(rdy);
    c.flush().expect("RDY");
    c
}

fn publish(nsqd: &Nsqd, topic: &str, bodies: &[Vec<u8>]) {
    let mut c = Client::connect(nsqd.tcp_addr());
    c.mpub(topic, bodies);
    c.expect_ok();
}

fn bodies(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}-{i:04}").into_bytes())
        .collect()
}

/// Next message, or None if the connection ended or `wait` passed.
fn next(c: &mut Client, wait: Duration) -> Option<Message> {
    match c.try_read_frame(wait) {
        Ok(Some(Frame::Message(m))) => Some(m),
        Ok(Some(other)) => panic!("unexpected frame {other:?}"),
        Ok(None) | Err(_) => None,
    }
}

#[track_caller]
fn wait_channel(nsqd: &Nsqd, topic: &str, channel: &str, expected: &[(&str, u64)]) -> Value {
    wait_for(
        &format!("{topic}/{channel} with {expected:?}"),
        WAIT,
        || {
            let c = http::channel_stats(nsqd.http_addr(), topic, channel);
            let done = c
                .as_ref()
                .is_some_and(|c| expected.iter().all(|(k, v)| c[*k] == json!(v)));
            (done, c)
        },
    )
    .expect("channel")
}

/// REQ every delivery at once until `done` says so (checked after each REQ) or the
/// connection ends; returns the deliveries per body.
fn req_all(
    c: &mut Client,
    seen: &mut HashMap<Vec<u8>, Vec<Message>>,
    mut done: impl FnMut(&HashMap<Vec<u8>, Vec<Message>>) -> bool,
) {
    while let Some(m) = next(c, FRAME_WAIT) {
        c.req(&m.id, 0);
        c.flush().ok();
        seen.entry(m.body.clone()).or_default().push(m);
        if done(seen) {
            return;
        }
    }
}

/// Drain a dead-letter topic: FIN everything until `expected` bodies were seen.
fn drain_dead(nsqd: &Nsqd, topic: &str, expected: usize) -> HashMap<Vec<u8>, Message> {
    let mut c = subscriber(nsqd, topic, "drain", 100);
    let mut got = HashMap::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < expected && Instant::now() < deadline {
        if let Some(m) = next(&mut c, Duration::from_millis(500)) {
            c.fin(&m.id);
            c.flush().ok();
            got.insert(m.body.clone(), m);
        }
    }
    got
}

#[test]
fn max_attempts_dead_letters_the_nth_requeue_with_id_timestamp_and_attempts() {
    let (_dir, nsqd) = Nsqd::start_in_temp("dlq-basic", &["--max-attempts=3"]);
    let sent = bodies("m", 10);
    let mut c = subscriber(&nsqd, "orders", "work", 5);
    publish(&nsqd, "orders", &sent);
    let mut seen = HashMap::new();
    req_all(&mut c, &mut seen, |s| {
        s.len() == sent.len() && s.values().all(|d| d.len() >= 3)
    });
    let stats = wait_channel(
        &nsqd,
        "orders",
        "work",
        &[
            ("dead_letter_count", 10),
            ("depth", 0),
            ("in_flight_count", 0),
        ],
    );
    assert_eq!(stats["max_attempts"], 3);
    assert_eq!(stats["expired_count"], 0);
    // Nothing more comes: each message was delivered exactly 3 times.
    assert!(next(&mut c, Duration::from_millis(300)).is_none());
    for b in &sent {
        let d = &seen[b];
        let attempts: Vec<u16> = d.iter().map(|m| m.attempts).collect();
        assert_eq!(attempts, vec![1, 2, 3], "{}", String::from_utf8_lossy(b));
    }
    let dead = drain_dead(&nsqd, "orders.dead", sent.len());
    assert_eq!(dead.len(), sent.len());
    for b in &sent {
        let m = &dead[b];
        let first = &seen[b][0];
        assert_eq!((m.id, m.ts, m.attempts), (first.id, first.ts, 3));
    }
    // A dead-letter topic's channels never dead-letter again.
    let dead_stats = http::channel_stats(nsqd.http_addr(), "orders.dead", "drain").expect("ch");
    assert!(dead_stats.get("max_attempts").is_none(), "{dead_stats}");
    assert!(http::topic_stats(nsqd.http_addr(), "orders.dead.dead").is_none());
}

#[test]
fn without_the_flag_a_message_is_delivered_a_fourth_time_and_stats_are_gos() {
    for bin in [nsqd_bin(), go_nsqd_bin()] {
        let dir = TempDir::new("dlq-off");
        let nsqd = Nsqd::start(&bin, dir.path(), &[]);
        let mut c = subscriber(&nsqd, "t", "c", 1);
        publish(&nsqd, "t", &bodies("x", 1));
        let mut seen = HashMap::new();
        req_all(&mut c, &mut seen, |s| s.values().any(|d| d.len() >= 4));
        let d = seen.values().next().expect("delivered");
        assert_eq!(d[3].attempts, 4);
        let stats = http::channel_stats(nsqd.http_addr(), "t", "c").expect("channel");
        for key in [
            "dead_letter_count",
            "expired_count",
            "max_attempts",
            "max_msg_age_ms",
        ] {
            assert!(stats.get(key).is_none(), "{bin:?}: {stats}");
        }
        assert!(http::topic_stats(nsqd.http_addr(), "t.dead").is_none());
        drop(nsqd);
    }
}

#[test]
fn messages_older_than_max_msg_age_are_never_delivered() {
    let (_dir, nsqd) = Nsqd::start_in_temp("dlq-age", &["--max-msg-age=2s"]);
    let addr = nsqd.http_addr();
    http::post_ok(addr, "/topic/create?topic=aged");
    http::post_ok(addr, "/channel/create?topic=aged&channel=drop");
    http::post_ok(addr, "/channel/create?topic=aged&channel=dead");
    let answer = http::post_ok(
        addr,
        "/channel/config?topic=aged&channel=dead&max_msg_age_action=dead",
    )
    .json();
    assert_eq!(answer["max_msg_age_ms"], 2000);
    assert_eq!(answer["max_msg_age_action"], "dead");
    http::post_ok(addr, "/channel/pause?topic=aged&channel=drop");
    http::post_ok(addr, "/channel/pause?topic=aged&channel=dead");
    let old = bodies("old", 3);
    publish(&nsqd, "aged", &old);
    let published = Instant::now();
    // Waiting for the messages to age (not for readiness).
    wait_until("messages older than 2s", WAIT, || {
        published.elapsed() > Duration::from_millis(2300)
    });
    let young = bodies("young", 2);
    publish(&nsqd, "aged", &young);
    for ch in ["drop", "dead"] {
        let mut c = subscriber(&nsqd, "aged", ch, 10);
        http::post_ok(addr, &format!("/channel/unpause?topic=aged&channel={ch}"));
        let mut got = HashSet::new();
        while got.len() < young.len() {
            let m = next(&mut c, FRAME_WAIT).expect("young message");
            c.fin(&m.id);
            c.flush().ok();
            assert!(
                m.body.starts_with(b"young"),
                "{ch}: an old message was delivered"
            );
            got.insert(m.body);
        }
        let dead = if ch == "dead" { 3 } else { 0 };
        wait_channel(
            &nsqd,
            "aged",
            ch,
            &[
                ("expired_count", 3),
                ("dead_letter_count", dead),
                ("depth", 0),
                ("in_flight_count", 0),
            ],
        );
        assert!(next(&mut c, Duration::from_millis(300)).is_none());
    }
    // Only the `dead` channel's copies went to the dead-letter topic, where the node's
    // age limit does not apply.
    let dead = drain_dead(&nsqd, "aged.dead", 3);
    let want: HashSet<Vec<u8>> = old.into_iter().collect();
    assert_eq!(dead.keys().cloned().collect::<HashSet<_>>(), want);
}

#[test]
fn channel_settings_persist_and_go_nsqd_still_reads_the_file() {
    let dir = TempDir::new("dlq-persist");
    let mut ours = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let addr = ours.http_addr();
    http::post_ok(addr, "/topic/create?topic=p");
    http::post_ok(addr, "/channel/create?topic=p&channel=c");
    let bad = http::post(
        addr,
        "/channel/config?topic=p&channel=c&max_attempts=x",
        b"",
    );
    http::assert_v1_error(&bad, 400, "INVALID_MAX_ATTEMPTS");
    let a = http::post_ok(
        addr,
        "/channel/config?topic=p&channel=c&max_attempts=2&max_msg_age=90s",
    )
    .json();
    assert_eq!(
        (a["max_attempts"].clone(), a["max_msg_age_ms"].clone()),
        (json!(2), json!(90000))
    );
    http::post_ok(addr, "/topic/create?topic=p.dead");
    http::post_ok(addr, "/channel/create?topic=p.dead&channel=c");
    let refused = http::post(
        addr,
        "/channel/config?topic=p.dead&channel=c&max_attempts=2",
        b"",
    );
    http::assert_v1_error(&refused, 400, "MAX_ATTEMPTS_ON_DEAD_LETTER_TOPIC");
    ours.stop();
    let dat = std::fs::read_to_string(dir.path().join("nsqd.dat")).expect("nsqd.dat");
    assert!(dat.contains(r#""max_attempts":2"#), "{dat}");

    let mut ours = Nsqd::start(&nsqd_bin(), dir.path(), &[]);
    let c = http::channel_stats(ours.http_addr(), "p", "c").expect("channel after restart");
    assert_eq!(
        (c["max_attempts"].clone(), c["max_msg_age_ms"].clone()),
        (json!(2), json!(90000))
    );
    // Back to the node's value (off): the keys leave /stats and the file.
    http::post_ok(
        ours.http_addr(),
        "/channel/config?topic=p&channel=c&max_msg_age=",
    );
    let c = http::channel_stats(ours.http_addr(), "p", "c").expect("channel");
    assert_eq!(c["max_msg_age_ms"], 0);
    ours.stop();

    let mut go = Nsqd::start(&go_nsqd_bin(), dir.path(), &[]);
    assert!(http::channel_stats(go.http_addr(), "p", "c").is_some());
    assert!(http::channel_stats(go.http_addr(), "p.dead", "c").is_some());
    go.stop();
}

/// Publish, REQ every delivery until a third of the messages had their 3rd delivery,
/// stop nsqd (clean: SIGTERM with a message still in flight, which shutdown keeps with its
/// attempts; kill: RDY 0, nothing in flight, then SIGKILL: what is in flight to a consumer
/// at a crash is lost, as in Go nsqd), restart it, REQ on until the channel is empty, and
/// require every published message in the dead-letter topic.
fn across_restart(label: &str, kill: bool) {
    const N: usize = 30;
    let dir = TempDir::new(label);
    let args = ["--max-attempts=3", "--sync-every=1", "--mem-queue-size=0"];
    let mut nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &args);
    let sent = bodies(label, N);
    let mut c = subscriber(&nsqd, "r", "c", 1);
    publish(&nsqd, "r", &sent);
    let mut seen = HashMap::new();
    req_all(&mut c, &mut seen, |s| {
        s.values().filter(|d| d.len() >= 3).count() >= N / 3
    });
    if kill {
        c.rdy(0);
        c.flush().expect("RDY 0");
        let addr = nsqd.http_addr();
        wait_until("nothing in flight", WAIT, || {
            while let Some(m) = next(&mut c, Duration::from_millis(50)) {
                c.req(&m.id, 0);
                c.flush().ok();
                seen.entry(m.body.clone()).or_default().push(m);
            }
            http::channel_stats(addr, "r", "c").is_some_and(|s| s["in_flight_count"] == 0)
        });
        nsqd.kill9();
    } else {
        nsqd.stop();
    }
    drop(c);
    drop(nsqd);
    let nsqd = Nsqd::start(&nsqd_bin(), dir.path(), &args);
    let mut c = subscriber(&nsqd, "r", "c", 1);
    let addr = nsqd.http_addr();
    let mut after: HashMap<Vec<u8>, Vec<Message>> = HashMap::new();
    wait_until(
        "the channel emptied into the dead-letter topic",
        WAIT,
        || {
            while let Some(m) = next(&mut c, Duration::from_millis(100)) {
                c.req(&m.id, 0);
                c.flush().ok();
                after.entry(m.body.clone()).or_default().push(m);
            }
            http::channel_stats(addr, "r", "c").is_some_and(|s| {
                s["depth"] == 0 && s["in_flight_count"] == 0 && s["deferred_count"] == 0
            })
        },
    );
    let dead = drain_dead(&nsqd, "r.dead", N);
    let missing: Vec<String> = sent
        .iter()
        .filter(|b| !dead.contains_key(*b))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        missing.is_empty(),
        "lost between channel and dead-letter topic: {missing:?}"
    );
    for b in &sent {
        let all: Vec<u16> = seen
            .get(b)
            .into_iter()
            .chain(after.get(b))
            .flatten()
            .map(|m| m.attempts)
            .collect();
        assert!(all.iter().all(|a| *a <= 3), "a 4th delivery: {all:?}");
        if kill {
            // Nothing was in flight at the crash: exactly 3 deliveries each.
            assert_eq!(all.len(), 3, "{}", String::from_utf8_lossy(b));
        } else {
            // A message sent as the shutdown began may not have been read by the test.
            assert!((2..=3).contains(&all.len()), "{all:?}");
        }
        assert_eq!(dead[b].attempts, 3, "{}", String::from_utf8_lossy(b));
    }
}

#[test]
fn no_dead_letter_is_lost_across_a_clean_restart() {
    across_restart("dlq-clean", false);
}

#[test]
fn no_dead_letter_is_lost_across_kill_9() {
    across_restart("dlq-kill", true);
}
