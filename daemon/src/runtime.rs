//! Running a server binary's async body as the Go daemons end: a small multi-threaded
//! runtime, the body run to completion, any failure (the runtime itself included) logged
//! as a `FATAL` line with the binary's prefix and exit status 1.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use crate::logging;

/// Runs `body` on a two-worker runtime. A failure is logged as `<context><error>` (the
/// error's alternate form, so a chain reads `outer: cause`), then exit status 1.
pub fn serve<E: Display>(
    log_prefix: &str,
    context: &str,
    body: impl Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            logging::fatal(log_prefix, &format!("failed to start runtime - {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            logging::fatal(log_prefix, &format!("{context}{e:#}"));
            ExitCode::from(1)
        }
    }
}
