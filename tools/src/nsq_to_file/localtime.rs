//! Local wall-clock time as Go's `time.Now()` sees it (the zone from `TZ` or
//! `/etc/localtime`, with its abbreviation), and the two renderings nsq_to_file needs:
//! Go's strftime subset for `<DATETIME>` (copied by Go nsq_to_file v1.3.0 from
//! jehiah/go-strftime) and the `log` package's `Ldate|Ltime|Lmicroseconds` stamp.

/// One instant, broken down in the local zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
    /// 0 = Sunday.
    pub weekday: u8,
    /// Seconds east of UTC.
    pub offset: i32,
    /// The zone's abbreviation (`UTC`, `CET`), empty when it has none.
    pub zone: String,
}

impl LocalTime {
    pub(crate) fn now() -> LocalTime {
        let z = jiff::Zoned::now();
        let info = z.time_zone().to_offset_info(z.timestamp());
        LocalTime {
            year: i32::from(z.year()),
            month: z.month().unsigned_abs(),
            day: z.day().unsigned_abs(),
            hour: z.hour().unsigned_abs(),
            minute: z.minute().unsigned_abs(),
            second: z.second().unsigned_abs(),
            micros: (z.subsec_nanosecond().unsigned_abs()) / 1000,
            weekday: z.weekday().to_sunday_zero_offset().unsigned_abs(),
            offset: z.offset().seconds(),
            zone: info.abbreviation().to_string(),
        }
    }

    /// `2006/01/02 15:04:05.000000 `, the stamp Go's logger writes with
    /// `log.Ldate|log.Ltime|log.Lmicroseconds`.
    pub(crate) fn log_stamp(&self) -> String {
        format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06} ",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }

    /// Go's `-0700`.
    fn numeric_zone(&self) -> String {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let minutes = self.offset.unsigned_abs() / 60;
        format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go nsq_to_file's `strftime`: `%B %b %m %A %a %d %H %I %M %S %Y %y %p %Z %z %%`; any
/// other `%x`, and a trailing `%`, stays as it is.
///
/// Go turns the conversions into a `time.Format` layout, so literal text in the format
/// that happens to spell a layout element (`1`, `2006`, `Jan`, ...) is also replaced
/// there; here literal text always stays literal.
pub(crate) fn strftime(format: &str, t: &LocalTime) -> String {
    let month = MONTHS[usize::from(t.month.clamp(1, 12) - 1)];
    let day = DAYS[usize::from(t.weekday % 7)];
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut rest = chars.clone();
        let expanded = match rest.next() {
            Some('B') => month.to_string(),
            Some('b') => month[..3].to_string(),
            Some('m') => format!("{:02}", t.month),
            Some('A') => day.to_string(),
            Some('a') => day[..3].to_string(),
            Some('d') => format!("{:02}", t.day),
            Some('H') => format!("{:02}", t.hour),
            Some('I') => format!(
                "{:02}",
                if t.hour.is_multiple_of(12) {
                    12
                } else {
                    t.hour % 12
                }
            ),
            Some('M') => format!("{:02}", t.minute),
            Some('S') => format!("{:02}", t.second),
            Some('Y') => format!("{:04}", t.year),
            Some('y') => format!("{:02}", t.year.rem_euclid(100)),
            Some('p') => (if t.hour >= 12 { "PM" } else { "AM" }).to_string(),
            Some('Z') if t.zone.is_empty() => t.numeric_zone(),
            Some('Z') => t.zone.clone(),
            Some('z') => t.numeric_zone(),
            Some('%') => "%".to_string(),
            _ => {
                out.push('%');
                continue;
            }
        };
        out.push_str(&expanded);
        chars = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> LocalTime {
        LocalTime {
            year: 2009,
            month: 2,
            day: 3,
            hour: 16,
            minute: 5,
            second: 6,
            micros: 7,
            weekday: 2,
            offset: -(5 * 3600 + 30 * 60),
            zone: "XST".into(),
        }
    }

    #[test]
    fn conversions_are_gos() {
        assert_eq!(strftime("%Y-%m-%d_%H", &t()), "2009-02-03_16");
        assert_eq!(
            strftime("%B %b %A %a %I %M %S %y %p %Z %z %%", &t()),
            "February Feb Tuesday Tue 04 05 06 09 PM XST -0530 %"
        );
        // Unknown conversions and a trailing % stay.
        assert_eq!(strftime("%q%Y%", &t()), "%q2009%");
        assert_eq!(strftime("%%Y", &t()), "%Y");
        let mut midnight = t();
        midnight.hour = 0;
        midnight.zone.clear();
        midnight.offset = 3600;
        assert_eq!(strftime("%I%p %Z", &midnight), "12AM +0100");
    }

    #[test]
    fn log_stamp() {
        assert_eq!(t().log_stamp(), "2009/02/03 16:05:06.000007 ");
    }
}
