//! Delivery semantics of a real nsqd:
//! heartbeats and the idle timeout, message timeouts, TOUCH, REQ (immediate, deferred,
//! clamped), DPUB, the RDY window, competing consumers, channel fan-out, a topic's
//! backlog, CLS, sampling, pause, and `--max-channel-consumers`. Ephemeral topics and
//! channels live in `ephemeral.rs`; protocol error texts in `tcp_errors.rs`.
//!
//! Every test also passes against the Go reference (`NSQD_BIN=tests/reference/bin/nsqd`).
//! Timing is only ever asserted as a lower bound ("not delivered before the delay") or as
//! a generous failure deadline. The reference scans a channel for timeouts and deferred
//! messages only after its 5 s channel-list refresh, so a fresh channel's first timeout
//! may take ~5 s there: deadlines allow for it.

use std::time::{Duration, Instant};

use nsq_tests::client::{Client, Frame, Message};
use nsq_tests::consumer::{drain_into, drain_until_empty, Consumer, Tally};
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use nsq_tests::publish::{body_set, mpub_all, unique_bodies};
use serde_json::{json, Value};

/// Failure bound for conditions polled through `/stats`.
const WAIT: Duration = Duration::from_secs(15);
/// Observation window for "nothing else arrives", used only after `/stats` has shown
/// the state that makes a delivery impossible; it catches stray deliveries, it is not
/// what the test relies on.
const QUIET: Duration = Duration::from_millis(300);
/// Smallest message timeout a client may ask for (IDENTIFY `msg_timeout`, ms).
const MSG_TIMEOUT_MS: u64 = 1000;
/// Pause between two TOUCHes: well under [`MSG_TIMEOUT_MS`].
const TOUCH_EVERY: Duration = Duration::from_millis(250);
/// TOUCHes (one per [`TOUCH_EVERY`] without frames) after the control message timed
/// out: about two more message timeouts.
const TOUCHES_AFTER_CONTROL: u32 = 8;

/// A connection that sent IDENTIFY `identify` (if any), subscribed and set RDY `rdy`.
fn subscriber(nsqd: &Nsqd, topic: &str, channel: &str, identify: Value, rdy: u32) -> Client {
    let mut client = Client::connect(nsqd.tcp_addr());
    if !identify.is_null() {
        client.identify(&identify);
        client.expect_ok();
    }
    client.sub(topic, channel);
    client.expect_ok();
    if rdy > 0 {
        client.rdy(rdy);
        client.flush().expect("send RDY");
    }
    client
}

fn publish(nsqd: &Nsqd, topic: &str, body: &[u8]) {
    let mut client = Client::connect(nsqd.tcp_addr());
    client.pub_(topic, body);
    client.expect_ok();
}

/// Waits until the channel's `/stats` object has every `(key, value)` of `expected`;
/// returns it.
#[track_caller]
fn wait_channel(nsqd: &Nsqd, topic: &str, channel: &str, expected: &[(&str, u64)]) -> Value {
    let what = format!("{topic}/{channel} with {expected:?}");
    let seen = wait_for(&what, WAIT, || {
        let stats = http::channel_stats(nsqd.http_addr(), topic, channel);
        let done = stats
            .as_ref()
            .is_some_and(|c| expected.iter().all(|(k, v)| c[*k] == json!(v)));
        (done, stats)
    });
    seen.expect("channel exists")
}

/// Waits until the topic's `/stats` object has every `(key, value)` of `expected`.
#[track_caller]
fn wait_topic(nsqd: &Nsqd, topic: &str, expected: &[(&str, u64)]) {
    wait_for(&format!("{topic} with {expected:?}"), WAIT, || {
        let stats = http::topic_stats(nsqd.http_addr(), topic);
        let done = stats
            .as_ref()
            .is_some_and(|t| expected.iter().all(|(k, v)| t[*k] == json!(v)));
        (done, stats)
    });
}

/// Requires that no frame arrives within [`QUIET`].
#[track_caller]
fn assert_quiet(client: &mut Client) {
    match client.try_read_frame(QUIET) {
        Ok(None) => {}
        other => panic!("expected nothing from the server, got {other:?}"),
    }
}

/// `n` messages, in arrival order.
fn receive(client: &mut Client, n: usize) -> Vec<Message> {
    (0..n).map(|_| client.expect_message()).collect()
}

/// A redelivery keeps ID, body and timestamp; only `attempts` changes.
#[track_caller]
fn assert_same_message(again: &Message, first: &Message, attempts: u16) {
    assert_eq!(
        (&again.id, &again.body, again.ts, again.attempts),
        (&first.id, &first.body, first.ts, attempts),
        "redelivery differs from the first delivery"
    );
}

#[test]
fn heartbeats_arrive_and_nop_answers_keep_the_connection() {
    let (_dir, nsqd) = Nsqd::start_in_temp("heartbeat-nop", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.answer_heartbeats = false;
    client.identify(&json!({"heartbeat_interval": 1000}));
    client.expect_ok();
    // Four heartbeats answered span more than twice the interval, the idle limit.
    for _ in 0..4 {
        client.expect_response_eq(b"_heartbeat_");
        client.nop();
    }
    client.pub_("t", b"still connected");
    client.expect_ok();
}

#[test]
fn silent_client_is_disconnected_after_missed_heartbeats() {
    let (_dir, nsqd) = Nsqd::start_in_temp("heartbeat-silent", &[]);
    let mut client = Client::connect(nsqd.tcp_addr());
    client.answer_heartbeats = false;
    client.identify(&json!({"heartbeat_interval": 1000}));
    client.expect_ok();
    client.expect_response_eq(b"_heartbeat_");
    // Nothing more from us: closed after ~2 intervals, well within expect_closed's limit.
    client.expect_closed();
}

#[test]
fn timed_out_message_is_redelivered_and_the_old_fin_fails() {
    let (_dir, nsqd) = Nsqd::start_in_temp("msg-timeout", &[]);
    let mut slow = subscriber(
        &nsqd,
        "t",
        "c",
        json!({"client_id": "slow", "msg_timeout": MSG_TIMEOUT_MS}),
        1,
    );
    publish(&nsqd, "t", b"m");
    let first = slow.expect_message();
    assert_eq!(first.attempts, 1);
    slow.rdy(0);
    slow.flush().expect("send RDY 0");
    let mut other = subscriber(&nsqd, "t", "c", json!({"client_id": "other"}), 1);
    let again = other.expect_message();
    assert_same_message(&again, &first, 2);
    let c = wait_channel(
        &nsqd,
        "t",
        "c",
        &[("timeout_count", 1), ("in_flight_count", 1)],
    );
    assert_eq!((&c["requeue_count"], &c["depth"]), (&json!(0), &json!(0)));
    let slow_stats = http::client_stats(nsqd.http_addr(), "t", "c", "slow").expect("slow");
    assert_eq!(slow_stats["in_flight_count"], 0, "{slow_stats}");

    slow.fin(&first.id);
    assert_eq!(
        slow.expect_error("E_FIN_FAILED"),
        format!(
            "E_FIN_FAILED FIN {} failed client does not own message",
            first.id_str()
        )
    );
    slow.pub_("t2", b"slow is still connected");
    slow.expect_ok();
    other.fin(&again.id);
    other.flush().expect("send FIN");
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 0)]);
}

#[test]
fn touch_keeps_a_message_from_timing_out() {
    let (_dir, nsqd) = Nsqd::start_in_temp("touch", &[]);
    let identify = json!({"msg_timeout": MSG_TIMEOUT_MS});
    let mut client = subscriber(&nsqd, "t", "c", identify, 2);
    mpub_all(
        nsqd.tcp_addr(),
        "t",
        &[b"touched".to_vec(), b"control".to_vec()],
        2,
    );
    let mut got = receive(&mut client, 2);
    got.sort_by(|a, b| b.body.cmp(&a.body));
    let (touched, control) = (&got[0], &got[1]);
    assert_eq!(touched.body, b"touched");

    // Touch until the untouched control message has timed out and come back (proof
    // that the server's timeout check ran past both deadlines), then a while longer.
    let deadline = Instant::now() + WAIT;
    let mut touches_after = None;
    while touches_after != Some(0) {
        assert!(Instant::now() < deadline, "control message never timed out");
        match client.try_read_frame(TOUCH_EVERY).expect("connection") {
            Some(Frame::Message(m)) => {
                assert!(touches_after.is_none(), "unexpected redelivery {m:?}");
                assert_same_message(&m, control, 2);
                client.fin(&m.id);
                touches_after = Some(TOUCHES_AFTER_CONTROL);
            }
            Some(other) => panic!("unexpected frame {other:?}"),
            None => {
                client.touch(&touched.id);
                touches_after = touches_after.map(|n| n - 1);
            }
        }
    }
    client.fin(&touched.id);
    client.flush().expect("send FIN");
    let c = wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 0)]);
    assert_eq!(
        c["timeout_count"], 1,
        "only the control message timed out: {c}"
    );
}

#[test]
fn req_zero_redelivers_at_once_with_attempts_plus_one() {
    let (_dir, nsqd) = Nsqd::start_in_temp("req-zero", &[]);
    let mut client = subscriber(&nsqd, "t", "c", json!({"client_id": "r"}), 1);
    publish(&nsqd, "t", b"m");
    let first = client.expect_message();
    client.req(&first.id, 0);
    let again = client.expect_message();
    assert_same_message(&again, &first, 2);
    let c = wait_channel(&nsqd, "t", "c", &[("requeue_count", 1)]);
    assert_eq!(c["timeout_count"], 0, "{c}");
    let me = http::client_stats(nsqd.http_addr(), "t", "c", "r").expect("client r");
    assert_eq!(me["requeue_count"], 1, "{me}");
    client.fin(&again.id);
    client.flush().expect("send FIN");
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 0)]);
}

/// REQs `message` with `delay_ms` and returns the redelivery, checking that it was
/// deferred (in `deferred_count`, not in `depth`) and not delivered before `min_delay`.
fn req_and_await(
    nsqd: &Nsqd,
    client: &mut Client,
    message: &Message,
    delay_ms: u64,
    min_delay: Duration,
) -> Message {
    let sent = Instant::now();
    client.req(&message.id, delay_ms);
    client.flush().expect("send REQ");
    wait_channel(
        nsqd,
        "t",
        "c",
        &[("deferred_count", 1), ("depth", 0), ("in_flight_count", 0)],
    );
    let again = client.expect_message();
    let waited = sent.elapsed();
    assert!(
        waited >= min_delay,
        "redelivered after {waited:?} < {min_delay:?}"
    );
    assert_same_message(&again, message, message.attempts + 1);
    again
}

#[test]
fn req_with_delay_defers_the_message() {
    let (_dir, nsqd) = Nsqd::start_in_temp("req-delay", &[]);
    let mut client = subscriber(&nsqd, "t", "c", Value::Null, 1);
    publish(&nsqd, "t", b"m");
    let first = client.expect_message();
    let again = req_and_await(
        &nsqd,
        &mut client,
        &first,
        1500,
        Duration::from_millis(1500),
    );
    let c = wait_channel(
        &nsqd,
        "t",
        "c",
        &[("deferred_count", 0), ("requeue_count", 1)],
    );
    assert_eq!(c["timeout_count"], 0, "{c}");
    client.fin(&again.id);
    client.flush().expect("send FIN");
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0)]);
}

#[test]
fn req_above_max_req_timeout_is_clamped() {
    let (_dir, nsqd) = Nsqd::start_in_temp("req-clamp", &["--max-req-timeout=2s"]);
    let mut client = subscriber(&nsqd, "t", "c", Value::Null, 1);
    publish(&nsqd, "t", b"m");
    let first = client.expect_message();
    // An hour asked, two seconds allowed: no error, redelivered after the clamp.
    let again = req_and_await(
        &nsqd,
        &mut client,
        &first,
        3_600_000,
        Duration::from_secs(2),
    );
    client.fin(&again.id);
    client.pub_("t2", b"no error came before this OK");
    client.expect_ok();
}

#[test]
fn dpub_is_deferred_then_delivered() {
    let (_dir, nsqd) = Nsqd::start_in_temp("dpub", &[]);
    let mut client = subscriber(&nsqd, "t", "c", Value::Null, 1);
    let mut publisher = Client::connect(nsqd.tcp_addr());
    let sent = Instant::now();
    publisher.dpub("t", 2000, b"later");
    publisher.expect_ok();
    wait_channel(
        &nsqd,
        "t",
        "c",
        &[("deferred_count", 1), ("depth", 0), ("message_count", 1)],
    );
    let message = client.expect_message();
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "delivered after {waited:?}"
    );
    assert_eq!(
        (message.body.as_slice(), message.attempts),
        (&b"later"[..], 1)
    );
    client.fin(&message.id);
    client.flush().expect("send FIN");
    wait_channel(
        &nsqd,
        "t",
        "c",
        &[("deferred_count", 0), ("in_flight_count", 0)],
    );
}

#[test]
fn rdy_is_a_window_of_in_flight_messages() {
    let (_dir, nsqd) = Nsqd::start_in_temp("rdy-window", &[]);
    let mut client = subscriber(&nsqd, "t", "c", Value::Null, 0);
    let bodies = unique_bodies("w", 10);
    mpub_all(nsqd.tcp_addr(), "t", &bodies, 10);
    wait_channel(&nsqd, "t", "c", &[("depth", 10)]);
    assert_quiet(&mut client);

    client.rdy(3);
    let mut got = receive(&mut client, 3);
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 3), ("depth", 7)]);
    assert_quiet(&mut client);

    client.fin(&got[0].id);
    got.extend(receive(&mut client, 1));
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 3), ("depth", 6)]);

    client.rdy(5);
    got.extend(receive(&mut client, 2));
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 5), ("depth", 4)]);

    client.rdy(0);
    for message in &got[1..] {
        client.fin(&message.id);
    }
    client.flush().expect("send RDY 0 and FINs");
    wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 4)]);
    assert_quiet(&mut client);

    client.rdy(10);
    got.extend(receive(&mut client, 4));
    let mut received: Vec<_> = got.iter().map(|m| m.body.clone()).collect();
    received.sort();
    assert_eq!(received, bodies);
    assert!(got.iter().all(|m| m.attempts == 1));
}

#[test]
fn competing_consumers_share_a_channel_without_duplicates() {
    let (_dir, nsqd) = Nsqd::start_in_temp("competing", &[]);
    let mut clients: Vec<Client> = (0..3)
        .map(|_| subscriber(&nsqd, "t", "c", Value::Null, 1))
        .collect();
    // RDY 1 each and no FIN: three messages must go one to each consumer.
    mpub_all(nsqd.tcp_addr(), "t", &unique_bodies("first", 3), 3);
    let mut tally = Tally::default();
    for client in &mut clients {
        let message = client.expect_message();
        client.fin(&message.id);
        client.rdy(20);
        tally.record(message);
    }
    let mut consumers: Vec<Consumer> = clients.into_iter().map(Consumer::from_client).collect();

    let bodies = unique_bodies("bulk", 300);
    mpub_all(nsqd.tcp_addr(), "t", &bodies, 100);
    let expected = body_set(&bodies);
    let deadline = Instant::now() + WAIT;
    while tally.unique() < 303 {
        assert!(
            Instant::now() < deadline,
            "only {} of 303 arrived",
            tally.unique()
        );
        for consumer in &mut consumers {
            while let Some(message) = consumer.next_message(Duration::from_millis(20)) {
                tally.record(message);
            }
        }
    }
    for consumer in &mut consumers {
        consumer.flush();
        assert_eq!(consumer.fin_failures(), 0);
    }
    assert!(tally.missing(&expected).is_empty());
    assert_eq!(tally.duplicates(), 0);
    let c = wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 0)]);
    let counts = (
        &c["message_count"],
        &c["requeue_count"],
        &c["timeout_count"],
    );
    assert_eq!(counts, (&json!(303), &json!(0), &json!(0)), "{c}");
}

#[test]
fn every_channel_gets_every_message() {
    let (_dir, nsqd) = Nsqd::start_in_temp("fan-out", &[]);
    let mut a = Consumer::subscribe(nsqd.tcp_addr(), "t", "a", 50);
    let mut b = Consumer::subscribe(nsqd.tcp_addr(), "t", "b", 50);
    let bodies = unique_bodies("fan", 100);
    mpub_all(nsqd.tcp_addr(), "t", &bodies, 50);
    let expected = body_set(&bodies);
    for consumer in [&mut a, &mut b] {
        let mut tally = Tally::default();
        drain_into(consumer, &mut tally, &expected);
        assert_eq!((tally.unique(), tally.total()), (100, 100));
    }
}

#[test]
fn topic_backlog_goes_to_the_first_channel_only() {
    let (_dir, nsqd) = Nsqd::start_in_temp("backlog", &[]);
    let backlog = unique_bodies("old", 5);
    mpub_all(nsqd.tcp_addr(), "t", &backlog, 5);
    wait_topic(&nsqd, "t", &[("depth", 5), ("message_count", 5)]);

    let mut first = subscriber(&nsqd, "t", "first", Value::Null, 0);
    wait_channel(&nsqd, "t", "first", &[("depth", 5)]);
    wait_topic(&nsqd, "t", &[("depth", 0)]);
    let mut second = subscriber(&nsqd, "t", "second", Value::Null, 10);
    first.rdy(10);
    publish(&nsqd, "t", b"new");

    let mut got: Vec<_> = receive(&mut first, 6).into_iter().map(|m| m.body).collect();
    got.sort();
    let mut expected = backlog;
    expected.push(b"new".to_vec());
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(second.expect_message().body, b"new");
    let c = wait_channel(&nsqd, "t", "second", &[("in_flight_count", 1)]);
    assert_eq!((&c["message_count"], &c["depth"]), (&json!(1), &json!(0)));
}

#[test]
fn cls_keeps_fin_working_and_ignores_rdy() {
    let (_dir, nsqd) = Nsqd::start_in_temp("cls-held", &[]);
    let mut client = subscriber(&nsqd, "t", "c", json!({"client_id": "closing"}), 2);
    mpub_all(nsqd.tcp_addr(), "t", &unique_bodies("cls", 3), 3);
    let held = receive(&mut client, 2);
    client.cls();
    client.expect_response_eq(b"CLOSE_WAIT");
    client.rdy(5);
    for message in &held {
        client.fin(&message.id);
    }
    // A FIN error would arrive before this OK.
    client.pub_("t2", b"sync");
    client.expect_ok();
    let c = wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 1)]);
    assert_eq!(c["requeue_count"], 0, "{c}");
    let me = http::client_stats(nsqd.http_addr(), "t", "c", "closing").expect("client");
    let fields = (&me["ready_count"], &me["finish_count"], &me["state"]);
    assert_eq!(fields, (&json!(0), &json!(2), &json!(4)), "{me}");
    assert_quiet(&mut client);
}

#[test]
fn sampling_delivers_about_half_and_drops_the_rest() {
    let (_dir, nsqd) = Nsqd::start_in_temp("sampling", &[]);
    let identify = json!({"client_id": "sampler", "sample_rate": 50});
    let client = subscriber(&nsqd, "t", "c", identify, 2500);
    let bodies = unique_bodies("s", 2000);
    mpub_all(nsqd.tcp_addr(), "t", &bodies, 500);
    let mut consumer = Consumer::from_client(client);
    let mut tally = Tally::default();
    drain_until_empty(&mut consumer, &mut tally, nsqd.http_addr(), "t", "c");
    let n = tally.total();
    assert!(
        (600..=1400).contains(&n),
        "sample_rate 50 delivered {n} of 2000"
    );
    assert_eq!(tally.duplicates(), 0);
    let c = wait_channel(&nsqd, "t", "c", &[("in_flight_count", 0), ("depth", 0)]);
    let counts = (
        &c["message_count"],
        &c["requeue_count"],
        &c["timeout_count"],
    );
    assert_eq!(counts, (&json!(2000), &json!(0), &json!(0)), "{c}");
    let me = http::client_stats(nsqd.http_addr(), "t", "c", "sampler").expect("client");
    assert_eq!(me["sample_rate"], 50, "{me}");
}

#[test]
fn topic_and_channel_pause_stop_delivery_until_unpaused() {
    let (_dir, nsqd) = Nsqd::start_in_temp("pause-flow", &[]);
    let addr = nsqd.http_addr();
    let mut client = subscriber(&nsqd, "t", "c", Value::Null, 0);
    mpub_all(nsqd.tcp_addr(), "t", &unique_bodies("p", 3), 3);
    wait_channel(&nsqd, "t", "c", &[("depth", 3)]);

    // A paused topic stops feeding its channels; what a channel holds still flows.
    http::post_ok(addr, "/topic/pause?topic=t");
    client.rdy(3);
    let held = receive(&mut client, 3);
    publish(&nsqd, "t", b"held");
    wait_topic(&nsqd, "t", &[("depth", 1)]);
    wait_channel(&nsqd, "t", "c", &[("depth", 0), ("in_flight_count", 3)]);

    // Topic unpaused, channel paused: the message moves into the channel and waits;
    // in-flight messages can still be finished.
    http::post_ok(addr, "/channel/pause?topic=t&channel=c");
    http::post_ok(addr, "/topic/unpause?topic=t");
    wait_topic(&nsqd, "t", &[("depth", 0)]);
    for message in &held {
        client.fin(&message.id);
    }
    client.flush().expect("send FINs");
    wait_channel(&nsqd, "t", "c", &[("depth", 1), ("in_flight_count", 0)]);
    assert_quiet(&mut client);

    http::post_ok(addr, "/channel/unpause?topic=t&channel=c");
    assert_eq!(client.expect_message().body, b"held");
}

#[test]
fn max_channel_consumers_limits_each_channel() {
    let (_dir, nsqd) = Nsqd::start_in_temp("max-consumers", &["--max-channel-consumers=1"]);
    let first = subscriber(&nsqd, "t", "c", Value::Null, 0);
    let mut second = Client::connect(nsqd.tcp_addr());
    second.sub("t", "c");
    assert_eq!(
        second.expect_error(""),
        "E_SUB_FAILED SUB failed consumers for t:c exceeds limit of 1"
    );
    second.expect_closed();
    // The limit is per channel, and a freed place can be taken again.
    let _other_channel = subscriber(&nsqd, "t", "d", Value::Null, 0);
    drop(first);
    wait_channel(&nsqd, "t", "c", &[("client_count", 0)]);
    let _third = subscriber(&nsqd, "t", "c", Value::Null, 0);
}
