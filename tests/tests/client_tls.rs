//! The Rust client over TLS, snappy and deflate (and TLS with each), against our nsqd and
//! Go nsqd v1.3.0 with a certificate made for the test (`openssl`, a CA and a leaf for
//! 127.0.0.1): messages go through intact and `/stats` shows what was negotiated. A
//! client that does not trust the CA fails to connect; one that skips verification
//! connects.

#[path = "support/client.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use nsq_client::{Compression, Config, Consumer, Error, Producer, Tls};
use nsq_tests::harness::{go_nsqd_bin, nsqd_bin, Nsqd, TempDir};
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use support::*;

struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_certs(dir: &Path) -> Certs {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend_from_slice(&ec);
    ca.extend_from_slice(&[
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=nsq-test-ca",
    ]);
    openssl(dir, &ca);
    let mut leaf = vec!["req", "-x509"];
    leaf.extend_from_slice(&ec);
    leaf.extend_from_slice(&[
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-subj",
        "/CN=nsqd-test",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]);
    openssl(dir, &leaf);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

fn verify(certs: &Certs) -> Tls {
    Tls::Verify {
        root_ca_file: certs.ca.clone(),
        server_name: None,
        client_cert: None,
    }
}

fn round_trip(bin: &Path) {
    let certs_dir = TempDir::new("client-tls-certs");
    let certs = make_certs(certs_dir.path());
    let dir = TempDir::new("client-tls");
    let cert_arg = format!("--tls-cert={}", certs.cert.display());
    let key_arg = format!("--tls-key={}", certs.key.display());
    let nsqd = Nsqd::start(
        bin,
        dir.path(),
        &[&cert_arg, &key_arg, "--https-address=127.0.0.1:0"],
    );
    let addr = nsqd.tcp_addr().to_string();
    let rt = runtime();
    let _g = rt.enter();
    let cases = [
        ("tls", verify(&certs), Compression::None),
        ("tls-snappy", verify(&certs), Compression::Snappy),
        ("tls-deflate", verify(&certs), Compression::Deflate(5)),
        ("snappy", Tls::Off, Compression::Snappy),
        ("deflate", Tls::Off, Compression::Deflate(1)),
    ];
    for (name, tls, compression) in cases {
        let config = Config {
            client_id: name.to_string(),
            tls: tls.clone(),
            compression,
            max_in_flight: 100,
            ..fast_config()
        };
        let sent = bodies(name, 2000);
        let producer = Producer::new(addr.clone(), config.clone());
        rt.block_on(async {
            for chunk in sent.chunks(250) {
                producer.multi_publish(name, chunk).await.expect("MPUB");
            }
            producer
                .publish(name, vec![b'z'; 200_000])
                .await
                .expect("big PUB");
        });
        let ledger = Ledger::default();
        let consumer = Consumer::new(name, "ch", config).expect("consumer");
        let l = ledger.clone();
        consumer.add_handler(
            move |m: nsq_client::Message| {
                l.record(&m.body);
                async { Ok::<(), nsq_client::HandlerError>(()) }
            },
            2,
        );
        rt.block_on(consumer.connect_to_nsqd(&addr))
            .expect("connect");
        ledger.wait_distinct(sent.len() + 1, DRAIN);
        let c = wait_for("the consumer in /stats", DRAIN, || {
            let c = http::client_stats(nsqd.http_addr(), name, "ch", name);
            (c.is_some(), c)
        })
        .unwrap_or_default();
        let want_tls = !matches!(tls, Tls::Off);
        assert_eq!(c["tls"].as_bool(), Some(want_tls), "{name}: {c}");
        assert_eq!(
            c["snappy"].as_bool(),
            Some(compression == Compression::Snappy),
            "{name}: {c}"
        );
        assert_eq!(
            c["deflate"].as_bool(),
            Some(matches!(compression, Compression::Deflate(_))),
            "{name}: {c}"
        );
        rt.block_on(consumer.stop());
        rt.block_on(producer.stop());
        let got = ledger.snapshot();
        for b in &sent {
            assert_eq!(
                got.get(b),
                Some(&1),
                "{name}: {}",
                String::from_utf8_lossy(b)
            );
        }
        assert_eq!(got.get(&vec![b'z'; 200_000]), Some(&1), "{name}: big body");
    }

    // A client that does not trust the CA (the leaf's own cert as root) is refused by
    // its own verification; one that skips verification gets through.
    let untrusting = Config {
        tls: Tls::Verify {
            root_ca_file: certs.cert.clone(),
            server_name: None,
            client_cert: None,
        },
        ..fast_config()
    };
    let err = match rt.block_on(Producer::new(addr.clone(), untrusting).connect()) {
        Ok(()) => panic!("connected without trusting the CA"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    let insecure = Config {
        tls: Tls::InsecureSkipVerify { client_cert: None },
        ..fast_config()
    };
    rt.block_on(Producer::new(addr, insecure).publish("insecure", b"x"))
        .expect("publish without verification");
}

#[test]
fn tls_snappy_deflate_ours() {
    round_trip(&nsqd_bin());
}

#[test]
fn tls_snappy_deflate_go() {
    round_trip(&go_nsqd_bin());
}
