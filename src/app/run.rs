//! `ladder run`: every rung, the lecture's table and its comparisons.

use super::cores::{cores_config, cores_with_progress};
use super::db::{asked_postgres, check_postgres, db_rows, db_rungs};
use super::memcached::{memcached_measure, memcached_target};
use super::memory::sweep_with_progress;
use super::preset::Preset;
use super::redis::{redis_measure, warn_eviction};
use super::storage::{storage_config, storage_rungs};
use super::web::{external_api, http_section, web_measure};
use super::{write_and_print, Recorder};
use crate::cli::{Common, RunArgs};
use crate::cores::CoresConfig;
use crate::error::{Error, Result};
use crate::record::host::Host;
use crate::record::memory::SweepConfig;
use crate::record::rung::Family;
use crate::record::rung::Skipped;
use crate::report;
use crate::suite;
use crate::suite::storage::StorageConfig;
use clap::ValueEnum;

/// Adds a rung's outcome: its rows (rungs, or load runs), or a skipped entry with the
/// reason. Only Ctrl-C stops the run; every other failure is one rung that could not
/// run.
fn attempt<T>(
    family: Family,
    outcome: Result<Vec<T>>,
    rungs: &mut Vec<T>,
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

/// What `ladder run` measures, decided from its flags and the host alone: every
/// decision that needs no server.
pub(super) struct RunPlan {
    /// The families to measure: every one not named by --skip.
    pub families: Vec<Family>,
    /// The memory sweep.
    pub sweep: Option<SweepConfig>,
    /// The short form of `ladder cores`.
    pub cores: Option<CoresConfig>,
    /// The storage rung.
    pub storage: Option<StorageConfig>,
    /// The user's Redis (--redis-url, else REDIS_URL; parsed, not yet contacted); none
    /// for a managed server.
    pub redis_url: Option<String>,
    /// The user's memcached (as given); none for MEMCACHED_SERVERS or managed servers.
    pub memcached_url: Option<String>,
    /// The user's PostgreSQL (--postgres-url, else DATABASE_URL; parsed, not yet
    /// contacted); none for a managed server or a skipped database.
    pub postgres: Option<suite::db::PgTarget>,
    /// Orders in the data set of the database and web rungs.
    pub db_rows: u64,
    /// The user's API (--http-url, parsed, not yet reached) and --http-insecure; none
    /// where the http family is skipped.
    pub http_url: Option<(String, bool)>,
}

impl RunPlan {
    /// Whether `family` is measured.
    pub fn wants(&self, family: Family) -> bool {
        self.families.contains(&family)
    }
}

/// Plans `ladder run` for `host`: every piece of bad input fails here (exit 2), before
/// any server is contacted or anything measured.
pub(super) fn plan(common: &Common, args: &RunArgs, host: &Host) -> Result<RunPlan> {
    let families: Vec<Family> = Family::value_variants()
        .iter()
        .copied()
        .filter(|r| !args.skip.contains(r))
        .collect();
    let wants = |r: Family| families.contains(&r);
    let preset = Preset::of(common.quick);
    let sweep = wants(Family::Memory)
        .then(|| super::memory::plan(&args.memory, common.quick, host))
        .transpose()?;
    if let Some(url) = &args.http_url {
        suite::http::parse_url(url)?;
    }
    let redis_url = super::redis::plan(args.redis_url.as_ref())?;
    let cores = wants(Family::Cores)
        .then(|| cores_config(None, None, &preset.run_cores, host))
        .transpose()?;
    if let Some(url) = &args.memcached_url {
        suite::memcached::normalize(url)?;
    }
    let postgres = if wants(Family::Db) {
        asked_postgres(args.postgres_url.as_ref())?
    } else {
        None
    };
    let http_url = args
        .http_url
        .clone()
        .filter(|_| wants(Family::Http))
        .map(|u| (u, args.http_insecure));
    Ok(RunPlan {
        storage: wants(Family::Ssd)
            .then(|| storage_config(common, args.storage_path.as_deref(), None)),
        families,
        sweep,
        cores,
        redis_url,
        memcached_url: args.memcached_url.clone(),
        postgres,
        db_rows: db_rows(common.quick, None),
        http_url,
    })
}

/// What needs the outside world before measuring: the --out folder is writable, the
/// user's Redis answers (with a warning where the run's keys could evict theirs), the
/// user's PostgreSQL answers, the user's API answers HTTP (one GET).
pub(super) fn check(common: &Common, plan: &RunPlan) -> Result<()> {
    if let Some((url, insecure)) = &plan.http_url {
        suite::http::probe(url, *insecure)?;
    }
    if let Some(url) = &plan.redis_url {
        warn_eviction(url)?;
    }
    check_postgres(plan.postgres.as_ref())?;
    report::check_writable(&common.out)
}

pub(super) fn execute(common: &Common, args: &RunArgs) -> Result<()> {
    let rec = Recorder::start();
    let mut plan = plan(common, args, &rec.host)?;
    check(common, &plan)?;
    let asked_pg = plan.postgres.take();
    let wants = |r: Family| plan.wants(r);
    let rows = plan.db_rows;

    let mut rungs = Vec::new();
    let mut skipped = Vec::new();
    let skip = |family| Skipped::all(family, "skipped with --skip");
    let memory = match &plan.sweep {
        Some(cfg) => Some(sweep_with_progress(cfg, &rec.host, common.quiet)?),
        None => {
            skipped.push(skip(Family::Memory));
            None
        }
    };
    // Between the cores, after the memory ladder; a failure there is a skipped section.
    let cores = match &plan.cores {
        Some(cfg) => match cores_with_progress(cfg, &rec.host, common.quiet) {
            Ok(section) => Some(section),
            Err(e) => {
                attempt(Family::Cores, Err(e), &mut rungs, &mut skipped)?;
                None
            }
        },
        None => {
            skipped.push(skip(Family::Cores));
            None
        }
    };
    if let Some(cfg) = &plan.storage {
        attempt(
            Family::Ssd,
            storage_rungs(cfg, common.quiet),
            &mut rungs,
            &mut skipped,
        )?;
    } else {
        skipped.push(skip(Family::Ssd));
    }
    // The Redis stays up for the caching patterns of the database phase.
    let mut redis_target = None;
    if wants(Family::Redis) {
        let outcome = suite::redis::Target::pick(plan.redis_url.clone()).and_then(|t| {
            let rows = redis_measure(&t, common)?;
            redis_target = Some(t);
            Ok(rows)
        });
        attempt(Family::Redis, outcome, &mut rungs, &mut skipped)?;
    } else {
        skipped.push(skip(Family::Redis));
    }
    // A short fixed-rate GET load on each cache server measured above.
    let in_run = [Preset::of(common.quick).load.in_run];
    let mut loads = Vec::new();
    if let (true, Some(t)) = (wants(Family::Load), &redis_target) {
        let outcome = super::load::redis_get_loads(t, &in_run, common.quiet);
        attempt(Family::Load, outcome, &mut loads, &mut skipped)?;
    }
    if wants(Family::Memcached) {
        let mut mc_target = None;
        let outcome = memcached_target(plan.memcached_url.as_ref()).and_then(|t| {
            let rows = memcached_measure(&t, common)?;
            mc_target = Some(t);
            Ok(rows)
        });
        attempt(Family::Memcached, outcome, &mut rungs, &mut skipped)?;
        if let (true, Some(t)) = (wants(Family::Load), &mc_target) {
            let outcome = super::load::memcached_get_loads(t, &in_run, common.quiet);
            attempt(Family::Load, outcome, &mut loads, &mut skipped)?;
        }
    } else {
        skipped.push(skip(Family::Memcached));
    }
    if !wants(Family::Load) {
        skipped.push(skip(Family::Load));
    }
    let mut caching = Vec::new();
    if wants(Family::Db) {
        let data = suite::db::DataSet::new(rows, crate::cli::DEFAULT_SEED);
        let mut probe = match &redis_target {
            Some(t) => Some(suite::db::CacheProbe::new(&t.first_url())?),
            None => None,
        };
        let outcome = db_rungs(common, &data, None, asked_pg, probe.as_mut(), &mut skipped);
        attempt(Family::Db, outcome, &mut rungs, &mut skipped)?;
        caching = probe.map(|p| p.results).unwrap_or_default();
    } else {
        skipped.push(skip(Family::Db));
    }
    drop(redis_target);
    let mut managed_web = None;
    if wants(Family::Web) {
        match web_measure(common, rows, crate::cli::DEFAULT_SEED) {
            _ if crate::signal::interrupted() => return Err(Error::Interrupted),
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => skipped.push(Skipped::all(Family::Web, e.to_string())),
            Ok((section, pieces)) => {
                managed_web = Some(section);
                skipped.extend(pieces);
            }
        }
    } else {
        skipped.push(skip(Family::Web));
    }
    let mut user_phases = Vec::new();
    match (&args.http_url, wants(Family::Http)) {
        (Some(url), true) => {
            let outcome = external_api(common, url, args.http_insecure).map(|(rows, phases)| {
                user_phases = phases;
                rows
            });
            attempt(Family::Http, outcome, &mut rungs, &mut skipped)?;
        }
        (None, true) => skipped.push(Skipped::all(Family::Http, "pass --http-url")),
        (_, false) => skipped.push(skip(Family::Http)),
    }
    // cache-lab's short form (eviction pair, staleness, outage) on servers of its own.
    let mut cache_lab = Vec::new();
    if wants(Family::CacheLab) {
        let short = super::cache_lab::measure(
            &super::preset::Preset::of(common.quick).run_cache_lab,
            &Default::default(),
            common.quiet,
        );
        attempt(
            Family::CacheLab,
            short.map(|c| vec![c]),
            &mut cache_lab,
            &mut skipped,
        )?;
    } else {
        skipped.push(skip(Family::CacheLab));
    }
    let mut run = rec.record("run", memory, rungs, skipped);
    run.cache_lab = cache_lab.pop();
    run.caching = caching;
    run.cores = cores;
    run.http = http_section(managed_web, user_phases);
    run.load = (!loads.is_empty()).then_some(crate::record::load::LoadSection {
        product_page: None,
        runs: loads,
    });
    run.ladder = crate::ladder::rows(&run);
    run.comparisons = crate::ladder::comparisons(&run.ladder);
    write_and_print(common, &run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::{args, fixture_host};

    fn planned(common: &[&str], flags: &[&str]) -> Result<RunPlan> {
        plan(
            &args::<Common>(common),
            &args::<RunArgs>(flags),
            &fixture_host(),
        )
    }

    #[test]
    fn quick_takes_the_quick_preset_and_a_flag_wins() {
        let (full, quick) = (Preset::of(false), Preset::of(true));
        let p = planned(&["--quick"], &[]).unwrap();
        let sweep = p.sweep.as_ref().unwrap();
        assert_eq!(sweep.per_octave, quick.per_octave);
        assert_eq!(p.db_rows, quick.db_rows);
        assert_eq!(p.storage.as_ref().unwrap().file_size, quick.file_size);
        let cores = p.cores.as_ref().unwrap();
        assert_eq!(cores.plan.samples, quick.run_cores.plan.samples);
        let p = planned(&[], &[]).unwrap();
        assert_eq!(p.sweep.unwrap().per_octave, full.per_octave);
        assert_eq!(p.db_rows, full.db_rows);
        assert_eq!(p.storage.unwrap().file_size, full.file_size);
        // A flag wins over the preset.
        let p = planned(&["--quick"], &["--per-octave", "7", "--storage-path", "/x"]).unwrap();
        assert_eq!(p.sweep.unwrap().per_octave, 7);
        assert_eq!(p.storage.unwrap().dir, std::path::Path::new("/x"));
    }

    #[test]
    fn the_skip_list_becomes_the_planned_families() {
        let all = planned(&["--quick"], &[]).unwrap();
        assert_eq!(all.families, Family::value_variants());
        let p = planned(&["--quick"], &["--skip", "memory,ssd,db"]).unwrap();
        for r in [Family::Memory, Family::Ssd, Family::Db] {
            assert!(!p.wants(r), "{r:?}");
        }
        assert!(p.wants(Family::Redis) && p.wants(Family::Cores));
        assert!(p.sweep.is_none() && p.storage.is_none());
        assert!(p.cores.is_some());
        let p = planned(&["--quick"], &["--skip", "cores"]).unwrap();
        assert!(p.cores.is_none() && p.sweep.is_some());
    }

    #[test]
    fn bad_input_is_refused_in_plan_before_any_server() {
        let refused = |flags: &[&str], says: &str| {
            let e = planned(&["--quick"], flags).err().expect("refused");
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.to_string().contains(says), "{flags:?}: {e}");
        };
        refused(&["--http-url", "ftp://example.com/"], "not an http");
        refused(&["--redis-url", "http://127.0.0.1:6379"], "bad Redis URL");
        refused(&["--memcached-url", "memcache://"], "memcached");
        refused(&["--postgres-url", "mysql://x"], "PostgreSQL");
        refused(&["--min", "1"], "--min");
        // Parsed, not contacted: nothing listens on port 1, and the plan is made.
        let p = planned(
            &["--quick"],
            &[
                "--redis-url",
                "redis://127.0.0.1:1/0",
                "--postgres-url",
                "postgres://u@127.0.0.1:1/db",
            ],
        )
        .unwrap();
        assert_eq!(p.redis_url.as_deref(), Some("redis://127.0.0.1:1/0"));
        assert!(p.postgres.is_some());
        // A skipped database's URL is not looked at.
        let p = planned(
            &["--quick"],
            &["--skip", "db", "--postgres-url", "mysql://x"],
        );
        assert!(p.unwrap().postgres.is_none());
    }
}
