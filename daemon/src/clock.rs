//! The wall clock as the NSQ binaries read and print it: Unix seconds and nanoseconds
//! (message timestamps, `start_time`, registry times) and UTC calendar times for log
//! lines and `/stats`. One place, so every binary agrees and tests can see the rules.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 before it; saturates past year 2262).
pub fn unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A UTC calendar time: date, time of day and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub micros: u32,
}

impl Utc {
    /// The calendar time `unix_secs` + `micros` falls on.
    pub fn from_unix(unix_secs: i64, micros: u32) -> Utc {
        let (year, month, day) = civil_from_days(unix_secs.div_euclid(86_400));
        let rem = unix_secs.rem_euclid(86_400);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            micros,
        }
    }

    /// Now.
    pub fn now() -> Utc {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Utc::from_unix(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        )
    }

    /// `2006-01-02T15:04:05Z`, as Go's `time.RFC3339` prints a UTC time.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn calendar_times_and_rfc3339() {
        let t = Utc::from_unix(1_700_000_000, 42);
        assert_eq!((t.year, t.month, t.day), (2023, 11, 14));
        assert_eq!((t.hour, t.minute, t.second, t.micros), (22, 13, 20, 42));
        assert_eq!(t.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(Utc::from_unix(-1, 0).rfc3339(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn now_is_after_2020() {
        assert!(unix_secs() > 1_577_836_800);
        assert!(unix_nanos() / 1_000_000_000 >= unix_secs() - 1);
        assert!(Utc::now().year >= 2020);
    }
}
