//! `GET /metrics` for the servers (beyond Go NSQ, which answers 404 there): a writer of the
//! Prometheus text exposition format, version 0.0.4 (`# HELP` and `# TYPE` per family,
//! label values escaped), the response carrying it, and the standard `process_*` family
//! read from `/proc/self`. The servers gather their numbers first (their own snapshot) and
//! format them here with no lock held.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets when the thing counted is recreated or the process restarts).
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One metric family of a table: name, type, help and how to read the value from a `T`.
pub struct Family<T> {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub value: fn(&T) -> f64,
}

impl<T> Family<T> {
    /// One table entry: `value` reads the family's number from a row.
    pub const fn new(
        name: &'static str,
        kind: Kind,
        help: &'static str,
        value: fn(&T) -> f64,
    ) -> Family<T> {
        Family {
            name,
            kind,
            help,
            value,
        }
    }
}

/// The text being written. Samples of one family must follow its header, before the next
/// family starts (the format's rule).
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// With room for `bytes` of text (a large answer then grows without copying).
    pub fn with_capacity(bytes: usize) -> Exposition {
        Exposition {
            out: String::with_capacity(bytes),
        }
    }

    /// `# HELP` and `# TYPE` of a family.
    pub fn header(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape(&mut self.out, help, false);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// One sample line: `name{l1="v1",..} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape(&mut self.out, v, true);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.header(name, kind, help);
        self.sample(name, &[], value);
    }

    /// Every family of `table`, each with one sample per item of `items` (labels from
    /// `labels`); a family is left out when there are no items.
    pub fn table<T, const N: usize>(
        &mut self,
        table: &[Family<T>],
        items: &[(&T, [&str; N])],
        label_names: [&str; N],
    ) {
        if items.is_empty() {
            return;
        }
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(N);
        for f in table {
            self.header(f.name, f.kind, f.help);
            for (item, values) in items {
                labels.clear();
                labels.extend(label_names.iter().copied().zip(values.iter().copied()));
                self.sample(f.name, &labels, (f.value)(item));
            }
        }
    }

    /// The standard `process_*` families (as Prometheus's Go and Python clients name them),
    /// from `/proc/self`; whatever cannot be read is left out.
    pub fn process(&mut self) {
        crate::metrics_process::write(self);
    }

    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn into_string(self) -> String {
        self.out
    }

    /// `200` with the exposition content type.
    pub fn into_response(self) -> Response {
        let mut r = self.out.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        r
    }
}

/// Escape for the format: backslash and newline always, the double quote in label values.
fn escape(out: &mut String, s: &str, label_value: bool) {
    if !s
        .bytes()
        .any(|b| b == b'\\' || b == b'\n' || (label_value && b == b'"'))
    {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if label_value => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A value as the format writes floats: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values_and_help() {
        let mut e = Exposition::new();
        e.header("nsq_x", Kind::Gauge, "a \\ b\nc \"q\"");
        e.sample("nsq_x", &[("topic", "a\\b\"c\nd"), ("channel", "ch")], 3.0);
        assert_eq!(
            e.into_string(),
            "# HELP nsq_x a \\\\ b\\nc \"q\"\n# TYPE nsq_x gauge\n\
             nsq_x{topic=\"a\\\\b\\\"c\\nd\",channel=\"ch\"} 3\n"
        );
    }

    #[test]
    fn writes_values_as_the_format_does() {
        let mut s = String::new();
        for v in [
            0.0,
            42.0,
            0.25,
            -1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            push_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "0 42 0.25 -1.5 NaN +Inf -Inf ");
        let mut s = String::new();
        push_value(&mut s, 1e300);
        assert!(s.parse::<f64>().is_ok_and(|v| v == 1e300), "{s}");
    }

    struct Item {
        depth: u64,
        total: u64,
    }

    #[test]
    fn a_table_groups_samples_by_family() {
        const TABLE: &[Family<Item>] = &[
            Family {
                name: "nsq_d",
                kind: Kind::Gauge,
                help: "depth",
                value: |i| i.depth as f64,
            },
            Family {
                name: "nsq_t_total",
                kind: Kind::Counter,
                help: "total",
                value: |i| i.total as f64,
            },
        ];
        let (a, b) = (
            Item {
                depth: 1,
                total: 10,
            },
            Item {
                depth: 2,
                total: 20,
            },
        );
        let items = [(&a, ["a"]), (&b, ["b"])];
        let mut e = Exposition::new();
        e.table(TABLE, &items, ["topic"]);
        e.table(TABLE, &[] as &[(&Item, [&str; 1])], ["topic"]);
        assert_eq!(
            e.into_string(),
            "# HELP nsq_d depth\n# TYPE nsq_d gauge\nnsq_d{topic=\"a\"} 1\nnsq_d{topic=\"b\"} 2\n\
             # HELP nsq_t_total total\n# TYPE nsq_t_total counter\n\
             nsq_t_total{topic=\"a\"} 10\nnsq_t_total{topic=\"b\"} 20\n"
        );
    }

    #[test]
    fn process_metrics_come_from_proc() {
        let mut e = Exposition::new();
        e.process();
        let text = e.into_string();
        for name in [
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
