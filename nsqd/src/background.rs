//! Background work the broker starts for itself (topic drains, lookupd peers, channel
//! pre-creation): every task is spawned on one tracker, so shutdown can wait for each, and
//! runs on the main runtime even when an HTTP handler (on an HTTP thread's own runtime)
//! starts it. A task that panics is logged with its name instead of vanishing with its
//! dropped `JoinHandle`.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;
use tracing::error;

#[derive(Debug, Clone)]
pub(crate) struct Background {
    tracker: TaskTracker,
    /// The main runtime (`None` when built outside one: then the caller's runtime).
    runtime: Option<Handle>,
}

impl Background {
    /// Background work for the runtime this is called on.
    pub(crate) fn new() -> Background {
        Background {
            tracker: TaskTracker::new(),
            runtime: Handle::try_current().ok(),
        }
    }

    /// Run a task on the main runtime, tracked.
    pub(crate) fn spawn(
        &self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        let task = Logged {
            name,
            task: Box::pin(task),
        };
        match &self.runtime {
            Some(rt) => drop(self.tracker.spawn_on(task, rt)),
            None => drop(self.tracker.spawn(task)),
        }
    }

    /// Run blocking work on the main runtime's blocking pool, tracked.
    pub(crate) fn spawn_blocking(&self, name: &'static str, f: impl FnOnce() + Send + 'static) {
        let f = move || {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
                log_panic(name, panic.as_ref());
            }
        };
        match &self.runtime {
            Some(rt) => drop(self.tracker.spawn_blocking_on(f, rt)),
            None => drop(self.tracker.spawn_blocking(f)),
        }
    }

    /// Wait for every task started so far and any started meanwhile (shutdown).
    pub(crate) async fn close_and_wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Tasks still running.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }
}

/// A task whose panic is caught and logged with its name.
struct Logged {
    name: &'static str,
    task: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for Logged {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let name = self.name;
        match catch_unwind(AssertUnwindSafe(|| self.task.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                log_panic(name, panic.as_ref());
                Poll::Ready(())
            }
        }
    }
}

/// Log a task's panic (its name and message) as an error.
pub(crate) fn log_panic(task: &str, panic: &(dyn std::any::Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    error!(task, panic = %message, "background task panicked");
}

/// Await a task started with `tokio::spawn`, logging a panic with the task's name.
pub(crate) async fn join_logged(name: &'static str, handle: tokio::task::JoinHandle<()>) {
    if let Err(e) = handle.await {
        if e.is_panic() {
            log_panic(name, e.into_panic().as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn shutdown_waits_for_every_task_and_survives_a_panic() {
        let bg = Background::new();
        let done = Arc::new(AtomicBool::new(false));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let d = Arc::clone(&done);
        bg.spawn("waits", async move {
            let _ = rx.await;
            d.store(true, Ordering::SeqCst);
        });
        bg.spawn("panics", async { panic!("boom") });
        bg.spawn_blocking("panics blocking", || panic!("boom"));
        let blocking_done = Arc::new(AtomicBool::new(false));
        let b = Arc::clone(&blocking_done);
        bg.spawn_blocking("blocking", move || b.store(true, Ordering::SeqCst));
        // The panicking and the quick tasks end; the waiting one is still counted.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while bg.len() > 1 {
            assert!(tokio::time::Instant::now() < deadline, "tasks did not end");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(blocking_done.load(Ordering::SeqCst));
        let wait = bg.close_and_wait();
        tokio::pin!(wait);
        // One poll: not done while a task still runs.
        assert!(tokio::time::timeout(std::time::Duration::ZERO, &mut wait)
            .await
            .is_err());
        assert!(!done.load(Ordering::SeqCst));
        let _ = tx.send(());
        wait.await;
        assert!(done.load(Ordering::SeqCst));
        assert_eq!(bg.len(), 0);
    }
}
