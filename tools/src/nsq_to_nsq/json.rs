//! nsq_to_nsq's JSON filters, as Go nsq_to_nsq v1.3.0 applies them: the body decoded as
//! a JSON object (`null` counts as an empty one; anything else undecodable is logged and
//! dropped), `--require-json-field` (and `--require-json-value`: equal strings, or equal
//! numbers when the value parses as one) deciding whether it passes, and
//! `--whitelist-json-field` keeping only those top-level fields, re-encoded as Go's
//! `encoding/json` encodes a `map[string]interface{}`: keys sorted, HTML characters
//! escaped, whole top-level numbers written as integers and other numbers as Go writes a
//! float64. Numbers are read with serde_json's float parser, which may differ from Go's
//! in the last digit for numbers of more than 15 significant digits.

use serde_json::{Map, Value};

/// What becomes of one message.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Publish this body.
    Pass(Vec<u8>),
    /// FIN without publishing.
    Drop,
    /// A required field is missing while a value is required: a handler error (REQ with
    /// backoff), as Go's returns.
    Backoff,
}

pub(crate) struct Filter {
    require_field: String,
    require_value: String,
    /// `--require-json-value` as a number, when it parses as one.
    require_number: Option<f64>,
    whitelist: Vec<String>,
}

impl Filter {
    pub(crate) fn new(require_field: &str, require_value: &str, whitelist: &[String]) -> Filter {
        Filter {
            require_field: require_field.to_string(),
            require_value: require_value.to_string(),
            require_number: require_value.parse::<f64>().ok(),
            whitelist: whitelist.to_vec(),
        }
    }

    /// Whether the filters apply at all (Go decodes only then).
    pub(crate) fn active(&self) -> bool {
        !self.require_field.is_empty() || !self.whitelist.is_empty()
    }

    pub(crate) fn apply(&self, body: &[u8]) -> Verdict {
        if !self.active() {
            return Verdict::Pass(body.to_vec());
        }
        let Some(js) = decode(body) else {
            crate::golog::printf(&format!(
                "ERROR: Unable to decode json: {}",
                String::from_utf8_lossy(body)
            ));
            return Verdict::Drop;
        };
        let (pass, backoff) = self.should_pass(&js);
        if !pass {
            return if backoff {
                Verdict::Backoff
            } else {
                Verdict::Drop
            };
        }
        if self.whitelist.is_empty() {
            return Verdict::Pass(body.to_vec());
        }
        Verdict::Pass(self.whitelisted(&js).into_bytes())
    }

    fn should_pass(&self, js: &Map<String, Value>) -> (bool, bool) {
        if self.require_field.is_empty() {
            return (true, false);
        }
        let Some(v) = js.get(&self.require_field) else {
            if !self.require_value.is_empty() {
                crate::golog::printf("ERROR: missing field to check required value");
                return (false, true);
            }
            return (false, false);
        };
        if self.require_value.is_empty() {
            return (true, false);
        }
        let pass = match v {
            Value::String(s) => *s == self.require_value,
            Value::Number(n) => self
                .require_number
                .is_some_and(|want| n.as_f64() == Some(want)),
            _ => false,
        };
        (pass, false)
    }

    fn whitelisted(&self, js: &Map<String, Value>) -> String {
        let mut keys: Vec<&String> = self
            .whitelist
            .iter()
            .filter(|k| js.contains_key(k.as_str()))
            .collect();
        keys.sort();
        keys.dedup();
        let mut out = String::from("{");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(&mut out, k);
            out.push(':');
            match js.get(k.as_str()) {
                // Go's "avoid printing int as float": a whole float64 within int64.
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(f)
                        if f.fract() == 0.0
                            && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18)
                                .contains(&f) =>
                    {
                        out.push_str(&(f as i64).to_string())
                    }
                    Some(f) => out.push_str(&go_float(f)),
                    None => out.push_str(&n.to_string()),
                },
                Some(v) => write_value(&mut out, v),
                None => out.push_str("null"),
            }
        }
        out.push('}');
        out
    }
}

/// Go's `json.Unmarshal` into a `map[string]interface{}` (invalid UTF-8 read as U+FFFD).
fn decode(body: &[u8]) -> Option<Map<String, Value>> {
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(_) if std::str::from_utf8(body).is_err() => {
            serde_json::from_str::<Value>(&String::from_utf8_lossy(body)).ok()?
        }
        Err(_) => return None,
    };
    match value {
        Value::Object(m) => Some(m),
        Value::Null => Some(Map::new()),
        _ => None,
    }
}

/// Go's encoding of a float64: shortest digits, exponent form below 1e-6 and from 1e21.
pub(crate) fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) => out.push_str(&go_float(f)),
            None => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                if let Some(x) = m.get(k.as_str()) {
                    write_value(out, x);
                }
            }
            out.push('}');
        }
    }
}

/// Go's `encoding/json` string with HTML escaping.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn encodes_as_go() {
        // What Go 1.26's encoding/json gives for the same input.
        let f = Filter::new("", "", &wl(&["s", "n", "o", "i", "big", "neg0"]));
        let body = r#"{"s":"a<b>&\u2028\b\f\u0001\t\n\"\\/é","n":[1.5e-7,1e21,1.25e+23,-0,0.1,3.0],"o":{"z":1,"a":null,"m":true},"i":3.0,"big":1e21,"neg0":-0.0,"x":1}"#.as_bytes();
        let Verdict::Pass(out) = f.apply(body) else {
            panic!("passes");
        };
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"big":1e+21,"i":3,"n":[1.5e-7,1e+21,1.25e+23,-0,0.1,3],"neg0":0,"o":{"a":null,"m":true,"z":1},"s":"a\u003cb\u003e\u0026\u2028\b\f\u0001\t\n\"\\/é"}"#
        );
    }

    #[test]
    fn require_field_and_value() {
        let f = Filter::new("k", "", &[]);
        assert_eq!(
            f.apply(br#"{"k":1}"#),
            Verdict::Pass(br#"{"k":1}"#.to_vec())
        );
        assert_eq!(f.apply(br#"{"j":1}"#), Verdict::Drop);
        assert_eq!(f.apply(b"not json"), Verdict::Drop);
        assert_eq!(f.apply(b"[1]"), Verdict::Drop);
        assert_eq!(f.apply(b"null"), Verdict::Drop);
        let f = Filter::new("k", "5", &[]);
        assert_eq!(
            f.apply(br#"{"k":5.0}"#),
            Verdict::Pass(br#"{"k":5.0}"#.to_vec())
        );
        assert_eq!(
            f.apply(br#"{"k":"5"}"#),
            Verdict::Pass(br#"{"k":"5"}"#.to_vec())
        );
        assert_eq!(f.apply(br#"{"k":"5.0"}"#), Verdict::Drop);
        assert_eq!(f.apply(br#"{"k":true}"#), Verdict::Drop);
        assert_eq!(f.apply(br#"{"j":5}"#), Verdict::Backoff);
        let f = Filter::new("k", "abc", &[]);
        assert_eq!(f.apply(br#"{"k":5}"#), Verdict::Drop);
        assert_eq!(
            f.apply(br#"{"k":"abc"}"#),
            Verdict::Pass(br#"{"k":"abc"}"#.to_vec())
        );
    }

    #[test]
    fn whitelist_with_require() {
        let f = Filter::new("k", "v", &wl(&["a", "a", "missing"]));
        assert_eq!(
            f.apply(br#"{"k":"v","a":{"y":2,"x":1},"b":2}"#),
            Verdict::Pass(br#"{"a":{"x":1,"y":2}}"#.to_vec())
        );
        let f = Filter::new("", "", &wl(&["a"]));
        assert_eq!(f.apply(b"null"), Verdict::Pass(b"{}".to_vec()));
        assert_eq!(
            f.apply(b"{\"a\":\"\xff\"}"),
            Verdict::Pass("{\"a\":\"\u{fffd}\"}".as_bytes().to_vec())
        );
    }
}
