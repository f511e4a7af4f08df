//! The nsqadmin binary: flags and config file, Go's startup checks, logging, signals;
//! everything else is the library's `bind` and `run`. Exit status: 0 after SIGINT/SIGTERM,
//! `--version` or `-h`; 2 for a bad command line (Go's `flag.ExitOnError`); 1 for a bad
//! config or listen address.

use nsqadmin::config::{self, Parsed};
use nsqadmin::logging;
use std::process::ExitCode;

const FATAL_PREFIX: &str = "[nsqadmin] ";

fn main() -> ExitCode {
    let args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let mut config = match config::parse_args(args) {
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
            return ExitCode::from(2);
        }
        Err(e) => {
            logging::fatal(FATAL_PREFIX, &e.to_string());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = config.validate() {
        logging::fatal(
            FATAL_PREFIX,
            &format!("failed to instantiate nsqadmin - {e}"),
        );
        return ExitCode::from(1);
    }
    logging::init(&config.log_prefix, config.log_level.as_int());
    let prefix = config.log_prefix.clone();
    daemon::runtime::serve(&prefix, "failed to instantiate nsqadmin - ", serve(config))
}

async fn serve(config: config::Config) -> anyhow::Result<()> {
    let shutdown = daemon::signals::shutdown_token()?;
    let listener = nsqadmin::bind(&config).await?;
    nsqadmin::run(config, listener, shutdown).await
}
