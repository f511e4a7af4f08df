//! The Rust client's heartbeats and TOUCH, against our nsqd and Go's: with a 1 s
//! heartbeat interval an idle consumer answers every heartbeat and keeps its one
//! connection (nsqd closes a client that misses two), and a handler that holds a message
//! past its 1 s `msg_timeout` while TOUCHing it gets it exactly once, with no timeout.

#[path = "support/client.rs"]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nsq_client::{Config, Consumer, HandlerError, Message, Producer};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use support::*;

fn remote_address(nsqd: &Nsqd) -> Option<String> {
    http::client_stats(nsqd.http_addr(), "hb", "ch", "client-test")
        .and_then(|c| c["remote_address"].as_str().map(str::to_string))
}

fn heartbeat_and_touch(bin: &Path) {
    let dir = TempDir::new("client-hb");
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let rt = runtime();
    let _g = rt.enter();
    let calls = Arc::new(AtomicU64::new(0));
    let c2 = Arc::clone(&calls);
    let consumer = Consumer::new(
        "hb",
        "ch",
        Config {
            heartbeat_interval: Some(Duration::from_secs(1)),
            msg_timeout: Some(Duration::from_secs(1)),
            max_in_flight: 5,
            ..fast_config()
        },
    )
    .expect("consumer");
    consumer.add_handler(
        move |m: Message| {
            let calls = Arc::clone(&c2);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                // Held for 2.5 x msg_timeout, touched every 250 ms.
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    m.touch();
                }
                Ok::<(), HandlerError>(())
            }
        },
        1,
    );
    rt.block_on(consumer.connect_to_nsqd(&nsqd.tcp_addr().to_string()))
        .expect("connect");
    let first = wait_for("the consumer in /stats", DRAIN, || {
        let a = remote_address(&nsqd);
        (a.is_some(), a)
    });
    // Idle through several heartbeats (the point of the test is the time passing).
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(remote_address(&nsqd), first, "the connection was replaced");
    assert_eq!(consumer.stats().connections, 1);

    let p = Producer::new(nsqd.tcp_addr().to_string(), fast_config());
    rt.block_on(p.publish("hb", b"slow")).expect("PUB");
    wait_for("the slow message finished", DRAIN, || {
        let ch = channel(nsqd.http_addr(), "hb", "ch");
        let done =
            u(&ch, "depth") == 0 && u(&ch, "in_flight_count") == 0 && u(&ch, "message_count") == 1;
        (done && consumer.stats().messages_finished == 1, ch)
    });
    let ch = channel(nsqd.http_addr(), "hb", "ch");
    assert_eq!(u(&ch, "timeout_count"), 0, "{ch}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    rt.block_on(consumer.stop());
    rt.block_on(p.stop());
}

#[test]
fn heartbeats_answered_and_touch_extends_ours() {
    heartbeat_and_touch(&nsqd_bin());
}

#[test]
fn heartbeats_answered_and_touch_extends_go() {
    heartbeat_and_touch(&go_nsqd_bin());
}
