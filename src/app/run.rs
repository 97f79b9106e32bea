//! `ladder run`: every rung, the lecture's table and its comparisons.

use super::cores::{cores_config, cores_with_progress};
use super::db::{asked_postgres, db_rows, db_rungs};
use super::memcached::{memcached_measure, memcached_target};
use super::memory::sweep_with_progress;
use super::preset::Preset;
use super::redis::{redis_measure, warn_eviction};
use super::storage::{storage_config, storage_rungs};
use super::web::{external_api, http_section, web_measure};
use super::{env_url, write_and_print, Recorder};
use crate::cli::{Common, RunArgs, RungName};
use crate::error::{Error, Result};
use crate::report;
use crate::suite::{self, Skipped};

/// Adds a rung's outcome: its rows (rungs, or load runs), or a skipped entry with the
/// reason. Only Ctrl-C stops the run; every other failure is one rung that could not
/// run.
fn attempt<T>(
    family: RungName,
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

pub(super) fn execute(common: &Common, args: &RunArgs) -> Result<()> {
    let rec = Recorder::start();
    let wants = |r: RungName| !args.skip.contains(&r);
    // Every piece of bad input fails here, before anything is measured.
    let sweep = wants(RungName::Memory)
        .then(|| super::memory::plan(&args.memory, common.quick, &rec.host))
        .transpose()?;
    if let Some(url) = &args.http_url {
        suite::http::parse_url(url)?;
    }
    let redis_url = args.redis_url.clone().or_else(|| env_url("REDIS_URL"));
    if let Some(url) = &redis_url {
        warn_eviction(url)?;
    }
    let cores_cfg = wants(RungName::Cores)
        .then(|| cores_config(None, None, &Preset::of(common.quick).run_cores, &rec.host))
        .transpose()?;
    if let Some(url) = &args.memcached_url {
        suite::memcached::normalize(url)?;
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
    // Between the cores, after the memory ladder; a failure there is a skipped section.
    let cores = match cores_cfg {
        Some(cfg) => match cores_with_progress(&cfg, &rec.host, common.quiet) {
            Ok(section) => Some(section),
            Err(e) => {
                attempt(RungName::Cores, Err(e), &mut rungs, &mut skipped)?;
                None
            }
        },
        None => {
            skipped.push(skip(RungName::Cores));
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
    // A short fixed-rate GET load on each cache server measured above.
    let in_run = [Preset::of(common.quick).load.in_run];
    let mut loads = Vec::new();
    if let (true, Some(t)) = (wants(RungName::Load), &redis_target) {
        let outcome = super::load::redis_get_loads(t, &in_run, common.quiet);
        attempt(RungName::Load, outcome, &mut loads, &mut skipped)?;
    }
    if wants(RungName::Memcached) {
        let mut mc_target = None;
        let outcome = memcached_target(args.memcached_url.as_ref()).and_then(|t| {
            let rows = memcached_measure(&t, common)?;
            mc_target = Some(t);
            Ok(rows)
        });
        attempt(RungName::Memcached, outcome, &mut rungs, &mut skipped)?;
        if let (true, Some(t)) = (wants(RungName::Load), &mc_target) {
            let outcome = super::load::memcached_get_loads(t, &in_run, common.quiet);
            attempt(RungName::Load, outcome, &mut loads, &mut skipped)?;
        }
    } else {
        skipped.push(skip(RungName::Memcached));
    }
    if !wants(RungName::Load) {
        skipped.push(skip(RungName::Load));
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
    let mut managed_web = None;
    if wants(RungName::Web) {
        match web_measure(common, rows, crate::cli::DEFAULT_SEED) {
            _ if crate::signal::interrupted() => return Err(Error::Interrupted),
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => skipped.push(Skipped::all(RungName::Web, e.to_string())),
            Ok((section, pieces)) => {
                managed_web = Some(section);
                skipped.extend(pieces);
            }
        }
    } else {
        skipped.push(skip(RungName::Web));
    }
    let mut user_phases = Vec::new();
    match (&args.http_url, wants(RungName::Http)) {
        (Some(url), true) => {
            let outcome = external_api(common, url, args.http_insecure).map(|(rows, phases)| {
                user_phases = phases;
                rows
            });
            attempt(RungName::Http, outcome, &mut rungs, &mut skipped)?;
        }
        (None, true) => skipped.push(Skipped::all(RungName::Http, "pass --http-url")),
        (_, false) => skipped.push(skip(RungName::Http)),
    }
    // cache-lab's short form (eviction pair, staleness, outage) on servers of its own.
    let mut cache_lab = Vec::new();
    if wants(RungName::CacheLab) {
        let short =
            super::cache_lab::measure(&super::cache_lab::SHORT, &Default::default(), common.quiet);
        attempt(
            RungName::CacheLab,
            short.map(|c| vec![c]),
            &mut cache_lab,
            &mut skipped,
        )?;
    } else {
        skipped.push(skip(RungName::CacheLab));
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
