//! Publishing test data: unique bodies and MPUB batches whose every `OK` is checked.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::client::Client;

/// `n` distinct bodies `<prefix>-0000000`, `<prefix>-0000001`, ...
pub fn unique_bodies(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("{prefix}-{i:07}").into_bytes())
        .collect()
}

/// The same bodies as a set, for delivery checks.
pub fn body_set(bodies: &[Vec<u8>]) -> HashSet<Vec<u8>> {
    bodies.iter().cloned().collect()
}

/// Publishes `bodies` to `topic` in MPUB batches of `batch` on one connection,
/// requiring `OK` for each batch.
pub fn mpub_all(addr: SocketAddr, topic: &str, bodies: &[Vec<u8>], batch: usize) {
    let mut client = Client::connect(addr);
    for chunk in bodies.chunks(batch) {
        client.mpub(topic, chunk);
        client.expect_ok();
    }
}
