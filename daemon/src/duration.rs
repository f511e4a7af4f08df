//! Go `time.Duration` text: `time.ParseDuration` (what `--msg-timeout=1m30s` and
//! `msg_timeout = "60s"` accept) and `Duration.String` (`1m0s`, `250ms`).
//!
//! Go durations are signed; nsqd has no use for negative ones, so [`parse`] rejects them.
//! The config file's bare-integer-means-milliseconds rule lives in `file.rs`.

use std::time::Duration;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Parses a Go duration and rejects negative values. The largest value is Go's, 2^63-1 ns.
pub fn parse(s: &str) -> Result<Duration, String> {
    let (negative, nanos) = parse_go(s)?;
    if negative && nanos != 0 {
        return Err(format!("negative duration {s:?} not allowed"));
    }
    Ok(Duration::from_nanos(nanos))
}

/// `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`. Returns (negative, nanoseconds).
fn parse_go(orig: &str) -> Result<(bool, u64), String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let mut s = orig.as_bytes();
    let mut negative = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            negative = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok((negative, 0));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut whole: u64 = 0;
        for &c in &s[..int_len] {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .filter(|v| *v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        s = &s[int_len..];
        // Fraction: digits past u64 precision are dropped, as Go does.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut frac_len = 0;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            frac_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &s[..frac_len] {
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                // frac <= 9.2e17 here, so this cannot overflow u64.
                let v = frac * 10 + u64::from(c - b'0');
                if v > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = v;
                scale *= 10.0;
            }
            s = &s[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        // Unit: everything up to the next digit or '.'.
        let unit_len = s
            .iter()
            .take_while(|c| !(**c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let unit_text = String::from_utf8_lossy(&s[..unit_len]);
        let unit: u64 = match unit_text.as_ref() {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            _ => {
                return Err(format!(
                    "time: unknown unit {unit_text:?} in duration {orig:?}"
                ))
            }
        };
        s = &s[unit_len..];
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut v = whole * unit;
        if frac > 0 {
            // Truncation toward zero is Go's behaviour; the product is at most 3.6e12.
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if !negative && total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok((negative, total))
}

/// Go's `Duration.String`: `0s`, `250ms`, `1.5µs`, `2s`, `1m0s`, `1h30m0s`.
pub fn format(d: Duration) -> String {
    let u = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if u == 0 {
        return "0s".to_string();
    }
    if u < NANOS_PER_SECOND {
        let (prec, unit) = match u {
            0..=999 => (0, "ns"),
            1_000..=999_999 => (3, "\u{b5}s"),
            _ => (6, "ms"),
        };
        let (whole, frac) = split_fraction(u, prec);
        return format!("{whole}{frac}{unit}");
    }
    let (seconds, frac) = split_fraction(u, 9);
    let (minutes, seconds) = (seconds / 60, seconds % 60);
    let (hours, minutes) = (minutes / 60, minutes % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}{frac}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}{frac}s")
    } else {
        format!("{seconds}{frac}s")
    }
}

/// Go's `fmtFrac`: splits `v` into `v / 10^prec` and ".digits" without trailing zeros.
fn split_fraction(v: u64, prec: u32) -> (u64, String) {
    let divisor = 10u64.pow(prec);
    let frac = v % divisor;
    if frac == 0 {
        return (v / divisor, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / divisor, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("300ms"), Ok(ms(300)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse("1m0s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1h0m0s"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("-0"), Ok(Duration::ZERO));
        assert_eq!(parse("+5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse(".5s"), Ok(ms(500)));
        assert_eq!(parse("1.s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("10ns"), Ok(Duration::from_nanos(10)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("10\u{b5}s"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("10\u{3bc}s"), Ok(Duration::from_micros(10)));
        assert_eq!(
            parse("1h2m3s4ms5us6ns").map(|d| d.as_nanos()),
            Ok(3_723_004_005_006)
        );
        assert_eq!(parse("0.000000001s"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse("2562047h47m16.854775807s"),
            Ok(Duration::from_nanos(i64::MAX as u64))
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(parse(""), Err("time: invalid duration \"\"".to_string()));
        assert_eq!(
            parse("100"),
            Err("time: missing unit in duration \"100\"".to_string())
        );
        assert_eq!(
            parse("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_string())
        );
        for s in [
            "s",
            ".s",
            "-",
            "1.5",
            "1s ",
            " 1s",
            "1 s",
            "2562047h47m16.854775808s",
        ] {
            assert!(parse(s).is_err(), "{s}");
        }
        assert!(parse("-1s").is_err());
        assert!(parse("99999999999999999999h").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_nanos(500)), "500ns");
        assert_eq!(format(Duration::from_nanos(1500)), "1.5\u{b5}s");
        assert_eq!(format(ms(25)), "25ms");
        assert_eq!(format(ms(250)), "250ms");
        assert_eq!(format(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format(Duration::from_secs(2)), "2s");
        assert_eq!(format(ms(1500)), "1.5s");
        assert_eq!(format(Duration::from_secs(60)), "1m0s");
        assert_eq!(format(Duration::from_secs(900)), "15m0s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(
            format(Duration::from_nanos(3_723_004_005_006)),
            "1h2m3.004005006s"
        );
    }

    #[test]
    fn format_round_trips() {
        for text in ["1m0s", "250ms", "1h30m0s", "1.5s", "2s", "10m0s"] {
            let d = parse(text).expect("valid");
            assert_eq!(format(d), text);
        }
    }

    #[test]
    fn formats_like_go_duration_string() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(2_500), "2.5\u{b5}s"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_millis(65_250), "1m5.25s"),
            (Duration::from_nanos(1_222_960_301), "1.222960301s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(3_723_004), "1h2m3.004s"),
        ];
        for (d, text) in cases {
            assert_eq!(format(d), text);
        }
    }
}
