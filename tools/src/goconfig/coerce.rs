//! go-nsq's `Config.Set` coercions of a `--consumer-opt`/`--producer-opt` value, with the
//! error texts go-nsq and Go's `strconv`/`time` packages print. A value is the text after
//! the comma, or, for a bare `key`, the boolean `true` (go-nsq's `ConfigFlag`).

use std::time::Duration;

/// The value handed to `Config.Set`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Text(&'a str),
    /// A bare `key`: Go passes the boolean `true`.
    True,
}

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raw::Text(s) => f.write_str(s),
            Raw::True => f.write_str("true"),
        }
    }
}

/// A Go duration, signed (go-nsq accepts negative ones), in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GoDuration(pub(crate) i128);

impl GoDuration {
    pub(crate) fn of(d: Duration) -> GoDuration {
        GoDuration(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
    }

    /// `None` when negative.
    pub(crate) fn positive(self) -> Option<Duration> {
        u64::try_from(self.0).ok().map(Duration::from_nanos)
    }
}

impl std::fmt::Display for GoDuration {
    /// Go's `Duration.String`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = u64::try_from(self.0.unsigned_abs()).unwrap_or(u64::MAX);
        write!(
            f,
            "{sign}{}",
            daemon::duration::format(Duration::from_nanos(magnitude))
        )
    }
}

fn strconv(func: &str, text: &str, range: bool) -> String {
    let why = if range {
        "value out of range"
    } else {
        "invalid syntax"
    };
    format!("strconv.{func}: parsing {text:?}: {why}")
}

const WRONG_TYPE: &str = "invalid value type";

/// `coerceBool`.
pub(crate) fn boolean(v: Raw) -> Result<bool, String> {
    match v {
        Raw::True => Ok(true),
        Raw::Text(s) => options::parse_bool(s).map_err(|_| strconv("ParseBool", s, false)),
    }
}

/// `coerceString`; a bare key becomes Go's `%s` of `true`.
pub(crate) fn string(v: Raw) -> String {
    match v {
        Raw::Text(s) => s.to_string(),
        Raw::True => "%!s(bool=true)".to_string(),
    }
}

/// `coerceInt64` (base 10).
pub(crate) fn int(v: Raw) -> Result<i64, String> {
    let Raw::Text(s) = v else {
        return Err(WRONG_TYPE.into());
    };
    s.parse::<i64>().map_err(|e| {
        let range = matches!(
            e.kind(),
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
        );
        strconv("ParseInt", s, range)
    })
}

/// `coerceUint64` (base 10).
pub(crate) fn uint(v: Raw) -> Result<u64, String> {
    let Raw::Text(s) = v else {
        return Err(WRONG_TYPE.into());
    };
    s.parse::<u64>().map_err(|e| {
        let range = matches!(e.kind(), std::num::IntErrorKind::PosOverflow);
        strconv("ParseUint", s, range && !s.starts_with('+'))
    })
}

/// `coerceFloat64`.
pub(crate) fn float(v: Raw) -> Result<f64, String> {
    let Raw::Text(s) = v else {
        return Err(WRONG_TYPE.into());
    };
    options::parse_float(s).map_err(|_| strconv("ParseFloat", s, false))
}

/// `coerceDuration`: `time.ParseDuration`, negative values included.
pub(crate) fn duration(v: Raw) -> Result<GoDuration, String> {
    let Raw::Text(s) = v else {
        return Err(WRONG_TYPE.into());
    };
    if let Some(rest) = s.strip_prefix('-') {
        return match daemon::duration::parse(rest) {
            Ok(d) if !rest.starts_with(['-', '+']) => Ok(GoDuration(-GoDuration::of(d).0)),
            _ => Err(format!("time: invalid duration {s:?}")),
        };
    }
    daemon::duration::parse(s).map(GoDuration::of)
}

/// Go's `%v` of a float64 (`0`, `1`, `0.5`).
pub(crate) fn go_float(f: f64) -> String {
    format!("{f}")
}

/// An `os.Open` error as Go words it: `open <path>: no such file or directory`.
pub(crate) fn go_open_error(path: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or_default();
            text.to_lowercase()
        }
    };
    format!("open {path}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_texts() {
        assert_eq!(
            boolean(Raw::Text("maybe")).unwrap_err(),
            "strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(
            uint(Raw::Text("x")).unwrap_err(),
            "strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            int(Raw::Text("99999999999999999999")).unwrap_err(),
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            duration(Raw::Text("5")).unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            duration(Raw::Text("abc")).unwrap_err(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(duration(Raw::Text("-1s")), Ok(GoDuration(-1_000_000_000)));
        assert_eq!(GoDuration(-1_500_000_000).to_string(), "-1.5s");
        assert_eq!(GoDuration::of(Duration::from_secs(300)).to_string(), "5m0s");
        assert_eq!(duration(Raw::True).unwrap_err(), "invalid value type");
        assert_eq!(string(Raw::True), "%!s(bool=true)");
        assert!(boolean(Raw::True).unwrap_or(false));
    }
}
