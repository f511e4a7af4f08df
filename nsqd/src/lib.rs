//! nsqd as a library: `bind` the listeners, then `run` the broker until the shutdown token
//! is cancelled. The binary (`main.rs`) only parses flags, sets up logging and signals; the
//! in-process tests (`run_tests.rs`) call the same two functions with port-0 listeners.
//! Everything but `config`, `logging`, `bind` and `run` is private to the crate.

mod auth;
mod background;
mod broker;
mod channel;
mod client;
pub mod config;
mod deadletter;
mod e2e;
/// Entry points for the fuzz targets (`fuzz/`), only with the `fuzzing` feature.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guid;
mod http;
mod http_client;
mod listener;
pub use daemon::logging;
mod lookup;
mod memory;
mod metadata;
mod queue;
#[cfg(test)]
mod run_tests;
mod stats;
mod statsd;
mod tcp;
mod tls;
mod topic;

use anyhow::Context;
use broker::Nsqd;
use config::Config;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How long shutdown waits for client connections to finish before closing queues.
const CLIENT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for background work (drains, lookupd peers, channel
/// pre-creation) once the queues are closed.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(10);

/// Lock a mutex, ignoring poisoning: every critical section here leaves the data
/// consistent between statements, so a panic elsewhere does not make it unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Listeners {
    /// The exclusive lock on the data directory, held for the life of the process.
    pub(crate) data_dir_lock: File,
    pub(crate) tcp: listener::Listener,
    pub(crate) http: Option<listener::Listener>,
    /// Only when a TLS certificate and key are configured.
    pub(crate) https: Option<TcpListener>,
}

/// Lock the data directory, then bind the TCP and HTTP listeners named in the config
/// (HTTP skipped when empty). Locking first means a second nsqd on the same data path
/// reports the lock, not a port clash.
pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
    let data_dir_lock = lock_data_dir(&config.data_path_or_cwd())?;
    let tcp = listener::Listener::bind(&config.tcp_address).await?;
    let http = if config.http_address.is_empty() {
        None
    } else {
        Some(listener::Listener::bind(&config.http_address).await?)
    };
    let https = if config.tls_cert.is_empty()
        || config.tls_key.is_empty()
        || config.https_address.is_empty()
    {
        None
    } else {
        Some(
            daemon::listen::tcp(&config.https_address)
                .await
                .with_context(|| format!("listen ({}) failed", config.https_address))?,
        )
    };
    Ok(Listeners {
        data_dir_lock,
        tcp,
        http,
        https,
    })
}

/// Take the exclusive lock on the data directory, as the reference does with flock.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<File> {
    let f =
        File::open(dir).with_context(|| format!("failed to open data-path {}", dir.display()))?;
    f.try_lock().map_err(|e| {
        anyhow::anyhow!(
            "failed to lock data-path: cannot flock directory {} - {e} (possibly in use by another instance of nsqd)",
            dir.display()
        )
    })?;
    Ok(f)
}

/// Run nsqd until `shutdown` is cancelled, then close cleanly: clients first, then every
/// queue written to disk and `nsqd.dat` saved.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _dir_lock = listeners.data_dir_lock;
    let tcp_addr = listeners.tcp.bound()?;
    let http_addr = match &listeners.http {
        Some(l) => Some(l.bound()?),
        None => None,
    };
    let addrs = broker::BoundAddrs {
        tcp: tcp_addr.clone(),
        http: http_addr.clone(),
        https: match &listeners.https {
            Some(l) => Some(l.local_addr()?),
            None => None,
        },
    };
    let tls = tls::server_config(&config)?;
    let auth_tls = tls::client_config(&config)
        .map_err(|e| anyhow::anyhow!("failed to build client TLS config - {e:#}"))?;
    let (lookup_tx, lookup_rx) = lookup::channel();
    let mut nsqd = Nsqd::new(
        config,
        tls,
        addrs,
        shutdown.clone(),
        (lookup_tx, lookup::HttpAddrs::default()),
    );
    nsqd.auth_tls = Some(tokio_rustls::TlsConnector::from(auth_tls));
    let ctx = Arc::new(nsqd);
    {
        let ctx2 = Arc::clone(&ctx);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            // Go nsqd's words; the message already carries its cause (`{e}`, not `{e:#}`).
            ctx2.load_metadata()
                .map_err(|e| anyhow::anyhow!("failed to load metadata - {e}"))?;
            ctx2.persist_metadata()?;
            Ok(())
        })
        .await??;
    }

    info!("TCP: listening on {tcp_addr}");
    lookup::start(ctx.lookup_setup(), ctx.lookupd_addresses(), lookup_rx);
    let accept = tokio::spawn(tcp::accept_loop(Arc::clone(&ctx), listeners.tcp));
    let http_task = match listeners.http {
        Some(l) => {
            if let Some(a) = &http_addr {
                info!("HTTP: listening on {a}");
            }
            let threads = http::serving_threads();
            Some(http::spawn_serving_threads(Arc::clone(&ctx), l, threads)?)
        }
        None => None,
    };
    let https_task = match (listeners.https, ctx.tls_acceptor.clone()) {
        (Some(l), Some(acceptor)) => {
            if let Some(a) = ctx.https_addr {
                info!("HTTPS: listening on {a}");
            }
            Some(tokio::spawn(http::serve_tls(Arc::clone(&ctx), l, acceptor)))
        }
        _ => None,
    };
    let scan = tokio::spawn(Arc::clone(&ctx).scan_loop());
    let statsd = tokio::spawn(statsd::statsd_loop(Arc::clone(&ctx)));
    let meta = tokio::spawn(Arc::clone(&ctx).metadata_loop());
    let trim = tokio::spawn(memory::trim_loop(shutdown.clone()));

    shutdown.cancelled().await;
    info!("shutting down");
    background::join_logged("TCP accept", accept).await;
    ctx.tracker.close();
    if tokio::time::timeout(CLIENT_DRAIN_TIMEOUT, ctx.tracker.wait())
        .await
        .is_err()
    {
        warn!("clients did not finish in time; closing queues anyway");
    }
    for (name, h) in [("HTTP", http_task), ("HTTPS", https_task)] {
        if let Some(h) = h {
            background::join_logged(name, h).await;
        }
    }
    background::join_logged("queue scan", scan).await;
    background::join_logged("statsd", statsd).await;
    background::join_logged("metadata", meta).await;
    background::join_logged("memory trim", trim).await;
    let ctx2 = Arc::clone(&ctx);
    if let Err(e) = tokio::task::spawn_blocking(move || ctx2.close()).await {
        error!(error = %e, "close failed");
    }
    // Topics are closed, so drains stop at their next batch; lookupd peers stopped with
    // the shutdown token; a channel pre-creation ends within its HTTP timeouts.
    if tokio::time::timeout(BACKGROUND_TIMEOUT, ctx.settings.background.close_and_wait())
        .await
        .is_err()
    {
        warn!("background tasks did not finish in time");
    }
    listener::remove_socket(&tcp_addr);
    if let Some(a) = &http_addr {
        listener::remove_socket(a);
    }
    info!("bye");
    Ok(())
}
