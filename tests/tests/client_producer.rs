//! The Rust client's producer against our nsqd and Go nsqd v1.3.0: PUB, MPUB and DPUB
//! answered per call, nsqd's `E_*` errors surfaced typed, concurrent publishes pipelined
//! over the one connection, and a new connection after nsqd closed the old one.

use std::time::Duration;

use nsq_client::{Config, Error, ErrorCode, Producer};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn expect_err(r: Result<(), Error>) -> Error {
    match r {
        Ok(()) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn depth(nsqd: &Nsqd, topic: &str) -> u64 {
    http::topic_stats(nsqd.http_addr(), topic)
        .and_then(|t| t["message_count"].as_u64())
        .unwrap_or(0)
}

fn publishes_and_errors(bin: &std::path::Path) {
    let dir = TempDir::new("client-producer");
    let nsqd = Nsqd::start(bin, dir.path(), &[]);
    let rt = runtime();
    let producer = Producer::new(nsqd.tcp_addr().to_string(), Config::default());
    rt.block_on(async {
        producer.connect().await.expect("connect");
        producer.publish("cp", b"one").await.expect("PUB");
        producer
            .multi_publish("cp", &[&b"two"[..], b"three"])
            .await
            .expect("MPUB");
        producer
            .deferred_publish("cp", Duration::from_millis(10), b"four")
            .await
            .expect("DPUB");
        // 500 publishes from concurrent tasks over the one connection.
        let mut tasks = Vec::new();
        for i in 0..500 {
            let p = producer.clone();
            tasks.push(tokio::spawn(async move {
                p.publish("cp", format!("m{i}")).await
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("concurrent PUB");
        }
        // A bad topic: typed error; nsqd closes the connection (a fatal error) ...
        let err = expect_err(producer.publish("bad!topic", b"x").await);
        assert_eq!(err.code(), Some(ErrorCode::BadTopic), "{err}");
        assert!(matches!(err, Error::Nsqd { .. }));
        // ... and a later publish goes out on a new one (one racing nsqd's close may
        // still meet the old connection and fail as lost).
        let mut tries = 0;
        loop {
            tries += 1;
            match producer.publish("cp", b"again").await {
                Ok(()) => break,
                Err(Error::ConnectionLost { .. }) if tries < 50 => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("publish after reconnect: {e}"),
            }
        }
        let err = expect_err(producer.multi_publish::<&[u8]>("cp", &[]).await);
        assert!(matches!(err, Error::Invalid(_)), "{err}");
        producer.stop().await;
        let err = expect_err(producer.publish("cp", b"late").await);
        assert!(matches!(err, Error::Stopped), "{err}");
    });
    wait_for("505 messages counted", Duration::from_secs(10), || {
        let d = depth(&nsqd, "cp");
        (d == 505, d)
    });
}

#[test]
fn producer_against_ours() {
    publishes_and_errors(&nsqd_bin());
}

#[test]
fn producer_against_go() {
    publishes_and_errors(&go_nsqd_bin());
}

#[test]
fn connect_refused_is_a_connect_error() {
    let rt = runtime();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let producer = Producer::new(addr.to_string(), Config::default());
    let err = rt.block_on(producer.publish("t", b"x")).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
}
