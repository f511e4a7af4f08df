//! Black-box test support for nsqd: run real binaries (ours or the Go reference) and
//! drive them over TCP and HTTP exactly as clients do. The tests themselves live in
//! `tests/*.rs`; this library only provides the tools.
//!
//! * `harness`: find, start, stop and kill nsqd processes; temp data dirs.
//! * `client`: blocking NSQ V2 client with frame assertions.
//! * `http`: minimal HTTP/1.1 client and `/stats` look-ups.
//! * `consumer`: drain a channel and tally deliveries.
//! * `daemon`: start any daemon binary (args verbatim), learn its addresses, stop it.
//! * `lookupd`: the nsqlookupd under test (`$NSQLOOKUPD_BIN`) and a V1 TCP client.
//! * `publish`: unique test bodies and checked MPUB batches.
//! * `ledger`: what was sent, acked, delivered and finished; the crash tests' report.
//! * `soak`: the seeded `kill -9` campaign under mixed load (`tests/soak.rs`).
//! * `json_order`: key order of raw JSON objects.
//! * `fuzz`: seeded byte-stream generators for the live socket fuzzer.
//! * `netns`: network namespaces on a bridge, partitions and degraded links.
//! * `poll`: waiting for conditions with deadlines.
//! * `nsqadmin`: ours and Go's nsqadmin side by side, compared answer by answer.
//! * `admin_norm`: what those comparisons ignore or reorder, and why.
//! * `ordered_json`: JSON with object keys in written order.
//! * `cluster`: lookupds and nsqd nodes for the nsqadmin tests.
//! * `tools`: the command-line tools, ours and Go's, run side by side.
//! * `fake_http`: a notification listener, misbehaving fake nsqd nodes and a scripted
//!   server that records requests (a fake graphite).
//!
//! Running: the nsqd under test is `$NSQD_BIN`, else `target/<profile>/nsqd`, so build
//! it first with the same target dir and profile (`cargo build -p nsqd && cargo test
//! -p nsq-tests`). The Go reference (needed by `interchange`) is `$GO_NSQD_BIN`, else
//! `$HOME/go/bin/nsqd` (`go install github.com/nsqio/nsq/apps/nsqd@v1.3.0`). To check
//! the suite itself against the reference: `NSQD_BIN=$HOME/go/bin/nsqd cargo test -p
//! nsq-tests`.

pub mod admin_norm;
pub mod client;
pub mod cluster;
pub mod consumer;
pub mod daemon;
pub mod fake_http;
pub mod fuzz;
pub mod harness;
pub mod http;
pub mod json_order;
pub mod ledger;
pub mod lookupd;
pub mod netns;
pub mod nsqadmin;
pub mod ordered_json;
pub mod poll;
pub mod publish;
pub mod soak;
pub mod tools;
