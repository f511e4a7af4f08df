//! The `--config` TOML file: reading it and turning one key's value into a typed option,
//! with the coercions Go's `go-options` applies (a string where a number or bool is
//! expected is parsed; a bare integer duration is milliseconds; a list may be a
//! comma-separated string). Unknown keys are ignored. Which source wins is `mod.rs`'s job.

use std::time::Duration;

use toml::Value;

use super::error::ConfigError;
use super::setting::{LogLevel, TlsRequired, TlsVersion};
use super::{duration, literal};

/// A parsed config file; an empty one stands for "no `--config`".
#[derive(Debug, Default)]
pub struct ConfigFile {
    table: toml::Table,
}

/// The three keys Go checks up front (its `config.Validate`), even when a flag overrides them.
#[derive(Debug, Default)]
pub struct Checked {
    pub log_level: Option<LogLevel>,
    pub tls_required: Option<TlsRequired>,
    /// `None` also for an empty string, which Go reads as "keep the default".
    pub tls_min_version: Option<TlsVersion>,
}

impl ConfigFile {
    pub fn load(path: &str) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadConfigFile {
            path: path.to_string(),
            source,
        })?;
        ConfigFile::parse(&text).map_err(|source| ConfigError::ParseConfigFile {
            path: path.to_string(),
            source,
        })
    }

    pub fn parse(text: &str) -> Result<ConfigFile, toml::de::Error> {
        Ok(ConfigFile {
            table: text.parse::<toml::Table>()?,
        })
    }

    /// Go's `config.Validate`: the value is rendered with `%v`, then parsed like the flag.
    pub fn checked(&self) -> Result<Checked, ConfigError> {
        let text = |key| self.table.get(key).map(go_display);
        let failed = |key: &'static str, value: String| ConfigError::FailedParsing { key, value };
        let mut checked = Checked::default();
        if let Some(v) = text("tls_required") {
            checked.tls_required =
                Some(TlsRequired::parse(&v).ok_or_else(|| failed("tls_required", v))?);
        }
        if let Some(v) = text("tls_min_version") {
            if !v.is_empty() {
                checked.tls_min_version =
                    Some(TlsVersion::parse(&v).ok_or_else(|| failed("tls_min_version", v))?);
            }
        }
        if let Some(v) = text("log_level") {
            checked.log_level = Some(LogLevel::parse(&v).ok_or_else(|| failed("log_level", v))?);
        }
        Ok(checked)
    }

    /// Looks `key` up and converts it; `Ok(None)` when the key is absent.
    fn get<T>(
        &self,
        key: &'static str,
        convert: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.table.get(key) else {
            return Ok(None);
        };
        convert(value)
            .map(Some)
            .map_err(|reason| ConfigError::ConfigValue {
                key,
                value: go_display(value),
                reason,
            })
    }

    pub fn string(&self, key: &'static str) -> Result<Option<String>, ConfigError> {
        self.get(key, |v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong_type("string", other)),
        })
    }

    /// Go's `coerceBool`, including its quirk that an integer means `value == 0`
    /// (so `snappy = 0` is true); kept so a Go config behaves the same here.
    pub fn bool(&self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(key, |v| match v {
            Value::Boolean(b) => Ok(*b),
            Value::String(s) => literal::parse_bool(s).map_err(|e| e.to_string()),
            Value::Integer(i) => Ok(*i == 0),
            other => Err(wrong_type("bool", other)),
        })
    }

    /// An integer, or a base-10 string (Go's `strconv.ParseInt(s, 10, 64)`), in `T`'s range.
    pub fn int<T: TryFrom<i64>>(&self, key: &'static str) -> Result<Option<T>, ConfigError> {
        self.get(key, |v| {
            let i = match v {
                Value::Integer(i) => *i,
                Value::String(s) => s.parse::<i64>().map_err(|e| match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        literal::LiteralError::Range.to_string()
                    }
                    _ => literal::LiteralError::Syntax.to_string(),
                })?,
                other => return Err(wrong_type("integer", other)),
            };
            T::try_from(i).map_err(|_| literal::LiteralError::Range.to_string())
        })
    }

    /// A Go duration string, or an integer number of milliseconds.
    pub fn duration(&self, key: &'static str) -> Result<Option<Duration>, ConfigError> {
        self.get(key, |v| match v {
            Value::String(s) => duration::parse(s),
            Value::Integer(ms) => u64::try_from(*ms)
                .ok()
                .filter(|ms| *ms <= i64::MAX as u64 / 1_000_000)
                .map(Duration::from_millis)
                .ok_or_else(|| literal::LiteralError::Range.to_string()),
            other => Err(wrong_type("duration", other)),
        })
    }

    /// A TOML array of strings, or one comma-separated string (items trimmed, empty ones
    /// dropped: `""` is an empty list).
    pub fn strings(&self, key: &'static str) -> Result<Option<Vec<String>>, ConfigError> {
        self.get(key, |v| match v {
            Value::String(s) => Ok(split_list(s).map(str::to_string).collect()),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong_type("string", other)),
                })
                .collect(),
            other => Err(wrong_type("list of strings", other)),
        })
    }

    /// A TOML array of numbers, or one comma-separated string of them. Order is kept.
    pub fn floats(&self, key: &'static str) -> Result<Option<Vec<f64>>, ConfigError> {
        self.get(key, |v| match v {
            Value::String(s) => split_list(s)
                .map(|item| literal::parse_float(item).map_err(|e| e.to_string()))
                .collect(),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Float(f) => Ok(*f),
                    // Exact for every integer a percentile can be.
                    Value::Integer(i) => Ok(*i as f64),
                    other => Err(wrong_type("number", other)),
                })
                .collect(),
            other => Err(wrong_type("list of numbers", other)),
        })
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|item| !item.is_empty())
}

fn wrong_type(expected: &str, got: &Value) -> String {
    format!("expected {expected}, got {}", got.type_str())
}

/// A TOML value as Go's `fmt.Sprintf("%v", v)` shows it: strings bare, arrays `[a b]`.
pub fn go_display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_display).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_display(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(text).expect("test TOML parses")
    }

    #[test]
    fn absent_keys_are_none() {
        let f = file("");
        assert!(matches!(f.string("tcp_address"), Ok(None)));
        assert!(matches!(f.duration("msg_timeout"), Ok(None)));
        assert!(matches!(f.strings("nsqlookupd_tcp_addresses"), Ok(None)));
    }

    #[test]
    fn durations_are_go_strings_or_milliseconds() {
        let f =
            file("a = \"2m30s\"\nb = 1500\nc = \"0\"\nd = \"100\"\ne = -5\nf = 1.5\ng = \"-1s\"");
        assert_eq!(
            f.duration("a").ok().flatten(),
            Some(Duration::from_secs(150))
        );
        assert_eq!(
            f.duration("b").ok().flatten(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(f.duration("c").ok().flatten(), Some(Duration::ZERO));
        for key in ["d", "e", "f", "g"] {
            assert!(
                matches!(f.duration(key), Err(ConfigError::ConfigValue { .. })),
                "{key}"
            );
        }
    }

    #[test]
    fn ints_accept_integers_and_base10_strings() {
        let f = file("a = 10\nb = \"20\"\nc = \"0x10\"\nd = 1.5\ne = -1\nf = 70000");
        assert_eq!(f.int::<u64>("a").ok().flatten(), Some(10));
        assert_eq!(f.int::<u64>("b").ok().flatten(), Some(20));
        assert!(f.int::<u64>("c").is_err());
        assert!(f.int::<u64>("d").is_err());
        assert!(f.int::<u64>("e").is_err());
        assert_eq!(f.int::<i64>("e").ok().flatten(), Some(-1));
        assert!(f.int::<u16>("f").is_err());
        let err = f.int::<u16>("f").expect_err("out of range");
        assert_eq!(
            err.to_string(),
            "failed to coerce value 70000 for f - value out of range"
        );
    }

    #[test]
    fn bools_follow_go_options() {
        let f = file("a = true\nb = \"false\"\nc = \"T\"\nd = 0\ne = 1\nf = \"yes\"\ng = 1.0");
        assert_eq!(f.bool("a").ok().flatten(), Some(true));
        assert_eq!(f.bool("b").ok().flatten(), Some(false));
        assert_eq!(f.bool("c").ok().flatten(), Some(true));
        // go-options' coerceBool: an integer means "== 0".
        assert_eq!(f.bool("d").ok().flatten(), Some(true));
        assert_eq!(f.bool("e").ok().flatten(), Some(false));
        assert!(f.bool("f").is_err());
        assert!(f.bool("g").is_err());
    }

    #[test]
    fn lists_are_arrays_or_comma_strings() {
        let f = file(
            "a = [\"x:1\", \"y:2\"]\nb = \"x:1, y:2,\"\nc = \"\"\nd = [1]\ne = 5\n\
             p = [1, 0.99]\nq = \"0.5, 0.25\"\nr = \"0.5,x\"\ns = [\"0.5\"]",
        );
        let pair = Some(vec!["x:1".to_string(), "y:2".to_string()]);
        assert_eq!(f.strings("a").ok().flatten(), pair);
        assert_eq!(f.strings("b").ok().flatten(), pair);
        assert_eq!(f.strings("c").ok().flatten(), Some(vec![]));
        assert!(f.strings("d").is_err());
        assert!(f.strings("e").is_err());
        assert_eq!(f.floats("p").ok().flatten(), Some(vec![1.0, 0.99]));
        assert_eq!(f.floats("q").ok().flatten(), Some(vec![0.5, 0.25]));
        assert!(f.floats("r").is_err());
        assert!(f.floats("s").is_err());
    }

    #[test]
    fn strings_must_be_strings() {
        let f = file("a = \"x\"\nb = 5");
        assert_eq!(f.string("a").ok().flatten(), Some("x".to_string()));
        let err = f.string("b").expect_err("wrong type");
        assert_eq!(
            err.to_string(),
            "failed to coerce value 5 for b - expected string, got integer"
        );
    }

    #[test]
    fn checked_keys() {
        let ok = file(
            "tls_required = \"tcp-https\"\ntls_min_version = \"TLS1.2\"\nlog_level = \"WARN\"",
        )
        .checked()
        .expect("valid");
        assert_eq!(ok.tls_required, Some(TlsRequired::TcpHttps));
        assert_eq!(ok.tls_min_version, Some(TlsVersion::Tls12));
        assert_eq!(ok.log_level, Some(LogLevel::Warn));

        let bools = file("tls_required = true").checked().expect("valid");
        assert_eq!(bools.tls_required, Some(TlsRequired::Yes));
        let int = file("tls_required = 0").checked().expect("valid");
        assert_eq!(int.tls_required, Some(TlsRequired::No));
        let empty = file("tls_min_version = \"\"").checked().expect("valid");
        assert_eq!(empty.tls_min_version, None);

        for (text, message) in [
            (
                "tls_required = \"maybe\"",
                "failed parsing tls_required maybe",
            ),
            (
                "tls_required = [true]",
                "failed parsing tls_required [true]",
            ),
            (
                "tls_min_version = \"ssl3.0\"",
                "failed parsing tls_min_version ssl3.0",
            ),
            (
                "tls_min_version = 769",
                "failed parsing tls_min_version 769",
            ),
            ("log_level = \"loud\"", "failed parsing log_level loud"),
            ("log_level = 1", "failed parsing log_level 1"),
        ] {
            let err = file(text).checked().expect_err(text);
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn go_display_matches_percent_v() {
        let f = file("a = [\"x\", 1, 1.5, true]\nb = 1.0");
        assert_eq!(
            f.table.get("a").map(go_display).as_deref(),
            Some("[x 1 1.5 true]")
        );
        assert_eq!(f.table.get("b").map(go_display).as_deref(), Some("1"));
    }
}
