//! Go `strconv` spellings that flags and config values accept: `ParseBool`, `ParseInt` with base 0
//! (`0x1f`, `0o17`, `017`, `0b101`, `1_000` with a prefix) and `ParseFloat`.
//!
//! Only text to value; which flag or config key a value belongs to is the caller's business.

use std::fmt;

/// Why a literal did not parse; the texts are the ones Go's `flag` package prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralError {
    Syntax,
    Range,
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LiteralError::Syntax => "parse error",
            LiteralError::Range => "value out of range",
        })
    }
}

impl std::error::Error for LiteralError {}

/// `strconv.ParseBool`: exactly these spellings, nothing else (no trimming, no `yes`).
pub fn parse_bool(s: &str) -> Result<bool, LiteralError> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(LiteralError::Syntax),
    }
}

/// `strconv.ParseInt(s, 0, 64)`, as Go's `flag.Int`/`flag.Int64` use it.
pub fn parse_int(s: &str) -> Result<i64, LiteralError> {
    let (negative, magnitude) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let n = parse_uint_base0(magnitude)?;
    let cutoff = 1u64 << 63;
    if negative {
        match n.cmp(&cutoff) {
            std::cmp::Ordering::Greater => Err(LiteralError::Range),
            std::cmp::Ordering::Equal => Ok(i64::MIN),
            // n < 2^63 so it fits in i64.
            std::cmp::Ordering::Less => Ok(-(n as i64)),
        }
    } else {
        i64::try_from(n).map_err(|_| LiteralError::Range)
    }
}

/// An integer flag converted to the field's type; out of the type's range is Go's range error.
pub fn parse_int_as<T: TryFrom<i64>>(s: &str) -> Result<T, LiteralError> {
    T::try_from(parse_int(s)?).map_err(|_| LiteralError::Range)
}

/// `strconv.ParseFloat(s, 64)` for the spellings percentiles use (`0.99`, `1`, `1e-1`).
pub fn parse_float(s: &str) -> Result<f64, LiteralError> {
    s.parse::<f64>().map_err(|_| LiteralError::Syntax)
}

/// `strconv.ParseUint(s, 0, 64)` without a sign.
fn parse_uint_base0(s: &str) -> Result<u64, LiteralError> {
    if s.is_empty() {
        return Err(LiteralError::Syntax);
    }
    let bytes = s.as_bytes();
    let (radix, digits): (u32, &[u8]) = if bytes[0] == b'0' {
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = (c as char)
            .to_digit(36)
            .filter(|d| *d < radix)
            .ok_or(LiteralError::Syntax)?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(LiteralError::Range)?;
    }
    if underscores && !underscore_ok(s) {
        return Err(LiteralError::Syntax);
    }
    Ok(n)
}

/// Go's `underscoreOK`: `_` only between digits (a base prefix counts as a digit).
fn underscore_ok(s: &str) -> bool {
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let b = s.as_bytes();
    let mut saw = Saw::Start;
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = Saw::Digit;
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == b'_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else {
            if saw == Saw::Underscore {
                return false;
            }
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_take_go_spellings_only() {
        for s in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(s), Ok(true), "{s}");
        }
        for s in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(s), Ok(false), "{s}");
        }
        for s in ["", "yes", "tRue", " true", "2", "on"] {
            assert_eq!(parse_bool(s), Err(LiteralError::Syntax), "{s}");
        }
    }

    #[test]
    fn ints_use_base_zero() {
        assert_eq!(parse_int("10000"), Ok(10000));
        assert_eq!(parse_int("+5"), Ok(5));
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("0x1f"), Ok(31));
        assert_eq!(parse_int("0X1F"), Ok(31));
        assert_eq!(parse_int("017"), Ok(15));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0x_1f"), Ok(31));
        assert_eq!(parse_int("-0x10"), Ok(-16));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn bad_ints_are_syntax_or_range_errors() {
        for s in [
            "", "-", "abc", "08", "0x", "1__0", "_1", "1_", "1.5", " 1", "1e3",
        ] {
            assert_eq!(parse_int(s), Err(LiteralError::Syntax), "{s}");
        }
        assert_eq!(parse_int("9223372036854775808"), Err(LiteralError::Range));
        assert_eq!(parse_int("-9223372036854775809"), Err(LiteralError::Range));
        assert_eq!(parse_int("99999999999999999999"), Err(LiteralError::Range));
        assert_eq!(parse_int_as::<u16>("65536"), Err(LiteralError::Range));
        assert_eq!(parse_int_as::<u64>("-1"), Err(LiteralError::Range));
        assert_eq!(parse_int_as::<u16>("4150"), Ok(4150));
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float("0.99"), Ok(0.99));
        assert_eq!(parse_float("1"), Ok(1.0));
        assert_eq!(parse_float("1e-1"), Ok(0.1));
        assert_eq!(parse_float(""), Err(LiteralError::Syntax));
        assert_eq!(parse_float("x"), Err(LiteralError::Syntax));
        assert_eq!(LiteralError::Syntax.to_string(), "parse error");
        assert_eq!(LiteralError::Range.to_string(), "value out of range");
    }
}
