//! The nsqlookupd binary: flags and config file, logging, signals; everything else is
//! the library's `bind` and `run`. Exit status: 0 after SIGINT/SIGTERM, `--version` or
//! `-h`; 1 for a bad command line, config file or listen address (Go exits 2 for a bad
//! command line).

use nsqlookupd::config::{self, Parsed};
use nsqlookupd::logging;
use std::process::ExitCode;

/// The prefix of fatal lines before the configured one is known (Go's `logFatal`).
const FATAL_PREFIX: &str = "[nsqlookupd] ";

fn main() -> ExitCode {
    // Lossy, so a non-UTF-8 argument is a bad flag rather than a panic.
    let args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let config = match config::parse_args(args) {
        Ok(Parsed::Run(c)) => *c,
        Ok(Parsed::Version(v)) => {
            println!("{v}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Help(usage)) => {
            eprint!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) if e.is_usage_error() => {
            eprintln!("{e}");
            eprint!("{}", config::usage());
            return ExitCode::from(1);
        }
        Err(e) => {
            logging::fatal(FATAL_PREFIX, &e.to_string());
            return ExitCode::from(1);
        }
    };
    logging::init(&config.log_prefix, config.log_level.as_int());
    let prefix = config.log_prefix.clone();
    daemon::runtime::serve(&prefix, "", serve(config))
}

async fn serve(config: config::Config) -> anyhow::Result<()> {
    let shutdown = daemon::signals::shutdown_token()?;
    let listeners = nsqlookupd::bind(&config).await?;
    nsqlookupd::run(config, listeners, shutdown).await
}
