//! Go's `time.Format` over a layout (`2006-01-02 15:04:05`): nsq_to_file builds its
//! `<DATETIME>` by turning `--datetime-format`'s strftime conversions into layout
//! elements and formatting the whole string, so literal text that spells a layout
//! element (`1`, `2006`, `Jan`, `.000`, ...) is replaced too, and this does the same.

use super::localtime::{LocalTime, DAYS, MONTHS};

/// One layout element (Go's `std*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    Tz,
    /// `-0700` family: (ISO 8601 `Z` for UTC, colons, with minutes, with seconds).
    NumTz {
        iso: bool,
        colon: bool,
        minutes: bool,
        seconds: bool,
    },
    /// `.000` (fixed) or `.999` (trailing zeros dropped), with its separator and width.
    Frac {
        fixed: bool,
        sep: char,
        width: usize,
    },
}

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: the literal prefix, the element, the rest.
fn next_chunk(layout: &[u8]) -> (&[u8], Option<(Std, usize)>) {
    let at = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s.as_bytes());
    for i in 0..layout.len() {
        let found = match layout[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") && !starts_lower(&layout[i + 3..]) => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !starts_lower(&layout[i + 3..]) => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' => match layout.get(i + 1) {
                Some(b'1') => Some((Std::ZeroMonth, 2)),
                Some(b'2') => Some((Std::ZeroDay, 2)),
                Some(b'3') => Some((Std::ZeroHour12, 2)),
                Some(b'4') => Some((Std::ZeroMinute, 2)),
                Some(b'5') => Some((Std::ZeroSecond, 2)),
                Some(b'6') => Some((Std::Year, 2)),
                Some(b'0') if layout.get(i + 2) == Some(&b'2') => Some((Std::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' if layout.get(i + 1) == Some(&b'5') => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            // `_2006` is a literal `_` and the year.
            b'_' if at(i + 1, "2006") => return (&layout[..=i], Some((Std::LongYear, 4))),
            b'_' if at(i + 1, "2") => Some((Std::UnderDay, 2)),
            b'_' if at(i + 1, "_2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::Pm, 2)),
            b'p' if at(i, "pm") => Some((Std::LowerPm, 2)),
            c @ (b'-' | b'Z') => {
                let iso = c == b'Z';
                let tz = |colon, minutes, seconds| Std::NumTz {
                    iso,
                    colon,
                    minutes,
                    seconds,
                };
                let c = char::from(c);
                if at(i, &format!("{c}070000")) {
                    Some((tz(false, true, true), 7))
                } else if at(i, &format!("{c}07:00:00")) {
                    Some((tz(true, true, true), 9))
                } else if at(i, &format!("{c}0700")) {
                    Some((tz(false, true, false), 5))
                } else if at(i, &format!("{c}07:00")) {
                    Some((tz(true, true, false), 6))
                } else if at(i, &format!("{c}07")) {
                    Some((tz(false, false, false), 3))
                } else {
                    None
                }
            }
            sep @ (b'.' | b',') => match layout.get(i + 1) {
                Some(&d @ (b'0' | b'9')) => {
                    let mut j = i + 1;
                    while layout.get(j) == Some(&d) {
                        j += 1;
                    }
                    if layout.get(j).is_some_and(u8::is_ascii_digit) {
                        None
                    } else {
                        let std = Std::Frac {
                            fixed: d == b'0',
                            sep: char::from(sep),
                            width: j - (i + 1),
                        };
                        Some((std, j - i))
                    }
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(found) = found {
            return (&layout[..i], Some(found));
        }
    }
    (layout, None)
}

fn push_num_tz(out: &mut String, t: &LocalTime, std: Std) {
    let Std::NumTz {
        iso,
        colon,
        minutes,
        seconds,
    } = std
    else {
        return;
    };
    if iso && t.offset == 0 {
        out.push('Z');
        return;
    }
    let z = t.offset.unsigned_abs();
    out.push(if t.offset < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", z / 3600));
    if minutes {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", z / 60 % 60));
    }
    if seconds {
        if colon {
            out.push(':');
        }
        out.push_str(&format!("{:02}", z % 60));
    }
}

/// Go's `Time.Format(layout)` for `t`.
pub(crate) fn format(layout: &str, t: &LocalTime) -> String {
    let month = MONTHS[usize::from(t.month.clamp(1, 12) - 1)];
    let day = DAYS[usize::from(t.weekday % 7)];
    let hour12 = if t.hour.is_multiple_of(12) {
        12
    } else {
        t.hour % 12
    };
    let mut out = String::with_capacity(layout.len() + 16);
    let mut rest = layout.as_bytes();
    loop {
        let (prefix, found) = next_chunk(rest);
        out.push_str(&String::from_utf8_lossy(prefix));
        let Some((std, len)) = found else {
            return out;
        };
        rest = &rest[prefix.len() + len..];
        let s = match std {
            Std::LongMonth => month.to_string(),
            Std::Month => month[..3].to_string(),
            Std::NumMonth => t.month.to_string(),
            Std::ZeroMonth => format!("{:02}", t.month),
            Std::LongWeekDay => day.to_string(),
            Std::WeekDay => day[..3].to_string(),
            Std::Day => t.day.to_string(),
            Std::UnderDay => format!("{:>2}", t.day),
            Std::ZeroDay => format!("{:02}", t.day),
            Std::UnderYearDay => format!("{:>3}", t.yday),
            Std::ZeroYearDay => format!("{:03}", t.yday),
            Std::Hour => format!("{:02}", t.hour),
            Std::Hour12 => hour12.to_string(),
            Std::ZeroHour12 => format!("{hour12:02}"),
            Std::Minute => t.minute.to_string(),
            Std::ZeroMinute => format!("{:02}", t.minute),
            Std::Second => t.second.to_string(),
            Std::ZeroSecond => format!("{:02}", t.second),
            Std::LongYear => format!("{:04}", t.year),
            Std::Year => format!("{:02}", t.year.rem_euclid(100)),
            Std::Pm => (if t.hour >= 12 { "PM" } else { "AM" }).to_string(),
            Std::LowerPm => (if t.hour >= 12 { "pm" } else { "am" }).to_string(),
            Std::Tz if !t.zone.is_empty() => t.zone.clone(),
            Std::Tz => {
                let mut s = String::new();
                push_num_tz(
                    &mut s,
                    t,
                    Std::NumTz {
                        iso: false,
                        colon: false,
                        minutes: true,
                        seconds: false,
                    },
                );
                s
            }
            Std::NumTz { .. } => {
                let mut s = String::new();
                push_num_tz(&mut s, t, std);
                s
            }
            Std::Frac { fixed, sep, width } => {
                let digits = format!("{:09}", t.nanos);
                let mut d = &digits[..width.min(9)];
                if !fixed {
                    d = d.trim_end_matches('0');
                }
                if d.is_empty() {
                    String::new()
                } else {
                    format!("{sep}{d}")
                }
            }
        };
        out.push_str(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> LocalTime {
        LocalTime {
            year: 2009,
            month: 2,
            day: 3,
            yday: 34,
            hour: 16,
            minute: 5,
            second: 6,
            nanos: 7_120_000,
            weekday: 2,
            offset: -(5 * 3600 + 30 * 60),
            zone: "XST".into(),
        }
    }

    #[test]
    fn layouts_as_go_formats_them() {
        assert_eq!(format("2006-01-02_15", &t()), "2009-02-03_16");
        assert_eq!(format("log1 x2 _2 __2 002", &t()), "log2 x3  3  34 034");
        assert_eq!(
            format("Jan January Janet Mon Monday Mond", &t()),
            "Feb February Janet Tue Tuesday Mond"
        );
        assert_eq!(
            format("3 03 4 04 5 05 06 PM pm MST", &t()),
            "4 04 5 05 6 06 09 PM pm XST"
        );
        assert_eq!(
            format("-0700 -07:00 -07 Z0700 -070000 -07:00:00", &t()),
            "-0530 -05:30 -05 -0530 -053000 -05:30:00"
        );
        assert_eq!(
            format("05.000 05,999 05.9 .0001", &t()),
            "06.007 06,007 06 .0002"
        );
        assert_eq!(format("_2006", &t()), "_2009");
        let mut utc = t();
        utc.offset = 0;
        utc.zone.clear();
        assert_eq!(format("Z07:00 MST", &utc), "Z +0000");
    }
}
