//! Log lines in the reference's layout on stderr:
//! `[nsqd] 2026/11/23 10:00:00.123456 INFO: TCP: listening on 127.0.0.1:4150`,
//! then any structured fields as `key=value`. The level can change at runtime
//! (`PUT /config/log_level`), so the filter reads an atomic. `fatal` writes a `FATAL:`
//! line for startup failures (tracing has no fatal level).

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// 1 debug, 2 info, 3 warn, 4 error, 5 fatal (the reference's numbering).
static LEVEL: AtomicU8 = AtomicU8::new(2);

pub fn set_level(level: u8) {
    LEVEL.store(level.clamp(1, 5), Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

fn rank(level: &Level) -> u8 {
    match *level {
        Level::TRACE | Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

struct GoStyle {
    prefix: String,
}

impl<S, N> FormatEvent<S, N> for GoStyle
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::TRACE | Level::DEBUG => "DEBUG",
            Level::INFO => "INFO",
            Level::WARN => "WARNING",
            Level::ERROR => "ERROR",
        };
        write!(w, "{}{} {}: ", self.prefix, timestamp(), level)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `YYYY/MM/DD HH:MM:SS.micro` in UTC.
fn timestamp() -> String {
    let t = crate::clock::Utc::now();
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros
    )
}

/// Writes a `FATAL:` line straight to stderr; used for startup failures before or
/// instead of the subscriber.
pub fn fatal(prefix: &str, message: &str) {
    eprintln!("{prefix}{} FATAL: {message}", timestamp());
}

/// Install the global subscriber. `RUST_LOG`, if set, overrides `--log-level`.
pub fn init(prefix: &str, level: u8) {
    set_level(level);
    let fmt_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(GoStyle {
            prefix: prefix.to_string(),
        });
    let registry = tracing_subscriber::registry();
    match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => {
            let filter = tracing_subscriber::EnvFilter::new(spec);
            let _ = registry.with(fmt_layer.with_filter(filter)).try_init();
        }
        _ => {
            let filter =
                tracing_subscriber::filter::filter_fn(|meta| rank(meta.level()) >= level_now());
            let _ = registry.with(fmt_layer.with_filter(filter)).try_init();
        }
    }
}

fn level_now() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

use tracing_subscriber::Layer as _;
