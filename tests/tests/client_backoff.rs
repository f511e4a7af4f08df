//! The Rust client's backoff as nsqd sees it: after a handler failure every connection
//! goes to RDY 0, after the backoff time one goes to RDY 1 to test, and a success brings
//! it back to its full share (go-nsq's semantics). Observed through `/stats`
//! `ready_count`; the handler holds the test message until RDY 1 has been seen, so the
//! sequence does not depend on timing. Against our nsqd and Go's.

#[path = "support/client.rs"]
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nsq_client::{Config, Consumer, HandlerError, Message, Producer};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use support::*;

fn ready_count(nsqd: &Nsqd) -> Option<u64> {
    http::client_stats(nsqd.http_addr(), "bo", "ch", "client-test").map(|c| u(&c, "ready_count"))
}

fn backoff(bin: &Path) {
    let dir = TempDir::new("client-backoff");
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let rt = runtime();
    let _g = rt.enter();
    let consumer = Consumer::new(
        "bo",
        "ch",
        Config {
            max_in_flight: 10,
            // Level 1 is 2 * 1.5 s of RDY 0: long enough to be seen by polling.
            backoff_multiplier: Duration::from_millis(1500),
            default_requeue_delay: Duration::ZERO,
            ..fast_config()
        },
    )
    .expect("consumer");
    let release = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&release);
    consumer.add_handler(
        move |m: Message| {
            let r = Arc::clone(&r);
            async move {
                if m.attempts == 1 {
                    return Err::<(), HandlerError>("first attempt fails".into());
                }
                while !r.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(())
            }
        },
        1,
    );
    rt.block_on(consumer.connect_to_nsqd(&nsqd.tcp_addr().to_string()))
        .expect("connect");
    wait_for("RDY 10 before any failure", DRAIN, || {
        let r = ready_count(&nsqd);
        (r == Some(10), r)
    });
    let p = Producer::new(nsqd.tcp_addr().to_string(), fast_config());
    rt.block_on(p.publish("bo", b"fails once")).expect("PUB");
    wait_for("RDY 0 after the failure", DRAIN, || {
        let r = ready_count(&nsqd);
        (r == Some(0), r)
    });
    wait_for("RDY 1 to test after the backoff time", DRAIN, || {
        let r = ready_count(&nsqd);
        (r == Some(1), r)
    });
    release.store(true, Ordering::SeqCst);
    wait_for("RDY 10 after the success", DRAIN, || {
        let r = ready_count(&nsqd);
        (r == Some(10), r)
    });
    let s = consumer.stats();
    assert_eq!((s.messages_requeued, s.messages_finished), (1, 1), "{s:?}");
    rt.block_on(consumer.stop());
    rt.block_on(p.stop());
}

#[test]
fn backoff_rdy_0_then_1_then_full_ours() {
    backoff(&nsqd_bin());
}

#[test]
fn backoff_rdy_0_then_1_then_full_go() {
    backoff(&go_nsqd_bin());
}
