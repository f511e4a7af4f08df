//! Giving back the memory a crowd of TCP clients leaves behind.
//!
//! nsqd runs on one glibc arena (`main.rs`). Each connection takes about 80 KiB of buffers
//! from it, of which only the first pages are ever touched; when the crowd leaves, glibc
//! keeps the freed space (it returns only the top of the heap), and the next crowd's
//! buffers land on other pages of it, so resident memory rose with every crowd (52, 85,
//! 109, 128 MiB over four crowds of 5,000) although almost nothing was in use (0.3 MiB
//! after four crowds, 435 MiB held). Go's runtime returns such memory on its own.
//!
//! So the live TCP connections are counted (per process, as the allocator is), and once a
//! second, when at least half of a crowd of `MIN_CROWD` or more has gone since the last
//! look, `malloc_trim` hands the free pages back. Steady churn at a constant level reuses
//! the same freed space and never triggers it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Live TCP connections in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most live at once since the last trim (or look).
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Fewer connections than this leave too little behind to be worth a trim.
const MIN_CROWD: usize = 256;
/// How often the count is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Held by a connection's task for its life.
pub(crate) struct Connected(());

impl Connected {
    pub(crate) fn new() -> Connected {
        let live = LIVE.fetch_add(1, Ordering::Relaxed) + 1;
        PEAK.fetch_max(live, Ordering::Relaxed);
        Connected(())
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// True when a crowd of at least `MIN_CROWD` has at least halved since the last trim.
fn crowd_left(peak: usize, live: usize) -> bool {
    peak >= MIN_CROWD && live <= peak / 2
}

/// Until shutdown: once a second, trim when a crowd has left.
pub(crate) async fn trim_loop(shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let live = LIVE.load(Ordering::Relaxed);
        if crowd_left(PEAK.load(Ordering::Relaxed), live) {
            PEAK.store(live, Ordering::Relaxed);
            // The trim walks the heap under the arena lock: off the runtime's threads.
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
    }
}

/// Return the allocator's free pages to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_memory() {
    // SAFETY: malloc_trim only releases free memory the allocator holds; it takes the
    // arena locks itself and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_crowd_that_left_triggers() {
        assert!(!crowd_left(0, 0));
        assert!(!crowd_left(MIN_CROWD - 1, 0), "too small to matter");
        assert!(crowd_left(MIN_CROWD, MIN_CROWD / 2));
        assert!(!crowd_left(5000, 2501), "most of it still here");
        assert!(crowd_left(5000, 2500));
        assert!(crowd_left(5000, 0));
    }

    #[test]
    fn counts_connections() {
        // Other tests in this process connect too: only relative changes are checked.
        let c = Connected::new();
        assert!(LIVE.load(Ordering::Relaxed) >= 1);
        assert!(PEAK.load(Ordering::Relaxed) >= 1);
        drop(c);
        release_free_memory();
    }
}
