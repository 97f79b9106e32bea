//! `ladder load`: fixed-rate load on Redis, memcached, a database's product page, or
//! the product page three ways (no cache, cache-aside via Redis, via memcached).
//!
//! Not part of `ladder run`: the cache-aside comparison needs a data set loaded, a
//! capacity probe and three timed runs with warm-ups (about a minute at the defaults),
//! and on a shared host its numbers need a quiet machine more than the single round
//! trips do.

use super::db::asked_postgres;
use super::env_url;
use super::memcached::memcached_target;
use super::preset::Preset;
use super::{write_and_print, Recorder};
use crate::cli::{Common, LoadArgs, LoadTargetArg};
use crate::error::{Error, Result};
use crate::progress::Phase;
use crate::record::load::{LoadRun, LoadSection, LoadTarget, PageCache, ProductPageSetup};
use crate::report;
use crate::services::postgres::ManagedPostgres;
use crate::suite::db::product_page::{CacheConn, PageDb, PageKeys, PageRequest, ZipfKeys};
use crate::suite::db::{DataSet, PgTarget};
use crate::suite::load::{drive, LoadPlan, Request, Served};
use crate::suite::placement::CpuPlan;
use crate::suite::{self, memcached, redis};
use std::time::{Duration, Instant};

/// The share of the database's closed-loop capacity the cache-aside runs ask for at
/// most: an open-loop run at 100% of capacity only queues.
const CAPACITY_SHARE: f64 = 0.8;

/// Runs `plan` with the generator's threads on the client CPU (servers we start run on
/// the server CPU), and records it.
fn run_load<'a>(
    plan: &LoadPlan,
    target: LoadTarget,
    servers: &[(&str, u32)],
    make: &dyn Fn(usize) -> Result<Box<dyn Request + 'a>>,
    common: &Common,
    what: &str,
) -> Result<LoadRun> {
    let (cpu_plan, cpus) = CpuPlan::here()?;
    let client_cpu = cpu_plan.other_cpu.unwrap_or(cpu_plan.server_cpu);
    // Threads inherit the pin of the thread that spawns them.
    let _pin = crate::host::Pinned::to(client_cpu, &cpus)?;
    let phase = Phase::fractional(what, common.quiet);
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

/// A single-key GET load on Redis or memcached.
fn kv_load(common: &Common, args: &LoadArgs, plan: &LoadPlan) -> Result<LoadRun> {
    let value = "x".repeat(100);
    if args.target == LoadTargetArg::Redis {
        let url = args.redis_url.clone().or_else(|| env_url("REDIS_URL"));
        let target = redis::Target::pick(url)?;
        let url = target.first_url();
        let keys = redis::RunKeys::new(&url);
        let key = keys.key("load");
        let mut c = redis::connect(&url)?;
        let () = ::redis::Commands::set_ex(&mut c, &key, &value, redis::KEY_TTL_S)
            .map_err(|e| Error::Unusable(format!("Redis: SET: {e}")))?;
        let servers: Vec<(&str, u32)> = match &target {
            redis::Target::Managed(m) => vec![("redis", m.pid())],
            redis::Target::Url(_) => Vec::new(),
        };
        let make = |_| -> Result<Box<dyn Request>> {
            let mut c = redis::connect(&url)?;
            let key = key.clone();
            Ok(Box::new(move || {
                ::redis::Commands::get::<_, Option<String>>(&mut c, &key)
                    .map(|_| Served::Plain)
                    .map_err(|e| Error::Unusable(format!("Redis: GET: {e}")))
            }))
        };
        run_load(
            plan,
            LoadTarget::RedisGet,
            &servers,
            &make,
            common,
            "load: redis",
        )
    } else {
        let target = memcached_target(args.memcached_url.as_ref())?;
        let url = target.transports().swap_remove(0).1;
        let shown = crate::redact::redact_url(&url);
        let keys = memcached::RunKeys::new(&url);
        let key = keys.key("load");
        memcached::connect(&url)?
            .set(&key, value.as_str(), redis::KEY_TTL_S as u32)
            .map_err(|e| memcached::mc_err(&shown, e))?;
        let servers: Vec<(&str, u32)> = target
            .pids()
            .first()
            .map(|&p| ("memcached", p))
            .into_iter()
            .collect();
        let make = |_| -> Result<Box<dyn Request>> {
            let c = memcached::connect(&url)?;
            let (key, shown) = (key.clone(), shown.clone());
            Ok(Box::new(move || {
                c.get::<String>(&key)
                    .map(|_| Served::Plain)
                    .map_err(|e| memcached::mc_err(&shown, e))
            }))
        };
        run_load(
            plan,
            LoadTarget::MemcachedGet,
            &servers,
            &make,
            common,
            "load: memcached",
        )
    }
}

/// The database of the product page, and the pid of its server where we started it.
struct Database {
    db: PageDb,
    pid: Option<u32>,
    _server: Option<ManagedPostgres>,
}

/// PostgreSQL (the user's, else managed) or, where `sqlite` or none is installed,
/// SQLite, loaded with `data`.
fn database(common: &Common, args: &LoadArgs, data: &DataSet, sqlite: bool) -> Result<Database> {
    let phase = Phase::new("load: building the data set", 1, common.quiet);
    let asked = if sqlite {
        None
    } else {
        asked_postgres(args.postgres_url.as_ref())?
    };
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
        let target = PgTarget::managed(&server)?;
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
fn page_loads(common: &Common, args: &LoadArgs, plan: &LoadPlan, rows: u64) -> Result<LoadSection> {
    let data = DataSet::new(rows, args.seed);
    let sqlite = args.target == LoadTargetArg::Sqlite;
    let db = database(common, args, &data, sqlite)?;
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
    let plan = LoadPlan {
        rate: setup.rate_used,
        ..*plan
    };
    let redis_target = caches
        .contains(&PageCache::Redis)
        .then(|| redis::Target::pick(args.redis_url.clone().or_else(|| env_url("REDIS_URL"))))
        .transpose()?;
    let mc_target = caches
        .contains(&PageCache::Memcached)
        .then(|| memcached_target(args.memcached_url.as_ref()))
        .transpose()?;
    let mut runs = Vec::new();
    for cache in caches {
        let (url, cache_pid, cache_name) = match cache {
            PageCache::None => (String::new(), None, ""),
            PageCache::Redis => {
                let t = redis_target.as_ref().expect("started above");
                let pid = match t {
                    redis::Target::Managed(m) => Some(m.pid()),
                    redis::Target::Url(_) => None,
                };
                (t.first_url(), pid, "redis")
            }
            PageCache::Memcached => {
                let t = mc_target.as_ref().expect("started above");
                let url = t.transports().swap_remove(0).1;
                (url, t.pids().first().copied(), "memcached")
            }
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
                CacheConn::connect(cache, &url)?,
                ZipfKeys::new(data.products, args.zipf, args.seed ^ (i as u64 + 1))?,
                names.clone(),
                args.ttl,
            )))
        };
        let what = match cache {
            PageCache::None => "load: page from the database",
            PageCache::Redis => "load: page via Redis",
            PageCache::Memcached => "load: page via memcached",
        };
        let target = LoadTarget::ProductPage { cache, engine };
        let run = run_load(&plan, target, &servers, &make, common, what);
        if let Some(mut c) = CacheConn::connect(cache, &url).ok().flatten() {
            c.delete(&names.all(data.products));
        }
        runs.push(run?);
    }
    Ok(LoadSection {
        product_page: Some(setup),
        runs,
    })
}

pub(super) fn execute(common: &Common, args: &LoadArgs) -> Result<()> {
    let rec = Recorder::start();
    let d = Preset::of(common.quick).load;
    let plan = LoadPlan {
        rate: args.rate.unwrap_or(1000.0),
        connections: args.connections.unwrap_or(4) as usize,
        duration: Duration::from_secs_f64(args.duration.unwrap_or(d.duration_s)),
        warmup: Duration::from_secs_f64(args.warmup.unwrap_or(d.warmup_s)),
    };
    if let Some(u) = &args.memcached_url {
        suite::memcached::normalize(u)?;
    }
    report::check_writable(&common.out)?;
    let section = match args.target {
        LoadTargetArg::Redis | LoadTargetArg::Memcached => LoadSection {
            product_page: None,
            runs: vec![kv_load(common, args, &plan)?],
        },
        LoadTargetArg::Postgres | LoadTargetArg::Sqlite | LoadTargetArg::CacheAside => {
            page_loads(common, args, &plan, args.rows.unwrap_or(d.rows))?
        }
    };
    let mut run = rec.record("load", None, Vec::new(), Vec::new());
    run.load = Some(section);
    write_and_print(common, &run)
}
