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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            logging::fatal(
                &config.log_prefix,
                &format!("failed to start runtime - {e}"),
            );
            return ExitCode::from(1);
        }
    };
    let prefix = config.log_prefix.clone();
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            logging::fatal(&prefix, &format!("failed to instantiate nsqadmin - {e:#}"));
            ExitCode::from(1)
        }
    }
}

async fn serve(config: config::Config) -> anyhow::Result<()> {
    let shutdown = daemon::signals::shutdown_token()?;
    let listener = nsqadmin::bind(&config).await?;
    nsqadmin::run(config, listener, shutdown).await
}
