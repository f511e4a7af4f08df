//! Go's `encoding/json` error texts, which nsqadmin returns as API messages (a bad request
//! body) and in upstream errors (an nsqd answering garbage): `EOF`, `unexpected EOF`,
//! `unexpected end of JSON input`, `invalid character 'x' looking for beginning of value`,
//! `json: cannot unmarshal number into Go struct field .topic of type string`. Other
//! syntax errors keep serde_json's text.

use serde_json::{Map, Value};

/// How the Go side read the bytes: `json.NewDecoder(r).Decode` (first value only, `EOF`
/// for nothing) or `json.Unmarshal` (the whole input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Decoder,
    Unmarshal,
}

/// Parses `bytes` into a JSON value as Go's reader would, with Go's error texts.
pub fn parse(bytes: &[u8], reader: Reader) -> Result<Value, String> {
    let first = bytes.iter().position(|b| !b" \t\r\n".contains(b));
    let Some(first) = first else {
        return Err(match reader {
            Reader::Decoder => "EOF".to_string(),
            Reader::Unmarshal => "unexpected end of JSON input".to_string(),
        });
    };
    let c = bytes[first];
    if !(b"{[\"-tfn".contains(&c) || c.is_ascii_digit()) {
        return Err(format!(
            "invalid character {} looking for beginning of value",
            quote_char(c)
        ));
    }
    if let Some(word) = [&b"true"[..], b"false", b"null"].iter().find(|w| w[0] == c) {
        for (i, &want) in word.iter().enumerate().skip(1) {
            match bytes.get(first + i) {
                None => break,
                Some(&got) if got == want => {}
                Some(&got) => {
                    return Err(format!(
                        "invalid character {} in literal {} (expecting {})",
                        quote_char(got),
                        String::from_utf8_lossy(word),
                        quote_char(want)
                    ))
                }
            }
        }
    }
    let result = match reader {
        Reader::Decoder => serde_json::Deserializer::from_slice(bytes)
            .into_iter::<Value>()
            .next()
            .unwrap_or(Ok(Value::Null)),
        Reader::Unmarshal => serde_json::from_slice::<Value>(bytes),
    };
    result.map_err(|e| {
        if e.is_eof() {
            match reader {
                Reader::Decoder => "unexpected EOF".to_string(),
                Reader::Unmarshal => "unexpected end of JSON input".to_string(),
            }
        } else {
            e.to_string()
        }
    })
}

/// Go's `quoteChar`: `'x'`, `'\''`, `'"'`, or `'\x01'` style for control bytes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => format!("'\\x{c:02x}'"),
    }
}

/// The JSON type name Go's `UnmarshalTypeError` uses.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An object's string fields as Go decodes a body into an anonymous struct of string
/// fields: keys match case-insensitively (the last one wins), `null` and absent read as
/// empty, a non-object or a non-string value is Go's type error.
pub fn string_fields<const N: usize>(
    value: &Value,
    names: [&str; N],
) -> Result<[String; N], String> {
    let map: &Map<String, Value> = match value {
        Value::Object(m) => m,
        Value::Null => return Ok(std::array::from_fn(|_| String::new())),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type struct",
                kind(other)
            ))
        }
    };
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (key, v) in map {
        let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(key)) else {
            continue;
        };
        match v {
            Value::String(s) => out[i] = s.clone(),
            Value::Null => {}
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field .{} of type string",
                    kind(other),
                    names[i]
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_texts() {
        let err = |b: &str| parse(b.as_bytes(), Reader::Decoder).expect_err("bad");
        assert_eq!(err(""), "EOF");
        assert_eq!(err("  \n"), "EOF");
        assert_eq!(err("{\"action\":"), "unexpected EOF");
        assert_eq!(
            err("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            err("'a'"),
            "invalid character '\\'' looking for beginning of value"
        );
        let v = parse(b"{\"action\":\"pause\"} trailing", Reader::Decoder).expect("first value");
        assert_eq!(v["action"], "pause");
    }

    #[test]
    fn unmarshal_texts() {
        let err = |b: &str| parse(b.as_bytes(), Reader::Unmarshal).expect_err("bad");
        assert_eq!(err(""), "unexpected end of JSON input");
        assert_eq!(err("{\"a\":"), "unexpected end of JSON input");
        assert_eq!(
            err("<html>"),
            "invalid character '<' looking for beginning of value"
        );
    }

    #[test]
    fn fields_like_a_go_struct() {
        let v: Value = serde_json::json!({"TOPIC": "t", "channel": null, "x": 1});
        assert_eq!(
            string_fields(&v, ["topic", "channel"]).expect("ok"),
            ["t".to_string(), String::new()]
        );
        let v: Value = serde_json::json!({"topic": 1});
        assert_eq!(
            string_fields(&v, ["topic"]).expect_err("type"),
            "json: cannot unmarshal number into Go struct field .topic of type string"
        );
    }

    #[test]
    fn upstream_bodies_are_quoted_like_go() {
        // The client quotes upstream bodies with protocol's `%q` (no copy here).
        let quote = protocol::quote::go_quote;
        assert_eq!(
            quote(b"{\"message\":\"NOT_FOUND\"}"),
            r#""{\"message\":\"NOT_FOUND\"}""#
        );
        assert_eq!(quote(b"a\nb\x01"), r#""a\nb\x01""#);
    }
}
