//! Flag types of the Go tools that the `options` crate's do not cover: a signed Go
//! duration (Go's `flag.Duration` takes `-1s`, and the tools refuse it after parsing with
//! their own message), and nsq_stat's `--count` (an optional 32-bit count whose errors are
//! `strconv`'s texts).

use crate::goconfig::GoDuration;
use options::{OptionValue, SetError};
use serde_json::Value;
use std::time::Duration;

/// Go's `flag.Duration`: any `time.ParseDuration` value, negative included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignedDuration(pub(crate) GoDuration);

impl SignedDuration {
    pub(crate) fn of(d: Duration) -> SignedDuration {
        SignedDuration(GoDuration::of(d))
    }

    /// The duration when it is above zero.
    pub(crate) fn positive(self) -> Option<Duration> {
        self.0.positive().filter(|d| !d.is_zero())
    }
}

impl OptionValue for SignedDuration {
    const WORD: &'static str = "duration";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        // Go's flag package reports a bad duration as a parse error.
        *self = SignedDuration(
            crate::goconfig::parse_duration(text)
                .map_err(|_| SetError::Invalid("parse error".into()))?,
        );
        Ok(())
    }

    fn to_json(&self) -> Value {
        Value::Null
    }

    fn usage_default(&self) -> Option<String> {
        (self.0 != GoDuration(0)).then(|| self.0.to_string())
    }
}

/// nsq_stat's `--count`: unset, or a Go `int32`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count(pub(crate) Option<i32>);

impl OptionValue for Count {
    const WORD: &'static str = "value";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        let n = text.parse::<i32>().map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            SetError::Invalid(format!("strconv.ParseInt: parsing {text:?}: {why}"))
        })?;
        *self = Count(Some(n));
        Ok(())
    }

    fn to_json(&self) -> Value {
        Value::Null
    }

    fn usage_default(&self) -> Option<String> {
        None
    }
}
