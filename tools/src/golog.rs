//! The log lines of the Go tools: Go's standard `log` package with no prefix
//! (`2026/01/02 15:04:05 message`, on stderr), `log.Fatal` (the line, then exit status 1),
//! and the client library's own lines in go-nsq's shape (`... INF    <message>`), which the
//! Go tools print through go-nsq's default logger at its default level (info).
//!
//! Times are UTC (Go's `log` uses the local zone; the two agree where the zone is UTC).

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

/// `YYYY/MM/DD HH:MM:SS`, Go's `log.LstdFlags`.
fn timestamp() -> String {
    let t = daemon::clock::Utc::now();
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The line Go's `log.Printf` writes for `message`.
pub(crate) fn line(message: &str) -> String {
    let mut out = format!("{} {message}", timestamp());
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Go's `log.Printf`.
pub(crate) fn printf(message: &str) {
    eprint!("{}", line(message));
}

/// Go's `log.Fatal`: the line, then exit status 1.
pub(crate) fn fatal(message: &str) -> ! {
    printf(message);
    std::process::exit(1)
}

/// go-nsq's level names, padded as its logger pads them (`%-4s`).
fn level_word(level: &Level) -> &'static str {
    match *level {
        Level::TRACE | Level::DEBUG => "DBG ",
        Level::INFO => "INF ",
        Level::WARN => "WRN ",
        Level::ERROR => "ERR ",
    }
}

struct GoNsqStyle;

impl<S, N> FormatEvent<S, N> for GoNsqStyle
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
        write!(
            w,
            "{} {}   ",
            timestamp(),
            level_word(event.metadata().level())
        )?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the subscriber for the client library's events: info and above (go-nsq's
/// default level), or what `RUST_LOG` says when set.
pub(crate) fn init() {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(GoNsqStyle);
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => tracing_subscriber::EnvFilter::new(spec),
        _ => tracing_subscriber::EnvFilter::new("info"),
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_log_line_shape() {
        let l = super::line("--topic required");
        // 2026/12/03 16:30:04 --topic required
        assert_eq!(
            l.len(),
            "2026/12/03 16:30:04 --topic required\n".len(),
            "{l}"
        );
        assert_eq!(&l[4..5], "/");
        assert_eq!(&l[10..11], " ");
        assert!(l.ends_with(" --topic required\n"));
        assert!(super::line("x\n").ends_with(" x\n"));
    }
}
