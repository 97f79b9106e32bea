//! The subcommands: typed options from the CLI, validation (bad input fails before any
//! measuring), the measurement, and the outputs.

use crate::cli::{Cli, Command, Common, DbArgs, MemoryArgs};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::memory::{self, SweepConfig, NODE_BYTES};
use crate::progress::Phase;
use crate::record::{utc_now, Run, SCHEMA_VERSION};
use crate::report;
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
        Command::Run(args) => measure(common, args, "run"),
        Command::Db(args) => db(common, args),
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

fn measure(common: &Common, args: &MemoryArgs, command: &str) -> Result<()> {
    let started = Instant::now();
    let (stamp, date) = utc_now();
    let host = Host::probe();
    let cfg = sweep_config(args, common.quick, &host)?;
    report::check_writable(&common.out)?;

    let sizes = memory::grid(cfg.min_bytes, cfg.max_bytes, cfg.per_octave);
    let total: u64 = sizes.iter().map(|&s| point_units(s)).sum::<u64>() * cfg.pages.len() as u64;
    let phase = Phase::new("memory", total, common.quiet);
    let section = memory::sweep(&cfg, &host, |p| {
        phase.advance(
            point_units(p.size_bytes),
            format!("{} {}", format_size(p.size_bytes), p.pages_requested),
        )
    })?;
    drop(phase);

    let run = Run {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command.to_string(),
        started_at: stamp,
        wall_seconds: started.elapsed().as_secs_f64(),
        host,
        memory: Some(section),
        rungs: Vec::new(),
        skipped: Vec::new(),
    };
    let dir = report::write_run_dir(&run, &common.out, &date)?;
    finish(common, &run, &dir)
}

/// The smallest data set: the range query needs a few hundred orders to find ~100.
const MIN_DB_ROWS: u64 = 1_000;

fn db(common: &Common, args: &DbArgs) -> Result<()> {
    use crate::services::postgres::ManagedPostgres;
    use crate::suite::{db, Skipped};
    let started = Instant::now();
    let (stamp, date) = utc_now();
    let rows = args
        .rows
        .unwrap_or(if common.quick { 20_000 } else { 1_000_000 });
    if rows < MIN_DB_ROWS {
        return Err(Error::Input(format!(
            "--rows {rows} is too small; at least {MIN_DB_ROWS}"
        )));
    }
    if let Some(p) = &args.sqlite {
        db::check_sqlite_path(p)?;
    }
    report::check_writable(&common.out)?;
    let url = args
        .postgres_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()));
    let asked = match &url {
        Some(u) => {
            let target = db::PgTarget::from_url(u)?;
            target.probe()?;
            Some(target)
        }
        None => None,
    };

    let data = db::DataSet::new(rows, args.seed);
    let plan = db::Plan::new(common.quick);
    let host = Host::probe();
    let phase = Phase::new("db", 9, common.quiet);
    let mut step = |what: &str| phase.advance(1, what.to_string());
    let mut rungs =
        db::measure_sqlite(&data, &plan, args.sqlite.as_deref(), &common.out, &mut step)?;
    let mut skipped = Vec::new();
    match asked {
        Some(target) => rungs.extend(db::measure_postgres(&data, &plan, &target, &mut step)?),
        None => match ManagedPostgres::bin_dir() {
            Ok(_) => {
                let server = ManagedPostgres::start()?;
                let target = db::PgTarget::managed(&server)?;
                rungs.extend(db::measure_postgres(&data, &plan, &target, &mut step)?);
            }
            Err(e) => {
                eprintln!("ladder: postgres skipped: {e}");
                skipped.push(Skipped {
                    rung: "postgres".into(),
                    reason: e.to_string(),
                });
            }
        },
    }
    drop(phase);

    let run = Run {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: "db".to_string(),
        started_at: stamp,
        wall_seconds: started.elapsed().as_secs_f64(),
        host,
        memory: None,
        rungs,
        skipped,
    };
    let dir = report::write_run_dir(&run, &common.out, &date)?;
    finish(common, &run, &dir)
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
