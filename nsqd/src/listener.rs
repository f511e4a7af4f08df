//! Where nsqd listens: `host:port` is TCP, anything else is a unix socket path (the
//! reference's rule: an address `net.SplitHostPort` cannot split is a path). `Bound` is
//! what was actually bound, for logs, `/info` (port -1 for a unix socket) and lookupd.
//! Both kinds listen with the system's backlog, as Go does (`daemon::listen`).

use anyhow::Context;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::{TcpListener, UnixListener};

pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Bound {
    /// The port as `/info` reports it: -1 for a unix socket.
    pub fn info_port(&self) -> i32 {
        match self {
            Bound::Tcp(a) => i32::from(a.port()),
            Bound::Unix(_) => -1,
        }
    }

    /// The TCP port, 0 for a unix socket.
    pub fn tcp_port(&self) -> u16 {
        match self {
            Bound::Tcp(a) => a.port(),
            Bound::Unix(_) => 0,
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Tcp(a) => write!(f, "{a}"),
            Bound::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// `host:port` (including `[::1]:4150` and `:4150`) is TCP; a path is a unix socket.
pub fn is_unix_path(addr: &str) -> bool {
    !addr.contains(':')
}

impl Listener {
    pub async fn bind(addr: &str) -> anyhow::Result<Listener> {
        if is_unix_path(addr) {
            let l =
                daemon::listen::unix(addr).with_context(|| format!("listen ({addr}) failed"))?;
            return Ok(Listener::Unix(l, PathBuf::from(addr)));
        }
        let l = daemon::listen::tcp(addr)
            .await
            .with_context(|| format!("listen ({addr}) failed"))?;
        Ok(Listener::Tcp(l))
    }

    pub fn bound(&self) -> std::io::Result<Bound> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Bound::Tcp),
            Listener::Unix(_, p) => Ok(Bound::Unix(p.clone())),
        }
    }
}

/// A bound listener detached from any runtime, to be served from other threads.
#[derive(Debug)]
pub enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

impl Listener {
    /// Detach from this runtime (the socket stays non-blocking).
    pub fn into_std(self) -> std::io::Result<StdListener> {
        Ok(match self {
            Listener::Tcp(l) => StdListener::Tcp(l.into_std()?),
            Listener::Unix(l, p) => StdListener::Unix(l.into_std()?, p),
        })
    }
}

impl StdListener {
    /// Another handle on the same socket: each accepts from the one queue.
    pub fn try_clone(&self) -> std::io::Result<StdListener> {
        Ok(match self {
            StdListener::Tcp(l) => StdListener::Tcp(l.try_clone()?),
            StdListener::Unix(l, p) => StdListener::Unix(l.try_clone()?, p.clone()),
        })
    }

    /// Register with the current runtime (call from inside it).
    pub fn into_tokio(self) -> std::io::Result<Listener> {
        Ok(match self {
            StdListener::Tcp(l) => Listener::Tcp(TcpListener::from_std(l)?),
            StdListener::Unix(l, p) => Listener::Unix(UnixListener::from_std(l)?, p),
        })
    }
}

/// Remove a unix socket file at shutdown, so the next start can bind the path again.
pub fn remove_socket(bound: &Bound) {
    if let Bound::Unix(p) = bound {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_or_unix() {
        assert!(!is_unix_path("127.0.0.1:4150"));
        assert!(!is_unix_path("[::1]:4150"));
        assert!(!is_unix_path(":4150"));
        assert!(is_unix_path("/tmp/nsqd.sock"));
        assert!(is_unix_path("nsqd.sock"));
        assert_eq!(Bound::Unix("/x".into()).info_port(), -1);
        assert_eq!(Bound::Unix("/x".into()).tcp_port(), 0);
    }
}
