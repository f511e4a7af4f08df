//! What the NSQ tools share: Go's `log` line for their messages and fatal errors, the
//! command line on the `options` crate with Go `flag`'s exit codes, and go-nsq's
//! `--consumer-opt`/`--producer-opt` (`key,value`) applied to a client [`Config`]. One
//! module per tool holds its options table and its run loop; `src/bin/` only calls them.

pub mod cli;
pub mod nsq_opt;
pub mod tail;
pub mod to_nsq;

pub use nsq_client::Config;

/// A line as Go's standard `log` package prints it: `YYYY/MM/DD HH:MM:SS message`.
pub fn log_line(message: &str) -> String {
    let t = daemon::clock::Utc::now();
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02} {message}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Go's `log.Printf` (one newline at the end, whether or not `message` has one).
pub fn log(message: &str) {
    eprintln!(
        "{}",
        log_line(message.strip_suffix('\n').unwrap_or(message))
    );
}

/// The client's log lines (connections, backoff) on stderr at info level.
pub fn init_logging() {
    daemon::logging::init("", daemon::log_level::LogLevel::Info.as_int());
}

/// Go's `log.Fatal`: the line, then exit status 1.
pub fn fatal(message: &str) -> ! {
    log(message);
    std::process::exit(1)
}
