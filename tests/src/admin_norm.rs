//! What the nsqadmin comparisons ignore or reorder, per endpoint, and why: only what two
//! correct servers cannot agree on. Every function edits both answers the same way
//! before they are compared (see `nsqadmin::assert_same`).
//!
//! * `connected` (client connection age) is computed by nsqadmin at answer time.
//! * e2e aggregate `min` is the value of whichever node Go merged last (random order).
//! * With several lookupds, a node's `remote_addresses` order and `remote_address`
//!   follow the order the lookupds answered in.
//! * Go sorts nodes by `hostname` with an unstable sort, and every test node has the
//!   same hostname: per-node lists are sorted here by node address.
//! * `/api/topics/:t`: Go aggregates channels into the first node's own channel objects
//!   (node order is random), so the aggregate channel order, their `node`, `hostname`,
//!   `nodes`, `clients` and e2e fields, and the per-node `channels`, depend on which node
//!   came first. Compared there: channel names, sums, paused, and the totals.

use crate::ordered_json::{Json, MASKED};

/// A normalisation: edits one answer before comparison.
pub type Norm = fn(&mut Json);

/// No edits (endpoints whose answers are fully deterministic).
pub fn exact(_: &mut Json) {}

/// Common to all stats answers: `connected`, e2e `min`, per-node order.
pub fn stats(j: &mut Json) {
    j.mask("connected");
    j.mask("min");
    j.sort_arrays("nodes", "node");
}

/// `/api/nodes`: sorted by `http_port` (Go: by hostname, unstable; nsqd mode unsorted).
pub fn nodes(j: &mut Json) {
    j.sort_arrays("nodes", "http_port");
}

/// `/api/nodes` with several lookupds: each node's `remote_addresses` come in the
/// order the lookupds answered (sorted here), and `remote_address` is the first
/// answer's (checked to be one of them, then masked).
pub fn nodes_multi_lookupd(j: &mut Json) {
    nodes(j);
    j.sort_values("remote_addresses");
    if let Some(Json::Arr(list)) = j.get_mut("nodes") {
        for n in list.iter_mut() {
            let known: Vec<String> = n
                .get("remote_addresses")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(v) = n.get_mut("remote_address") {
                let text = v.as_str().unwrap_or_default().to_string();
                assert!(
                    known.iter().any(|k| k.ends_with(&format!("/{text}"))),
                    "remote_address {text} not among remote_addresses {known:?}"
                );
                *v = Json::Str(MASKED.to_string());
            }
        }
    }
}

/// `/api/topics/:t`: see the module comment.
pub fn topic(j: &mut Json) {
    stats(j);
    j.sort_arrays("channels", "channel_name");
    if let Some(Json::Arr(channels)) = j.get_mut("channels") {
        for c in channels.iter_mut() {
            for key in [
                "node",
                "hostname",
                "nodes",
                "clients",
                "e2e_processing_latency",
            ] {
                if let Some(v) = c.get_mut(key) {
                    *v = Json::Str(MASKED.to_string());
                }
            }
        }
    }
    if let Some(Json::Arr(nodes)) = j.get_mut("nodes") {
        for n in nodes.iter_mut() {
            if let Some(v) = n.get_mut("channels") {
                *v = channel_names(v);
            }
        }
    }
}

/// The sorted `channel_name`s of a channel list, as a JSON array of strings.
fn channel_names(list: &Json) -> Json {
    let mut names: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("channel_name").and_then(Json::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    Json::Arr(names.into_iter().map(Json::Str).collect())
}

/// Replaces every `127.0.0.1:<port>` in strings by `127.0.0.1:PORT` (answers from twin
/// clusters, whose addresses differ).
pub fn ports(j: &mut Json) {
    j.map_strings(&mask_ports);
}

/// `127.0.0.1:<digits>` → `127.0.0.1:PORT` in `s`.
pub fn mask_ports(s: &str) -> String {
    let needle = "127.0.0.1:";
    let mut out = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find(needle) {
        out.push_str(&rest[..pos + needle.len()]);
        rest = &rest[pos + needle.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("PORT");
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// The `message` of a partial-failure answer with its errors (joined by `; ` or
/// newlines) sorted and joined by ` | `: Go collects them in completion order.
pub fn sorted_errors(j: &mut Json) {
    if let Some(Json::Str(m)) = j.get_mut("message") {
        *m = sort_errors(m);
    }
}

/// See [`sorted_errors`].
pub fn sort_errors(m: &str) -> String {
    const PREFIXES: [&str; 3] = [
        "UPSTREAM_ERROR: failed to query any nsqd: ",
        "UPSTREAM_ERROR: failed to query any nsqlookupd: ",
        "WARNING: ",
    ];
    let prefix = PREFIXES
        .iter()
        .find(|p| m.starts_with(*p))
        .copied()
        .unwrap_or("");
    let mut parts: Vec<&str> = m[prefix.len()..]
        .split("; ")
        .flat_map(|p| p.split('\n'))
        .collect();
    parts.sort();
    format!("{prefix}{}", parts.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_ports() {
        assert_eq!(
            mask_ports("dial 127.0.0.1:4151 and 127.0.0.1:9; 127.0.0.1:x"),
            "dial 127.0.0.1:PORT and 127.0.0.1:PORT; 127.0.0.1:x"
        );
    }
}
