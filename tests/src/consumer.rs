//! Draining a channel the way a real consumer does (SUB, a large RDY window, pipelined
//! FINs) and tallying what arrived, for the persistence, crash and interchange tests.
//! Deciding what *should* have arrived is left to each test.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::client::{Client, Frame, Message};

/// RDY window used when draining: the default `--max-rdy-count`.
pub const DRAIN_RDY: u32 = 2500;
/// A drain fails when no new message arrives for this long.
const STALL_LIMIT: Duration = Duration::from_secs(20);
/// How long one read waits before the drain loop re-checks its condition.
const READ_SLICE: Duration = Duration::from_millis(250);

/// A subscribed connection that FINs every message it hands out.
pub struct Consumer {
    client: Client,
    fin_failures: usize,
}

impl Consumer {
    /// Connects, subscribes (expects `OK`) and opens a RDY window of `rdy`.
    pub fn subscribe(addr: SocketAddr, topic: &str, channel: &str, rdy: u32) -> Consumer {
        let mut client = Client::connect(addr);
        client.sub(topic, channel);
        client.expect_ok();
        client.rdy(rdy);
        Consumer {
            client,
            fin_failures: 0,
        }
    }

    /// Wraps a connection that is already subscribed (e.g. after an IDENTIFY with
    /// options) and has its RDY window set.
    pub fn from_client(client: Client) -> Consumer {
        Consumer {
            client,
            fin_failures: 0,
        }
    }

    /// The next message within `wait` (FIN queued for it), or None. `E_FIN_FAILED`
    /// (a duplicate delivery of an ID already finished, possible after a crash) is
    /// counted and skipped; any other frame fails the test.
    pub fn next_message(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.client.try_read_frame(remaining) {
                Ok(Some(Frame::Message(message))) => {
                    self.client.fin(&message.id);
                    return Some(message);
                }
                Ok(Some(Frame::Error(text))) if text.starts_with("E_FIN_FAILED ") => {
                    self.fin_failures += 1;
                }
                Ok(Some(other)) => panic!("consumer got an unexpected frame: {other:?}"),
                Ok(None) => return None,
                Err(e) => panic!("consumer connection failed: {e}"),
            }
        }
    }

    /// How many FINs the server rejected (non-fatally).
    pub fn fin_failures(&self) -> usize {
        self.fin_failures
    }

    /// Sends queued FINs now.
    pub fn flush(&mut self) {
        self.client.flush().expect("send FINs");
    }
}

/// Every delivery, grouped by body.
#[derive(Default)]
pub struct Tally {
    deliveries: HashMap<Vec<u8>, Vec<Message>>,
    total: usize,
}

impl Tally {
    pub fn record(&mut self, message: Message) {
        self.total += 1;
        self.deliveries
            .entry(message.body.clone())
            .or_default()
            .push(message);
    }

    pub fn unique(&self) -> usize {
        self.deliveries.len()
    }

    pub fn total(&self) -> usize {
        self.total
    }

    pub fn duplicates(&self) -> usize {
        self.total - self.unique()
    }

    pub fn contains(&self, body: &[u8]) -> bool {
        self.deliveries.contains_key(body)
    }

    /// All deliveries of `body`, in arrival order.
    pub fn deliveries(&self, body: &[u8]) -> &[Message] {
        self.deliveries.get(body).map_or(&[], Vec::as_slice)
    }

    pub fn bodies(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.deliveries.keys()
    }

    /// Bodies of `expected` never delivered.
    pub fn missing<'a>(&self, expected: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<String> {
        expected
            .into_iter()
            .filter(|body| !self.contains(body))
            .map(|body| String::from_utf8_lossy(body).into_owned())
            .collect()
    }
}

/// Consumes `topic`/`channel` until every body in `expected` has arrived; panics with
/// the missing bodies if the flow stalls for [`STALL_LIMIT`]. Queued FINs are sent
/// before returning. Unexpected bodies are recorded too.
pub fn drain(addr: SocketAddr, topic: &str, channel: &str, expected: &HashSet<Vec<u8>>) -> Tally {
    let mut consumer = Consumer::subscribe(addr, topic, channel, DRAIN_RDY);
    let mut tally = Tally::default();
    drain_into(&mut consumer, &mut tally, expected);
    tally
}

/// Like [`drain`] with an existing consumer and tally.
pub fn drain_into(consumer: &mut Consumer, tally: &mut Tally, expected: &HashSet<Vec<u8>>) {
    let mut outstanding = expected.iter().filter(|b| !tally.contains(b)).count();
    let mut last_progress = Instant::now();
    while outstanding > 0 {
        match consumer.next_message(READ_SLICE) {
            Some(message) => {
                if expected.contains(&message.body) && !tally.contains(&message.body) {
                    outstanding -= 1;
                    last_progress = Instant::now();
                }
                tally.record(message);
            }
            None => {
                if last_progress.elapsed() > STALL_LIMIT {
                    let missing = tally.missing(expected);
                    panic!(
                        "no new message for {STALL_LIMIT:?}: {} of {} missing, e.g. {:?}",
                        missing.len(),
                        expected.len(),
                        &missing[..missing.len().min(10)]
                    );
                }
            }
        }
    }
    consumer.flush();
}

/// Keeps consuming until `/stats` (at `http_addr`) shows nothing left for
/// `topic`/`channel`: topic depth, channel depth, in-flight and deferred all 0. For
/// tests that cannot know the exact expected set (e.g. after a crash). Panics if the
/// flow stalls for [`STALL_LIMIT`].
pub fn drain_until_empty(
    consumer: &mut Consumer,
    tally: &mut Tally,
    http_addr: SocketAddr,
    topic: &str,
    channel: &str,
) {
    let mut last_progress = Instant::now();
    loop {
        if let Some(message) = consumer.next_message(READ_SLICE) {
            tally.record(message);
            last_progress = Instant::now();
            continue;
        }
        consumer.flush();
        let topic_stats = crate::http::topic_stats(http_addr, topic);
        let channel_stats = crate::http::channel_stats(http_addr, topic, channel);
        let empty = match (&topic_stats, &channel_stats) {
            (Some(t), Some(c)) => {
                t["depth"] == 0
                    && c["depth"] == 0
                    && c["in_flight_count"] == 0
                    && c["deferred_count"] == 0
            }
            _ => false,
        };
        if empty {
            return;
        }
        assert!(
            last_progress.elapsed() < STALL_LIMIT,
            "no message for {STALL_LIMIT:?} but {topic}/{channel} is not empty: \
             topic {topic_stats:?} channel {channel_stats:?}"
        );
    }
}
