//! The subcommands: typed options from the CLI, validation (bad input fails before any
//! measuring), the measurement, and the outputs.

use crate::cli::{
    CleanArgs, Cli, Command, Common, DbArgs, MemoryArgs, RedisArgs, RunArgs, RungName, StorageArgs,
    StrideArgs,
};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::memory::patterns::PatternConfig;
use crate::memory::{self, SweepConfig};
use crate::progress::Phase;
use crate::record::{utc_now, Run, SCHEMA_VERSION};
use crate::report;
use crate::suite::placement::{measure_placed, CpuPlan};
use crate::suite::{self, storage::StorageConfig, Rung, Skipped};
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
        Command::Stride(args) => stride(common, args),
        Command::Storage(args) => storage(common, args),
        Command::Redis(args) => redis(common, args),
        Command::Run(args) => run_all(common, args),
        Command::Db(args) => db(common, args),
        Command::Report { run_dir } => redraw(common, run_dir),
        Command::Compare { run_dirs } => compare(common, run_dirs),
        Command::Clean(args) => clean(common, args),
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
        "huge page   {}\n",
        h.huge_page_bytes.map(format_size).unwrap_or_else(unknown)
    );
    s += &format!(
        "THP         {}\n",
        h.thp
            .clone()
            .or_else(|| h.huge_pages_note.clone())
            .unwrap_or_else(|| "unavailable".into())
    );
    s += &format!(
        "cache line  {}\n",
        h.line_bytes
            .map(|b| format!("{b} B"))
            .unwrap_or_else(|| format!("unknown (chain nodes assumed {} B)", memory::NODE_BYTES))
    );
    if let Some(hz) = h.counter_hz {
        s += &format!("timer       {:.3} MHz (CNTFRQ_EL0)\n", hz as f64 / 1e6);
    }
    s += &format!(
        "memory      {} available\n",
        h.mem_available_bytes
            .map(format_size)
            .unwrap_or_else(unknown)
    );
    s += &format!(
        "pinning     {}\n",
        match (&h.pinning_note, h.pinning) {
            (Some(note), _) => note.as_str(),
            (None, true) => "works",
            (None, false) => "refused",
        }
    );
    for k in &h.core_kinds {
        let cpus = match k.cpus.is_empty() {
            true => String::new(),
            false => format!(
                " ({})",
                k.cpus
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        s += &format!(
            "core kind   {} x{}{cpus}  from {}\n",
            k.kind, k.count, k.source
        );
    }
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
    let max = args.max.unwrap_or_else(|| {
        memory::default_max_bytes(host.last_level_cache_bytes(), available, quick)
    });
    let (node_bytes, node_bytes_assumed) = memory::node_bytes(host);
    if args.min < node_bytes {
        return Err(Error::Input(format!(
            "--min {} is smaller than one {node_bytes}-byte node",
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
    let cpu = measuring_cpu(args.cpu, host)?;
    Ok(SweepConfig {
        min_bytes: args.min,
        max_bytes: max,
        rounds: args.rounds.unwrap_or(if quick { 2 } else { 3 }),
        per_octave,
        pages: args.pages.kinds(),
        order: args.order,
        cpu,
        trials,
        min_trial_ms: policy.min_trial.as_secs_f64() * 1e3,
        seed: args.seed,
        node_bytes,
        node_bytes_assumed,
        window_bytes: memory::chain::WINDOW_BYTES as u64,
        counters: args.counters.clone().map(|c| c.0).unwrap_or_else(|| {
            crate::counters::DEFAULT_EVENTS
                .iter()
                .map(|s| s.to_string())
                .collect()
        }),
    })
}

/// The CPU to measure on: the one asked for, checked, else the last this process may use.
fn measuring_cpu(asked: Option<usize>, host: &Host) -> Result<usize> {
    let cpu = match asked {
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
    Ok(cpu)
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
    host: Host,
}

impl Recorder {
    fn start() -> Recorder {
        let started = Instant::now();
        let (stamp, _) = utc_now();
        Recorder {
            started,
            stamp,
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
        let run = self.record(command, memory, rungs, Vec::new());
        write_and_print(common, &run)
    }

    /// The record of what was measured.
    fn record(
        self,
        command: &str,
        memory: Option<memory::MemorySection>,
        rungs: Vec<Rung>,
        skipped: Vec<Skipped>,
    ) -> Run {
        Run {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            started_at: self.stamp,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            host: self.host,
            memory,
            patterns: None,
            caching: Vec::new(),
            rungs,
            skipped,
            ladder: Vec::new(),
            comparisons: Vec::new(),
        }
    }
}

/// Writes the run folder (named for the run's start date) and prints the summary.
fn write_and_print(common: &Common, run: &Run) -> Result<()> {
    let date = run.started_at.get(..10).unwrap_or("undated");
    let dir = report::write_run_dir(run, &common.out, date)?;
    finish(common, run, &dir)
}

/// The memory sweep with its progress bar.
fn sweep_with_progress(
    cfg: &SweepConfig,
    host: &Host,
    quiet: bool,
) -> Result<memory::MemorySection> {
    let sizes = memory::grid(cfg.min_bytes, cfg.max_bytes, cfg.per_octave);
    let total: u64 = sizes.iter().map(|&s| point_units(s)).sum::<u64>()
        * cfg.pages.len() as u64
        * u64::from(cfg.rounds.max(1));
    let phase = Phase::new("memory", total, quiet);
    memory::sweep(cfg, host, |size, pages| {
        phase.advance(point_units(size), format!("{} {pages}", format_size(size)))
    })
}

fn measure(common: &Common, args: &MemoryArgs, command: &str) -> Result<()> {
    let rec = Recorder::start();
    let cfg = sweep_config(args, common.quick, &rec.host)?;
    report::check_writable(&common.out)?;
    let section = sweep_with_progress(&cfg, &rec.host, common.quiet)?;
    rec.finish(common, command, Some(section), Vec::new())
}

fn stride(common: &Common, args: &StrideArgs) -> Result<()> {
    let rec = Recorder::start();
    let host = &rec.host;
    let available = host.mem_available_bytes.unwrap_or(u64::MAX);
    let tlb_bytes = args
        .tlb_size
        .unwrap_or(if common.quick { 256 << 20 } else { 1 << 30 });
    if let Some(&too_big) = args
        .sizes
        .iter()
        .chain([&tlb_bytes])
        .find(|&&s| s > available / 2)
    {
        return Err(Error::Input(format!(
            "a working set of {} is more than half of the {} of memory available",
            format_size(too_big),
            format_size(available)
        )));
    }
    // A short sweep finds the levels the working sets are taken from.
    let cfg = SweepConfig::level_finding(host, measuring_cpu(args.cpu, host)?);
    let background_cpu = match args.background_cpu {
        Some(c) if !host.cpus.contains(&c) || c == cfg.cpu => {
            return Err(Error::Input(format!(
                "--background-cpu {c} must be an available CPU other than the measuring one"
            )))
        }
        Some(c) => Some(c),
        None => host.cpus.iter().copied().find(|&c| c != cfg.cpu),
    };
    report::check_writable(&common.out)?;
    let mem = sweep_with_progress(&cfg, host, common.quiet)?;
    let ram_bytes = memory::ram_set_bytes(&mem, host.mem_available_bytes, common.quick);
    let l1_bytes = mem
        .levels
        .iter()
        .find(|l| l.name == "L1d")
        .and_then(|l| l.size_bytes.or(l.sysfs_size_bytes))
        .unwrap_or(32 << 10);
    let pcfg = PatternConfig {
        sets: memory::level_working_sets(&mem, &args.sizes, ram_bytes),
        tlb_bytes,
        l1_bytes,
        cpu: cfg.cpu,
        background_cpu,
        policy: if common.quick {
            crate::measure::TrialPolicy::QUICK
        } else {
            crate::measure::TrialPolicy {
                trials: 5,
                min_trial: std::time::Duration::from_millis(10),
            }
        },
        clock_ghz: host.clock_ghz,
        seed: 0x5711de,
    };
    let sysfs_line = host.data_caches().first().map(|c| c.line_bytes);
    let phase = Phase::fractional("patterns", common.quiet);
    let pinned = crate::host::Pinned::to(cfg.cpu, &host.cpus)?;
    let patterns = memory::patterns::run(&pcfg, sysfs_line, |f| phase.set_fraction(f))?;
    drop((pinned, phase));
    let mut run = rec.record("stride", Some(mem), Vec::new(), Vec::new());
    run.patterns = Some(patterns);
    write_and_print(common, &run)
}

/// The storage configuration for a directory (default sizes per --quick).
fn storage_config(
    common: &Common,
    dir: Option<&Path>,
    args: Option<&StorageArgs>,
) -> StorageConfig {
    StorageConfig {
        dir: dir.map_or_else(|| common.out.clone(), Path::to_path_buf),
        file_size: args.and_then(|a| a.file_size).unwrap_or(if common.quick {
            64 << 20
        } else {
            1 << 30
        }),
        samples: args
            .and_then(|a| a.samples)
            .unwrap_or(if common.quick { 500 } else { 5000 }),
        allow_ram: args.is_some_and(|a| a.allow_ram),
        seed: 0x55d,
    }
}

fn storage_rungs(cfg: &StorageConfig, quiet: bool) -> Result<Vec<Rung>> {
    let phase = Phase::fractional("storage", quiet);
    suite::storage::measure(cfg, |f| phase.set_fraction(f))
}

fn storage(common: &Common, args: &StorageArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let cfg = storage_config(common, args.path.as_deref(), Some(args));
    let rungs = storage_rungs(&cfg, common.quiet)?;
    rec.finish(common, "storage", None, rungs)
}

/// REDIS_URL when set and not empty.
fn env_url(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Measures the Redis rung on `target`, with its progress bar.
fn redis_measure(target: &suite::redis::Target, common: &Common) -> Result<Vec<Rung>> {
    let cfg = if common.quick {
        suite::redis::RedisConfig::QUICK
    } else {
        suite::redis::RedisConfig::DEFAULT
    };
    let phase = Phase::fractional("redis", common.quiet);
    let cpus = crate::host::allowed_cpus();
    let plan = CpuPlan::of(&cpus)
        .ok_or_else(|| Error::Unusable("no CPU is available to pin to".into()))?;
    let placements = match target {
        suite::redis::Target::Managed(_) => plan.managed(),
        suite::redis::Target::Url(_) => plan.user_server(),
    };
    let n = placements.len() as f64;
    measure_placed(&placements, &cpus, |i| {
        suite::redis::measure(target, cfg, |f| phase.set_fraction((i as f64 + f) / n))
    })
}

fn redis(common: &Common, args: &RedisArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let url = args.url.clone().or_else(|| env_url("REDIS_URL"));
    if let Some(url) = &url {
        warn_eviction(url)?;
    }
    let target = suite::redis::Target::pick(url)?;
    let rungs = redis_measure(&target, common)?;
    drop(target);
    rec.finish(common, "redis", None, rungs)
}

/// Checks that the user's Redis answers, and warns on stderr where the run's keys could
/// evict the user's.
fn warn_eviction(url: &str) -> Result<()> {
    if let Some(warning) = suite::redis::eviction_warning(url)? {
        eprintln!("ladder: {warning}");
    }
    Ok(())
}

/// Adds a rung's outcome: its rows, or a skipped entry with the reason. Only Ctrl-C
/// stops the run; every other failure is one rung that could not run.
fn attempt(
    family: RungName,
    outcome: Result<Vec<Rung>>,
    rungs: &mut Vec<Rung>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    match outcome {
        // A rung that failed while a signal arrived failed because of it.
        _ if crate::signal::interrupted() => return Err(Error::Interrupted),
        Ok(rows) => rungs.extend(rows),
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => skipped.push(Skipped::all(family, e.to_string())),
    }
    Ok(())
}

fn run_all(common: &Common, args: &RunArgs) -> Result<()> {
    let rec = Recorder::start();
    let wants = |r: RungName| !args.skip.contains(&r);
    // Every piece of bad input fails here, before anything is measured.
    let sweep = wants(RungName::Memory)
        .then(|| sweep_config(&args.memory, common.quick, &rec.host))
        .transpose()?;
    if let Some(url) = &args.http_url {
        suite::http::parse_url(url)?;
    }
    let redis_url = args.redis_url.clone().or_else(|| env_url("REDIS_URL"));
    if let Some(url) = &redis_url {
        warn_eviction(url)?;
    }
    let rows = db_rows(common, None)?;
    let asked_pg = if wants(RungName::Db) {
        asked_postgres(args.postgres_url.as_ref())?
    } else {
        None
    };
    report::check_writable(&common.out)?;

    let mut rungs = Vec::new();
    let mut skipped = Vec::new();
    let skip = |family| Skipped::all(family, "skipped with --skip");
    let memory = match sweep {
        Some(cfg) => Some(sweep_with_progress(&cfg, &rec.host, common.quiet)?),
        None => {
            skipped.push(skip(RungName::Memory));
            None
        }
    };
    if wants(RungName::Ssd) {
        let cfg = storage_config(common, args.storage_path.as_deref(), None);
        attempt(
            RungName::Ssd,
            storage_rungs(&cfg, common.quiet),
            &mut rungs,
            &mut skipped,
        )?;
    } else {
        skipped.push(skip(RungName::Ssd));
    }
    // The Redis stays up for the caching patterns of the database phase.
    let mut redis_target = None;
    if wants(RungName::Redis) {
        let outcome = suite::redis::Target::pick(redis_url).and_then(|t| {
            let rows = redis_measure(&t, common)?;
            redis_target = Some(t);
            Ok(rows)
        });
        attempt(RungName::Redis, outcome, &mut rungs, &mut skipped)?;
    } else {
        skipped.push(skip(RungName::Redis));
    }
    let mut caching = Vec::new();
    if wants(RungName::Db) {
        let data = suite::db::DataSet::new(rows, crate::cli::DEFAULT_SEED);
        let mut probe = match &redis_target {
            Some(t) => Some(suite::db::CacheProbe::new(&t.first_url())?),
            None => None,
        };
        let outcome = db_rungs(common, &data, None, asked_pg, probe.as_mut(), &mut skipped);
        attempt(RungName::Db, outcome, &mut rungs, &mut skipped)?;
        caching = probe.map(|p| p.results).unwrap_or_default();
    } else {
        skipped.push(skip(RungName::Db));
    }
    drop(redis_target);
    match (&args.http_url, wants(RungName::Http)) {
        (Some(url), true) => {
            let phase = Phase::fractional("http", common.quiet);
            let samples = if common.quick { 5 } else { 50 };
            let outcome = suite::http::measure(url, samples, |f| phase.set_fraction(f));
            drop(phase);
            attempt(
                RungName::Http,
                outcome.map(|r| vec![r]),
                &mut rungs,
                &mut skipped,
            )?;
        }
        (None, true) => skipped.push(Skipped::all(RungName::Http, "pass --http-url")),
        (_, false) => skipped.push(skip(RungName::Http)),
    }
    let mut run = rec.record("run", memory, rungs, skipped);
    run.caching = caching;
    run.ladder = crate::ladder::rows(&run);
    run.comparisons = crate::ladder::comparisons(&run.ladder);
    write_and_print(common, &run)
}

/// The PostgreSQL the user asked for (--postgres-url, else DATABASE_URL), checked to
/// parse and answer before anything is measured.
fn asked_postgres(url: Option<&String>) -> Result<Option<suite::db::PgTarget>> {
    let url = url.cloned().or_else(|| env_url("DATABASE_URL"));
    url.map(|u| {
        let target = suite::db::PgTarget::from_url(&u)?;
        target.probe()?;
        Ok(target)
    })
    .transpose()
}

/// The database rungs: SQLite (kept at `keep` if given), then PostgreSQL on `asked` or
/// a managed server. A missing PostgreSQL install is a skipped rung, not an error. With
/// a `cache` probe the caching patterns run too, on PostgreSQL where it runs, else on
/// SQLite.
fn db_rungs(
    common: &Common,
    data: &suite::db::DataSet,
    keep: Option<&Path>,
    asked: Option<suite::db::PgTarget>,
    mut cache: Option<&mut suite::db::CacheProbe>,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Rung>> {
    use crate::services::postgres::ManagedPostgres;
    let plan = suite::db::Plan::new(common.quick);
    let cpus = CpuPlan::of(&crate::host::allowed_cpus())
        .ok_or_else(|| Error::Unusable("no CPU is available to pin to".into()))?;
    let placements = match &asked {
        Some(_) => cpus.user_server(),
        None => cpus.managed(),
    };
    // Two warm-query steps (TCP, socket) per extra placement.
    let phase = Phase::new("db", 9 + 2 * (placements.len() as u64 - 1), common.quiet);
    let mut step = |what: &str| phase.advance(1, what.to_string());
    let managed = match &asked {
        Some(_) => None,
        None => Some(ManagedPostgres::bin_dir()),
    };
    let pg_runs = asked.is_some() || matches!(managed, Some(Ok(_)));
    let sqlite_cache = if pg_runs { None } else { cache.as_deref_mut() };
    let mut rungs =
        suite::db::measure_sqlite(data, &plan, keep, &common.out, sqlite_cache, &mut step)?;
    match (asked, managed) {
        (Some(target), _) => rungs.extend(suite::db::measure_postgres(
            data,
            &plan,
            &target,
            &placements,
            cache,
            &mut step,
        )?),
        (None, Some(Ok(_))) => {
            let server = ManagedPostgres::start()?;
            let target = suite::db::PgTarget::managed(&server)?;
            rungs.extend(suite::db::measure_postgres(
                data,
                &plan,
                &target,
                &placements,
                cache,
                &mut step,
            )?);
        }
        (None, Some(Err(e))) => {
            if !common.quiet {
                eprintln!("ladder: postgres skipped: {e}");
            }
            skipped.push(Skipped {
                family: RungName::Db,
                rung: "postgres".into(),
                reason: e.to_string(),
            });
        }
        (None, None) => unreachable!("managed is looked up whenever nothing was asked for"),
    }
    Ok(rungs)
}

fn db_rows(common: &Common, rows: Option<u64>) -> Result<u64> {
    // --rows is bounded by its parser (crate::cli::ROWS_RANGE).
    Ok(rows.unwrap_or(if common.quick { 20_000 } else { 1_000_000 }))
}

fn db(common: &Common, args: &DbArgs) -> Result<()> {
    let rec = Recorder::start();
    let rows = db_rows(common, args.rows)?;
    if let Some(p) = &args.sqlite {
        suite::db::check_sqlite_path(p)?;
    }
    report::check_writable(&common.out)?;
    let asked = asked_postgres(args.postgres_url.as_ref())?;
    let data = suite::db::DataSet::new(rows, args.seed);
    let mut skipped = Vec::new();
    let rungs = db_rungs(
        common,
        &data,
        args.sqlite.as_deref(),
        asked,
        None,
        &mut skipped,
    )?;
    let run = rec.record("db", None, rungs, skipped);
    write_and_print(common, &run)
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

/// Loads the record of a run folder; a missing folder is the user's error.
fn load_dir(run_dir: &Path) -> Result<Run> {
    if !run_dir.is_dir() {
        return Err(Error::Input(format!(
            "{} is not a run folder",
            run_dir.display()
        )));
    }
    Run::load(&run_dir.join("run.json"))
}

fn compare(common: &Common, run_dirs: &[std::path::PathBuf]) -> Result<()> {
    let runs = run_dirs
        .iter()
        .map(|d| {
            Ok(report::compare::Named {
                name: d
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| d.display().to_string()),
                run: load_dir(d)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    report::check_writable(&common.out)?;
    let (_, date) = utc_now();
    let dir = report::write_compare_dir(&runs, &common.out, &date)?;
    if common.json {
        let records: Vec<&Run> = runs.iter().map(|r| &r.run).collect();
        let json = serde_json::to_string_pretty(&records)
            .map_err(|e| Error::Internal(format!("cannot serialise the runs: {e}")))?;
        return stdout_line(&json);
    }
    let (header, rows) = report::compare::compare_table(&runs);
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header);
    for row in rows {
        t.add_row(row);
    }
    stdout_line(&format!("{t}\nresults: {}", dir.display()))
}

fn redraw(common: &Common, run_dir: &Path) -> Result<()> {
    let run = load_dir(run_dir)?;
    report::rewrite_run_dir(&run, run_dir)?;
    finish(common, &run, run_dir)
}

/// `ladder clean`: lists what dead runs left (with its age) and removes it, or only
/// lists it with --dry-run.
fn clean(common: &Common, args: &CleanArgs) -> Result<()> {
    use crate::clean;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removing"
    };
    let show = |found: &[clean::Found]| -> Result<usize> {
        for f in found {
            stdout_line(&format!("{verb} {f}"))?;
        }
        Ok(found.len())
    };
    let mut total = 0;
    // Servers first: their dirs go after them.
    let mut local = clean::find_server_dirs();
    local.extend(clean::find_out_dirs(&common.out));
    total += show(&local)?;
    if !args.dry_run {
        clean::remove_local(&local)?;
    }
    if let Some(url) = &args.redis_url {
        let found = clean::find_redis(url)?;
        total += show(&found)?;
        if !args.dry_run {
            clean::remove_redis(url, &found)?;
        }
    }
    if let Some(url) = &args.postgres_url {
        let found = clean::find_postgres(url)?;
        total += show(&found)?;
        if !args.dry_run {
            clean::remove_postgres(url, &found)?;
        }
    }
    stdout_line(&match (total, args.dry_run) {
        (0, _) => "nothing to clean".to_string(),
        (n, true) => format!("{n} leftovers found; run without --dry-run to remove them"),
        (n, false) => format!("{n} leftovers removed"),
    })
}
