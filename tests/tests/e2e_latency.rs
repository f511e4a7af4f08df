//! End-to-end processing latency in `/stats` (`--e2e-processing-latency-percentile`): off by default (`{"count":0,"percentiles":null}`), and when
//! configured, a count of FINished messages and one `{quantile, value}` per configured
//! percentile (in configured order) on channels and, merged, on the topic.
//!
//! Passes against the Go reference too (`NSQD_BIN=tests/reference/bin/nsqd`).

use std::time::Duration;

use nsq_tests::client::Client;
use nsq_tests::harness::Nsqd;
use nsq_tests::http;
use nsq_tests::poll::wait_for;
use serde_json::json;

#[test]
fn e2e_latency_is_null_without_percentiles() {
    let (_dir, nsqd) = Nsqd::start_in_temp("e2e-off", &[]);
    http::post_ok(nsqd.http_addr(), "/topic/create?topic=t");
    http::post_ok(nsqd.http_addr(), "/channel/create?topic=t&channel=c");
    let t = http::topic_stats(nsqd.http_addr(), "t").expect("topic");
    assert_eq!(
        t["e2e_processing_latency"],
        json!({"count": 0, "percentiles": null})
    );
    assert_eq!(
        t["channels"][0]["e2e_processing_latency"],
        json!({"count": 0, "percentiles": null})
    );
}

#[test]
fn e2e_latency_counts_finished_messages() {
    let (_dir, nsqd) =
        Nsqd::start_in_temp("e2e-on", &["--e2e-processing-latency-percentile=1.0,0.5"]);
    let mut c = Client::connect(nsqd.tcp_addr());
    c.sub("lat", "c");
    c.expect_ok();
    let e = http::channel_stats(nsqd.http_addr(), "lat", "c").expect("channel")
        ["e2e_processing_latency"]
        .clone();
    assert_eq!(e["count"], 0);
    let quantiles: Vec<f64> = e["percentiles"]
        .as_array()
        .expect("percentiles array")
        .iter()
        .map(|p| p["quantile"].as_f64().expect("quantile"))
        .collect();
    assert_eq!(quantiles, vec![1.0, 0.5], "configured order: {e}");

    let mut p = Client::connect(nsqd.tcp_addr());
    for i in 0..20 {
        p.pub_("lat", format!("m{i}").as_bytes());
        p.expect_ok();
    }
    c.rdy(20);
    for _ in 0..20 {
        let m = c.expect_message();
        c.fin(&m.id);
    }
    c.flush().expect("send the FINs");
    let e = wait_for("20 e2e samples", Duration::from_secs(10), || {
        let e = http::channel_stats(nsqd.http_addr(), "lat", "c").expect("channel")
            ["e2e_processing_latency"]
            .clone();
        (e["count"] == 20, e)
    });
    let p100 = e["percentiles"][0]["value"].as_f64().expect("value");
    let p50 = e["percentiles"][1]["value"].as_f64().expect("value");
    assert!(p100 > 0.0 && p50 > 0.0 && p100 >= p50, "{e}");
    let t = http::topic_stats(nsqd.http_addr(), "lat").expect("topic");
    assert_eq!(
        t["e2e_processing_latency"]["count"], 20,
        "topic merges channels: {t}"
    );
}
