//! Side-by-side results: medians per configuration and metric, the ratio ours/theirs, the
//! machine, a Markdown report and a hand-written SVG bar chart of msg/s.

use crate::run::{Config, Load, RunResult};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One of the two binaries compared.
#[derive(Debug, Clone)]
pub struct Side {
    pub label: String,
    pub bin: PathBuf,
    pub version: String,
}

impl Side {
    pub fn new(label: &str, bin: &Path) -> Side {
        let version = Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_default();
        Side {
            label: label.to_string(),
            bin: bin.to_path_buf(),
            version,
        }
    }
}

/// The machine, from /proc.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub mem_total_mib: u64,
    pub kernel: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let mem_total_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0)
            / 1024;
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpu_model,
            cores,
            mem_total_mib,
            kernel,
        }
    }
}

/// `/proc/loadavg`'s first three fields.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Everything a report needs.
pub struct Comparison {
    pub sides: [Side; 2],
    pub configs: Vec<&'static Config>,
    pub rounds: usize,
    pub load: Load,
    /// (round, side index, result).
    pub runs: Vec<(usize, usize, RunResult)>,
    pub machine: Machine,
    pub started_utc: String,
    pub load_before: String,
    pub load_after: String,
    pub command: String,
    pub note: Option<String>,
    /// The commit the harness was built from, and whether the tree had local changes.
    pub tree: String,
}

/// `<short sha>` of the repository holding this crate, `+ uncommitted changes` if dirty.
pub fn git_tree() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(sha) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(st) if !st.is_empty() => format!("{sha} + uncommitted changes"),
            _ => sha,
        },
        None => "unknown".into(),
    }
}

/// A metric's medians for both sides.
pub struct Row {
    pub config: &'static str,
    pub metric: &'static str,
    pub lower_is_better: bool,
    pub chart: bool,
    pub medians: [Option<f64>; 2],
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        match self.medians {
            [Some(a), Some(b)] if b != 0.0 => Some(a / b),
            _ => None,
        }
    }
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

impl Comparison {
    /// Medians per (config, metric), in configuration then metric order.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for cfg in &self.configs {
            let template = self
                .runs
                .iter()
                .find(|(_, _, r)| r.config == cfg.name)
                .map(|(_, _, r)| r.metrics())
                .unwrap_or_default();
            for m in template {
                let medians = [0, 1].map(|side| {
                    let mut v: Vec<f64> = self
                        .runs
                        .iter()
                        .filter(|(_, s, r)| *s == side && r.config == cfg.name)
                        .filter_map(|(_, _, r)| {
                            r.metrics()
                                .into_iter()
                                .find(|x| x.name == m.name)
                                .map(|x| x.value)
                        })
                        .collect();
                    median(&mut v)
                });
                rows.push(Row {
                    config: cfg.name,
                    metric: m.name,
                    lower_is_better: m.lower_is_better,
                    chart: m.chart,
                    medians,
                });
            }
        }
        rows
    }

    pub fn markdown(&self, svg_file: Option<&str>) -> String {
        let [ours, theirs] = &self.sides;
        let mut s = String::new();
        let _ = writeln!(s, "# nsqd benchmark results\n");
        if let Some(note) = &self.note {
            let _ = writeln!(s, "> **{note}**\n");
        }
        let _ = writeln!(
            s,
            "Generated by `bench compare` ({} round{}, alternating which binary goes first; \
             medians). Every run starts a fresh nsqd on 127.0.0.1 port 0 with an empty temporary \
             data directory and stops it after.\n",
            self.rounds,
            if self.rounds == 1 { "" } else { "s" }
        );
        let m = &self.machine;
        let _ = writeln!(
            s,
            "- **Date (UTC):** {}\n- **Machine:** {} × {}, {} MiB RAM, Linux {}\n\
             - **Load average** before / after: {} / {}\n- **Command:** `{}`\n- **Tree:** {}",
            self.started_utc,
            m.cores,
            m.cpu_model,
            m.mem_total_mib,
            m.kernel,
            self.load_before,
            self.load_after,
            self.command,
            self.tree
        );
        for side in &self.sides {
            let _ = writeln!(
                s,
                "- **{}:** `{}` ({})",
                side.label,
                side.bin.display(),
                if side.version.is_empty() {
                    "version unknown"
                } else {
                    &side.version
                }
            );
        }
        let l = &self.load;
        let _ = writeln!(
            s,
            "- **Load:** {:?} per publish phase, {} B messages, MPUB batches of {}, {} writer / {} \
             reader connections, RDY {}, {} HTTP connections, latency probe {} msg/s for {:?}\n",
            l.duration,
            l.size,
            l.batch,
            l.writers,
            l.readers,
            l.rdy,
            l.http_conns,
            l.latency_rate,
            l.latency_duration
        );
        let _ = writeln!(
            s,
            "## Medians\n\n`ours/theirs` > 1 is better for rates, < 1 for RSS, CPU and latency \
             (marked ↓). \"nsqd CPU µs/msg\" is nsqd's user+system CPU time per message \
             (`/proc/<pid>/stat`, 10 ms ticks), steadier than wall-clock rates on a shared \
             machine, where those move ±20 % between runs. Peak RSS is `VmHWM` at the end of \
             the run; the faster binary queues more messages in the same duration, so compare \
             `peak RSS B/msg in memory` (VmHWM / messages held in memory, at most \
             --mem-queue-size) for memory per queued message.\n"
        );
        let _ = writeln!(
            s,
            "| config | metric | {} | {} | ours/theirs |\n| --- | --- | ---: | ---: | ---: |",
            ours.label, theirs.label
        );
        for row in self.rows() {
            let [a, b] = row
                .medians
                .map(|v| v.map_or("–".into(), |v| fmt_value(row.metric, v)));
            let ratio = row.ratio().map_or("–".into(), |r| format!("{r:.2}"));
            let arrow = if row.lower_is_better { " ↓" } else { "" };
            let _ = writeln!(
                s,
                "| {} | {}{arrow} | {a} | {b} | {ratio} |",
                row.config, row.metric
            );
        }
        if let Some(svg) = svg_file {
            let _ = writeln!(s, "\n![msg/s per configuration, ours beside theirs]({svg})");
        }
        let _ = writeln!(
            s,
            "\nReading the latency rows: the probe's consumer IDENTIFYs with the defaults, so Go \
             nsqd holds deliveries in its 16 KiB output buffer until it fills or the 250 ms \
             `output_buffer_timeout` ticks; an nsqd that flushes whenever it goes idle shows far \
             lower latency at a moderate rate. Both are compatible behaviours."
        );
        let _ = writeln!(
            s,
            "\nWhere nsqd's time goes in each configuration, what limits the ones short of their \
             target, and experiments that did not win: `bench/PROFILE.md` (hand-written; this \
             file is regenerated by every `make bench`)."
        );
        let _ = writeln!(s, "\n## Configurations\n");
        for cfg in &self.configs {
            let flags = if cfg.flags.is_empty() {
                "(defaults)".to_string()
            } else {
                cfg.flags.join(" ")
            };
            let _ = writeln!(s, "- `{}` — `{flags}`: {}", cfg.name, cfg.about);
        }
        let _ = writeln!(s, "\n## Every run\n");
        for cfg in &self.configs {
            let runs: Vec<_> = self
                .runs
                .iter()
                .filter(|(_, _, r)| r.config == cfg.name)
                .collect();
            let Some((_, _, first)) = runs.first() else {
                continue;
            };
            let names: Vec<_> = first.metrics().iter().map(|m| m.name).collect();
            let _ = writeln!(
                s,
                "### {}\n\n| round | binary | {} |\n| --- | --- |{}",
                cfg.name,
                names.join(" | "),
                " ---: |".repeat(names.len())
            );
            for (round, side, r) in runs {
                let values: Vec<String> = r
                    .metrics()
                    .iter()
                    .map(|m| fmt_value(m.name, m.value))
                    .collect();
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    round + 1,
                    self.sides[*side].label,
                    values.join(" | ")
                );
            }
            let _ = writeln!(s);
        }
        s
    }

    /// Grouped horizontal bars: one group per charted (config, metric), ours above theirs.
    pub fn svg(&self) -> String {
        let rows: Vec<Row> = self.rows().into_iter().filter(|r| r.chart).collect();
        let max = rows
            .iter()
            .flat_map(|r| r.medians.iter().flatten())
            .fold(0.0f64, |a, &b| a.max(b))
            .max(1.0);
        let (label_w, bar_w, bar_h, gap, top) = (170.0, 560.0, 16.0, 14.0, 56.0);
        let width = label_w + bar_w + 120.0;
        let height = top + rows.len() as f64 * (2.0 * bar_h + gap) + 40.0;
        let colors = ["#d9534f", "#5b9bd5"];
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            s,
            r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="15" font-weight="bold">nsqd msg/s per configuration (medians of {} round{})</text>"#,
            self.rounds,
            if self.rounds == 1 { "" } else { "s" }
        );
        for (i, side) in self.sides.iter().enumerate() {
            let x = 10.0 + i as f64 * 220.0;
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="30" width="12" height="12" fill="{}"/><text x="{}" y="40">{}</text>"#,
                colors[i],
                x + 16.0,
                xml_escape(&side.label)
            );
        }
        for (i, row) in rows.iter().enumerate() {
            let y = top + i as f64 * (2.0 * bar_h + gap);
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{} {}</text>"#,
                label_w - 8.0,
                y + bar_h + 4.0,
                row.config,
                xml_escape(row.metric)
            );
            for (side, value) in row.medians.iter().enumerate() {
                let v = value.unwrap_or(0.0);
                let w = (v / max * bar_w).max(1.0);
                let by = y + side as f64 * bar_h;
                let _ = writeln!(
                    s,
                    r#"<rect x="{label_w}" y="{by}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                    bar_h - 2.0,
                    colors[side],
                    label_w + w + 4.0,
                    by + bar_h - 4.0,
                    value.map_or("–".into(), |v| group_thousands(v.round() as u64))
                );
            }
        }
        let _ = writeln!(s, "</svg>");
        s
    }
}

fn fmt_value(metric: &str, v: f64) -> String {
    if metric.contains("msg/s")
        || metric == "messages"
        || metric.contains("latency")
        || metric.contains("B/msg")
    {
        group_thousands(v.round() as u64)
    } else if metric.contains("µs/msg") {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

pub fn group_thousands(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `YYYY-MM-DD HH:MM` UTC from the system clock.
pub fn utc_now() -> String {
    let t = daemon::clock::Utc::now();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Phase;
    use crate::run::{Kind, CONFIGS};
    use std::time::Duration;

    fn result(config: &'static str, kind: Kind, rate: f64) -> RunResult {
        RunResult {
            config,
            kind,
            size: 200,
            mem_queue_size: 10_000,
            publish: Phase {
                msgs: (rate * 2.0) as u64,
                secs: 2.0,
            },
            drain: Phase {
                msgs: (rate * 2.0) as u64,
                secs: 4.0,
            },
            pub_cpu: 1.0,
            sub_cpu: 1.0,
            peak_rss_kib: 10_240,
            redelivered: 0,
            latency_us: (kind == Kind::Latency).then_some([100.0, 200.0, 300.0]),
        }
    }

    fn comparison() -> Comparison {
        let load = Load {
            duration: Duration::from_secs(1),
            size: 200,
            batch: 200,
            writers: 2,
            readers: 2,
            rdy: 2500,
            http_conns: 4,
            latency_rate: 1000,
            latency_duration: Duration::from_secs(1),
            stall: Duration::from_secs(5),
            topic: "t".into(),
            channel: "c".into(),
            wrap: vec![],
        };
        let side = |l: &str| Side {
            label: l.into(),
            bin: PathBuf::from("/x"),
            version: String::new(),
        };
        let mut runs = Vec::new();
        for round in 0..3 {
            for (i, c) in CONFIGS.iter().enumerate() {
                let base = 1000.0 * (i + 1) as f64;
                runs.push((
                    round,
                    0,
                    result(c.name, c.kind, base * (2.0 + round as f64)),
                ));
                runs.push((round, 1, result(c.name, c.kind, base)));
            }
        }
        Comparison {
            sides: [side("ours"), side("Go <v1.3.0>")],
            configs: CONFIGS.iter().collect(),
            rounds: 3,
            load,
            runs,
            machine: Machine::probe(),
            started_utc: utc_now(),
            load_before: loadavg(),
            load_after: loadavg(),
            command: "make bench".into(),
            note: Some("test".into()),
            tree: git_tree(),
        }
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        let c = comparison();
        let row = c
            .rows()
            .into_iter()
            .find(|r| r.config == "mem1m" && r.metric == "PUB msg/s")
            .expect("row");
        // ours: 2000, 3000, 4000 → 3000; theirs 1000.
        assert_eq!(row.medians, [Some(3000.0), Some(1000.0)]);
        assert_eq!(row.ratio(), Some(3.0));
    }

    #[test]
    fn renders_markdown_and_svg() {
        let c = comparison();
        let md = c.markdown(Some("results.svg"));
        assert!(
            md.contains("| mem1m | PUB msg/s | 3,000 | 1,000 | 3.00 |"),
            "{md}"
        );
        assert!(md.contains("latency p99 µs ↓"));
        assert!(md.contains("![msg/s"));
        let svg = c.svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Go &lt;v1.3.0&gt;"));
        // 3 TCP configs × (PUB, SUB) + 2 HTTP PUB rows, two bars each.
        assert_eq!(svg.matches("<rect x=\"170\"").count(), 16);
    }

    #[test]
    fn formats() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(utc_now().len(), 16);
    }
}
