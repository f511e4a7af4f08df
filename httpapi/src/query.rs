//! Query-string parsing as Go's `url.ParseQuery`: `&`-separated `key=value` pairs,
//! `+` as space, `%XX` escapes; a bad escape (or `;`) makes the whole query invalid.
//! Only the first value of a repeated key counts.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

#[derive(Debug, PartialEq, Eq)]
pub struct InvalidQuery;

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, InvalidQuery> {
        let mut map = HashMap::new();
        let Some(raw) = raw else {
            return Ok(Query(map));
        };
        for pair in raw.split('&') {
            if pair.is_empty() {
                continue;
            }
            if pair.contains(';') {
                return Err(InvalidQuery);
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = unescape(k)?;
            let v = unescape(v)?;
            map.entry(k).or_insert(v);
        }
        Ok(Query(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

fn unescape(s: &str) -> Result<String, InvalidQuery> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                // Exactly two hex digits (`from_str_radix` alone would take "+1").
                let hex = b.get(i + 1..i + 3).ok_or(InvalidQuery)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(InvalidQuery);
                }
                let s = std::str::from_utf8(hex).map_err(|_| InvalidQuery)?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| InvalidQuery)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let q = Query::parse(Some("topic=a%21&channel=b+c&topic=second")).expect("valid");
        assert_eq!(q.get("topic"), Some("a!"));
        assert_eq!(q.get("channel"), Some("b c"));
        assert_eq!(q.get("nope"), None);
        assert!(Query::parse(Some("topic=%zz")).is_err());
        assert!(Query::parse(Some("topic=%+1")).is_err());
        assert!(Query::parse(Some("topic=%4")).is_err());
        assert!(Query::parse(Some("a=1;b=2")).is_err());
        assert_eq!(
            Query::parse(Some("flag")).expect("valid").get("flag"),
            Some("")
        );
    }
}
