//! nsqlookupd's JSON: the V1 IDENTIFY body nsqd sends (and the reply, which has the same
//! shape), and the HTTP answers `/lookup`, `/topics`, `/channels`, `/nodes` and `/info`.
//! nsqlookupd writes them in Go nsqlookupd v1.3.0's key order; nsqd, nsqadmin and the
//! tools read them, from ours or a Go one: fields default when absent and a `null` list
//! reads as empty.

use serde::{Deserialize, Deserializer, Serialize};

/// A list that may be `null` on the wire.
fn nullable_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The V1 IDENTIFY body nsqd sends, and nsqlookupd's reply describing itself; keys in
/// Go's order (alphabetical: the reference builds both from maps).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Identify {
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: u16,
    pub tcp_port: u16,
    pub version: String,
}

/// A producer (an nsqd) as `/lookup` and `/nodes` show it (Go's `PeerInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Producer {
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
}

/// `/lookup?topic=`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Lookup {
    #[serde(deserialize_with = "nullable_vec")]
    pub channels: Vec<String>,
    #[serde(deserialize_with = "nullable_vec")]
    pub producers: Vec<Producer>,
}

/// `/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Topics {
    #[serde(deserialize_with = "nullable_vec")]
    pub topics: Vec<String>,
}

/// `/channels?topic=`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Channels {
    #[serde(deserialize_with = "nullable_vec")]
    pub channels: Vec<String>,
}

/// A `/nodes` entry: the producer, then each of its topics with whether it is tombstoned
/// there (Go's `node` struct, field order kept).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Node {
    #[serde(flatten)]
    pub producer: Producer,
    #[serde(default, deserialize_with = "nullable_vec")]
    pub tombstones: Vec<bool>,
    #[serde(default, deserialize_with = "nullable_vec")]
    pub topics: Vec<String>,
}

/// `/nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Nodes {
    #[serde(deserialize_with = "nullable_vec")]
    pub producers: Vec<Node>,
}

/// `/info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Info {
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// Reads a Go nsqlookupd v1.3.0 answer (captured with an nsqd registered, topics `u`
    /// and `t`, channel `t/c`) and writes it back byte for byte.
    fn go_answer<T: DeserializeOwned + Serialize>(json: &str) -> T {
        let v: T = serde_json::from_str(json).expect("Go answer reads");
        assert_eq!(serde_json::to_string(&v).expect("json"), json.trim_end());
        v
    }

    #[test]
    fn reads_and_writes_go_answers() {
        let l: Lookup = go_answer(include_str!("testdata/go_lookupd_lookup.json"));
        assert_eq!(l.channels, ["c"]);
        assert_eq!(l.producers[0].tcp_port, 24150);
        assert_eq!(l.producers[0].version, "1.3.0");
        let t: Topics = go_answer(include_str!("testdata/go_lookupd_topics.json"));
        assert_eq!(t.topics, ["u", "t"]);
        let c: Channels = go_answer(include_str!("testdata/go_lookupd_channels.json"));
        assert_eq!(c.channels, ["c"]);
        let n: Nodes = go_answer(include_str!("testdata/go_lookupd_nodes.json"));
        assert_eq!(n.producers[0].producer.http_port, 24151);
        assert_eq!(n.producers[0].tombstones, [false, false]);
        assert_eq!(n.producers[0].topics, ["u", "t"]);
        let i: Info = go_answer(include_str!("testdata/go_lookupd_info.json"));
        assert_eq!(i.version, "1.3.0");
    }

    #[test]
    fn nulls_and_missing_keys_read_as_empty() {
        let l: Lookup = serde_json::from_str(r#"{"channels":null}"#).expect("reads");
        assert_eq!(l, Lookup::default());
        let n: Nodes =
            serde_json::from_str(r#"{"producers":[{"tcp_port":1,"topics":null}]}"#).expect("reads");
        assert_eq!(n.producers[0].producer.tcp_port, 1);
        assert!(n.producers[0].topics.is_empty());
        let c: Channels = serde_json::from_str("{}").expect("reads");
        assert!(c.channels.is_empty());
    }

    #[test]
    fn identify_body_keys_are_sorted() {
        let b = Identify {
            broadcast_address: "h".into(),
            hostname: "h".into(),
            http_port: 1,
            tcp_port: 2,
            version: "1.3.0".into(),
        };
        let json = serde_json::to_string(&b).expect("json");
        assert_eq!(
            json,
            r#"{"broadcast_address":"h","hostname":"h","http_port":1,"tcp_port":2,"version":"1.3.0"}"#
        );
        let partial: Identify =
            serde_json::from_str(r#"{"http_port":4161,"extra":1}"#).expect("reads");
        assert_eq!(partial.http_port, 4161);
        assert!(partial.broadcast_address.is_empty());
    }
}
