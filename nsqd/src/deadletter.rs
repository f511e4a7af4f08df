//! Beyond Go NSQ (opt-in; with default flags nothing here acts): server-side max attempts,
//! message age limits, and the dead-letter topic they feed.
//!
//! - The name rule: `<topic>.dead` (`<topic>.dead#ephemeral` for an ephemeral topic). When
//!   that would pass the 64-character name limit, the topic part is cut and an 8-hex-digit
//!   CRC-32 of the full topic name keeps it unique: `<cut>-<crc32>.dead`.
//! - A topic whose name ends in `.dead` is a dead-letter topic: the node-wide limits do not
//!   apply to its channels (no `.dead.dead` chains, and dead letters are not silently
//!   aged out); a per-channel `max_msg_age` there always drops, and a per-channel
//!   `max_attempts` is refused.
//! - The limits of a channel: the node's `--max-attempts`, `--max-msg-age` and
//!   `--max-msg-age-action`, each replaceable per channel (`POST /channel/config`, kept
//!   in `nsqd.dat`). The effective values live in atomics read once per delivery batch.
//! - Attempts: a dead letter keeps its ID, timestamp and body; its attempts field is stored
//!   so that its first delivery from the dead-letter topic reports the attempts it had
//!   on its channel (N for max attempts), and each later delivery adds one as usual.

use crate::broker::Nsqd;
use crate::topic::TopicError;
use protocol::names::MAX_NAME_LEN;
use protocol::Message;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EPHEMERAL: &str = "#ephemeral";
const DEAD: &str = ".dead";

/// The dead-letter topic of `topic`.
pub(crate) fn topic_for(topic: &str) -> String {
    let (base, eph) = match topic.strip_suffix(EPHEMERAL) {
        Some(b) => (b, EPHEMERAL),
        None => (topic, ""),
    };
    let name = format!("{base}{DEAD}{eph}");
    if name.len() <= MAX_NAME_LEN {
        return name;
    }
    let hash = crc32fast::hash(topic.as_bytes());
    let keep = MAX_NAME_LEN - DEAD.len() - eph.len() - 9;
    let cut = base.get(..keep).unwrap_or(base);
    format!("{cut}-{hash:08x}{DEAD}{eph}")
}

/// True for a dead-letter topic's name.
pub(crate) fn is_dead_letter_topic(topic: &str) -> bool {
    topic
        .strip_suffix(EPHEMERAL)
        .unwrap_or(topic)
        .ends_with(DEAD)
}

/// What happens to a message past its channel's age limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AgeAction {
    Drop,
    Dead,
}

impl AgeAction {
    pub(crate) fn parse(s: &str) -> Option<AgeAction> {
        match s {
            "drop" => Some(AgeAction::Drop),
            "dead" => Some(AgeAction::Dead),
            _ => None,
        }
    }
}

/// The node-wide limits (flags).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Defaults {
    pub(crate) max_attempts: u16,
    pub(crate) max_msg_age: Duration,
    pub(crate) age_dead: bool,
}

impl Defaults {
    pub(crate) fn from_config(c: &crate::config::Config) -> Defaults {
        Defaults {
            max_attempts: u16::try_from(c.max_attempts).unwrap_or(0),
            max_msg_age: c.max_msg_age,
            age_dead: AgeAction::parse(&c.max_msg_age_action) == Some(AgeAction::Dead),
        }
    }
}

/// A channel's own settings (`POST /channel/config`), as kept in `nsqd.dat`; `None` =
/// the node's value. Go nsqd ignores these keys when it reads the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u16>,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_msg_age_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_msg_age_action: Option<AgeAction>,
}

impl Overrides {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

/// A channel's limit counters and settings for `/stats` (and `/metrics`): present when a
/// limit is on for the channel or was hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitStats {
    /// Messages moved to the dead-letter topic (counter).
    pub(crate) dead_letter_count: u64,
    /// Messages past the age limit, dropped or dead-lettered, never delivered (counter).
    pub(crate) expired_count: u64,
    /// The effective max attempts, 0 = off.
    pub(crate) max_attempts: u16,
    /// The effective max age, zero = off.
    pub(crate) max_msg_age: Duration,
}

/// Why a message taken for delivery was not delivered.
#[derive(Debug)]
pub(crate) struct Overdue {
    pub(crate) msg: Message,
    /// To the dead-letter topic (else dropped).
    pub(crate) dead: bool,
    /// Over the age limit (else over max attempts).
    pub(crate) expired: bool,
}

/// A channel's effective limits and counters.
#[derive(Debug)]
pub(crate) struct Limits {
    dead_topic: bool,
    defaults: Defaults,
    overrides: Mutex<Overrides>,
    max_attempts: AtomicU16,
    /// Nanoseconds; 0 = off.
    max_age_ns: AtomicU64,
    age_dead: AtomicBool,
    /// Messages moved to the dead-letter topic.
    pub(crate) dead_letter_count: AtomicU64,
    /// Messages over the age limit (dropped or dead-lettered).
    pub(crate) expired_count: AtomicU64,
}

impl Limits {
    pub(crate) fn new(topic: &str, defaults: Defaults) -> Limits {
        let l = Limits {
            dead_topic: is_dead_letter_topic(topic),
            defaults,
            overrides: Mutex::new(Overrides::default()),
            max_attempts: AtomicU16::new(0),
            max_age_ns: AtomicU64::new(0),
            age_dead: AtomicBool::new(false),
            dead_letter_count: AtomicU64::new(0),
            expired_count: AtomicU64::new(0),
        };
        l.apply(&Overrides::default());
        l
    }

    /// Replace the channel's overrides. Refused: max attempts on a dead-letter topic.
    pub(crate) fn set(&self, o: Overrides) -> Result<(), &'static str> {
        if self.dead_topic && o.max_attempts.is_some_and(|n| n > 0) {
            return Err("MAX_ATTEMPTS_ON_DEAD_LETTER_TOPIC");
        }
        self.apply(&o);
        *crate::lock(&self.overrides) = o;
        Ok(())
    }

    pub(crate) fn overrides(&self) -> Overrides {
        crate::lock(&self.overrides).clone()
    }

    fn apply(&self, o: &Overrides) {
        let d = &self.defaults;
        let (attempts, age, dead) = if self.dead_topic {
            (0, o.max_msg_age_ms.map(Duration::from_millis), false)
        } else {
            (
                o.max_attempts.unwrap_or(d.max_attempts),
                Some(
                    o.max_msg_age_ms
                        .map_or(d.max_msg_age, Duration::from_millis),
                ),
                o.max_msg_age_action
                    .map_or(d.age_dead, |a| a == AgeAction::Dead),
            )
        };
        let age_ns = age.map_or(0, |a| u64::try_from(a.as_nanos()).unwrap_or(u64::MAX));
        self.max_attempts.store(attempts, Ordering::Relaxed);
        self.max_age_ns.store(age_ns, Ordering::Relaxed);
        self.age_dead.store(dead, Ordering::Relaxed);
    }

    /// The effective (max attempts, max age) when either is on.
    pub(crate) fn effective(&self) -> Option<(u16, Duration)> {
        let a = self.max_attempts.load(Ordering::Relaxed);
        let age = self.max_age_ns.load(Ordering::Relaxed);
        (a != 0 || age != 0).then(|| (a, Duration::from_nanos(age)))
    }

    /// What happens to a message past the age limit.
    pub(crate) fn age_action(&self) -> AgeAction {
        if self.age_dead.load(Ordering::Relaxed) {
            AgeAction::Dead
        } else {
            AgeAction::Drop
        }
    }

    /// The counters and settings `/stats` shows, when a limit is on or was hit.
    pub(crate) fn stats(&self) -> Option<LimitStats> {
        let (max_attempts, max_msg_age) = self.effective().unwrap_or_default();
        let s = LimitStats {
            dead_letter_count: self.dead_letter_count.load(Ordering::Relaxed),
            expired_count: self.expired_count.load(Ordering::Relaxed),
            max_attempts,
            max_msg_age,
        };
        (s != LimitStats::default()).then_some(s)
    }

    /// A message that has had `attempts` deliveries may not have another.
    pub(crate) fn attempts_exhausted(&self, attempts: u16) -> bool {
        let max = self.max_attempts.load(Ordering::Relaxed);
        max != 0 && attempts >= max
    }

    /// Move the messages of `out[from..]` that may not be delivered into `over`, keeping
    /// the order of the rest. Off: two atomic loads per batch; on: a compare or two per
    /// message, and a rebuild of the batch only when something matched.
    pub(crate) fn filter(&self, out: &mut Vec<Message>, from: usize, over: &mut Vec<Overdue>) {
        let max_attempts = self.max_attempts.load(Ordering::Relaxed);
        let max_age = self.max_age_ns.load(Ordering::Relaxed);
        if max_attempts == 0 && max_age == 0 {
            return;
        }
        let oldest = if max_age == 0 {
            i64::MIN
        } else {
            daemon::clock::unix_nanos().saturating_sub(i64::try_from(max_age).unwrap_or(i64::MAX))
        };
        let bad = |m: &Message| {
            (
                max_attempts != 0 && m.attempts >= max_attempts,
                m.timestamp < oldest,
            )
        };
        if !out[from..].iter().any(|m| {
            let (a, e) = bad(m);
            a || e
        }) {
            return;
        }
        let age_dead = self.age_dead.load(Ordering::Relaxed);
        let batch: Vec<Message> = out.drain(from..).collect();
        for m in batch {
            match bad(&m) {
                (false, false) => out.push(m),
                (attempts, expired) => over.push(Overdue {
                    dead: attempts || age_dead,
                    expired,
                    msg: m,
                }),
            }
        }
    }
}

impl Nsqd {
    /// Put `msgs` (taken from a channel of `topic`) into the dead-letter topic, with their
    /// IDs, timestamps and bodies. When this returns Ok they are in that topic's queue
    /// (memory or disk); the caller removes them from the channel only after.
    pub(crate) fn dead_letter(
        self: &Arc<Self>,
        topic: &str,
        msgs: &[Message],
    ) -> Result<(), TopicError> {
        let dead = self.get_or_create_topic(&topic_for(topic))?;
        dead.put_dead_letters(msgs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(topic_for("orders"), "orders.dead");
        assert_eq!(topic_for("orders#ephemeral"), "orders.dead#ephemeral");
        assert!(is_dead_letter_topic("orders.dead"));
        assert!(is_dead_letter_topic("orders.dead#ephemeral"));
        assert!(!is_dead_letter_topic("orders"));
        assert!(!is_dead_letter_topic("orders.deadline"));
        let long = "a".repeat(64);
        let d = topic_for(&long);
        assert_eq!(d.len(), 64);
        assert!(d.ends_with(".dead") && protocol::names::is_valid(d.as_bytes()));
        assert_ne!(d, topic_for(&"a".repeat(63)));
        let long_eph = format!("{}#ephemeral", "b".repeat(54));
        let d = topic_for(&long_eph);
        assert!(d.len() <= 64 && d.ends_with(".dead#ephemeral"), "{d}");
        assert!(protocol::names::is_valid(d.as_bytes()));
        for n in 1..=64 {
            let t = "c".repeat(n);
            let d = topic_for(&t);
            assert!(protocol::names::is_valid(d.as_bytes()), "{d}");
            assert!(is_dead_letter_topic(&d));
        }
    }

    fn msg(attempts: u16, timestamp: i64) -> Message {
        let mut m = Message::new(
            protocol::MessageId::default(),
            timestamp,
            bytes::Bytes::new(),
        );
        m.attempts = attempts;
        m
    }

    #[test]
    fn filter_keeps_order_and_sorts_out_the_overdue() {
        let l = Limits::new(
            "t",
            Defaults {
                max_attempts: 3,
                max_msg_age: Duration::from_secs(60),
                age_dead: false,
            },
        );
        let now = daemon::clock::unix_nanos();
        let old = now - 120_000_000_000;
        let mut out = vec![
            msg(0, now),
            msg(3, now),
            msg(1, now),
            msg(0, old),
            msg(2, now),
        ];
        let mut over = Vec::new();
        l.filter(&mut out, 1, &mut over);
        let kept: Vec<u16> = out.iter().map(|m| m.attempts).collect();
        assert_eq!(kept, vec![0, 1, 2]);
        assert_eq!(over.len(), 2);
        assert!(over[0].dead && !over[0].expired);
        assert!(!over[1].dead && over[1].expired);
        // Off: nothing moves.
        let off = Limits::new("t", Defaults::default());
        let mut out = vec![msg(100, old)];
        off.filter(&mut out, 0, &mut over);
        assert_eq!(out.len(), 1);
        // A dead-letter topic never applies max attempts.
        let dead = Limits::new(
            "t.dead",
            Defaults {
                max_attempts: 3,
                ..Defaults::default()
            },
        );
        assert!(!dead.attempts_exhausted(10));
        assert!(dead
            .set(Overrides {
                max_attempts: Some(2),
                ..Overrides::default()
            })
            .is_err());
    }
}
