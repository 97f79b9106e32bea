//! `ladder cache-lab`: eviction policies on a bounded managed Redis and memcached, and
//! a hot key's expiry under concurrent clients (stampede), on managed servers only.
//!
//! Not part of `ladder run --quick`: even its quick form loads an origin table, replays
//! five workloads under five caches and runs three stampede windows (about half a
//! minute), far more than the few seconds a quick run may add.

use super::{write_and_print, Recorder};
use crate::cli::{CacheLabArgs, Common};
use crate::error::Result;
use crate::progress::Phase;
use crate::record::cache_lab::{CacheLabSection, Policy, StampedeSection, Strategy};
use crate::report;
use crate::services::postgres::ManagedPostgres;
use crate::services::redis::ManagedRedis;
use crate::suite::cache_lab::eviction::{self, EvictionPlan};
use crate::suite::cache_lab::outage;
use crate::suite::cache_lab::staleness;
use crate::suite::cache_lab::stampede::{self, StampedePlan};
use crate::suite::cache_lab::ttl;
use crate::suite::cache_lab::Products;
use crate::suite::db::product_page::PageDb;
use crate::suite::db::{DataSet, PgTarget};
use std::time::Duration;

/// The defaults for one run length.
struct Defaults {
    keys: u64,
    skews: &'static [f64],
    sizes: &'static [f64],
    clients: u32,
    ttl_ms: u64,
    orders: u64,
    /// Measured requests per replay, in multiples of the keys.
    requests_per_key: u64,
    /// The TTL sweep's time scale.
    ttl_scale: f64,
    /// The staleness window per strategy, ms.
    staleness_ms: u64,
    /// The outage: before, down, after, ms.
    outage_ms: [u64; 3],
}

const FULL: Defaults = Defaults {
    keys: 10_000,
    skews: &[0.6, 0.9, 0.99, 1.2],
    sizes: &[0.01, 0.05, 0.25],
    clients: 50,
    ttl_ms: 1000,
    orders: 100_000,
    requests_per_key: 3,
    ttl_scale: 0.001,
    staleness_ms: 2000,
    outage_ms: [1000, 1000, 2000],
};
const QUICK: Defaults = Defaults {
    keys: 10_000,
    skews: &[0.99],
    sizes: &[],
    clients: 20,
    ttl_ms: 500,
    orders: 20_000,
    requests_per_key: 1,
    ttl_scale: 0.0005,
    staleness_ms: 1000,
    outage_ms: [500, 500, 1500],
};

/// The skew of the size sweep and the scan workload.
const SWEEP_SKEW: f64 = 0.99;
/// Each stampede client's pause between requests, ms: 50 clients ask 10 000 times a
/// second in all, which a 2-CPU host serves without starving the database.
const STAMPEDE_INTERVAL_MS: u64 = 5;
/// Bytes per cached value.
const VALUE_BYTES: u64 = 1000;
pub(super) fn execute(common: &Common, args: &CacheLabArgs) -> Result<()> {
    report::check_writable(&common.out)?;
    let rec = Recorder::start();
    let d = if common.quick { &QUICK } else { &FULL };
    let keys = args.keys.unwrap_or(d.keys);
    let requests = args.requests.unwrap_or(d.requests_per_key * keys);
    let plan = EvictionPlan {
        keys,
        value_bytes: VALUE_BYTES,
        requests,
        // One pass's worth of requests fills the cache before counting starts.
        warmup: keys,
        fraction: args.cache_fraction,
        sizes: d.sizes.to_vec(),
        skews: d.skews.to_vec(),
        sweep_skew: SWEEP_SKEW,
        scan: true,
        seed: args.seed,
    };
    let start = Phase::new("cache-lab: starting servers", 3, common.quiet);
    let redis = ManagedRedis::start()?;
    start.advance(1, "redis".into());
    let pg = ManagedPostgres::start()?;
    let target = PgTarget::managed(&pg)?;
    start.advance(1, "postgres".into());
    let data = DataSet::new(d.orders, args.seed);
    let db = PageDb::postgres(&data, &target)?;
    start.advance(1, "data set".into());
    drop(start);

    let cases = eviction::cases(&plan).len() as u64 * Policy::ALL.len() as u64;
    let phase = Phase::new("cache-lab: eviction", cases, common.quiet);
    let (eviction, skipped) =
        eviction::measure(&plan, &redis, &target, &|p| phase.advance(1, p.into()))?;
    drop(phase);

    let stplan = StampedePlan {
        clients: args.clients.unwrap_or(d.clients),
        ttl: Duration::from_millis(d.ttl_ms),
        window: Duration::from_millis(d.ttl_ms * 3 / 2),
        interval: Duration::from_millis(STAMPEDE_INTERVAL_MS),
    };
    let phase = Phase::new(
        "cache-lab: stampede",
        Strategy::ALL.len() as u64,
        common.quiet,
    );
    let origin_mean_ns = stampede::origin_mean_ns(&db, 10)?;
    let mut rows = Vec::new();
    for strategy in Strategy::ALL {
        let prefix = crate::clean::redis_prefix();
        rows.push(stampede::measure(
            &stplan,
            strategy,
            &db,
            &redis.unix_url(),
            &prefix,
        )?);
        phase.advance(1, strategy.label().into());
    }
    drop(phase);

    let phase = Phase::new("cache-lab: TTL and lingering keys", 1, common.quiet);
    let mut rc = crate::suite::redis::connect(&redis.unix_url())?;
    let ttl = ttl::measure(
        &ttl::default_plan(d.ttl_scale, args.seed),
        &mut rc,
        &crate::clean::redis_prefix(),
    )?;
    drop(rc);
    phase.advance(1, "done".into());
    drop(phase);

    let splan = staleness::default_plan(d.staleness_ms, args.seed);
    let phase = Phase::new("cache-lab: staleness", 4, common.quiet);
    let staleness = staleness::section(&splan, &target, &redis.unix_url(), &|p| {
        phase.advance(1, p.into())
    })?;
    drop(phase);

    let phase = Phase::new("cache-lab: cache outage", 1, common.quiet);
    let mut redis = redis;
    Products::load(&target, outage::KEYS)?;
    let outage = outage::measure(
        &outage::default_plan(d.outage_ms, args.seed),
        &mut redis,
        &target,
        &crate::clean::redis_prefix(),
    )?;
    phase.advance(1, "done".into());
    drop(phase);
    let section = CacheLabSection {
        ttl: Some(ttl),
        staleness: Some(staleness),
        outage: Some(outage),
        eviction: Some(eviction),
        stampede: Some(StampedeSection {
            clients: stplan.clients,
            ttl_ms: d.ttl_ms,
            window_ms: stplan.window.as_millis() as u64,
            interval_ms: STAMPEDE_INTERVAL_MS,
            origin: format!(
                "the product page of product 1 from PostgreSQL ({} orders, no index on \
                 product_id)",
                data.orders
            ),
            origin_mean_ns,
            rows,
        }),
        skipped,
    };
    let mut run = rec.record("cache-lab", None, Vec::new(), Vec::new());
    run.cache_lab = Some(section);
    write_and_print(common, &run)
}
