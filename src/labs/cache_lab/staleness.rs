//! Invalidation and staleness: one writer UPDATEs products (a version and a price) at a
//! steady pace while reader threads read them through the cache (GET; on a miss, the
//! row, then SET), under write-through (UPDATE, then SET the new value),
//! delete-on-write (UPDATE, then DEL) and TTL-only (UPDATE only; values expire).
//!
//! Staleness is detected in-process, on one monotonic clock: the writer notes when
//! each UPDATE returned (committed: autocommit) before it publishes the new version
//! as the latest; a reader takes the latest committed version when its read starts,
//! and a read that returns an older one is stale. Its window is the time from the
//! commit that made it stale (the one right after the version read) to the read's
//! start, never negative by construction.

use super::{merged, pace, product_value, product_version, redis_err, summary, Products};
use crate::error::{Error, Result};
use crate::record::cache_lab::{Invalidation, StalenessRow, StalenessSection, Summary};
use crate::rungs::latency_histogram;
use crate::target::postgres::PgTarget;
use crate::target::redis::RedisUrl;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// The experiment's shape.
#[derive(Debug, Clone, Copy)]
pub struct StalenessPlan {
    /// Products.
    pub keys: u64,
    /// Reader threads.
    pub readers: u32,
    /// Each reader's pause between reads.
    pub read_interval: Duration,
    /// The writer's pause between UPDATEs.
    pub write_interval: Duration,
    /// The measured window per strategy.
    pub window: Duration,
    /// TTL-only's expiry.
    pub ttl: Duration,
    /// Seed of the key choices.
    pub seed: u64,
}

/// Products of the default plan.
pub const KEYS: u64 = 50;

/// The staleness experiment: 4 readers (1 read/ms each) and a writer (one UPDATE every
/// 5 ms, so each of 50 products changes about every 250 ms); TTL-only's TTL 100 ms.
pub fn default_plan(window_ms: u64, seed: u64) -> StalenessPlan {
    StalenessPlan {
        keys: KEYS,
        readers: 4,
        read_interval: Duration::from_millis(1),
        write_interval: Duration::from_millis(5),
        window: Duration::from_millis(window_ms),
        ttl: Duration::from_millis(100),
        seed,
    }
}

/// What the writer publishes, per product (index = id - 1).
struct Versions {
    /// The newest committed version, published after its commit time is noted.
    latest: Vec<AtomicU64>,
    /// The newest version whose cache step (SET or DEL) has completed.
    cached: Vec<AtomicU64>,
    /// `commits[i][v - 1]`: when the UPDATE to version v returned.
    commits: Vec<Mutex<Vec<Instant>>>,
}

impl Versions {
    fn new(keys: u64) -> Versions {
        Versions {
            latest: (0..keys).map(|_| AtomicU64::new(0)).collect(),
            cached: (0..keys).map(|_| AtomicU64::new(0)).collect(),
            commits: (0..keys).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }
}

/// What one reader counted.
#[derive(Default)]
struct ReaderCount {
    reads: u64,
    stale: u64,
    stale_fills: u64,
    windows: Option<Histogram<u64>>,
}

/// The writer: UPDATEs at a steady pace until `end`, then the cache step of
/// `strategy` (none where `None`: the plain-UPDATE baseline). The whole writes' and the
/// cache steps' latencies.
fn write_loop(
    plan: &StalenessPlan,
    strategy: Option<Invalidation>,
    db: &mut Products,
    cache: Option<&mut redis::Connection>,
    prefix: &str,
    v: &Versions,
    end: Instant,
) -> Result<(Histogram<u64>, Histogram<u64>)> {
    let mut rng = SmallRng::seed_from_u64(plan.seed ^ 0x5772_6974);
    let mut h = latency_histogram();
    let mut steps = latency_histogram();
    let mut next = Instant::now();
    let mut cache = cache;
    while let Some(start) = pace(&mut next, plan.write_interval, end) {
        crate::signal::check()?;
        let i = rng.random_range(0..plan.keys) as usize;
        let (version, price) = db.update(i as u64 + 1)?;
        let committed = Instant::now();
        {
            let mut c = v.commits[i].lock().expect("no poisoning");
            c.push(committed);
            if c.len() as u64 != version {
                return Err(Error::Internal(format!(
                    "staleness: product {} is at version {version} after {} writes",
                    i + 1,
                    c.len()
                )));
            }
        }
        v.latest[i].store(version, Ordering::Release);
        let key = format!("{prefix}{}", i + 1);
        let step = match strategy {
            Some(Invalidation::WriteThrough) => {
                let mut set = redis::cmd("SET");
                set.arg(&key).arg(product_value(version, price));
                Some(set)
            }
            Some(Invalidation::DeleteOnWrite) => {
                let mut del = redis::cmd("DEL");
                del.arg(&key);
                Some(del)
            }
            _ => None,
        };
        if let (Some(step), Some(c)) = (step, cache.as_deref_mut()) {
            let t = Instant::now();
            step.query::<()>(c).map_err(redis_err("SET/DEL"))?;
            steps.saturating_record((t.elapsed().as_nanos() as u64).max(1));
            v.cached[i].fetch_max(version, Ordering::AcqRel);
        }
        h.saturating_record((start.elapsed().as_nanos() as u64).max(1));
    }
    Ok((h, steps))
}

/// One reader: reads through the cache until `end`.
#[allow(clippy::too_many_arguments)]
fn read_loop(
    plan: &StalenessPlan,
    strategy: Invalidation,
    seed: u64,
    db: &mut Products,
    cache: &mut redis::Connection,
    prefix: &str,
    v: &Versions,
    end: Instant,
) -> Result<ReaderCount> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut count = ReaderCount::default();
    let mut windows = latency_histogram();
    let ttl_ms = plan.ttl.as_millis() as u64;
    let mut next = Instant::now();
    while let Some(start) = pace(&mut next, plan.read_interval, end) {
        let i = rng.random_range(0..plan.keys) as usize;
        let latest = v.latest[i].load(Ordering::Acquire);
        let key = format!("{prefix}{}", i + 1);
        let got: Option<String> = redis::Commands::get(cache, &key).map_err(redis_err("GET"))?;
        let version = match got.as_deref().and_then(product_version) {
            Some(version) => version,
            None => {
                let (version, price) = db.read(i as u64 + 1)?;
                // A newer version's SET or DEL already done: this SET leaves an older
                // value behind it.
                if v.cached[i].load(Ordering::Acquire) > version {
                    count.stale_fills += 1;
                }
                let mut set = redis::cmd("SET");
                set.arg(&key).arg(product_value(version, price));
                if strategy == Invalidation::TtlOnly {
                    set.arg("PX").arg(ttl_ms);
                }
                set.query::<()>(cache).map_err(redis_err("SET"))?;
                version
            }
        };
        count.reads += 1;
        if version < latest {
            count.stale += 1;
            let made_stale = v.commits[i].lock().expect("no poisoning")[version as usize];
            windows.saturating_record((start.duration_since(made_stale).as_nanos() as u64).max(1));
        }
    }
    count.windows = Some(windows);
    Ok(count)
}

/// The writer alone (UPDATE only, no readers, no cache) for `plan.window`.
pub fn plain_update(plan: &StalenessPlan, target: &PgTarget) -> Result<Summary> {
    let mut db = Products::connect(target)?;
    db.reset()?;
    let v = Versions::new(plan.keys);
    let (h, _) = write_loop(
        plan,
        None,
        &mut db,
        None,
        "",
        &v,
        Instant::now() + plan.window,
    )?;
    summary(&h).ok_or_else(|| Error::Internal("staleness: the writer wrote nothing".into()))
}

/// Runs `strategy` once over the products table ([`Products::load`] first), with cache
/// keys under `prefix` (fresh for each run).
pub fn measure(
    plan: &StalenessPlan,
    strategy: Invalidation,
    target: &PgTarget,
    redis_url: &RedisUrl,
    prefix: &str,
) -> Result<StalenessRow> {
    let mut writer_db = Products::connect(target)?;
    writer_db.reset()?;
    let mut writer_cache = crate::rungs::redis::connect(redis_url)?;
    // Every product cached at version 0 before the window.
    let mut p = redis::pipe();
    for id in 1..=plan.keys {
        let set = p
            .cmd("SET")
            .arg(format!("{prefix}{id}"))
            .arg(product_value(0, 100));
        if strategy == Invalidation::TtlOnly {
            set.arg("PX").arg(plan.ttl.as_millis() as u64);
        }
        set.ignore();
    }
    p.query::<()>(&mut writer_cache).map_err(redis_err("SET"))?;
    let mut readers = Vec::new();
    for _ in 0..plan.readers {
        readers.push((
            Products::connect(target)?,
            crate::rungs::redis::connect(redis_url)?,
        ));
    }
    let v = Versions::new(plan.keys);
    let barrier = Barrier::new(plan.readers as usize + 1);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let counts: Mutex<Vec<ReaderCount>> = Mutex::new(Vec::new());
    let end = Instant::now() + plan.window + Duration::from_millis(50);
    let fail = |e: Error| {
        first_error.lock().expect("no poisoning").get_or_insert(e);
    };
    let write = std::thread::scope(|s| {
        for (n, (mut db, mut cache)) in readers.into_iter().enumerate() {
            let (v, barrier, counts, fail) = (&v, &barrier, &counts, &fail);
            s.spawn(move || {
                barrier.wait();
                let seed = plan.seed.wrapping_add(n as u64 + 1);
                match read_loop(plan, strategy, seed, &mut db, &mut cache, prefix, v, end) {
                    Ok(c) => counts.lock().expect("no poisoning").push(c),
                    Err(e) => fail(e),
                }
            });
        }
        barrier.wait();
        write_loop(
            plan,
            Some(strategy),
            &mut writer_db,
            Some(&mut writer_cache),
            prefix,
            &v,
            end,
        )
    });
    if let Some(e) = first_error.into_inner().expect("no poisoning") {
        return Err(e);
    }
    let (write, steps) = write?;
    let counts = counts.into_inner().expect("no poisoning");
    let windows = merged(counts.iter().filter_map(|c| c.windows.as_ref()));
    // After the writer stops: past the TTL for TTL-only, at once for the others.
    let settle = match strategy {
        Invalidation::TtlOnly => plan.ttl * 3 / 2 + Duration::from_millis(20),
        _ => Duration::ZERO,
    };
    std::thread::sleep(settle);
    let mut stale_after_settle = 0;
    for id in 1..=plan.keys {
        let got: Option<String> = redis::Commands::get(&mut writer_cache, format!("{prefix}{id}"))
            .map_err(redis_err("GET"))?;
        if let Some(cached) = got.as_deref().and_then(product_version) {
            if cached < writer_db.read(id)?.0 {
                stale_after_settle += 1;
            }
        }
    }
    let keys: Vec<String> = (1..=plan.keys).map(|id| format!("{prefix}{id}")).collect();
    let _: redis::RedisResult<()> = redis::Commands::del(&mut writer_cache, &keys);
    Ok(StalenessRow {
        strategy,
        reads: counts.iter().map(|c| c.reads).sum(),
        stale_reads: counts.iter().map(|c| c.stale).sum(),
        stale_window: summary(&windows),
        write: summary(&write)
            .ok_or_else(|| Error::Internal("staleness: the writer wrote nothing".into()))?,
        cache_step: summary(&steps),
        stale_fills: counts.iter().map(|c| c.stale_fills).sum(),
        stale_after_settle,
        settle_ms: settle.as_millis() as u64,
    })
}

/// Staleness per strategy, with the plain-UPDATE baseline, on `target` and `redis_url`.
pub fn section(
    plan: &StalenessPlan,
    target: &PgTarget,
    redis_url: &RedisUrl,
    advance: &dyn Fn(&str),
) -> Result<StalenessSection> {
    Products::load(target, plan.keys)?;
    let mut rows = Vec::new();
    for strategy in Invalidation::ALL {
        let prefix = crate::ownership::redis_prefix();
        rows.push(measure(plan, strategy, target, redis_url, &prefix)?);
        advance(strategy.label());
    }
    // Last, on a table the strategies have warmed.
    let plain_update = plain_update(plan, target)?;
    advance("plain UPDATE");
    Ok(StalenessSection {
        keys: plan.keys,
        readers: plan.readers,
        read_interval_us: plan.read_interval.as_micros() as u64,
        write_interval_us: plan.write_interval.as_micros() as u64,
        window_ms: plan.window.as_millis() as u64,
        ttl_ms: plan.ttl.as_millis() as u64,
        origin: "rows of a table on the managed PostgreSQL, by primary key".into(),
        plain_update,
        rows,
    })
}
