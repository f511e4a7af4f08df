//! The IDENTIFY body: JSON decoded the way Go's `encoding/json` fills nsqlookupd's
//! `PeerInfo`: an object (or `null`) whose keys match the field
//! names case-insensitively, later duplicates winning, `null` values leaving a field
//! alone, ports as integer literals only, unknown keys ignored; then the required-field
//! check. Framing is `protocol::lookup`'s; registering the peer is `tcp.rs`'s.

use crate::registry::Identity;
use protocol::lookup::LookupError;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// Decodes and checks an IDENTIFY body: `E_BAD_BODY IDENTIFY failed to decode JSON body`
/// or `E_BAD_BODY IDENTIFY missing fields` on failure.
pub fn decode(body: &[u8]) -> Result<Identity, LookupError> {
    // Go replaces invalid UTF-8 inside strings instead of failing.
    let text = String::from_utf8_lossy(body);
    let Body(identity) = serde_json::from_str(&text).map_err(|_| LookupError::bad_json())?;
    if identity.broadcast_address.is_empty()
        || identity.tcp_port == 0
        || identity.http_port == 0
        || identity.version.is_empty()
    {
        return Err(LookupError::missing_fields());
    }
    Ok(identity)
}

struct Body(Identity);

enum Field {
    RemoteAddress,
    Hostname,
    BroadcastAddress,
    TcpPort,
    HttpPort,
    Version,
}

impl Field {
    /// Go's case-insensitive key match, including its two non-ASCII folds (`ſ` = `s`,
    /// Kelvin sign = `k`).
    fn from_key(key: &str) -> Option<Field> {
        let folded: String = key
            .chars()
            .map(|c| match c {
                '\u{17f}' => 's',
                '\u{212a}' => 'k',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Some(match folded.as_str() {
            "remote_address" => Field::RemoteAddress,
            "hostname" => Field::Hostname,
            "broadcast_address" => Field::BroadcastAddress,
            "tcp_port" => Field::TcpPort,
            "http_port" => Field::HttpPort,
            "version" => Field::Version,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
        d.deserialize_any(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    /// `null` decodes to nothing (and then fails the required-field check).
    fn visit_unit<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body(Identity::default()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let mut id = Identity::default();
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = Field::from_key(&key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match field {
                // Type-checked, then replaced by the connection's address (as in Go).
                Field::RemoteAddress => {
                    map.next_value::<Option<String>>()?;
                }
                Field::Hostname => set(&mut id.hostname, map.next_value()?),
                Field::BroadcastAddress => set(&mut id.broadcast_address, map.next_value()?),
                Field::Version => set(&mut id.version, map.next_value()?),
                Field::TcpPort => set(&mut id.tcp_port, map.next_value()?),
                Field::HttpPort => set(&mut id.http_port, map.next_value()?),
            }
        }
        Ok(Body(id))
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"broadcast_address":"node1","hostname":"node1.example",
        "tcp_port":4150,"http_port":4151,"version":"1.3.0","topology_zone":"z"}"#;

    fn err(body: &str) -> String {
        decode(body.as_bytes())
            .expect_err("should fail")
            .to_string()
    }

    #[test]
    fn decodes_what_nsqd_sends() {
        let id = decode(GOOD.as_bytes()).expect("valid");
        assert_eq!(
            id,
            Identity {
                hostname: "node1.example".into(),
                broadcast_address: "node1".into(),
                tcp_port: 4150,
                http_port: 4151,
                version: "1.3.0".into(),
            }
        );
    }

    #[test]
    fn go_decoding_rules() {
        let id = decode(
            br#" {"BROADCAST_ADDRESS":"a","broadcast_address":"b","Tcp_Port":-1,
                 "http_port":1,"http_port":null,"version":"v","hostname":null,
                 "remote_address":"ignored","extra":{"deep":[1,2,{"x":null}]}} "#,
        )
        .expect("valid");
        assert_eq!(id.broadcast_address, "b", "later duplicate wins");
        assert_eq!(id.tcp_port, -1, "any non-zero port passes");
        assert_eq!(id.http_port, 1, "null leaves the field alone");
        assert_eq!(id.hostname, "");
        let id = decode(
            b"{\"broadcast_address\":\"a\xff\",\"tcp_port\":1,\"http_port\":1,\"version\":\"v\"}",
        )
        .expect("invalid UTF-8 is replaced");
        assert_eq!(id.broadcast_address, "a\u{fffd}");
    }

    #[test]
    fn decode_failures() {
        let decode_err = "E_BAD_BODY IDENTIFY failed to decode JSON body";
        for bad in [
            "",
            " ",
            "{",
            "[]",
            "\"x\"",
            "42",
            "{}{}",
            r#"{"tcp_port":"4150"}"#,
            r#"{"tcp_port":4150.0}"#,
            r#"{"tcp_port":1e3}"#,
            r#"{"tcp_port":9223372036854775808}"#,
            r#"{"version":1}"#,
            r#"{"remote_address":5}"#,
            r#"{"hostname":true}"#,
        ] {
            assert_eq!(err(bad), decode_err, "{bad:?}");
        }
    }

    #[test]
    fn required_fields() {
        let missing = "E_BAD_BODY IDENTIFY missing fields";
        assert_eq!(err("null"), missing);
        assert_eq!(err("{}"), missing);
        for (key, zero) in [
            ("broadcast_address", "\"\""),
            ("tcp_port", "0"),
            ("http_port", "0"),
            ("version", "\"\""),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(GOOD).expect("json");
            v[key] = serde_json::from_str(zero).expect("json");
            assert_eq!(err(&v.to_string()), missing, "{key}");
            v.as_object_mut().expect("object").remove(key);
            assert_eq!(err(&v.to_string()), missing, "{key} absent");
        }
        let mut v: serde_json::Value = serde_json::from_str(GOOD).expect("json");
        v.as_object_mut().expect("object").remove("hostname");
        assert!(
            decode(v.to_string().as_bytes()).is_ok(),
            "hostname is optional"
        );
    }
}
