//! `ladder cache-lab`: eviction policies on a bounded managed Redis and memcached, a
//! hot key's expiry under concurrent clients (stampede), hit ratio against TTL and
//! lingering expired keys, stale reads per invalidation strategy, and a cache outage,
//! on managed servers only. `ladder run` runs a short form ((`run_cache_lab` in [`super::preset`]): one eviction
//! pair, staleness, outage; a few seconds) behind `--skip cache-lab`.

use super::{write_and_print, Recorder};
use crate::cli::{CacheLabArgs, CacheLabPart, Common};
use crate::error::Result;
use crate::labs::cache_lab::eviction::{self, EvictionPlan};
use crate::labs::cache_lab::outage;
use crate::labs::cache_lab::staleness;
use crate::labs::cache_lab::stampede::{self, StampedePlan};
use crate::labs::cache_lab::ttl;
use crate::labs::cache_lab::Products;
use crate::labs::product_page::PageDb;
use crate::progress::Phase;
use crate::record::cache_lab::{
    CacheLabSection, Policy, Skip, SkipReason, StampedeSection, Strategy,
};
use crate::report;
use crate::rungs::db::DataSet;
use crate::services::postgres::ManagedPostgres;
use crate::services::redis::ManagedRedis;
use crate::target::redis::RedisUrl;
use std::time::Duration;

/// The defaults for one run length.
pub(super) struct CacheLabDefaults {
    pub(super) parts: &'static [CacheLabPart],
    /// Eviction policies compared.
    pub(super) policies: &'static [Policy],
    /// Whether the eviction runs the scan-polluted workload.
    pub(super) scan: bool,
    pub(super) keys: u64,
    pub(super) skews: &'static [f64],
    pub(super) sizes: &'static [f64],
    pub(super) clients: u32,
    pub(super) ttl_ms: u64,
    pub(super) orders: u64,
    /// Measured requests per replay, in multiples of the keys.
    pub(super) requests_per_key: u64,
    /// The TTL sweep's time scale.
    pub(super) ttl_scale: f64,
    /// The staleness window per strategy, ms.
    pub(super) staleness_ms: u64,
    /// The outage: before, down, after, ms.
    pub(super) outage_ms: [u64; 3],
}

/// The skew of the size sweep and the scan workload.
const SWEEP_SKEW: f64 = 0.99;
/// Each stampede client's pause between requests, ms: 50 clients ask 10 000 times a
/// second in all, which a 2-CPU host serves without starving the database.
const STAMPEDE_INTERVAL_MS: u64 = 5;
/// Bytes per cached value.
const VALUE_BYTES: u64 = 1000;
/// What a `ladder cache-lab` command line changes in the defaults.
#[derive(Debug, Clone, Default)]
pub(super) struct Overrides {
    pub parts: Option<Vec<CacheLabPart>>,
    pub cache_fraction: Option<f64>,
    pub keys: Option<u64>,
    pub requests: Option<u64>,
    pub clients: Option<u32>,
    pub seed: Option<u64>,
    pub redis_url: Option<RedisUrl>,
}

pub(super) fn execute(common: &Common, args: &CacheLabArgs) -> Result<()> {
    report::check_writable(&common.out)?;
    let rec = Recorder::start();
    let d = &super::preset::Preset::of(common.quick).cache_lab;
    let over = Overrides {
        parts: (!args.parts.is_empty()).then(|| args.parts.clone()),
        cache_fraction: Some(args.cache_fraction),
        keys: args.keys,
        requests: args.requests,
        clients: args.clients,
        seed: Some(args.seed),
        redis_url: super::redis::plan(args.redis_url.as_ref())?,
    };
    if let Some(url) = &over.redis_url {
        super::redis::warn_eviction(url)?;
    }
    let section = measure(d, &over, common.quiet)?;
    let mut run = rec.record("cache-lab", None, Vec::new(), Vec::new());
    run.cache_lab = Some(section);
    write_and_print(common, &run)
}

/// Runs the parts of `d` (or those `over` names) on servers started here.
pub(super) fn measure(
    d: &CacheLabDefaults,
    over: &Overrides,
    quiet: bool,
) -> Result<CacheLabSection> {
    use CacheLabPart as P;
    let asked = over.parts.as_deref().unwrap_or(d.parts);
    // A user's Redis: only what needs no CONFIG, FLUSHALL or a kill.
    let user_ok = |p: &P| matches!(p, P::Stampede | P::Staleness);
    let parts: Vec<P> = asked
        .iter()
        .copied()
        .filter(|p| over.redis_url.is_none() || user_ok(p))
        .collect();
    let wants = |p: P| parts.contains(&p);
    let seed = over.seed.unwrap_or(crate::cli::DEFAULT_SEED);
    let needs_pg = parts.iter().any(|&p| p != P::Ttl);
    let start = Phase::new("cache-lab: starting servers", 2, quiet);
    let mut redis = match over.redis_url {
        Some(_) => None,
        None => Some(ManagedRedis::start()?),
    };
    let redis_url = match (&over.redis_url, &redis) {
        (Some(u), _) => u.clone(),
        (None, Some(r)) => RedisUrl::parse(&r.unix_url())?,
        (None, None) => unreachable!("a managed Redis was started above"),
    };
    start.advance(1, "redis".into());
    let managed = || {
        redis
            .as_ref()
            .ok_or_else(|| crate::error::Error::Internal("cache-lab: no managed Redis".into()))
    };

    let pg = needs_pg.then(ManagedPostgres::start).transpose()?;
    let target = pg.as_ref().map(ManagedPostgres::target).transpose()?;
    start.advance(1, "postgres".into());
    drop(start);
    // Every part that needs PostgreSQL has it.
    let pg_target = || {
        target
            .as_ref()
            .ok_or_else(|| crate::error::Error::Internal("cache-lab: no PostgreSQL".into()))
    };
    let mut section = CacheLabSection {
        eviction: None,
        stampede: None,
        ttl: None,
        staleness: None,
        outage: None,
        skipped: asked
            .iter()
            .filter(|p| !parts.contains(p))
            .map(|p| {
                Skip::Reason(SkipReason::NeedsOwnServer {
                    part: p.name().into(),
                })
            })
            .collect(),
        user_redis: over.redis_url.as_ref().map(|u| u.shown().to_string()),
    };

    if wants(P::Eviction) {
        let keys = over.keys.unwrap_or(d.keys);
        let plan = EvictionPlan {
            keys,
            value_bytes: VALUE_BYTES,
            requests: over.requests.unwrap_or(d.requests_per_key * keys),
            // One pass's worth of requests fills the cache before counting starts.
            warmup: keys,
            fraction: over.cache_fraction.unwrap_or(0.1),
            sizes: d.sizes.to_vec(),
            skews: d.skews.to_vec(),
            sweep_skew: SWEEP_SKEW,
            scan: d.scan,
            policies: d.policies.to_vec(),
            seed,
        };
        let cases = eviction::cases(&plan).len() as u64 * plan.policies.len() as u64;
        let phase = Phase::new("cache-lab: eviction", cases, quiet);
        let (eviction, skipped) = eviction::measure(&plan, managed()?, pg_target()?, &|p| {
            phase.advance(1, p.into())
        })?;
        section.eviction = Some(eviction);
        section.skipped.extend(skipped);
    }

    if wants(P::Stampede) {
        let start = Phase::new("cache-lab: stampede data set", 1, quiet);
        let data = DataSet::new(d.orders, seed);
        let db = PageDb::postgres(&data, pg_target()?)?;
        drop(start);
        let plan = StampedePlan {
            clients: over.clients.unwrap_or(d.clients),
            ttl: Duration::from_millis(d.ttl_ms),
            window: Duration::from_millis(d.ttl_ms * 3 / 2),
            interval: Duration::from_millis(STAMPEDE_INTERVAL_MS),
        };
        let phase = Phase::new("cache-lab: stampede", Strategy::ALL.len() as u64, quiet);
        let origin_mean_ns = stampede::origin_mean_ns(&db, 10)?;
        let mut rows = Vec::new();
        for strategy in Strategy::ALL {
            let prefix = crate::ownership::redis_prefix();
            rows.push(stampede::measure(
                &plan, strategy, &db, &redis_url, &prefix,
            )?);
            phase.advance(1, strategy.label().into());
        }
        section.stampede = Some(StampedeSection {
            clients: plan.clients,
            ttl_ms: d.ttl_ms,
            window_ms: plan.window.as_millis() as u64,
            interval_ms: STAMPEDE_INTERVAL_MS,
            origin: format!(
                "the product page of product 1 from PostgreSQL ({} orders, no index on \
                 product_id)",
                data.orders
            ),
            origin_mean_ns,
            rows,
        });
    }

    if wants(P::Ttl) {
        let phase = Phase::new("cache-lab: TTL and lingering keys", 1, quiet);
        let mut rc = crate::rungs::redis::connect(&redis_url)?;
        section.ttl = Some(ttl::measure(
            &ttl::default_plan(d.ttl_scale, seed),
            &mut rc,
            &crate::ownership::redis_prefix(),
        )?);
        phase.advance(1, "done".into());
    }

    if wants(P::Staleness) {
        let plan = staleness::default_plan(d.staleness_ms, seed);
        let phase = Phase::new("cache-lab: staleness", 4, quiet);
        section.staleness = Some(staleness::section(&plan, pg_target()?, &redis_url, &|p| {
            phase.advance(1, p.into())
        })?);
    }

    if wants(P::Outage) {
        let phase = Phase::new("cache-lab: cache outage", 1, quiet);
        Products::load(pg_target()?, outage::KEYS)?;
        section.outage = Some(outage::measure(
            &outage::default_plan(d.outage_ms, seed),
            redis.as_mut().ok_or_else(|| {
                crate::error::Error::Internal("cache-lab: no managed Redis".into())
            })?,
            pg_target()?,
            &crate::ownership::redis_prefix(),
        )?);
        phase.advance(1, "done".into());
    }
    Ok(section)
}
