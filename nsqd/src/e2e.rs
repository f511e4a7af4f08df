//! End-to-end processing latency (`--e2e-processing-latency-percentile`): publish-to-FIN
//! times per channel over a sliding window, reported as percentiles in `/stats`.
//!
//! The reference keeps two rotating quantile sketches, each covering half the window.
//! This keeps two rotating sample buckets instead (bounded by reservoir sampling), and
//! computes the percentiles exactly over the samples: the values are approximate in the
//! same way, and cost nothing unless percentiles are configured.

use crate::lock;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Samples kept per half-window bucket; beyond this, reservoir sampling keeps it uniform.
const MAX_SAMPLES: usize = 8192;

#[derive(Debug)]
struct Bucket {
    started: Instant,
    seen: u64,
    samples: Vec<u64>,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            started: now,
            seen: 0,
            samples: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub struct E2eLatency {
    half_window: Duration,
    inner: Mutex<(Bucket, Bucket, u64)>,
}

/// One percentile for `/stats`: quantile and value in nanoseconds.
pub use protocol::json::nsqd::Percentile;

impl E2eLatency {
    pub fn new(window: Duration) -> E2eLatency {
        let now = Instant::now();
        E2eLatency {
            half_window: (window / 2).max(Duration::from_millis(1)),
            inner: Mutex::new((Bucket::new(now), Bucket::new(now), 0x2545_f491_4f6c_dd1d)),
        }
    }

    fn rotate(&self, st: &mut (Bucket, Bucket, u64), now: Instant) {
        if now.duration_since(st.0.started) >= self.half_window {
            let fresh = Bucket::new(now);
            st.1 = std::mem::replace(&mut st.0, fresh);
            if now.duration_since(st.1.started) >= 2 * self.half_window {
                st.1 = Bucket::new(now);
            }
        }
    }

    pub fn record(&self, ns: u64) {
        let now = Instant::now();
        let mut st = lock(&self.inner);
        self.rotate(&mut st, now);
        let (cur, _, rng) = &mut *st;
        cur.seen += 1;
        if cur.samples.len() < MAX_SAMPLES {
            cur.samples.push(ns);
        } else {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            let slot = (*rng % cur.seen) as usize;
            if slot < MAX_SAMPLES {
                cur.samples[slot] = ns;
            }
        }
    }

    /// Samples in the window and how many were recorded.
    pub fn window(&self) -> (u64, Vec<u64>) {
        let mut st = lock(&self.inner);
        self.rotate(&mut st, Instant::now());
        let (a, b, _) = &*st;
        let mut v = a.samples.clone();
        v.extend_from_slice(&b.samples);
        (a.seen + b.seen, v)
    }
}

/// A topic's window: its channels' windows together.
pub fn merge<'a>(windows: impl Iterator<Item = &'a (u64, Vec<u64>)>) -> (u64, Vec<u64>) {
    windows.fold((0, Vec::new()), |(n, mut v), (cn, cv)| {
        v.extend_from_slice(cv);
        (n + cn, v)
    })
}

/// The configured quantiles over `samples` (in configured order); 0 when empty.
pub fn percentiles(samples: &mut [u64], quantiles: &[f64]) -> Vec<Percentile> {
    samples.sort_unstable();
    quantiles
        .iter()
        .map(|&q| {
            let value = if samples.is_empty() {
                0.0
            } else {
                let idx = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
                samples[idx] as f64
            };
            Percentile { quantile: q, value }
        })
        .collect()
}

/// `1.5ms`-style rendering for the text `/stats`.
pub fn human(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1}ns")
    } else if ns < 1e6 {
        format!("{:.1}us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1}ms", ns / 1e6)
    } else {
        format!("{:.1}s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_percentiles() {
        let mut s: Vec<u64> = (1..=100).collect();
        let p = percentiles(&mut s, &[1.0, 0.99, 0.5]);
        assert_eq!(
            p.iter().map(|p| p.value).collect::<Vec<_>>(),
            vec![100.0, 99.0, 50.0]
        );
        assert_eq!(percentiles(&mut [], &[0.5])[0].value, 0.0);
    }

    #[test]
    fn window_keeps_counts_and_bounded_samples() {
        let e = E2eLatency::new(Duration::from_secs(600));
        for i in 0..(MAX_SAMPLES as u64 * 3) {
            e.record(i);
        }
        let (count, samples) = e.window();
        assert_eq!(count, MAX_SAMPLES as u64 * 3);
        assert_eq!(samples.len(), MAX_SAMPLES);
    }

    #[test]
    fn human_units() {
        assert_eq!(human(999.0), "999.0ns");
        assert_eq!(human(1_500.0), "1.5us");
        assert_eq!(human(2_500_000.0), "2.5ms");
        assert_eq!(human(3e9), "3.0s");
    }
}
