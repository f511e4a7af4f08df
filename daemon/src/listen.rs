//! How the servers listen: TCP and unix-socket listeners with the system's accept backlog
//! (`/proc/sys/net/core/somaxconn`), as Go's `net.Listen` does. tokio's own `bind` asks
//! for 1,024 (mio's fixed value; 128 for unix sockets), so a burst of a few thousand
//! connects overflowed the queue and the dropped SYNs waited for retransmission (seconds)
//! where Go accepted the same crowd at once.

use std::io;
use std::path::Path;
use std::sync::OnceLock;
use tokio::net::{lookup_host, TcpListener, TcpSocket, ToSocketAddrs, UnixListener, UnixSocket};

/// Go's fallback when `somaxconn` cannot be read (`syscall.SOMAXCONN` on Linux).
const DEFAULT_BACKLOG: u32 = 4096;

/// The accept backlog, read once: the first field of `/proc/sys/net/core/somaxconn` as
/// Go's `maxListenerBacklog` reads it, or 4096 when that file is missing or unreadable.
/// The kernel caps what `listen` asks for at `somaxconn` in any case.
pub fn backlog() -> u32 {
    static BACKLOG: OnceLock<u32> = OnceLock::new();
    *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| parse_somaxconn(&s))
            .unwrap_or(DEFAULT_BACKLOG)
    })
}

/// The first whitespace-separated field as a positive backlog; `listen` takes an `int`,
/// so larger values are capped at `i32::MAX`.
fn parse_somaxconn(text: &str) -> Option<u32> {
    let n: u64 = text.split_whitespace().next()?.parse().ok()?;
    if n == 0 {
        return None;
    }
    Some(u32::try_from(n.min(i32::MAX as u64)).unwrap_or(DEFAULT_BACKLOG))
}

/// Bind a TCP listener on the first of `addr`'s addresses that binds (what
/// `TcpListener::bind` does: `SO_REUSEADDR` set, the last error returned when none binds),
/// listening with [`backlog`].
pub async fn tcp(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last_err = None;
    for a in lookup_host(addr).await? {
        match bind_tcp(a) {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

fn bind_tcp(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog())
}

/// Bind a unix-socket listener at `path`, listening with [`backlog`].
pub fn unix(path: impl AsRef<Path>) -> io::Result<UnixListener> {
    let socket = UnixSocket::new_stream()?;
    socket.bind(path)?;
    socket.listen(backlog())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn somaxconn_text() {
        assert_eq!(parse_somaxconn("4096\n"), Some(4096));
        assert_eq!(parse_somaxconn("  65535 "), Some(65535));
        assert_eq!(parse_somaxconn("4294967295"), Some(i32::MAX as u32));
        assert_eq!(parse_somaxconn("0"), None);
        assert_eq!(parse_somaxconn("x"), None);
        assert_eq!(parse_somaxconn(""), None);
        assert!(backlog() > 0);
    }

    #[tokio::test]
    async fn listens_with_the_system_backlog() {
        let l = tcp("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let _c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (_s, _) = l.accept().await.expect("accept");
        let err = tcp("256.0.0.1:0").await.expect_err("not an address");
        assert!(!err.to_string().is_empty());
    }
}
