//! `ladder run`: every rung, the lecture's table and its comparisons.

use super::cores::{cores_config, cores_with_progress};
use super::db::{asked_postgres, check_postgres, db_rows, db_rungs};
use super::memcached::memcached_measure;
use super::memory::sweep_with_progress;
use super::preset::Preset;
use super::redis::{redis_measure, warn_eviction};
use super::storage::{storage_config, storage_rungs};
use super::web::{external_api, http_section, web_measure};
use super::{write_and_print, Recorder};
use crate::cli::{Common, RunArgs};
use crate::cores::CoresConfig;
use crate::error::{Error, Result};
use crate::record::cache_lab::CacheLabSection;
use crate::record::caching::CachePatterns;
use crate::record::cores::CoresSection;
use crate::record::db::{LookupSplit, QuerySizes};
use crate::record::host::Host;
use crate::record::http::{HttpSection, PhaseRun};
use crate::record::load::LoadRun;
use crate::record::memory::MemorySection;
use crate::record::memory::SweepConfig;
use crate::record::rung::{Family, Rung, Skipped};
use crate::report;
use crate::rungs;
use crate::rungs::storage::StorageConfig;
use crate::target::memcached::MemcachedUrl;
use crate::target::redis::RedisUrl;
use clap::ValueEnum;

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
    pub redis_url: Option<RedisUrl>,
    /// The user's memcached (--memcached-url, else MEMCACHED_SERVERS; parsed, not yet
    /// contacted); none for managed servers.
    pub memcached_url: Option<MemcachedUrl>,
    /// The user's PostgreSQL (--postgres-url, else DATABASE_URL; parsed, not yet
    /// contacted); none for a managed server or a skipped database.
    pub postgres: Option<crate::target::postgres::PgTarget>,
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
        rungs::http::parse_url(url)?;
    }
    let redis_url = super::redis::plan(args.redis_url.as_ref())?;
    let cores = wants(Family::Cores)
        .then(|| cores_config(None, None, &preset.run_cores, host))
        .transpose()?;
    let memcached_url = super::memcached::plan(args.memcached_url.as_ref())?;
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
        memcached_url,
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
        rungs::http::probe(url, *insecure)?;
    }
    if let Some(url) = &plan.redis_url {
        warn_eviction(url)?;
    }
    check_postgres(plan.postgres.as_ref())?;
    report::check_writable(&common.out)
}

/// The order `ladder run` measures in: the machine first, then the servers, the labs
/// last. Redis and memcached stay up through [`Family::Load`] and [`Family::Db`] (the
/// database's caching patterns read through the Redis) and stop before the web.
const RUN_ORDER: [Family; 10] = [
    Family::Memory,
    Family::Cores,
    Family::Ssd,
    Family::Redis,
    Family::Memcached,
    Family::Load,
    Family::Db,
    Family::Web,
    Family::Http,
    Family::CacheLab,
];

/// What the families of a run have measured so far, and the cache servers kept up for
/// the families after theirs.
#[derive(Default)]
struct Gathered {
    memory: Option<MemorySection>,
    cores: Option<CoresSection>,
    rungs: Vec<Rung>,
    skipped: Vec<Skipped>,
    loads: Vec<LoadRun>,
    caching: Vec<CachePatterns>,
    db_sizes: Vec<QuerySizes>,
    db_split: Vec<LookupSplit>,
    web: Option<HttpSection>,
    user_phases: Vec<PhaseRun>,
    cache_lab: Option<CacheLabSection>,
    redis: Option<rungs::redis::Target>,
    memcached: Option<rungs::memcached::Target>,
}

/// Measures one family of the run into `g`. A family that measures nothing more (the
/// load without a cache server) returns Ok.
fn measure_family(
    family: Family,
    common: &Common,
    plan: &mut RunPlan,
    host: &Host,
    g: &mut Gathered,
) -> Result<()> {
    let quiet = common.quiet;
    let preset = Preset::of(common.quick);
    match family {
        Family::Memory => {
            if let Some(cfg) = &plan.sweep {
                g.memory = Some(sweep_with_progress(cfg, host, quiet)?);
            }
        }
        Family::Cores => {
            if let Some(cfg) = &plan.cores {
                g.cores = Some(cores_with_progress(cfg, host, quiet)?);
            }
        }
        Family::Ssd => {
            if let Some(cfg) = &plan.storage {
                g.rungs.extend(storage_rungs(cfg, quiet)?);
            }
        }
        Family::Redis => {
            let target = rungs::redis::Target::pick(plan.redis_url.clone())?;
            g.rungs.extend(redis_measure(&target, common)?);
            g.redis = Some(target);
        }
        Family::Memcached => {
            let target = rungs::memcached::Target::pick(plan.memcached_url.clone())?;
            g.rungs.extend(memcached_measure(&target, common)?);
            g.memcached = Some(target);
        }
        Family::Load => {
            // A short fixed-rate GET load on each cache server measured above.
            let in_run = [preset.load.in_run];
            if let Some(t) = &g.redis {
                g.loads
                    .extend(super::load::redis_get_loads(t, &in_run, quiet)?);
            }
            if let Some(t) = &g.memcached {
                g.loads
                    .extend(super::load::memcached_get_loads(t, &in_run, quiet)?);
            }
        }
        Family::Db => {
            let data = rungs::db::DataSet::new(plan.db_rows, crate::cli::DEFAULT_SEED);
            let mut probe = match &g.redis {
                Some(t) => Some(rungs::db::CacheProbe::new(t.first_url())?),
                None => None,
            };
            let asked = plan.postgres.take();
            let outcome = db_rungs(common, &data, None, asked, probe.as_mut(), &mut g.skipped);
            g.caching = probe.map(|p| p.results).unwrap_or_default();
            let measured = outcome?;
            g.rungs.extend(measured.rungs);
            g.db_sizes = measured.sizes;
            g.db_split = measured.split;
        }
        Family::Web => {
            let (section, pieces) = web_measure(common, plan.db_rows, crate::cli::DEFAULT_SEED)?;
            g.web = Some(section);
            g.skipped.extend(pieces);
        }
        Family::Http => match &plan.http_url {
            Some((url, insecure)) => {
                let (rows, phases) = external_api(common, url, *insecure)?;
                g.rungs.extend(rows);
                g.user_phases = phases;
            }
            None => g
                .skipped
                .push(Skipped::all(Family::Http, "pass --http-url")),
        },
        Family::CacheLab => {
            // cache-lab's short form (eviction pair, staleness, outage) on servers of
            // its own.
            let short =
                super::cache_lab::measure(&preset.run_cache_lab, &Default::default(), quiet);
            g.cache_lab = Some(short?);
        }
    }
    Ok(())
}

pub(super) fn execute(common: &Common, args: &RunArgs) -> Result<()> {
    if let Some(path) = &args.openmetrics {
        crate::report::openmetrics::check_target(path)?;
    }
    let rec = Recorder::start();
    let mut plan = plan(common, args, &rec.host)?;
    check(common, &plan)?;
    let mut g = Gathered::default();
    for family in RUN_ORDER {
        if family == Family::Web {
            // The cache servers are done with; the web and the labs start their own.
            g.redis = None;
            g.memcached = None;
        }
        if !plan.wants(family) {
            g.skipped.push(Skipped::all(family, "skipped with --skip"));
            continue;
        }
        // The one error path: Ctrl-C stops the run (a family that failed while a
        // signal arrived failed because of it); any other failure is a family that
        // could not run, with its reason.
        match measure_family(family, common, &mut plan, &rec.host, &mut g) {
            _ if crate::signal::interrupted() => return Err(Error::Interrupted),
            Ok(()) => {}
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => g.skipped.push(Skipped::all(family, e.to_string())),
        }
    }
    let mut run = rec.record("run", g.memory, g.rungs, g.skipped);
    run.cache_lab = g.cache_lab;
    run.caching = g.caching;
    run.db_sizes = g.db_sizes;
    run.db_split = g.db_split;
    run.cores = g.cores;
    run.http = http_section(g.web, g.user_phases);
    run.load = (!g.loads.is_empty()).then_some(crate::record::load::LoadSection {
        product_page: None,
        runs: g.loads,
    });
    run.ladder = crate::ladder::rows(&run);
    run.comparisons = crate::ladder::comparisons(&run.ladder);
    if let Some(path) = &args.openmetrics {
        crate::report::openmetrics::write_atomic(
            path,
            &crate::report::openmetrics::openmetrics(&run),
        )?;
    }
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
        assert_eq!(
            p.redis_url.as_ref().map(RedisUrl::secret_url),
            Some("redis://127.0.0.1:1/0")
        );
        assert!(p.postgres.is_some());
        // A skipped database's URL is not looked at.
        let p = planned(
            &["--quick"],
            &["--skip", "db", "--postgres-url", "mysql://x"],
        );
        assert!(p.unwrap().postgres.is_none());
    }
}
