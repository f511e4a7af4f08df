//! [`OptionValue`]: how one option type reads a flag value and a config-file value, shows
//! its default in the usage text and encodes itself for `/config`, as Go's `flag.Value`
//! types and go-options' coercions do. Implemented here for the types every binary uses
//! (strings, bools, Go ints, durations, floats, repeatable lists, the log level); a binary
//! implements it for its own enum-like options.

use std::time::Duration;

use serde_json::{json, Value};
use toml::Value as Toml;

use crate::error::SetError;
use crate::file::go_display;
use crate::literal::{self, LiteralError};
use daemon::duration;
use daemon::log_level::LogLevel;

/// One option type.
pub trait OptionValue: Default + Sized {
    /// The word Go's usage prints after the flag name: `string`, `int`, `duration`, `float`,
    /// `value` (any other `flag.Value`); empty for bool flags.
    const WORD: &'static str;
    /// A Go bool flag: `-f` alone means `true`, a value only as `-f=v`.
    const BOOL_FLAG: bool = false;
    /// The config-file value is rendered as Go's `%v` and parsed like the flag, and is
    /// checked even when a flag overrides it (Go's `config.Validate` does this for the
    /// `flag.Value` options: log level, TLS settings).
    const FILE_AS_TEXT: bool = false;

    /// Go's `flag.Value.Set`. `first` is true for the first occurrence on the command line
    /// (a repeatable option then drops the default it started with).
    fn set(&mut self, first: bool, text: &str) -> Result<(), SetError>;

    /// go-options' coercion of a config-file value.
    fn from_file(value: &Toml) -> Result<Self, SetError> {
        let mut v = Self::default();
        v.set(true, &go_display(value))?;
        Ok(v)
    }

    /// Go's `encoding/json` of the `Options` field (`GET /config/<key>`).
    fn to_json(&self) -> Value;

    /// The `(default …)` text Go's usage appends; `None` for the type's zero value.
    fn usage_default(&self) -> Option<String>;
}

/// For options Go declares `int64` and range-checks at startup while the field is narrower:
/// the flag and file are read as `R`, and a value outside `Self` becomes `Self::MAX`, which
/// the binary's range check then refuses with its own message.
pub trait Narrow<R> {
    fn narrow(raw: R) -> Self;
}

impl Narrow<i64> for u16 {
    fn narrow(raw: i64) -> u16 {
        u16::try_from(raw).unwrap_or(u16::MAX)
    }
}

impl Narrow<i64> for u32 {
    fn narrow(raw: i64) -> u32 {
        u32::try_from(raw).unwrap_or(u32::MAX)
    }
}

fn wrong_type(expected: &str, got: &Toml) -> SetError {
    SetError::Invalid(format!("expected {expected}, got {}", got.type_str()))
}

/// Items of a comma-separated config-file list, trimmed, empty ones dropped.
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// Go's `time.Duration` marshals as integer nanoseconds.
pub fn nanos(d: Duration) -> Value {
    json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Go's encoding/json writes a whole float64 without a fraction (`1`, not `1.0`).
pub fn go_float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        // Whole and well inside i64's exact range.
        json!(f as i64)
    } else {
        json!(f)
    }
}

impl OptionValue for String {
    const WORD: &'static str = "string";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = text.to_string();
        Ok(())
    }

    fn from_file(value: &Toml) -> Result<String, SetError> {
        match value {
            Toml::String(s) => Ok(s.clone()),
            other => Err(wrong_type("string", other)),
        }
    }

    fn to_json(&self) -> Value {
        json!(self)
    }

    fn usage_default(&self) -> Option<String> {
        (!self.is_empty()).then(|| format!("{self:?}"))
    }
}

impl OptionValue for bool {
    const WORD: &'static str = "";
    const BOOL_FLAG: bool = true;

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = literal::parse_bool(text)?;
        Ok(())
    }

    /// go-options' `coerceBool`, including its quirk that an integer means `value == 0`
    /// (so `snappy = 0` is true); kept so a Go config behaves the same here.
    fn from_file(value: &Toml) -> Result<bool, SetError> {
        match value {
            Toml::Boolean(b) => Ok(*b),
            Toml::String(s) => Ok(literal::parse_bool(s)?),
            Toml::Integer(i) => Ok(*i == 0),
            other => Err(wrong_type("bool", other)),
        }
    }

    fn to_json(&self) -> Value {
        json!(self)
    }

    fn usage_default(&self) -> Option<String> {
        self.then(|| "true".to_string())
    }
}

/// A config-file integer: a TOML integer or a base-10 string (`strconv.ParseInt(s, 10, 64)`).
fn file_int(value: &Toml) -> Result<i64, SetError> {
    match value {
        Toml::Integer(i) => Ok(*i),
        Toml::String(s) => s.parse::<i64>().map_err(|e| {
            SetError::from(match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    LiteralError::Range
                }
                _ => LiteralError::Syntax,
            })
        }),
        other => Err(wrong_type("integer", other)),
    }
}

/// Go `int`/`int64` flags (base-0 literals) and narrower integer fields, whose values out of
/// the field's range are Go's range error.
macro_rules! int_option {
    ($($t:ty),*) => {$(
        impl OptionValue for $t {
            const WORD: &'static str = "int";

            fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
                *self = literal::parse_int_as::<$t>(text)?;
                Ok(())
            }

            fn from_file(value: &Toml) -> Result<$t, SetError> {
                <$t>::try_from(file_int(value)?).map_err(|_| LiteralError::Range.into())
            }

            fn to_json(&self) -> Value {
                json!(self)
            }

            fn usage_default(&self) -> Option<String> {
                (*self != 0).then(|| self.to_string())
            }
        }
    )*};
}

int_option!(i64, u16, u32);

impl OptionValue for Duration {
    const WORD: &'static str = "duration";

    /// Go's flag package reports every duration error as "parse error"; a negative duration
    /// (valid in Go) is refused with its own reason.
    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = duration::parse(text).map_err(|e| {
            if e.starts_with("negative") {
                SetError::Invalid(e)
            } else {
                LiteralError::Syntax.into()
            }
        })?;
        Ok(())
    }

    /// A Go duration string, or an integer number of milliseconds.
    fn from_file(value: &Toml) -> Result<Duration, SetError> {
        match value {
            Toml::String(s) => Ok(duration::parse(s)?),
            Toml::Integer(ms) => u64::try_from(*ms)
                .ok()
                .filter(|ms| *ms <= i64::MAX as u64 / 1_000_000)
                .map(Duration::from_millis)
                .ok_or_else(|| LiteralError::Range.into()),
            other => Err(wrong_type("duration", other)),
        }
    }

    fn to_json(&self) -> Value {
        nanos(*self)
    }

    fn usage_default(&self) -> Option<String> {
        (!self.is_zero()).then(|| duration::format(*self))
    }
}

/// A config-file number: float or integer.
fn file_float(value: &Toml) -> Result<f64, SetError> {
    match value {
        Toml::Float(f) => Ok(*f),
        // Exact for every integer an option of this kind can be.
        Toml::Integer(i) => Ok(*i as f64),
        other => Err(wrong_type("number", other)),
    }
}

impl OptionValue for f64 {
    const WORD: &'static str = "float";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = literal::parse_float(text)?;
        Ok(())
    }

    fn from_file(value: &Toml) -> Result<f64, SetError> {
        match value {
            Toml::String(s) => Ok(literal::parse_float(s)?),
            other => file_float(other),
        }
    }

    fn to_json(&self) -> Value {
        go_float(*self)
    }

    fn usage_default(&self) -> Option<String> {
        (*self != 0.0).then(|| self.to_string())
    }
}

/// A repeatable string flag (Go's `StringArray`: no splitting on commas); in the file a
/// TOML array of strings or one comma-separated string (`""` is an empty list).
impl OptionValue for Vec<String> {
    const WORD: &'static str = "value";

    fn set(&mut self, first: bool, text: &str) -> Result<(), SetError> {
        if first {
            self.clear();
        }
        self.push(text.to_string());
        Ok(())
    }

    fn from_file(value: &Toml) -> Result<Vec<String>, SetError> {
        match value {
            Toml::String(s) => Ok(split_list(s).map(str::to_string).collect()),
            Toml::Array(items) => items
                .iter()
                .map(|item| match item {
                    Toml::String(s) => Ok(s.clone()),
                    other => Err(wrong_type("string", other)),
                })
                .collect(),
            other => Err(wrong_type("list of strings", other)),
        }
    }

    fn to_json(&self) -> Value {
        json!(self)
    }

    fn usage_default(&self) -> Option<String> {
        None
    }
}

/// A repeatable float flag (nsqd's `FloatArray`): each value may be comma-separated, and
/// the list is kept sorted descending. In the file a TOML array of numbers or one
/// comma-separated string, in file order.
impl OptionValue for Vec<f64> {
    const WORD: &'static str = "value";

    fn set(&mut self, first: bool, text: &str) -> Result<(), SetError> {
        if first {
            self.clear();
        }
        for item in text.split(',') {
            self.push(literal::parse_float(item)?);
        }
        self.sort_by(|a, b| b.total_cmp(a));
        Ok(())
    }

    fn from_file(value: &Toml) -> Result<Vec<f64>, SetError> {
        match value {
            Toml::String(s) => split_list(s)
                .map(|item| Ok(literal::parse_float(item)?))
                .collect(),
            Toml::Array(items) => items.iter().map(file_float).collect(),
            other => Err(wrong_type("list of numbers", other)),
        }
    }

    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(|f| go_float(*f)).collect())
    }

    fn usage_default(&self) -> Option<String> {
        None
    }
}

/// `--log-level`: `/config` shows Go's integer, the usage Go's upper-case name.
impl OptionValue for LogLevel {
    const WORD: &'static str = "value";
    const FILE_AS_TEXT: bool = true;

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = text.parse::<LogLevel>()?;
        Ok(())
    }

    fn to_json(&self) -> Value {
        json!(self.as_int())
    }

    fn usage_default(&self) -> Option<String> {
        Some(self.label().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(text: &str) -> Toml {
        let table: toml::Table = format!("v = {text}").parse().expect("test TOML");
        table.get("v").cloned().expect("v")
    }

    fn set<T: OptionValue>(texts: &[&str]) -> Result<T, SetError> {
        let mut v = T::default();
        for (i, t) in texts.iter().enumerate() {
            v.set(i == 0, t)?;
        }
        Ok(v)
    }

    fn invalid(reason: &str) -> SetError {
        SetError::Invalid(reason.to_string())
    }

    #[test]
    fn words_match_go_usage() {
        assert_eq!(String::WORD, "string");
        assert_eq!(i64::WORD, "int");
        assert_eq!(u16::WORD, "int");
        assert_eq!(Duration::WORD, "duration");
        assert_eq!(f64::WORD, "float");
        assert_eq!(<Vec<String>>::WORD, "value");
        assert_eq!(LogLevel::WORD, "value");
        let flags = [
            bool::BOOL_FLAG,
            LogLevel::FILE_AS_TEXT,
            String::FILE_AS_TEXT,
        ];
        assert_eq!(flags, [true, true, false]);
        assert_eq!(bool::WORD, "");
    }

    #[test]
    fn flag_values() {
        assert_eq!(set::<String>(&["a", ""]), Ok(String::new()));
        assert_eq!(set::<bool>(&["T"]), Ok(true));
        assert_eq!(set::<bool>(&["yes"]), Err(invalid("parse error")));
        assert_eq!(set::<i64>(&["0x10", "-5"]), Ok(-5));
        assert_eq!(set::<i64>(&["lots"]), Err(invalid("parse error")));
        assert_eq!(set::<u16>(&["70000"]), Err(invalid("value out of range")));
        assert_eq!(set::<u32>(&["-1"]), Err(invalid("value out of range")));
        assert_eq!(set::<Duration>(&["1m30s"]), Ok(Duration::from_secs(90)));
        assert_eq!(set::<Duration>(&["60"]), Err(invalid("parse error")));
        assert_eq!(
            set::<Duration>(&["-1s"]),
            Err(invalid("negative duration \"-1s\" not allowed"))
        );
        assert_eq!(set::<f64>(&["0.25"]), Ok(0.25));
        assert_eq!(set::<LogLevel>(&["WARN"]), Ok(LogLevel::Warn));
        assert_eq!(
            set::<LogLevel>(&["loud"]),
            Err(invalid(
                "invalid log level 'loud' (debug, info, warn, error, fatal)"
            ))
        );
    }

    #[test]
    fn repeatable_values_replace_the_default_then_accumulate() {
        let mut v = vec!["default".to_string()];
        v.set(true, "a,b").expect("set");
        v.set(false, "c").expect("set");
        assert_eq!(v, ["a,b", "c"], "StringArray does not split on commas");
        let mut p = vec![0.1];
        p.set(true, "0.5,0.99").expect("set");
        p.set(false, "1.0").expect("set");
        assert_eq!(p, [1.0, 0.99, 0.5], "sorted descending");
        assert_eq!(set::<Vec<f64>>(&["0.5,"]), Err(invalid("parse error")));
    }

    #[test]
    fn file_values() {
        assert_eq!(String::from_file(&toml("\"x\"")), Ok("x".to_string()));
        assert_eq!(
            String::from_file(&toml("5")),
            Err(invalid("expected string, got integer"))
        );
        assert_eq!(bool::from_file(&toml("\"false\"")), Ok(false));
        assert_eq!(bool::from_file(&toml("0")), Ok(true), "go-options quirk");
        assert_eq!(bool::from_file(&toml("1")), Ok(false));
        assert!(bool::from_file(&toml("1.0")).is_err());
        assert_eq!(i64::from_file(&toml("\"20\"")), Ok(20));
        assert_eq!(
            i64::from_file(&toml("\"0x10\"")),
            Err(invalid("parse error"))
        );
        assert_eq!(
            u16::from_file(&toml("70000")),
            Err(invalid("value out of range"))
        );
        assert_eq!(
            Duration::from_file(&toml("1500")),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            Duration::from_file(&toml("\"60\"")),
            Err(invalid("time: missing unit in duration \"60\""))
        );
        assert!(Duration::from_file(&toml("-5")).is_err());
        assert_eq!(
            <Vec<String>>::from_file(&toml("\"a:1, b:2,\"")),
            Ok(vec!["a:1".to_string(), "b:2".to_string()])
        );
        assert_eq!(<Vec<String>>::from_file(&toml("\"\"")), Ok(vec![]));
        assert_eq!(<Vec<f64>>::from_file(&toml("[0.5, 1]")), Ok(vec![0.5, 1.0]));
        assert!(<Vec<f64>>::from_file(&toml("[\"0.5\"]")).is_err());
        assert_eq!(LogLevel::from_file(&toml("\"error\"")), Ok(LogLevel::Error));
        assert!(LogLevel::from_file(&toml("1")).is_err());
        assert_eq!(f64::from_file(&toml("1")), Ok(1.0));
    }

    #[test]
    fn json_and_usage_defaults() {
        assert_eq!(Duration::from_millis(25).to_json(), json!(25_000_000u64));
        assert_eq!(vec![1.0, 0.99].to_json().to_string(), "[1,0.99]");
        assert_eq!(LogLevel::Fatal.to_json(), json!(5));
        assert_eq!(
            Duration::from_secs(60).usage_default().as_deref(),
            Some("1m0s")
        );
        assert_eq!(Duration::ZERO.usage_default(), None);
        assert_eq!(
            "[x] ".to_string().usage_default().as_deref(),
            Some("\"[x] \"")
        );
        assert_eq!(String::new().usage_default(), None);
        assert_eq!(false.usage_default(), None);
        assert_eq!(0i64.usage_default(), None);
        assert_eq!(LogLevel::Info.usage_default().as_deref(), Some("INFO"));
        assert_eq!(<u16 as Narrow<i64>>::narrow(-1), u16::MAX);
        assert_eq!(<u32 as Narrow<i64>>::narrow(7), 7);
    }
}
