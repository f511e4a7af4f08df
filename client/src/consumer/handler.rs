//! What handles messages (a [`Handler`], any async closure qualifies) and the tasks that
//! run it: go-nsq's handler loop, which gives up on (FINs and logs) a message delivered
//! more than `max_attempts` times, FINs on `Ok` and REQs with the default delay on `Err`
//! unless the handler took over the response.

use super::{Inner, Message};
use std::future::Future;
use std::sync::Arc;

/// A handler's failure: the message is requeued (and the consumer backs off).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Handles one message at a time (a consumer runs it on as many tasks as asked).
///
/// Any `Fn(Message) -> impl Future<Output = Result<(), E>>` is a handler, with `E`
/// convertible into [`HandlerError`].
pub trait Handler: Send + Sync + 'static {
    /// `Ok`: FIN; `Err`: REQ with the default delay, unless the handler answered itself
    /// or called [`Message::disable_auto_response`].
    fn handle(&self, message: Message) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Called for a message given up after `max_attempts` deliveries, before it is FINed.
    fn log_failed_message(&self, _message: &Message) {}
}

impl<F, Fut, E> Handler for F
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<HandlerError>,
{
    fn handle(&self, message: Message) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let fut = self(message);
        async move { fut.await.map_err(Into::into) }
    }
}

/// One handler task: takes messages until the consumer stops delivering.
pub(crate) async fn worker<H: Handler>(inner: Arc<Inner>, handler: Arc<H>) {
    loop {
        let msg = {
            let mut queue = inner.queue.lock().await;
            queue.recv().await
        };
        let Some(msg) = msg else {
            return;
        };
        msg.taken();
        let max = inner.config.max_attempts;
        if max > 0 && msg.attempts > max {
            tracing::warn!(id = %msg.id, "msg attempted {} times, giving up", msg.attempts);
            handler.log_failed_message(&msg);
            msg.finish();
            continue;
        }
        let keep = msg.clone();
        let result = handler.handle(msg).await;
        if keep.is_auto_response_disabled() {
            continue;
        }
        match result {
            Ok(()) => keep.finish(),
            Err(e) => {
                tracing::error!(id = %keep.id, "handler returned error ({e})");
                keep.requeue(None);
            }
        }
    }
}
