//! Shutdown on SIGINT or SIGTERM, as the Go daemons do: one token, cancelled by the
//! first of the two signals.

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// A token cancelled when the process receives SIGINT or SIGTERM. Call inside a runtime.
pub fn shutdown_token() -> std::io::Result<CancellationToken> {
    let shutdown = CancellationToken::new();
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let token = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
        token.cancel();
    });
    Ok(shutdown)
}
