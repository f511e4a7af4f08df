//! One topic's loop, Go nsq_to_file v1.3.0's `FileLogger.router`: messages are written
//! as they arrive (`body` + `\n`) and held un-FINished; the batch is synced to disk and
//! only then FINished when `--max-in-flight` messages are held, the consumer is starved,
//! the file rotates, `--sync-interval` ticks, on SIGHUP (which also closes the file,
//! reopened by the next message) and on stop. SIGINT/SIGTERM stop the consumer; once its
//! connections are closed the file is synced, closed (moved to the output dir) and the
//! loop ends.
//!
//! One difference on purpose: after the stop has begun, a batch is also synced whenever
//! no message is waiting, so the messages nsqd sent before it took the stop are FINished
//! and the consumer closes promptly (Go's holds them until its 30 s stop timeout, after
//! which nsqd delivers them again).

use super::file_logger::FileLogger;
use nsq_client::{Consumer, Message};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the discoverer hands one topic's loop.
pub(crate) struct Router {
    pub file: FileLogger,
    pub consumer: Consumer,
    pub messages: mpsc::Receiver<Message>,
    pub hangup: mpsc::UnboundedReceiver<()>,
    pub term: CancellationToken,
    pub max_in_flight: usize,
    pub sync_interval: Duration,
    pub skip_empty_files: bool,
}

impl Router {
    pub(crate) async fn run(mut self) {
        if self.sync_interval.is_zero() {
            // Go's time.NewTicker panics on it (in the topic's goroutine).
            eprintln!("panic: non-positive interval for NewTicker");
            std::process::exit(2);
        }
        let mut held: Vec<Message> = Vec::with_capacity(self.max_in_flight);
        let start = tokio::time::Instant::now() + self.sync_interval;
        let mut ticker = tokio::time::interval_at(start, self.sync_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticking = true;
        let (stopped_tx, mut stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let mut stopped_tx = Some(stopped_tx);
        let mut stopping = false;
        loop {
            let (mut sync, mut close_file, mut exit) = (false, false, false);
            tokio::select! {
                _ = &mut stopped_rx, if stopping => {
                    sync = true;
                    close_file = true;
                    exit = true;
                }
                () = self.term.cancelled(), if !stopping => {
                    ticking = false;
                    stopping = true;
                    let consumer = self.consumer.clone();
                    let done = stopped_tx.take();
                    tokio::spawn(async move {
                        consumer.stop().await;
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    });
                    sync = true;
                }
                Some(()) = self.hangup.recv() => {
                    sync = true;
                    close_file = true;
                }
                _ = ticker.tick(), if ticking => {
                    if self.file.needs_rotation() {
                        if self.skip_empty_files {
                            close_file = true;
                        } else {
                            blocking(|| self.file.update_file());
                        }
                    }
                    sync = true;
                }
                Some(m) = self.messages.recv() => {
                    if self.file.needs_rotation() {
                        blocking(|| self.file.update_file());
                        sync = true;
                    }
                    let tag = self.file.tag().to_string();
                    if let Err(e) = self.file.write(&m.body) {
                        self.file_fatal(&format!("{tag} writing message to disk: {e}"));
                    }
                    if let Err(e) = self.file.write(b"\n") {
                        self.file_fatal(&format!("{tag} writing newline to disk: {e}"));
                    }
                    held.push(m);
                    if held.len() >= self.max_in_flight {
                        sync = true;
                    }
                }
            }
            if stopping && self.messages.is_empty() {
                sync = true;
            }
            if (sync || self.consumer.is_starved()) && !held.is_empty() {
                self.file
                    .log_info(&format!("syncing {} records to disk", held.len()));
                if let Err(e) = blocking(|| self.file.sync()) {
                    let tag = self.file.tag().to_string();
                    self.file_fatal(&format!("{tag} failed syncing messages: {e}"));
                }
                // Go FINishes the batch from its end.
                while let Some(m) = held.pop() {
                    m.finish();
                }
            }
            if close_file {
                blocking(|| self.file.close());
            }
            if exit {
                return;
            }
        }
    }

    fn file_fatal(&self, message: &str) -> ! {
        self.file.log_fatal(message)
    }
}

/// File-system work off the async workers' hot loop (fsync may take a while).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}
