//! The destination pool of nsq_to_http and nsq_to_nsq: go-hostpool v0.1.0 as the Go tools
//! use it. The standard pool goes round-robin over the hosts alive, marks a host dead on a
//! failure and tries it again after 30s (doubling, up to 900s), and when every host is dead
//! revives them all and starts from the first. The epsilon-greedy pool explores that way a
//! share of the time (30%, decaying to 1%) and otherwise picks a host with a chance
//! inversely proportional to its weighted average response time over the last five
//! minutes (120 buckets).

use crate::rng::Rng;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INITIAL_RETRY_DELAY: Duration = Duration::from_secs(30);
const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(900);
const EPSILON_BUCKETS: usize = 120;
const EPSILON_DECAY: f32 = 0.90;
const MIN_EPSILON: f32 = 0.01;
const INITIAL_EPSILON: f32 = 0.3;
const DECAY_DURATION: Duration = Duration::from_secs(5 * 60);

struct Host {
    name: String,
    dead: bool,
    next_retry: Instant,
    retry_delay: Duration,
    epsilon_counts: Vec<i64>,
    epsilon_values: Vec<i64>,
    epsilon_index: usize,
}

impl Host {
    fn can_try(&self, now: Instant) -> bool {
        !self.dead || self.next_retry < now
    }

    fn will_retry(&mut self) {
        self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY_INTERVAL);
        self.next_retry = Instant::now() + self.retry_delay;
    }

    fn weighted_average_response_time(&self) -> f64 {
        let (mut value, mut last) = (0.0, 0.0);
        for i in 1..=EPSILON_BUCKETS {
            let pos = (self.epsilon_index + i) % EPSILON_BUCKETS;
            let count = self.epsilon_counts[pos];
            let weight = i as f64 / EPSILON_BUCKETS as f64;
            if count > 0 {
                let current = self.epsilon_values[pos] as f64 / count as f64;
                value += current * weight;
                last = current;
            } else {
                value += last * weight;
            }
        }
        value
    }
}

struct State {
    hosts: Vec<Host>,
    next_index: usize,
    /// `Some` for the epsilon-greedy pool.
    epsilon: Option<Epsilon>,
    rng: Rng,
}

struct Epsilon {
    value: f32,
    /// Buckets rotated so far (one every `DECAY_DURATION / EPSILON_BUCKETS` since `start`).
    rotated: u64,
    start: Instant,
}

/// A pool of hosts (go-hostpool's `HostPool`).
pub(crate) struct HostPool {
    state: Mutex<State>,
}

/// One [`HostPool::get`]: the host to use, to be marked with the outcome.
pub(crate) struct Pick {
    index: usize,
    started: Instant,
}

impl HostPool {
    /// go-hostpool's `New`.
    pub(crate) fn new(hosts: &[String]) -> HostPool {
        Self::make(hosts, None)
    }

    /// go-hostpool's `NewEpsilonGreedy` with the default decay (5 minutes) and the linear
    /// value calculator, as the Go tools make it.
    pub(crate) fn epsilon_greedy(hosts: &[String]) -> HostPool {
        let epsilon = Epsilon {
            value: INITIAL_EPSILON,
            rotated: 0,
            start: Instant::now(),
        };
        Self::make(hosts, Some(epsilon))
    }

    fn make(hosts: &[String], epsilon: Option<Epsilon>) -> HostPool {
        let now = Instant::now();
        let buckets = if epsilon.is_some() {
            EPSILON_BUCKETS
        } else {
            0
        };
        let hosts = hosts
            .iter()
            .map(|h| Host {
                name: h.clone(),
                dead: false,
                next_retry: now,
                retry_delay: INITIAL_RETRY_DELAY,
                epsilon_counts: vec![0; buckets],
                epsilon_values: vec![0; buckets],
                epsilon_index: 0,
            })
            .collect();
        HostPool {
            state: Mutex::new(State {
                hosts,
                next_index: 0,
                epsilon,
                rng: Rng::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host to use next; `None` only for an empty pool.
    pub(crate) fn get(&self) -> Option<(String, Pick)> {
        let mut s = self.lock();
        if s.hosts.is_empty() {
            return None;
        }
        s.decay();
        let index = if s.epsilon.is_some() {
            s.epsilon_greedy()
        } else {
            s.round_robin()
        };
        let name = s.hosts[index].name.clone();
        Some((
            name,
            Pick {
                index,
                started: Instant::now(),
            },
        ))
    }

    /// go-hostpool's `HostPoolResponse.Mark`: a success revives the host (and, in the
    /// epsilon-greedy pool, counts its response time); a failure marks a live host dead.
    pub(crate) fn mark(&self, pick: Pick, ok: bool) {
        let elapsed = pick.started.elapsed();
        let mut s = self.lock();
        s.decay();
        let has_epsilon = s.epsilon.is_some();
        // go-hostpool finds the host by name: with a name given twice, the last entry.
        let Some(name) = s.hosts.get(pick.index).map(|h| h.name.clone()) else {
            return;
        };
        let Some(h) = s.hosts.iter_mut().rev().find(|h| h.name == name) else {
            return;
        };
        if ok {
            h.dead = false;
            if has_epsilon {
                let i = h.epsilon_index;
                h.epsilon_counts[i] += 1;
                h.epsilon_values[i] += (elapsed.as_secs_f64() * 1000.0) as i64;
            }
        } else if !h.dead {
            h.dead = true;
            h.retry_delay = INITIAL_RETRY_DELAY;
            h.next_retry = Instant::now() + h.retry_delay;
        }
    }
}

impl State {
    fn round_robin(&mut self) -> usize {
        let now = Instant::now();
        let count = self.hosts.len();
        for i in 0..count {
            let index = (i + self.next_index) % count;
            let h = &mut self.hosts[index];
            if !h.dead {
                self.next_index = index + 1;
                return index;
            }
            if h.next_retry < now {
                h.will_retry();
                self.next_index = index + 1;
                return index;
            }
        }
        for h in &mut self.hosts {
            h.dead = false;
        }
        self.next_index = 0;
        0
    }

    fn epsilon_greedy(&mut self) -> usize {
        let explore = self.rng.f32();
        if let Some(e) = self.epsilon.as_mut() {
            if explore < e.value {
                e.value = (e.value * EPSILON_DECAY).max(MIN_EPSILON);
                return self.round_robin();
            }
        }
        let now = Instant::now();
        let mut possible: Vec<(usize, f64)> = Vec::new();
        let mut sum = 0.0;
        for (i, h) in self.hosts.iter().enumerate() {
            if h.can_try(now) {
                let v = h.weighted_average_response_time();
                if v > 0.0 {
                    let ev = 1.0 / v;
                    sum += ev;
                    possible.push((i, ev));
                }
            }
        }
        let pick = self.rng.f64();
        let mut ceiling = 0.0;
        let mut chosen = None;
        for &(i, ev) in &possible {
            ceiling += ev / sum;
            if pick <= ceiling {
                chosen = Some(i);
                break;
            }
        }
        let Some(i) = chosen else {
            if !possible.is_empty() {
                crate::golog::printf("Failed to randomly choose a host, Dan loses");
            }
            return self.round_robin();
        };
        if self.hosts[i].dead {
            self.hosts[i].will_retry();
        }
        i
    }

    /// go-hostpool's decay ticker (one bucket every 2.5s), caught up on each use.
    fn decay(&mut self) {
        let Some(e) = self.epsilon.as_mut() else {
            return;
        };
        let per_bucket = DECAY_DURATION / EPSILON_BUCKETS as u32;
        let due = (e.start.elapsed().as_nanos() / per_bucket.as_nanos()) as u64;
        let steps = due.saturating_sub(e.rotated).min(EPSILON_BUCKETS as u64);
        e.rotated = due;
        for _ in 0..steps {
            for h in &mut self.hosts {
                h.epsilon_index = (h.epsilon_index + 1) % EPSILON_BUCKETS;
                h.epsilon_counts[h.epsilon_index] = 0;
                h.epsilon_values[h.epsilon_index] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i}")).collect()
    }

    fn take(p: &HostPool, ok: bool) -> String {
        let (name, pick) = p.get().expect("host");
        p.mark(pick, ok);
        name
    }

    #[test]
    fn round_robin_skips_the_dead_and_revives_all_when_all_are_dead() {
        let p = HostPool::new(&hosts(3));
        assert_eq!(take(&p, true), "h0");
        assert_eq!(take(&p, false), "h1");
        assert_eq!(take(&p, true), "h2");
        // h1 is dead for 30s.
        assert_eq!(take(&p, true), "h0");
        assert_eq!(take(&p, true), "h2");
        assert_eq!(take(&p, false), "h0");
        assert_eq!(take(&p, false), "h2");
        // All dead: all revived, the first used, and the next turn starts at it again
        // (go-hostpool leaves its index at 0).
        assert_eq!(take(&p, true), "h0");
        assert_eq!(take(&p, true), "h0");
        assert_eq!(take(&p, true), "h1");
        assert_eq!(take(&p, true), "h2");
    }

    #[test]
    fn one_host_is_always_used() {
        let p = HostPool::new(&hosts(1));
        for _ in 0..5 {
            assert_eq!(take(&p, false), "h0");
        }
        assert!(HostPool::new(&[]).get().is_none());
    }

    #[test]
    fn epsilon_greedy_uses_every_live_host() {
        let p = HostPool::epsilon_greedy(&hosts(2));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(take(&p, true));
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
    }
}
