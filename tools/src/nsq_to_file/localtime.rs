//! Local wall-clock time as Go's `time.Now()` sees it (the zone from `TZ` or
//! `/etc/localtime`, with its abbreviation), and the two renderings nsq_to_file needs:
//! Go's strftime subset for `<DATETIME>` (copied by Go nsq_to_file v1.3.0 from
//! jehiah/go-strftime, which formats through a Go layout) and the `log` package's
//! `Ldate|Ltime|Lmicroseconds` stamp.

/// One instant, broken down in the local zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u8,
    pub day: u8,
    /// Day of the year, 1..=366.
    pub yday: u16,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanos: u32,
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
            yday: z.day_of_year().unsigned_abs(),
            hour: z.hour().unsigned_abs(),
            minute: z.minute().unsigned_abs(),
            second: z.second().unsigned_abs(),
            nanos: z.subsec_nanosecond().unsigned_abs(),
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
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos / 1000
        )
    }
}

pub(crate) const MONTHS: [&str; 12] = [
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
pub(crate) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go nsq_to_file's `strftime`: `%B %b %m %A %a %d %H %I %M %S %Y %y %p %Z %z %%` become
/// Go layout elements (any other `%x`, and a trailing `%`, stay as they are), then the
/// whole layout is formatted as Go's `time.Format` does (see `golayout`).
pub(crate) fn strftime(format: &str, t: &LocalTime) -> String {
    let mut layout = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            layout.push(c);
            continue;
        }
        let mut rest = chars.clone();
        let element = match rest.next() {
            Some('B') => "January",
            Some('b') => "Jan",
            Some('m') => "01",
            Some('A') => "Monday",
            Some('a') => "Mon",
            Some('d') => "02",
            Some('H') => "15",
            Some('I') => "03",
            Some('M') => "04",
            Some('S') => "05",
            Some('Y') => "2006",
            Some('y') => "06",
            Some('p') => "PM",
            Some('Z') => "MST",
            Some('z') => "-0700",
            Some('%') => "%",
            _ => {
                layout.push('%');
                continue;
            }
        };
        layout.push_str(element);
        chars = rest;
    }
    super::golayout::format(&layout, t)
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
            nanos: 7_000,
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
        // Literal text is a Go layout too: `1` is the month, `2` the day.
        assert_eq!(strftime("v1-%Y.2", &t()), "v2-2009.3");
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
