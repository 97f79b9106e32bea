//! `ladder load`: fixed-rate load on Redis, memcached, a database's product page, or
//! the product page three ways (no cache, cache-aside via Redis, via memcached); with
//! `--rates`, one target at each rate in turn (the latency-against-rate curve).
//!
//! `ladder run` holds only the short GET loads on its Redis and memcached
//! ([`redis_get_loads`], [`memcached_get_loads`]): the cache-aside comparison needs a
//! data set loaded, a capacity probe and three timed runs with warm-ups (about a minute
//! at the defaults), and on a shared host its numbers need a quiet machine more than
//! the single round trips do.

use super::db::{asked_postgres, check_postgres};
use super::preset::Preset;
use super::{write_and_print, Recorder};
use crate::cli::{Common, LoadArgs, LoadTargetArg};
use crate::error::{Error, Result};
use crate::labs::load::{drive, LoadPlan, Request, Served};
use crate::labs::product_page::{CacheAt, CacheConn, PageDb, PageKeys, PageRequest, ZipfKeys};
use crate::ownership::keys::RunKeys;
use crate::progress::Phase;
use crate::record::load::{LoadRun, LoadSection, LoadTarget, PageCache, ProductPageSetup};
use crate::report;
use crate::rungs::db::DataSet;
use crate::rungs::kv::Target;
use crate::rungs::memcached::Memcached;
use crate::rungs::placement::CpuPlan;
use crate::rungs::redis::Redis;
use crate::rungs::{memcached, redis};
use crate::services::postgres::ManagedPostgres;
use crate::target::memcached::MemcachedUrl;
use crate::target::postgres::PgTarget;
use crate::target::redis::{RedisUrl, KEY_TTL_S};
use std::time::{Duration, Instant};

/// The share of the database's closed-loop capacity the cache-aside runs ask for at
/// most: an open-loop run at 100% of capacity only queues.
const CAPACITY_SHARE: f64 = 0.8;

/// The most rates one `--rates` list may hold.
const MAX_RATES: usize = 20;

/// Runs `plan` with the generator's threads on the client CPU (servers we start run on
/// the server CPU), and records it.
fn run_load<'a>(
    plan: &LoadPlan,
    target: LoadTarget,
    servers: &[(&str, u32)],
    make: &dyn Fn(usize) -> Result<Box<dyn Request + 'a>>,
    quiet: bool,
    what: &str,
) -> Result<LoadRun> {
    let (cpu_plan, cpus) = CpuPlan::here()?;
    let client_cpu = cpu_plan.other_cpu.unwrap_or(cpu_plan.server_cpu);
    // Threads inherit the pin of the thread that spawns them.
    let _pin = crate::host::Pinned::to(client_cpu, &cpus)?;
    let phase = Phase::fractional(what, quiet);
    let pids: Vec<u32> = servers.iter().map(|s| s.1).collect();
    let names: Vec<&str> = servers.iter().map(|s| s.0).collect();
    let outcome = drive(plan, &pids, make, &|f| phase.set_fraction(f))?;
    if outcome.answered == 0 {
        return Err(Error::Unusable(format!(
            "{what}: no request was answered{}",
            outcome
                .first_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )));
    }
    Ok(outcome.record(target, plan, 1, &names))
}

/// The progress line of one run: "load: redis", or "load: redis at 2000/s" in a sweep.
fn what(name: &str, plan: &LoadPlan, sweep: bool) -> String {
    if sweep {
        format!("{name} at {:.0}/s", plan.rate)
    } else {
        name.to_string()
    }
}

/// The value of the single-key GET loads.
const VALUE_BYTES: usize = 100;

/// Single-key GET loads on a Redis, one run per plan (`ladder load`, `ladder run`).
pub(super) fn redis_get_loads(
    target: &redis::Target,
    plans: &[LoadPlan],
    quiet: bool,
) -> Result<Vec<LoadRun>> {
    let url = target.first_url();
    let keys = RunKeys::<Redis>::new(url);
    let key = keys.key("load");
    let mut c = redis::connect(url)?;
    let () = ::redis::Commands::set_ex(&mut c, &key, "x".repeat(VALUE_BYTES), KEY_TTL_S)
        .map_err(|e| url.error(e))?;
    let servers: Vec<(&str, u32)> = match target {
        Target::Managed(m, _) => vec![("redis", m.pid())],
        Target::Url(_) => Vec::new(),
    };
    let make = |_| -> Result<Box<dyn Request>> {
        let mut c = redis::connect(url)?;
        let (key, url) = (key.clone(), url.clone());
        Ok(Box::new(move || {
            ::redis::Commands::get::<_, Option<String>>(&mut c, &key)
                .map(|_| Served::Plain)
                .map_err(|e| url.error(e))
        }))
    };
    plans
        .iter()
        .map(|plan| {
            let what = what("load: redis", plan, plans.len() > 1);
            run_load(plan, LoadTarget::RedisGet, &servers, &make, quiet, &what)
        })
        .collect()
}

/// Single-key GET loads on a memcached (its first transport), one run per plan.
pub(super) fn memcached_get_loads(
    target: &memcached::Target,
    plans: &[LoadPlan],
    quiet: bool,
) -> Result<Vec<LoadRun>> {
    let url = target.first_url();
    let keys = RunKeys::<Memcached>::new(url);
    let key = keys.key("load");
    url.connect()?
        .set(&key, "x".repeat(VALUE_BYTES).as_str(), KEY_TTL_S as u32)
        .map_err(|e| url.error(e))?;
    let servers: Vec<(&str, u32)> = memcached::pids(target)
        .first()
        .map(|&p| ("memcached", p))
        .into_iter()
        .collect();
    let make = |_| -> Result<Box<dyn Request>> {
        let c = url.connect()?;
        let (key, url) = (key.clone(), url.clone());
        Ok(Box::new(move || {
            c.get::<String>(&key)
                .map(|_| Served::Plain)
                .map_err(|e| url.error(e))
        }))
    };
    plans
        .iter()
        .map(|plan| {
            let what = what("load: memcached", plan, plans.len() > 1);
            run_load(
                plan,
                LoadTarget::MemcachedGet,
                &servers,
                &make,
                quiet,
                &what,
            )
        })
        .collect()
}

/// The rates of a run: `--rates` (rising, each once, at most [`MAX_RATES`]), else
/// `--rate` or 1000. Bad input is one line (exit 2).
fn rates(args: &LoadArgs) -> Result<Vec<f64>> {
    if args.rates.is_empty() {
        return Ok(vec![args.rate.unwrap_or(1000.0)]);
    }
    if args.target == LoadTargetArg::CacheAside {
        return Err(Error::Input(
            "--rates draws one target's curve: use it with --target redis, memcached, \
             postgres or sqlite (cache-aside runs at one rate the database sustains)"
                .into(),
        ));
    }
    if args.rates.len() > MAX_RATES {
        return Err(Error::Input(format!(
            "--rates holds {} rates; at most {MAX_RATES}",
            args.rates.len()
        )));
    }
    if args.rates.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::Input(format!(
            "--rates must rise, each rate once (got {})",
            args.rates
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    Ok(args.rates.clone())
}

/// The database of the product page, and the pid of its server where we started it.
struct Database {
    db: PageDb,
    pid: Option<u32>,
    _server: Option<ManagedPostgres>,
}

/// PostgreSQL (the user's, else managed) or, where `sqlite` or none is installed,
/// SQLite, loaded with `data`.
fn database(
    common: &Common,
    args: &LoadArgs,
    asked: Option<PgTarget>,
    data: &DataSet,
    sqlite: bool,
) -> Result<Database> {
    let phase = Phase::new("load: building the data set", 1, common.quiet);
    let asked = asked.filter(|_| !sqlite);
    check_postgres(asked.as_ref())?;
    let db = if let Some(target) = asked {
        Database {
            db: PageDb::postgres(data, &target)?,
            pid: None,
            _server: None,
        }
    } else if sqlite
        || (args.target == LoadTargetArg::CacheAside && ManagedPostgres::bin_dir().is_err())
    {
        if !sqlite && !common.quiet {
            eprintln!("ladder: PostgreSQL is not installed; the product page runs on SQLite");
        }
        Database {
            db: PageDb::sqlite(data, &common.out)?,
            pid: None,
            _server: None,
        }
    } else {
        let server = ManagedPostgres::start()?;
        let target = server.target()?;
        Database {
            db: PageDb::postgres(data, &target)?,
            pid: Some(server.pid()),
            _server: Some(server),
        }
    };
    phase.advance(1, String::new());
    Ok(db)
}

/// Closed-loop page queries on one connection for about a second: requests per second
/// the database alone sustains.
fn capacity(db: &PageDb, zipf: f64, seed: u64) -> Result<f64> {
    let mut q = db.connect()?;
    let mut keys = ZipfKeys::new(db.data.products, zipf, seed)?;
    let start = Instant::now();
    let mut n = 0u64;
    while n < 20 || start.elapsed() < Duration::from_secs(1) {
        crate::signal::check()?;
        q.page(keys.next_key() as i64)?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The product page, from the database alone, or three ways for cache-aside.
fn page_loads(
    common: &Common,
    args: &LoadArgs,
    planned: Planned,
    rows: u64,
) -> Result<LoadSection> {
    let plans = &planned.runs;
    let plan = &plans[plans.len() - 1];
    let data = DataSet::new(rows, args.seed);
    let sqlite = args.target == LoadTargetArg::Sqlite;
    let db = database(common, args, planned.postgres, &data, sqlite)?;
    let engine = db.db.engine;
    let mut setup = ProductPageSetup {
        orders: data.orders,
        products: data.products,
        zipf_s: args.zipf,
        ttl_s: args.ttl,
        rate_asked: plan.rate,
        db_capacity: None,
        rate_used: plan.rate,
    };
    let caches: Vec<PageCache> = if args.target == LoadTargetArg::CacheAside {
        let cap = capacity(&db.db, args.zipf, args.seed)?;
        setup.db_capacity = Some(cap);
        setup.rate_used = plan.rate.min((cap * CAPACITY_SHARE).floor().max(1.0));
        vec![PageCache::None, PageCache::Redis, PageCache::Memcached]
    } else {
        vec![PageCache::None]
    };
    // cache-aside: one rate, lowered to what the database sustains.
    let plans: Vec<LoadPlan> = if setup.db_capacity.is_some() {
        vec![LoadPlan {
            rate: setup.rate_used,
            ..*plan
        }]
    } else {
        plans.to_vec()
    };
    let redis_target = caches
        .contains(&PageCache::Redis)
        .then(|| redis::Target::pick(planned.redis.clone()))
        .transpose()?;
    let mc_target = caches
        .contains(&PageCache::Memcached)
        .then(|| memcached::Target::pick(planned.memcached.clone()))
        .transpose()?;
    let mut runs = Vec::new();
    for cache in caches {
        let (at, cache_pid, cache_name) = match (cache, &redis_target, &mc_target) {
            (PageCache::Redis, Some(t), _) => {
                let pid = match t {
                    Target::Managed(m, _) => Some(m.pid()),
                    Target::Url(_) => None,
                };
                (CacheAt::Redis(t.first_url().clone()), pid, "redis")
            }
            (PageCache::Memcached, _, Some(t)) => {
                let pid = memcached::pids(t).first().copied();
                (CacheAt::Memcached(t.first_url().clone()), pid, "memcached")
            }
            _ => (CacheAt::None, None, ""),
        };
        let mut servers: Vec<(&str, u32)> = Vec::new();
        if let Some(pid) = db.pid {
            servers.push(("postgres", pid));
        }
        if let Some(pid) = cache_pid {
            servers.push((cache_name, pid));
        }
        // A fresh prefix per variant: each starts from a cold cache.
        let names = PageKeys::new();
        let make = |i: usize| -> Result<Box<dyn Request>> {
            Ok(Box::new(PageRequest::new(
                db.db.connect()?,
                CacheConn::connect(&at)?,
                ZipfKeys::new(data.products, args.zipf, args.seed ^ (i as u64 + 1))?,
                names.clone(),
                args.ttl,
            )))
        };
        let name = match cache {
            PageCache::None => "load: page from the database",
            PageCache::Redis => "load: page via Redis",
            PageCache::Memcached => "load: page via memcached",
        };
        let target = LoadTarget::ProductPage { cache, engine };
        for plan in &plans {
            let what = what(name, plan, plans.len() > 1);
            let run = run_load(plan, target, &servers, &make, common.quiet, &what);
            if let Some(mut c) = CacheConn::connect(&at).ok().flatten() {
                c.delete(&names.all(data.products));
            }
            runs.push(run?);
        }
    }
    Ok(LoadSection {
        product_page: Some(setup),
        runs,
    })
}

/// Plans `ladder load` from its flags alone: the runs (one per rate, the preset's
/// window unless a flag says), and every URL parsed. Contacts no server.
fn plan(args: &LoadArgs, quick: bool) -> Result<Planned> {
    let d = Preset::of(quick).load;
    let runs = rates(args)?
        .into_iter()
        .map(|rate| LoadPlan {
            rate,
            connections: args.connections.unwrap_or(4) as usize,
            duration: Duration::from_secs_f64(args.duration.unwrap_or(d.duration_s)),
            warmup: Duration::from_secs_f64(args.warmup.unwrap_or(d.warmup_s)),
        })
        .collect();
    Ok(Planned {
        runs,
        redis: super::redis::plan(args.redis_url.as_ref())?,
        memcached: super::memcached::plan(args.memcached_url.as_ref())?,
        postgres: asked_postgres(args.postgres_url.as_ref())?,
    })
}

/// `ladder load` as planned: the runs, and the user's servers (parsed, not contacted).
struct Planned {
    runs: Vec<LoadPlan>,
    redis: Option<RedisUrl>,
    memcached: Option<MemcachedUrl>,
    postgres: Option<PgTarget>,
}

pub(super) fn execute(common: &Common, args: &LoadArgs) -> Result<()> {
    let rec = Recorder::start();
    let planned = plan(args, common.quick)?;
    report::check_writable(&common.out)?;
    let on_postgres = matches!(
        args.target,
        LoadTargetArg::Postgres | LoadTargetArg::CacheAside
    );
    if let Some(pg) = planned.postgres.as_ref().filter(|_| on_postgres) {
        pg.probe()?;
        // Every connection a session, and the run's own setup session beside them.
        let connections = planned
            .runs
            .iter()
            .map(|p| p.connections)
            .max()
            .unwrap_or(0);
        pg.check_room(connections + 1, &format!("--connections {connections}"))?;
    }
    let kv = |runs| LoadSection {
        product_page: None,
        runs,
    };
    let section = match args.target {
        LoadTargetArg::Redis => kv(redis_get_loads(
            &redis::Target::pick(planned.redis)?,
            &planned.runs,
            common.quiet,
        )?),
        LoadTargetArg::Memcached => {
            let target = memcached::Target::pick(planned.memcached)?;
            kv(memcached_get_loads(&target, &planned.runs, common.quiet)?)
        }
        LoadTargetArg::Postgres | LoadTargetArg::Sqlite | LoadTargetArg::CacheAside => {
            let rows = args.rows.unwrap_or(Preset::of(common.quick).load.rows);
            page_loads(common, args, planned, rows)?
        }
    };
    let mut run = rec.record("load", None, Vec::new(), Vec::new());
    run.load = Some(section);
    write_and_print(common, &run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::args;

    /// `ladder load --target redis` with `flags`.
    fn load(flags: &[&str]) -> LoadArgs {
        args(&[&["--target", "redis"], flags].concat())
    }

    #[test]
    fn quick_takes_the_quick_window_and_a_flag_wins() {
        let (full, quick) = (Preset::of(false).load, Preset::of(true).load);
        let p = plan(&load(&[]), true).unwrap().runs;
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].duration, Duration::from_secs_f64(quick.duration_s));
        let p = plan(&load(&[]), false).unwrap().runs;
        assert_eq!(p[0].duration, Duration::from_secs_f64(full.duration_s));
        let p = plan(&load(&["--duration", "3", "--rate", "50"]), true)
            .unwrap()
            .runs;
        assert_eq!(p[0].duration, Duration::from_secs(3));
        assert_eq!(p[0].rate, 50.0);
    }

    #[test]
    fn bad_rates_and_urls_are_refused_in_plan() {
        for flags in [
            &["--rates", "200,100"][..],
            &["--redis-url", "http://127.0.0.1:6379"],
            &["--postgres-url", "mysql://x"],
            &["--memcached-url", "memcache://"],
        ] {
            let e = plan(&load(flags), true).err().expect("refused");
            assert_eq!(e.exit_code(), 2, "{flags:?}: {e}");
        }
    }
}
