//! The subcommands: typed options from the CLI, validation (bad input fails before any
//! measuring), the measurement, and the outputs.

use crate::cli::{Cli, Command, Common, MemoryArgs, RedisArgs, StorageArgs};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::memory::{self, SweepConfig, NODE_BYTES};
use crate::progress::Phase;
use crate::record::{utc_now, Run, SCHEMA_VERSION};
use crate::report;
use crate::suite::{self, storage::StorageConfig, Rung};
use crate::units::format_size;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let common = &cli.common;
    match &cli.command {
        Command::Host => host(common),
        Command::Memory(args) => measure(common, args, "memory"),
        Command::Storage(args) => storage(common, args),
        Command::Redis(args) => redis(common, args),
        Command::Run(args) => measure(common, args, "run"),
        Command::Report { run_dir } => redraw(common, run_dir),
    }
}

fn stdout_line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Error::Internal(format!("cannot write to stdout: {e}")))
}

fn host(common: &Common) -> Result<()> {
    let h = Host::probe();
    if common.json {
        let json = serde_json::to_string_pretty(&h)
            .map_err(|e| Error::Internal(format!("cannot serialise the host: {e}")))?;
        return stdout_line(&json);
    }
    stdout_line(&host_text(&h))
}

/// The human description of a host, as `ladder host` prints it.
pub fn host_text(h: &Host) -> String {
    use crate::counters::Availability;
    let mut s = String::new();
    let unknown = || "unknown".to_string();
    s += &format!("host        {}\n", h.hostname);
    s += &format!(
        "cpu         {}\n",
        h.cpu_model.clone().unwrap_or_else(unknown)
    );
    s += &format!(
        "cpus        {} ({})\n",
        h.cpus.len(),
        h.cpus
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    s += &format!(
        "clock       {}\n",
        h.clock_ghz
            .map(|g| format!("{g:.3} GHz (calibrated with dependent adds)"))
            .unwrap_or_else(|| "unknown (no calibration kernel for this architecture)".into())
    );
    s += &format!(
        "hypervisor  {}\n",
        match (&h.hypervisor, h.virtualized) {
            (Some(v), _) => format!("yes ({v})"),
            (None, true) => "yes (vendor not visible)".into(),
            (None, false) => "no".into(),
        }
    );
    s += &format!("page size   {}\n", format_size(h.page_size));
    s += &format!(
        "THP         {}\n",
        h.thp.clone().unwrap_or_else(|| "unavailable".into())
    );
    s += &format!(
        "memory      {} available\n",
        h.mem_available_bytes
            .map(format_size)
            .unwrap_or_else(unknown)
    );
    s += &format!(
        "pinning     {}\n",
        if h.pinning { "works" } else { "refused" }
    );
    s += "caches (sysfs):\n";
    if h.caches.is_empty() {
        s += "  none reported\n";
    }
    for c in &h.caches {
        s += &format!(
            "  {:<4} {:<12} {:>9}  line {} B  shared by CPUs {}\n",
            c.name(),
            c.kind,
            format_size(c.size_bytes),
            c.line_bytes,
            c.shared_cpus
        );
    }
    s += "perf counters:\n";
    for p in &h.counters {
        let kind = format!("{:?}", p.kind).to_lowercase();
        let state = match &p.availability {
            Availability::Available => "available".to_string(),
            Availability::Unsupported(why) => format!("unsupported: {why}"),
            Availability::NotPermitted(why) => format!("not permitted: {why}"),
        };
        s += &format!("  {:<22} {:<8} {state}\n", p.name, kind);
    }
    s.trim_end().to_string()
}

/// Builds and checks the sweep configuration; every error here is the user's.
pub fn sweep_config(args: &MemoryArgs, quick: bool, host: &Host) -> Result<SweepConfig> {
    let available = host.mem_available_bytes;
    let default_max = {
        let llc8 = host.last_level_cache_bytes().unwrap_or(0) * 8;
        let full = llc8.max(512 << 20);
        let capped = available.map_or(full, |a| full.min(a / 2));
        if quick {
            capped.min(64 << 20)
        } else {
            capped
        }
    };
    let max = args.max.unwrap_or(default_max);
    if args.min < NODE_BYTES as u64 {
        return Err(Error::Input(format!(
            "--min {} is smaller than one {NODE_BYTES}-byte node",
            args.min
        )));
    }
    if args.min > max {
        return Err(Error::Input(format!(
            "--min {} is larger than --max {}",
            format_size(args.min),
            format_size(max)
        )));
    }
    if let Some(a) = available {
        if max > a {
            return Err(Error::Input(format!(
                "--max {} is more than the {} of memory available",
                format_size(max),
                format_size(a)
            )));
        }
    }
    let per_octave = args.per_octave.unwrap_or(if quick { 2 } else { 4 });
    if per_octave == 0 {
        return Err(Error::Input("--per-octave must be at least 1".into()));
    }
    let policy = if quick {
        crate::measure::TrialPolicy::QUICK
    } else {
        crate::measure::TrialPolicy::DEFAULT
    };
    let trials = args.trials.unwrap_or(policy.trials);
    if trials == 0 {
        return Err(Error::Input("--trials must be at least 1".into()));
    }
    let cpu = match args.cpu {
        Some(c) => c,
        None => *host
            .cpus
            .last()
            .ok_or_else(|| Error::Unusable("no CPU is available to pin to".into()))?,
    };
    if !host.cpus.contains(&cpu) {
        return Err(Error::Input(format!(
            "--cpu {cpu} does not exist here (CPUs: {})",
            host.cpus
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(SweepConfig {
        min_bytes: args.min,
        max_bytes: max,
        per_octave,
        pages: args.pages.kinds(),
        order: args.order,
        cpu,
        trials,
        min_trial_ms: policy.min_trial.as_secs_f64() * 1e3,
        seed: args.seed,
        node_bytes: NODE_BYTES as u64,
        window_bytes: memory::chain::WINDOW_BYTES as u64,
    })
}

/// Work units for the progress bar: a point costs its trials plus a share for building
/// and warming a large buffer.
fn point_units(size: u64) -> u64 {
    4 + size / (8 << 20)
}

/// The start of a recorded run: when, and on what host.
struct Recorder {
    started: Instant,
    stamp: String,
    date: String,
    host: Host,
}

impl Recorder {
    fn start() -> Recorder {
        let started = Instant::now();
        let (stamp, date) = utc_now();
        Recorder {
            started,
            stamp,
            date,
            host: Host::probe(),
        }
    }

    /// Builds the record, writes the run folder and prints the summary.
    fn finish(
        self,
        common: &Common,
        command: &str,
        memory: Option<memory::MemorySection>,
        rungs: Vec<Rung>,
    ) -> Result<()> {
        let run = Run {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            started_at: self.stamp,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            host: self.host,
            memory,
            rungs,
            skipped: Vec::new(),
        };
        let dir = report::write_run_dir(&run, &common.out, &self.date)?;
        finish(common, &run, &dir)
    }
}

fn measure(common: &Common, args: &MemoryArgs, command: &str) -> Result<()> {
    let rec = Recorder::start();
    let cfg = sweep_config(args, common.quick, &rec.host)?;
    report::check_writable(&common.out)?;

    let sizes = memory::grid(cfg.min_bytes, cfg.max_bytes, cfg.per_octave);
    let total: u64 = sizes.iter().map(|&s| point_units(s)).sum::<u64>() * cfg.pages.len() as u64;
    let phase = Phase::new("memory", total, common.quiet);
    let section = memory::sweep(&cfg, &rec.host, |p| {
        phase.advance(
            point_units(p.size_bytes),
            format!("{} {}", format_size(p.size_bytes), p.pages_requested),
        )
    })?;
    drop(phase);
    rec.finish(common, command, Some(section), Vec::new())
}

fn storage(common: &Common, args: &StorageArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let cfg = StorageConfig {
        dir: args.path.clone().unwrap_or_else(|| common.out.clone()),
        file_size: args
            .file_size
            .unwrap_or(if common.quick { 64 << 20 } else { 1 << 30 }),
        samples: args
            .samples
            .unwrap_or(if common.quick { 500 } else { 5000 }),
        allow_ram: args.allow_ram,
        seed: 0x55d,
    };
    let phase = Phase::fractional("storage", common.quiet);
    let rungs = suite::storage::measure(&cfg, |f| phase.set_fraction(f))?;
    drop(phase);
    rec.finish(common, "storage", None, rungs)
}

/// REDIS_URL when set and not empty.
fn env_url(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn redis(common: &Common, args: &RedisArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let target = suite::redis::Target::pick(args.url.clone().or_else(|| env_url("REDIS_URL")))?;
    let cfg = if common.quick {
        suite::redis::RedisConfig::QUICK
    } else {
        suite::redis::RedisConfig::DEFAULT
    };
    let phase = Phase::fractional("redis", common.quiet);
    let rungs = suite::redis::measure(&target, cfg, |f| phase.set_fraction(f))?;
    drop(phase);
    drop(target);
    rec.finish(common, "redis", None, rungs)
}

/// Prints the summary (stderr with --json, where stdout holds the record) and the JSON.
fn finish(common: &Common, run: &Run, dir: &Path) -> Result<()> {
    let summary = format!("{}results: {}", report::terminal(run), dir.display());
    if common.json {
        if !common.quiet {
            eprintln!("{summary}");
        }
        let json = serde_json::to_string_pretty(run)
            .map_err(|e| Error::Internal(format!("cannot serialise the run: {e}")))?;
        stdout_line(&json)
    } else {
        stdout_line(&summary)
    }
}

fn redraw(common: &Common, run_dir: &Path) -> Result<()> {
    if !run_dir.is_dir() {
        return Err(Error::Input(format!(
            "{} is not a run folder",
            run_dir.display()
        )));
    }
    let run = Run::load(&run_dir.join("run.json"))?;
    report::rewrite_run_dir(&run, run_dir)?;
    finish(common, &run, run_dir)
}
