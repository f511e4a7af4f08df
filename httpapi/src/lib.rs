//! The V1 HTTP API conventions that the NSQ servers (nsqd, nsqlookupd, nsqadmin) follow
//! so that scripts written against the Go daemons keep working: `ApiError`/`V1`
//! responses and the `X-NSQ-Content-Type` header (`error`), Go query-string parsing
//! (`query`), the request log line (`log`), the Prometheus `/metrics` format (`metrics`)
//! and the reference router's behaviour around a route table (`routing`:
//! 404/405 bodies, OPTIONS, trailing-slash redirects). Only servers need this; what
//! every binary needs (log lines, signals, `--version`) is in `daemon`.

pub mod error;
pub mod log;
pub mod metrics;
mod metrics_process;
pub mod query;
pub mod routing;
