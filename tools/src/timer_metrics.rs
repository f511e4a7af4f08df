//! Request timings as bitly's timer_metrics v1.0.0 logs them for nsq_to_http and
//! nsq_to_nsq: the last `status_every` durations kept in a ring, and each time the ring
//! has gone round once more, one line `<prefix> finished <n> - 99th: <ms>ms - 95th: <ms>ms -
//! avg: <ms>ms`. A `status_every` of 0 records nothing; under 100 warns at creation; a
//! negative one logs every request on its own line, as timer_metrics does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Ring {
    timings: Vec<Duration>,
    position: i64,
}

pub(crate) struct TimerMetrics {
    status_every: i64,
    prefix: String,
    ring: Mutex<Ring>,
}

impl TimerMetrics {
    /// timer_metrics' `NewTimerMetrics`.
    pub(crate) fn new(status_every: i64, prefix: &str) -> TimerMetrics {
        if status_every > 0 && status_every < 100 {
            crate::golog::printf(&format!(
                "Warning: use more than 100 status values for accurate percentiles (configured with {status_every})"
            ));
        }
        let capacity = usize::try_from(status_every).unwrap_or(0).min(1 << 16);
        TimerMetrics {
            status_every,
            prefix: prefix.to_string(),
            ring: Mutex::new(Ring {
                timings: Vec::with_capacity(capacity),
                position: 0,
            }),
        }
    }

    /// Records the time since `start` (timer_metrics' `Status`).
    pub(crate) fn status(&self, start: Instant) {
        if self.status_every == 0 {
            return;
        }
        self.record(start.elapsed());
    }

    fn record(&self, d: Duration) {
        let line = {
            let mut r = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            r.position += 1;
            let looped = r.position > self.status_every;
            if looped {
                r.position = 1;
            }
            let p = usize::try_from(r.position).unwrap_or(1);
            if p > r.timings.len() {
                r.timings.push(d);
            } else if let Some(slot) = r.timings.get_mut(p - 1) {
                *slot = d;
            }
            if !looped {
                return;
            }
            stats_line(&self.prefix, &r.timings)
        };
        crate::golog::printf(&line);
    }
}

/// timer_metrics' percentile: index `ceil(perc/100 * n + 0.5)`, capped at the last.
fn percentile(perc: f64, sorted: &[Duration]) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = (((perc / 100.0) * sorted.len() as f64) + 0.5).ceil() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stats_line(prefix: &str, timings: &[Duration]) -> String {
    let total: Duration = timings.iter().sum();
    let mut sorted = timings.to_vec();
    sorted.sort();
    let avg = if sorted.is_empty() {
        Duration::ZERO
    } else {
        // Go divides the nanoseconds as integers.
        Duration::from_nanos((total.as_nanos() / sorted.len() as u128) as u64)
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{prefix} finished {} - 99th: {:.2}ms - 95th: {:.2}ms - avg: {:.2}ms",
        sorted.len(),
        ms(percentile(99.0, &sorted)),
        ms(percentile(95.0, &sorted)),
        ms(avg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_as_timer_metrics_prints_it() {
        let t: Vec<Duration> = (1..=4).map(Duration::from_millis).collect();
        assert_eq!(
            stats_line("[aggregate]:", &t),
            "[aggregate]: finished 4 - 99th: 4.00ms - 95th: 4.00ms - avg: 2.50ms"
        );
        let t: Vec<Duration> = (1..=200).map(Duration::from_micros).collect();
        // ceil(0.95*200+0.5) = 191 -> the 192nd smallest.
        assert!(stats_line("", &t).contains("95th: 0.19ms"));
    }

    #[test]
    fn ring_wraps() {
        let m = TimerMetrics::new(2, "x");
        m.record(Duration::from_millis(1));
        m.record(Duration::from_millis(3));
        m.record(Duration::from_millis(5));
        let r = m.ring.lock().expect("ring");
        assert_eq!(
            r.timings,
            [Duration::from_millis(5), Duration::from_millis(3)]
        );
        assert_eq!(r.position, 1);
    }
}
