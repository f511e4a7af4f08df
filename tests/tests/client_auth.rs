//! The Rust client's AUTH against nsqd with `--auth-http-address` (a scripted auth server
//! on loopback), ours and Go's: a good secret publishes and consumes, a topic it is not
//! authorized for is `E_UNAUTHORIZED`, a bad secret `E_AUTH_FAILED`, and no secret is a
//! connect error before any command.

#[path = "support/client.rs"]
mod support;

use std::path::Path;

use nsq_client::{Config, Error, ErrorCode, Producer};
use nsq_tests::fake_http::{Reply, Scripted};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use support::*;

fn auth_server() -> Scripted {
    Scripted::start(|r| {
        if r.path.contains("secret=good") {
            Reply::Answer {
                status: 200,
                content_type: "application/json".into(),
                body: r#"{"ttl":3600,"identity":"alice","identity_url":"","authorizations":[{"topic":"^au$","channels":[".*"],"permissions":["subscribe","publish"]}]}"#.into(),
            }
        } else {
            Reply::Answer {
                status: 403,
                content_type: "text/plain".into(),
                body: "NOT_AUTHORIZED".into(),
            }
        }
    })
}

fn with_secret(secret: Option<&str>) -> Config {
    Config {
        auth_secret: secret.map(str::to_string),
        ..fast_config()
    }
}

fn expect_err(r: Result<(), Error>) -> Error {
    match r {
        Ok(()) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn auth(bin: &Path) {
    let server = auth_server();
    let dir = TempDir::new("client-auth");
    let flag = format!("--auth-http-address={}", server.addr());
    let nsqd = Nsqd::start(bin, dir.path(), &[&flag]);
    let addr = nsqd.tcp_addr().to_string();
    let rt = runtime();
    let _g = rt.enter();

    let good = Producer::new(addr.clone(), with_secret(Some("good")));
    rt.block_on(good.publish("au", b"hello"))
        .expect("authorized PUB");
    let err = expect_err(rt.block_on(good.publish("other", b"x")));
    assert_eq!(err.code(), Some(ErrorCode::Unauthorized), "{err}");

    let bad = Producer::new(addr.clone(), with_secret(Some("wrong")));
    let err = expect_err(rt.block_on(bad.connect()));
    assert_eq!(err.code(), Some(ErrorCode::AuthFailed), "{err}");

    let none = Producer::new(addr.clone(), with_secret(None));
    let err = expect_err(rt.block_on(none.connect()));
    assert!(matches!(err, Error::Connect { .. }), "{err}");

    let ledger = Ledger::default();
    let consumer = ledger_consumer("au", "ch", with_secret(Some("good")), &ledger);
    rt.block_on(consumer.connect_to_nsqd(&addr))
        .expect("authorized SUB");
    ledger.wait_distinct(1, DRAIN);
    rt.block_on(consumer.stop());
    assert_eq!(ledger.snapshot().get(b"hello".as_slice()), Some(&1));
}

#[test]
fn auth_ours() {
    auth(&nsqd_bin());
}

#[test]
fn auth_go() {
    auth(&go_nsqd_bin());
}
