//! `GET /metrics` (beyond Go nsqlookupd, which answers 404 there): the registry's numbers
//! in the Prometheus text format. The registry lock is held only to count (alive
//! producers, as `/lookup` and `/nodes` see them); the text is written after it is let go.

use super::Ctx;
use crate::registry::{Category, Registration};
use crate::state::Lookupd;
use axum::extract::State;
use axum::response::Response;
use daemon::clock::unix_nanos;
use httpapi::metrics::{Exposition, Family, Kind};

/// The node's own numbers.
struct Node {
    uptime: f64,
    connections: usize,
    producers: usize,
}

/// One registration and its alive producers.
struct Entry {
    registration: Registration,
    producers: usize,
    tombstoned: usize,
}

use Family as F;

/// Per node, unlabelled.
#[rustfmt::skip]
const NODE: &[Family<Node>] = &[
    F::new("nsq_uptime_seconds", Kind::Gauge, "Seconds since nsqlookupd started.", |n| n.uptime),
    F::new("nsq_connections", Kind::Gauge, "TCP connections from nsqd nodes.", |n| n.connections as f64),
    F::new("nsq_lookupd_producers", Kind::Gauge, "nsqd nodes registered and alive (as /nodes lists them).", |n| n.producers as f64),
];

/// Per category, labelled `category` (`client`, `topic`, `channel`); the item is the
/// category's number of registrations.
#[rustfmt::skip]
const CATEGORY: &[Family<usize>] = &[
    F::new("nsq_lookupd_registrations", Kind::Gauge, "Registrations, with or without producers (as /topics and /channels list them).", |n| *n as f64),
];

/// Per topic registration, labelled `topic`.
#[rustfmt::skip]
const TOPIC: &[Family<Entry>] = &[
    F::new("nsq_lookupd_topic_producers", Kind::Gauge, "Alive nsqd nodes that have the topic (tombstoned ones included).", |e| e.producers as f64),
    F::new("nsq_lookupd_topic_tombstoned_producers", Kind::Gauge, "Alive nsqd nodes whose producer of the topic is tombstoned.", |e| e.tombstoned as f64),
];

/// Per channel registration, labelled `topic` and `channel`.
#[rustfmt::skip]
const CHANNEL: &[Family<Entry>] = &[
    F::new("nsq_lookupd_channel_producers", Kind::Gauge, "Alive nsqd nodes that have the channel.", |e| e.producers as f64),
];

pub(super) async fn metrics(State(ctx): Ctx) -> Response {
    render(&ctx).into_response()
}

fn render(ctx: &Lookupd) -> Exposition {
    let census = ctx.registry().census(unix_nanos());
    let entries: Vec<Entry> = census
        .into_iter()
        .map(|(registration, producers, tombstoned)| Entry {
            registration,
            producers,
            tombstoned,
        })
        .collect();
    let of = |c: Category| -> Vec<&Entry> {
        entries
            .iter()
            .filter(|e| e.registration.category == c)
            .collect()
    };
    let (clients, topics, channels) = (
        of(Category::Client),
        of(Category::Topic),
        of(Category::Channel),
    );
    let node = Node {
        uptime: ctx.started.elapsed().as_secs_f64(),
        connections: ctx.tracker.len(),
        producers: clients.iter().map(|e| e.producers).sum(),
    };
    let mut e = Exposition::new();
    e.table(NODE, &[(&node, [])], []);
    e.header(
        "nsq_build_info",
        Kind::Gauge,
        "Always 1; the version nsqlookupd reports.",
    );
    e.sample("nsq_build_info", &[("version", daemon::VERSION)], 1.0);
    e.process();
    e.table(
        CATEGORY,
        &[
            (&clients.len(), [Category::Client.as_str()]),
            (&topics.len(), [Category::Topic.as_str()]),
            (&channels.len(), [Category::Channel.as_str()]),
        ],
        ["category"],
    );
    let topic_items: Vec<(&Entry, [&str; 1])> = topics
        .iter()
        .map(|e| (*e, [e.registration.key.as_str()]))
        .collect();
    e.table(TOPIC, &topic_items, ["topic"]);
    let channel_items: Vec<(&Entry, [&str; 2])> = channels
        .iter()
        .map(|e| {
            (
                *e,
                [e.registration.key.as_str(), e.registration.subkey.as_str()],
            )
        })
        .collect();
    e.table(CHANNEL, &channel_items, ["topic", "channel"]);
    e
}
