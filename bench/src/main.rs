//! `bench`: NSQ's benchmark method as one Rust binary.
//!
//! - `bench run --nsqd BIN [--config mem1m,disk]`: run configurations against one nsqd.
//! - `bench compare --ours A --theirs B --rounds 3 --out bench/RESULTS.md`: both binaries,
//!   alternating, medians and ratios as Markdown plus an SVG chart.
//! - `bench smoke --nsqd A [--nsqd B]`: every configuration, tiny, to keep the harness alive;
//!   fails only if the harness breaks (a run errors or loses messages).
//! - `bench metrics --nsqd A --channels 10000`: the time and size of a `/metrics` scrape,
//!   and PUB/SUB throughput with and without a scraper running.

mod daemon;
mod load;
mod metrics;
mod nsq;
mod report;
mod run;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use report::{Comparison, Machine, Side};
use run::{Load, RunResult};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Load generator and side-by-side benchmark for nsqd"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run configurations against one nsqd binary and print the figures.
    Run {
        #[arg(long)]
        nsqd: PathBuf,
        /// `all` or comma-separated names (see `bench configs`).
        #[arg(long, default_value = "all")]
        config: Vec<String>,
        /// Also print one JSON object per run.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Run both binaries alternately for several rounds and write a Markdown report.
    Compare {
        #[arg(long)]
        ours: PathBuf,
        #[arg(long)]
        theirs: PathBuf,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value = "all")]
        config: Vec<String>,
        /// Markdown report; the SVG chart goes beside it (`<stem>.svg`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Label of the other binary (default: "Go" if it says it was built with Go).
        #[arg(long)]
        theirs_label: Option<String>,
        /// A line shown at the top of the report.
        #[arg(long)]
        note: Option<String>,
        /// The command shown in the report (default: this process's command line).
        #[arg(long)]
        command: Option<String>,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Every configuration with a tiny load against each binary; checks counts, not times.
    Smoke {
        /// Repeatable: each binary gets every configuration.
        #[arg(long, required = true)]
        nsqd: Vec<PathBuf>,
    },
    /// `/metrics` with many channels: scrape time and size, PUB/SUB with and without scrapes.
    Metrics {
        #[arg(long)]
        nsqd: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        channels: usize,
        /// Single scrapes timed.
        #[arg(long, default_value_t = 10)]
        scrapes: usize,
        /// Rounds of (no scraper, scraper) PUB/SUB phases, alternating which goes first.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        #[arg(long, default_value = "4s", value_parser = parse_duration)]
        duration: Duration,
        #[arg(long, default_value = "250ms", value_parser = parse_duration)]
        scrape_every: Duration,
        #[arg(long, default_value_t = 2)]
        writers: usize,
        #[arg(long, default_value_t = 200)]
        batch_size: usize,
        #[arg(long, default_value_t = 200)]
        size: usize,
    },
    /// List the configurations.
    Configs,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Length of each publish phase (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// Messages per MPUB (TCP) or per /mpub request (HTTP).
    #[arg(long, default_value_t = 200)]
    batch_size: usize,
    /// Writer connections (default: number of CPUs, like NSQ's bench_writer).
    #[arg(long)]
    writers: Option<usize>,
    /// Reader connections (default: as many as writers).
    #[arg(long)]
    readers: Option<usize>,
    #[arg(long, default_value_t = 2500)]
    rdy: u64,
    /// Keep-alive connections of the HTTP publish loads.
    #[arg(long, default_value_t = 4)]
    http_conns: usize,
    /// PUBs per second of the latency probe.
    #[arg(long, default_value_t = 10_000)]
    latency_rate: u64,
    /// Length of the latency probe (default: the duration, at most 5s).
    #[arg(long, value_parser = parse_duration)]
    latency_duration: Option<Duration>,
    /// Fail a drain when no message arrived for this long.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    stall_timeout: Duration,
    #[arg(long, default_value = "sub_bench")]
    topic: String,
    #[arg(long, default_value = "ch")]
    channel: String,
    /// Command prefix for nsqd, split on spaces (e.g. "valgrind --tool=callgrind").
    #[arg(long)]
    wrap: Option<String>,
}

impl LoadArgs {
    fn load(&self) -> Load {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let writers = self.writers.unwrap_or(cpus).max(1);
        Load {
            duration: self.duration,
            size: self.size,
            batch: self.batch_size.max(1),
            writers,
            readers: self.readers.unwrap_or(writers).max(1),
            rdy: self.rdy,
            http_conns: self.http_conns.max(1),
            latency_rate: self.latency_rate.max(1),
            latency_duration: self
                .latency_duration
                .unwrap_or_else(|| self.duration.min(Duration::from_secs(5))),
            stall: self.stall_timeout,
            topic: self.topic.clone(),
            channel: self.channel.clone(),
            wrap: self
                .wrap
                .as_deref()
                .map(|w| w.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
        }
    }
}

/// `10s`, `500ms`, `1.5s`, `2m`, or bare seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .enable_all()
        .build()?)
}

fn must_exist(bin: &Path) -> Result<()> {
    if !bin.is_file() {
        bail!("{} is not a file", bin.display());
    }
    Ok(())
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("bench: error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Configs => {
            for c in run::CONFIGS {
                let flags = if c.flags.is_empty() {
                    "(defaults)".to_string()
                } else {
                    c.flags.join(" ")
                };
                println!("{:<10} {flags:<30} {}", c.name, c.about);
            }
            Ok(())
        }
        Cmd::Run {
            nsqd,
            config,
            json,
            load,
        } => {
            must_exist(&nsqd)?;
            let (rt, load, configs) = (runtime()?, load.load(), run::configs(&config)?);
            for cfg in configs {
                let r = run::run(&rt, &nsqd, cfg, &load)?;
                print!("{}", r.describe("nsqd"));
                if json {
                    println!("{}", r.to_json(&nsqd.display().to_string()));
                }
            }
            Ok(())
        }
        Cmd::Compare {
            ours,
            theirs,
            rounds,
            config,
            out,
            theirs_label,
            note,
            command,
            load,
        } => {
            must_exist(&ours)?;
            must_exist(&theirs)?;
            let theirs_side = Side::new("theirs", &theirs);
            let label = theirs_label.unwrap_or_else(|| {
                if theirs_side.version.contains("go") {
                    "Go".into()
                } else {
                    "theirs".into()
                }
            });
            let sides = [
                Side::new("ours", &ours),
                Side {
                    label,
                    ..theirs_side
                },
            ];
            let command = command.unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" "));
            let c = compare(
                sides,
                &run::configs(&config)?,
                rounds.max(1),
                load.load(),
                command,
                note,
            )?;
            println!("\n{}", c.markdown(None));
            if let Some(out) = out {
                write_report(&c, &out)?;
            }
            Ok(())
        }
        Cmd::Smoke { nsqd } => smoke(&nsqd),
        Cmd::Metrics {
            nsqd,
            channels,
            scrapes,
            rounds,
            duration,
            scrape_every,
            writers,
            batch_size,
            size,
        } => {
            must_exist(&nsqd)?;
            let o = metrics::Options {
                channels,
                scrapes,
                rounds,
                duration,
                scrape_every,
                writers: writers.max(1),
                batch: batch_size.max(1),
                size,
            };
            metrics::run(&runtime()?, &nsqd, &o)
        }
    }
}

/// Runs every (round, config, side), alternating which side goes first each round.
fn compare(
    sides: [Side; 2],
    configs: &[&'static run::Config],
    rounds: usize,
    load: Load,
    command: String,
    note: Option<String>,
) -> Result<Comparison> {
    let rt = runtime()?;
    let started_utc = report::utc_now();
    let load_before = report::loadavg();
    let mut runs: Vec<(usize, usize, RunResult)> = Vec::new();
    for round in 0..rounds {
        for cfg in configs {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                eprintln!(
                    "round {}/{rounds}: {} against {}",
                    round + 1,
                    cfg.name,
                    sides[side].label
                );
                let r = run::run(&rt, &sides[side].bin, cfg, &load)?;
                eprint!("{}", r.describe(&sides[side].label));
                runs.push((round, side, r));
            }
        }
    }
    Ok(Comparison {
        sides,
        configs: configs.to_vec(),
        rounds,
        load,
        runs,
        machine: Machine::probe(),
        started_utc,
        load_before,
        load_after: report::loadavg(),
        command,
        note,
        tree: report::git_tree(),
    })
}

/// The Markdown report at `out` and the chart beside it as `<stem>.svg`.
fn write_report(c: &Comparison, out: &Path) -> Result<()> {
    let stem = out
        .file_stem()
        .map_or("results".into(), |s| s.to_string_lossy().to_lowercase());
    let svg_name = format!("{stem}.svg");
    let svg_path = out.with_file_name(&svg_name);
    std::fs::write(&svg_path, c.svg()).with_context(|| format!("write {}", svg_path.display()))?;
    std::fs::write(out, c.markdown(Some(&svg_name)))
        .with_context(|| format!("write {}", out.display()))?;
    eprintln!("wrote {} and {}", out.display(), svg_path.display());
    Ok(())
}

/// Tiny loads, every configuration, each binary; then the report renderers.
fn smoke(bins: &[PathBuf]) -> Result<()> {
    for b in bins {
        must_exist(b)?;
    }
    let args = LoadArgs {
        duration: Duration::from_millis(150),
        size: 200,
        batch_size: 200,
        writers: Some(2),
        readers: Some(2),
        rdy: 2500,
        http_conns: 2,
        latency_rate: 2000,
        latency_duration: Some(Duration::from_millis(300)),
        stall_timeout: Duration::from_secs(15),
        topic: "sub_bench".into(),
        channel: "ch".into(),
        wrap: None,
    };
    let (ours, theirs) = (&bins[0], bins.get(1).unwrap_or(&bins[0]));
    let sides = [Side::new("ours", ours), Side::new("theirs", theirs)];
    let configs: Vec<_> = run::CONFIGS.iter().collect();
    let c = compare(
        sides,
        &configs,
        1,
        args.load(),
        "bench smoke".into(),
        Some("smoke run: tiny loads, figures meaningless".into()),
    )?;
    let dir = std::env::temp_dir().join(format!("nsq-bench-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let md = dir.join("RESULTS.md");
    write_report(&c, &md)?;
    let text = std::fs::read_to_string(&md)?;
    let svg = std::fs::read_to_string(dir.join("results.svg"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !text.contains("| mem1m | PUB msg/s |") || !svg.contains("</svg>") {
        bail!("report rendering is broken");
    }
    println!("bench smoke: {} passed, 0 failed", c.runs.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
