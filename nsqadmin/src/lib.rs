//! nsqadmin as a library: [`bind`] the HTTP listener, then [`run`] until the shutdown
//! token is cancelled. The binary (`main.rs`) only parses flags, sets up logging and
//! signals; tests call the same two functions with a port-0 listener.
//!
//! Modules: `config` (flags, file, Go's startup checks), `server` (shared state), `http`
//! (routes, pages, JSON API, `/config`, graphite, history API), `compress` (response
//! compression), `notify` (admin-action notifications), `history` (the ring of samples)
//! and `sampler` (the task feeding it). Cluster queries live in the `cluster` crate.

pub mod compress;
pub mod config;
pub mod history;
pub mod http;
pub mod notify;
pub mod sampler;
pub mod server;

pub use config::{Config, VERSION};
pub use daemon::logging;

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Binds `--http-address` (`listen (<addr>) failed - <error>` as Go), with the system's
/// accept backlog as Go's `net.Listen`.
pub async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let addr = &config.http_address;
    let target = match addr.as_str() {
        "" => "0.0.0.0:0".to_string(),
        a if a.ends_with(':') => format!("{a}0"),
        a if a.starts_with(':') => format!("0.0.0.0{a}"),
        a => a.to_string(),
    };
    daemon::listen::tcp(&target)
        .await
        .map_err(|e| anyhow::anyhow!("listen ({addr}) failed - {e}"))
}

/// Runs nsqadmin until `shutdown` is cancelled: the HTTP server, the history sampler and
/// the notification sender. `config` must have passed [`Config::validate`].
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client = cluster::Client::new(&config.client_config()).map_err(anyhow::Error::msg)?;
    info!("{}", config::version_line());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let endpoint = config.notification_http_endpoint.clone();
    let admin = Arc::new(server::Admin::new(
        config,
        cluster::ClusterInfo::new(client.clone()),
        tx,
        shutdown.clone(),
    ));
    let notifier = tokio::spawn(notify::deliver(rx, client, endpoint));
    let sampler = tokio::spawn(sampler::run(admin.clone()));
    if let Ok(addr) = listener.local_addr() {
        info!("HTTP: listening on {addr}");
    }
    http::serve(admin, listener).await;
    sampler.abort();
    notifier.abort();
    Ok(())
}
