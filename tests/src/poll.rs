//! Waiting for conditions with deadlines: the only way tests wait (no fixed sleeps for
//! readiness). Timeouts here are failure bounds, never performance assertions.

use std::thread;
use std::time::{Duration, Instant};

/// Pause between two checks of a condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `check` until it returns true; panics with `what` if `timeout` passes first.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        thread::sleep(POLL_INTERVAL);
    }
}

/// Like [`wait_until`] but `probe` returns the last observation, which is included in
/// the panic message when the condition never holds.
pub fn wait_for<T: std::fmt::Debug>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> (bool, T),
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let (done, seen) = probe();
        if done {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}; last seen: {seen:?}"
        );
        thread::sleep(POLL_INTERVAL);
    }
}
