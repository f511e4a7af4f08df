//! The nsqd binary: flags and config file, logging, signals; everything else is the
//! library's `bind` and `run`.

use nsqd::config::{self, Parsed};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Lossy: a non-UTF-8 argument is reported as a bad flag, never a panic.
    let args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let config = match config::parse_args(args) {
        Ok(Parsed::Run(c)) => *c,
        Ok(Parsed::Version(v)) => {
            println!("{v}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Help(h)) => {
            println!("{h}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("nsqd: {e}");
            return ExitCode::from(1);
        }
    };
    nsqd::logging::init(&config.log_prefix, config.log_level.as_int());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nsqd: failed to start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: config::Config) -> anyhow::Result<()> {
    let shutdown = daemon::signals::shutdown_token()?;
    let listeners = nsqd::bind(&config).await?;
    nsqd::run(config, listeners, shutdown).await
}
