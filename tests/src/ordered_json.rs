//! JSON with object keys kept in written order, for comparing two servers' answers
//! key by key (`serde_json::Value` sorts keys, and turning on its `preserve_order`
//! feature would change the daemons built in the same workspace). Numbers are kept as
//! written, so `1` and `1.0` differ as they do for a strict client. Includes the small
//! edits a comparison needs: masking a field everywhere, sorting an array by a field,
//! rewriting strings.

use std::fmt;

/// One JSON value; objects are `(key, value)` pairs in written order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// What a masked value is replaced with (its key stays, so key order is still checked).
pub const MASKED: &str = "<ignored>";

impl Json {
    /// Parses `text` (the whole of it, surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(v)
    }

    /// The value under `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Obj(fields) => fields.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// The keys of an object, in order.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(fields) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Replaces the value of every field named `key`, at any depth, with [`MASKED`].
    pub fn mask(&mut self, key: &str) {
        self.walk(&mut |v| {
            if let Json::Obj(fields) = v {
                for (k, val) in fields.iter_mut() {
                    if k == key {
                        *val = Json::Str(MASKED.to_string());
                    }
                }
            }
        });
    }

    /// Sorts the array value of every field named `key`, at any depth, by the text of
    /// each element's `by` field (elements without it sort first).
    pub fn sort_arrays(&mut self, key: &str, by: &str) {
        self.walk(&mut |v| {
            if let Json::Obj(fields) = v {
                for (k, val) in fields.iter_mut() {
                    if k == key {
                        if let Json::Arr(items) = val {
                            items.sort_by_key(|item| item.get(by).map(|b| b.to_string()));
                        }
                    }
                }
            }
        });
    }

    /// Sorts the array value of every field named `key`, at any depth, by each
    /// element's text.
    pub fn sort_values(&mut self, key: &str) {
        self.walk(&mut |v| {
            if let Json::Obj(fields) = v {
                for (k, val) in fields.iter_mut() {
                    if k == key {
                        if let Json::Arr(items) = val {
                            items.sort_by_key(|item| item.to_string());
                        }
                    }
                }
            }
        });
    }

    /// Applies `f` to every string value (not keys), at any depth.
    pub fn map_strings(&mut self, f: &dyn Fn(&str) -> String) {
        self.walk(&mut |v| {
            if let Json::Str(s) = v {
                *s = f(s);
            }
        });
    }

    /// Calls `f` on this value and then, depth first, on every value inside it.
    pub fn walk(&mut self, f: &mut dyn FnMut(&mut Json)) {
        f(self);
        match self {
            Json::Arr(items) => items.iter_mut().for_each(|i| i.walk(f)),
            Json::Obj(fields) => fields.iter_mut().for_each(|(_, v)| v.walk(f)),
            _ => {}
        }
    }

    /// Indented text, for failure messages.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, 0);
        out
    }

    fn write_pretty(&self, out: &mut String, depth: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            Json::Arr(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (n, item) in items.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    item.write_pretty(out, depth + 1);
                    out.push_str(if n + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push(']');
            }
            Json::Obj(fields) if !fields.is_empty() => {
                out.push_str("{\n");
                for (n, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&format!("{}{}: ", pad(depth + 1), quote(k)));
                    v.write_pretty(out, depth + 1);
                    out.push_str(if n + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
}

impl fmt::Display for Json {
    /// Compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(n) => f.write_str(n),
            Json::Str(s) => f.write_str(&quote(s)),
            Json::Arr(items) => {
                f.write_str("[")?;
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Obj(fields) => {
                f.write_str("{")?;
                for (n, (k, v)) in fields.iter().enumerate() {
                    if n > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", quote(k))?;
                }
                f.write_str("}")
            }
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn eat(&mut self, lit: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Ok(())
        } else {
            self.err(&format!("expected {lit}"))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'n') => self.eat("null").map(|_| Json::Null),
            Some(b't') => self.eat("true").map(|_| Json::Bool(true)),
            Some(b'f') => self.eat("false").map(|_| Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.eat(":")?;
                    fields.push((key, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                Ok(Json::Num(text))
            }
            _ => self.err("expected a value"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat("\"")?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return self.err("unterminated escape");
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }

    /// After `\u`: four hex digits, and a low surrogate after a high one.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            self.eat("\\u")?;
            let lo = self.hex4()?;
            0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
        } else {
            hi
        };
        Ok(char::from_u32(code).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match digits {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_decodes_escapes() {
        let j =
            Json::parse(r#" {"b":1,"a":[true,null,"x\u0026y\"",-1.5e3],"c":{}} "#).expect("valid");
        assert_eq!(j.keys(), vec!["b", "a", "c"]);
        assert_eq!(
            j.to_string(),
            r#"{"b":1,"a":[true,null,"x&y\"",-1.5e3],"c":{}}"#
        );
        assert!(Json::parse("{").is_err());
        assert!(Json::parse("[1] x").is_err());
    }

    #[test]
    fn masks_and_sorts() {
        let mut j = Json::parse(r#"{"n":[{"k":"b","t":1},{"k":"a","t":2}]}"#).expect("valid");
        j.sort_arrays("n", "k");
        j.mask("t");
        assert_eq!(
            j.to_string(),
            r#"{"n":[{"k":"a","t":"<ignored>"},{"k":"b","t":"<ignored>"}]}"#
        );
    }
}
