//! Log lines in the reference's layout on stderr:
//! `[nsqd] 2026/11/23 10:00:00.123456 INFO: TCP: listening on 127.0.0.1:4150`,
//! then any structured fields as `key=value`. The level can change at runtime
//! (`PUT /config/log_level`), so the filter reads an atomic. `fatal` writes a `FATAL:`
//! line for startup failures (tracing has no fatal level).

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
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
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}/{m:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
