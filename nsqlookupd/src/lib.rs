//! nsqlookupd as a library: [`bind`] the two listeners, then [`run`] until the shutdown
//! token is cancelled. The binary (`main.rs`) only parses flags, sets up logging and
//! signals; tests call the same two functions with port-0 listeners.
//!
//! Modules: `config` (flags + file), `registry` (the registration database, pure data),
//! `tcp` (V1 sessions of nsqd nodes; wire format in `protocol::lookup`), `identify`
//! (the IDENTIFY JSON body), `http` (query API and admin routes), `state` (the shared
//! context both take), `server` (start/stop), `logging` (Go-style log lines).

pub mod config;
mod http;
mod identify;
pub use daemon::logging;
mod registry;
mod server;
mod state;
mod tcp;

pub use config::Config;

/// Entry points for the fuzz targets (`fuzz/`), only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// An IDENTIFY body as a V1 session decodes it: `Ok` or the error response's data.
    pub fn identify(body: &[u8]) -> Result<(), Vec<u8>> {
        crate::identify::decode(body)
            .map(|_| ())
            .map_err(|e| e.response_data())
    }
}

use daemon::listen;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The bound listeners (both always present; nsqlookupd cannot disable either).
pub struct Listeners {
    pub(crate) tcp: TcpListener,
    pub(crate) http: TcpListener,
}

/// Binds `--tcp-address` and `--http-address`. Failure reads like Go's:
/// `listen (<addr>) failed - <error>`.
pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
    Ok(Listeners {
        tcp: listen(&config.tcp_address).await?,
        http: listen(&config.http_address).await?,
    })
}

/// `net.Listen("tcp", addr)`: an empty host (`:4160`) means every interface, dual-stack
/// where the system has IPv6; an empty port (`127.0.0.1:`, or an empty address) means
/// any free port. Listens with the system's backlog, as Go does.
async fn listen(addr: &str) -> anyhow::Result<TcpListener> {
    let target = match addr {
        "" => ":0".to_string(),
        a if a.ends_with(':') => format!("{a}0"),
        a => a.to_string(),
    };
    let result = match target.strip_prefix(':') {
        Some(port) => match listen::tcp(format!("[::]:{port}")).await {
            Ok(l) => Ok(l),
            Err(_) => listen::tcp(format!("0.0.0.0:{port}")).await,
        },
        None => listen::tcp(&target).await,
    };
    result.map_err(|e| anyhow::anyhow!("listen ({addr}) failed - {e}"))
}

/// Runs nsqlookupd until `shutdown` is cancelled (see [`server::serve`]).
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    server::serve(config, listeners, shutdown).await
}
