//! History without Graphite: a bounded ring of samples per topic and per channel,
//! cluster-wide (summed over nodes), fed by the sampler every `--history-interval` and
//! read by `/api/history/...` and the pages' charts. Pure data: the caller passes the
//! time and the totals, so tests need no clock and no cluster.
//!
//! Memory: a point is 32 bytes; one hour at the default 5 s interval is 720 points, so a
//! full series is about 23 KiB and 1,000 channels (plus their topics) about 23 MiB. A
//! series that has not been seen for a whole window is dropped, and at most
//! `MAX_SERIES` are kept (the least recently seen goes first), so the total is bounded
//! whatever the cluster does.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// How far back the charts go.
pub(crate) const WINDOW_SECS: i64 = 3600;
/// Upper bound on the number of series (topics + channels) kept.
pub(crate) const MAX_SERIES: usize = 20_000;

/// Cluster-wide totals of one topic or channel at one sampling instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub depth: u64,
    pub in_flight: u64,
    pub deferred: u64,
    /// Cumulative messages that entered (topic: published; channel: delivered to it).
    pub message_count: u64,
}

/// One point of a chart, as `/api/history` serves it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Unix seconds.
    pub t: i64,
    pub depth: u64,
    pub in_flight: u32,
    pub deferred: u32,
    /// Messages per second that entered since the previous point.
    pub rate_in: f32,
    /// Messages per second that left (finished, or moved on to channels for a topic).
    pub rate_out: f32,
}

/// `(topic, channel)`; the channel is empty for a topic's own series.
pub type Key = (String, String);

struct Series {
    points: VecDeque<Point>,
    last: Option<(i64, Totals)>,
    last_seen: i64,
}

/// Every series, keyed by topic and channel.
pub struct History {
    interval_secs: i64,
    capacity: usize,
    series: HashMap<Key, Series>,
}

impl History {
    /// Sampling every `interval_secs` (at least 1), keeping one window of points.
    pub fn new(interval_secs: u64) -> History {
        let interval_secs = i64::try_from(interval_secs.max(1)).unwrap_or(i64::MAX);
        let capacity = usize::try_from(WINDOW_SECS / interval_secs + 1).unwrap_or(1);
        History {
            interval_secs,
            capacity,
            series: HashMap::new(),
        }
    }

    pub fn interval_secs(&self) -> i64 {
        self.interval_secs
    }

    /// Records one sampling round taken at `now` (Unix seconds): a point per key, rates
    /// against the key's previous totals. A counter that went down (a node restarted, a
    /// channel was re-created) counts as a restart: no rate for that step. Series not
    /// seen for a window are dropped.
    pub fn record(&mut self, now: i64, round: impl IntoIterator<Item = (Key, Totals)>) {
        for (key, totals) in round {
            let series = self.series.entry(key).or_insert_with(|| Series {
                points: VecDeque::new(),
                last: None,
                last_seen: now,
            });
            let (rate_in, rate_out) = match series.last {
                Some((t0, prev)) if now > t0 => rates(prev, totals, (now - t0) as f64),
                _ => (0.0, 0.0),
            };
            if series.points.len() == self.capacity {
                series.points.pop_front();
            }
            series.points.push_back(Point {
                t: now,
                depth: totals.depth,
                in_flight: u32::try_from(totals.in_flight).unwrap_or(u32::MAX),
                deferred: u32::try_from(totals.deferred).unwrap_or(u32::MAX),
                rate_in,
                rate_out,
            });
            series.last = Some((now, totals));
            series.last_seen = now;
        }
        self.series.retain(|_, s| now - s.last_seen <= WINDOW_SECS);
        if self.series.len() > MAX_SERIES {
            let mut seen: Vec<(i64, Key)> = self
                .series
                .iter()
                .map(|(k, s)| (s.last_seen, k.clone()))
                .collect();
            seen.sort();
            for (_, key) in seen.into_iter().take(self.series.len() - MAX_SERIES) {
                self.series.remove(&key);
            }
        }
    }

    /// The points of `key` within the window before `now`, oldest first; `None` if the
    /// key has never been sampled.
    pub fn points(&self, key: &Key, now: i64) -> Option<Vec<Point>> {
        let series = self.series.get(key)?;
        Some(
            series
                .points
                .iter()
                .filter(|p| now - p.t <= WINDOW_SECS)
                .copied()
                .collect(),
        )
    }

    /// How many series are kept.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// Messages per second in and out between two totals `secs` apart. In is the growth of
/// `message_count`; out is what came in minus what is still held (depth, in flight,
/// deferred). Negative steps (a restart) give no rate.
fn rates(prev: Totals, cur: Totals, secs: f64) -> (f32, f32) {
    let Some(came_in) = cur.message_count.checked_sub(prev.message_count) else {
        return (0.0, 0.0);
    };
    let held = |t: Totals| t.depth as i128 + t.in_flight as i128 + t.deferred as i128;
    let left = came_in as i128 - (held(cur) - held(prev));
    let rate_in = came_in as f64 / secs;
    let rate_out = left.max(0) as f64 / secs;
    (rate_in as f32, rate_out as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str, c: &str) -> Key {
        (t.to_string(), c.to_string())
    }

    fn totals(depth: u64, in_flight: u64, message_count: u64) -> Totals {
        Totals {
            depth,
            in_flight,
            deferred: 0,
            message_count,
        }
    }

    #[test]
    fn rates_in_and_out_per_second() {
        let mut h = History::new(5);
        let k = key("t", "c");
        h.record(100, [(k.clone(), totals(0, 0, 0))]);
        // 50 came in over 5 s; 10 still queued, 5 in flight: 35 left.
        h.record(105, [(k.clone(), totals(10, 5, 50))]);
        let p = h.points(&k, 105).expect("sampled");
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].rate_in, p[0].rate_out), (0.0, 0.0));
        assert_eq!((p[1].rate_in, p[1].rate_out), (10.0, 7.0));
        assert_eq!((p[1].depth, p[1].in_flight), (10, 5));
    }

    #[test]
    fn a_counter_going_down_is_a_restart_not_a_negative_rate() {
        let mut h = History::new(5);
        let k = key("t", "");
        h.record(0, [(k.clone(), totals(0, 0, 1000))]);
        h.record(5, [(k.clone(), totals(3, 0, 3))]);
        let p = h.points(&k, 5).expect("sampled");
        assert_eq!((p[1].rate_in, p[1].rate_out), (0.0, 0.0));
        // Draining a backlog with nothing new: all out.
        h.record(10, [(k.clone(), totals(0, 0, 3))]);
        let p = h.points(&k, 10).expect("sampled");
        assert_eq!((p[2].rate_in, p[2].rate_out), (0.0, 0.6));
    }

    #[test]
    fn a_series_keeps_one_window_of_points() {
        let mut h = History::new(60);
        let k = key("t", "");
        for i in 0..200 {
            h.record(i * 60, [(k.clone(), totals(0, 0, i as u64))]);
        }
        let p = h.points(&k, 199 * 60).expect("sampled");
        assert_eq!(p.len(), 61);
        assert_eq!(p[0].t, 139 * 60);
        assert!(p
            .iter()
            .skip(1)
            .all(|p| (p.rate_in - 1.0 / 60.0).abs() < 1e-6));
    }

    #[test]
    fn unseen_series_are_dropped_after_a_window_and_unknown_keys_have_none() {
        let mut h = History::new(5);
        h.record(0, [(key("old", ""), Totals::default())]);
        h.record(10, [(key("new", ""), Totals::default())]);
        assert_eq!(h.len(), 2);
        h.record(WINDOW_SECS + 5, [(key("new", ""), Totals::default())]);
        assert_eq!(h.len(), 1);
        assert!(h.points(&key("old", ""), WINDOW_SECS + 5).is_none());
        assert_eq!(
            h.points(&key("new", ""), WINDOW_SECS + 5).map(|p| p.len()),
            Some(2)
        );
    }

    #[test]
    fn point_size_is_what_the_readme_states() {
        assert_eq!(std::mem::size_of::<Point>(), 32);
    }
}
