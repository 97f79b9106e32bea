//! A cache outage: reader threads read products cache-aside (GET; on a miss, the row
//! from PostgreSQL, then SET) while the managed Redis is killed (SIGKILL) and, a while
//! later, restarted on the same socket, empty. The readers' cache connections have
//! short timeouts; any cache error sends the request to the database (a fallback) and
//! drops the connection, which is tried again at most every [`RECONNECT_EVERY`].
//! Measured per bucket of the window: requests, hits, cache errors, fallbacks, p50
//! and p99; and how long after the restart the hit ratio is back.

use super::{merged, pace, product_value, product_version, summary, Products};
use crate::error::{Error, Result};
use crate::labs::product_page::ZipfKeys;
use crate::record::cache_lab::{OutageBucket, OutagePhase, OutageSection, Phase};
use crate::rungs::latency_histogram;
use crate::services::redis::ManagedRedis;
use crate::target::postgres::PgTarget;
use crate::target::redis::RedisUrl;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// How often a reader without a cache connection tries to connect again.
pub const RECONNECT_EVERY: Duration = Duration::from_millis(50);
/// A bucket's hit ratio counts as recovered at this share of the pre-outage one.
pub const RECOVERED_SHARE: f64 = 0.9;

/// The experiment's shape.
#[derive(Debug, Clone, Copy)]
pub struct OutagePlan {
    /// Reader threads.
    pub clients: u32,
    /// Each reader's pause between requests.
    pub interval: Duration,
    /// Products.
    pub keys: u64,
    /// Zipf exponent of the key choices.
    pub skew: f64,
    /// Connect, read and write timeout of the cache connections.
    pub timeout: Duration,
    /// Before the kill.
    pub before: Duration,
    /// Killed for this long (then restarted).
    pub down: Duration,
    /// After the restart.
    pub after: Duration,
    /// Bucket width.
    pub bucket: Duration,
    /// Seed of the key choices.
    pub seed: u64,
}

/// Products of the default plan.
pub const KEYS: u64 = 1000;

/// The outage: 4 readers at 1 request/ms each over 1000 products (Zipf 0.99), cache
/// timeouts of 100 ms, 100 ms buckets.
pub fn default_plan([before, down, after]: [u64; 3], seed: u64) -> OutagePlan {
    OutagePlan {
        clients: 4,
        interval: Duration::from_millis(1),
        keys: KEYS,
        skew: 0.99,
        timeout: Duration::from_millis(100),
        before: Duration::from_millis(before),
        down: Duration::from_millis(down),
        after: Duration::from_millis(after),
        bucket: Duration::from_millis(100),
        seed,
    }
}

/// One bucket as a reader counts it.
struct Acc {
    requests: u64,
    hits: u64,
    errors: u64,
    fallbacks: u64,
    hist: Histogram<u64>,
}

fn acc() -> Acc {
    Acc {
        requests: 0,
        hits: 0,
        errors: 0,
        fallbacks: 0,
        hist: latency_histogram(),
    }
}

/// A cache connection with the plan's short timeouts.
fn connect(url: &str, timeout: Duration) -> redis::RedisResult<redis::Connection> {
    let c = redis::Client::open(url)?.get_connection_with_timeout(timeout)?;
    c.set_read_timeout(Some(timeout))?;
    c.set_write_timeout(Some(timeout))?;
    Ok(c)
}

/// One reader's cache side: the connection, when it last failed to connect.
struct Cache<'a> {
    url: &'a str,
    timeout: Duration,
    conn: Option<redis::Connection>,
    last_try: Option<Instant>,
}

impl Cache<'_> {
    /// The connection, connecting where due; `Err(())` counts one cache error.
    fn get(&mut self) -> Option<std::result::Result<&mut redis::Connection, ()>> {
        if self.conn.is_none() {
            if self.last_try.is_some_and(|t| t.elapsed() < RECONNECT_EVERY) {
                return None;
            }
            self.last_try = Some(Instant::now());
            match connect(self.url, self.timeout) {
                Ok(c) => self.conn = Some(c),
                Err(_) => return Some(Err(())),
            }
        }
        self.conn.as_mut().map(Ok)
    }
}

/// One request: (hit, cache errors, fell back to the database).
fn request(cache: &mut Cache, db: &mut Products, key: &str, id: u64) -> Result<(bool, u64, bool)> {
    let conn = match cache.get() {
        None => return db.read(id).map(|_| (false, 0, true)),
        Some(Err(())) => return db.read(id).map(|_| (false, 1, true)),
        Some(Ok(c)) => c,
    };
    match redis::Commands::get::<_, Option<String>>(conn, key) {
        Ok(Some(v)) if product_version(&v).is_some() => Ok((true, 0, false)),
        Ok(_) => {
            let (version, price) = db.read(id)?;
            let set: redis::RedisResult<()> =
                redis::Commands::set(conn, key, product_value(version, price));
            if set.is_err() {
                cache.conn = None;
            }
            Ok((false, u64::from(set.is_err()), false))
        }
        Err(_) => {
            cache.conn = None;
            db.read(id).map(|_| (false, 1, true))
        }
    }
}

/// Runs the outage on `redis` (killed and restarted here) over the products table
/// ([`Products::load`] first), with keys under `prefix`.
pub fn measure(
    plan: &OutagePlan,
    redis: &mut ManagedRedis,
    target: &PgTarget,
    prefix: &str,
) -> Result<OutageSection> {
    let url = redis.unix_url();
    let mut fill = crate::rungs::redis::connect(&RedisUrl::parse(&url)?)?;
    let mut p = redis::pipe();
    for id in 1..=plan.keys {
        p.set(format!("{prefix}{id}"), product_value(0, 100))
            .ignore();
    }
    p.query::<()>(&mut fill).map_err(super::redis_err("SET"))?;
    drop(fill);
    let mut readers = Vec::new();
    for n in 0..plan.clients {
        let keys = ZipfKeys::new(plan.keys, plan.skew, plan.seed.wrapping_add(u64::from(n)))?;
        readers.push((Products::connect(target)?, keys));
    }
    let buckets =
        ((plan.before + plan.down + plan.after).as_nanos() / plan.bucket.as_nanos()) as usize + 1;
    let stop = AtomicBool::new(false);
    // The phase index into Phase::ALL, set by the control thread.
    let phase = AtomicUsize::new(0);
    let barrier = Barrier::new(plan.clients as usize + 1);
    let all: Mutex<Vec<Vec<Acc>>> = Mutex::new(Vec::new());
    let failed = Mutex::new((0u64, None::<Error>));
    let mut start = Instant::now();
    let mut down_at = Duration::ZERO;
    let mut up_at = Duration::ZERO;
    let control = std::thread::scope(|s| -> Result<()> {
        for (mut db, mut keys) in readers {
            let (stop, barrier, all, failed, url) = (&stop, &barrier, &all, &failed, &url);
            let phase = &phase;
            s.spawn(move || {
                // The buckets, then one per phase.
                let mut mine: Vec<Acc> = (0..buckets + Phase::ALL.len()).map(|_| acc()).collect();
                // Connected before the window, as a running service is.
                let mut cache = Cache {
                    url,
                    timeout: plan.timeout,
                    conn: connect(url, plan.timeout).ok(),
                    last_try: None,
                };
                barrier.wait();
                let begin = Instant::now();
                let far = begin + Duration::from_secs(3600);
                let mut next = begin;
                while let Some(t0) = pace(&mut next, plan.interval, far) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let id = keys.next_key();
                    let b = ((t0 - begin).as_nanos() / plan.bucket.as_nanos()) as usize;
                    if b >= buckets {
                        break;
                    }
                    let p = buckets + phase.load(Ordering::Acquire);
                    let outcome = request(&mut cache, &mut db, &format!("{prefix}{id}"), id);
                    let ns = (t0.elapsed().as_nanos() as u64).max(1);
                    for i in [b, p] {
                        let a = &mut mine[i];
                        a.requests += 1;
                        if let Ok((hit, errors, fallback)) = &outcome {
                            a.hits += u64::from(*hit);
                            a.errors += errors;
                            a.fallbacks += u64::from(*fallback);
                        }
                        a.hist.saturating_record(ns);
                    }
                    if let Err(e) = outcome {
                        let mut f = failed.lock().expect("no poisoning");
                        f.0 += 1;
                        f.1.get_or_insert(e);
                    }
                }
                all.lock().expect("no poisoning").push(mine);
            });
        }
        barrier.wait();
        start = Instant::now();
        let outcome = (|| {
            std::thread::sleep(plan.before);
            crate::signal::check()?;
            phase.store(1, Ordering::Release);
            redis.kill();
            down_at = start.elapsed();
            std::thread::sleep(plan.down);
            redis.restart()?;
            phase.store(2, Ordering::Release);
            up_at = start.elapsed();
            let end = up_at + plan.after;
            while start.elapsed() < end {
                crate::signal::check()?;
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        outcome
    });
    control?;
    let (failed_requests, db_error) = failed.into_inner().expect("no poisoning");
    let all = all.into_inner().expect("no poisoning");
    let window = start.elapsed().min(plan.bucket * buckets as u32);
    let mut rows = Vec::new();
    for b in 0..buckets {
        let at = plan.bucket * b as u32;
        if at >= window {
            break;
        }
        let h = merged(all.iter().map(|m| &m[b].hist));
        let sum = |f: fn(&Acc) -> u64| all.iter().map(|m| f(&m[b])).sum::<u64>();
        rows.push(OutageBucket {
            start_ms: at.as_millis() as u64,
            requests: sum(|a| a.requests),
            hits: sum(|a| a.hits),
            cache_errors: sum(|a| a.errors),
            fallbacks: sum(|a| a.fallbacks),
            p50_ns: (!h.is_empty()).then(|| h.value_at_quantile(0.5) as f64),
            p99_ns: (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64),
        });
    }
    let phases = Phase::ALL
        .iter()
        .enumerate()
        .map(|(i, &phase)| {
            let sum = |f: fn(&Acc) -> u64| all.iter().map(|m| f(&m[buckets + i])).sum::<u64>();
            OutagePhase {
                phase,
                hits: sum(|a| a.hits),
                cache_errors: sum(|a| a.errors),
                fallbacks: sum(|a| a.fallbacks),
                latency: summary(&merged(all.iter().map(|m| &m[buckets + i].hist))),
            }
        })
        .collect();
    if failed_requests > 0 && rows.iter().all(|b| b.requests == 0) {
        return Err(db_error.unwrap_or_else(|| Error::Internal("outage: no request".into())));
    }
    let ratio = |b: &OutageBucket| b.hits as f64 / b.requests.max(1) as f64;
    let down_ms = down_at.as_millis() as u64;
    let up_ms = up_at.as_millis() as u64;
    let bucket_ms = plan.bucket.as_millis() as u64;
    let pre: Vec<&OutageBucket> = rows
        .iter()
        .filter(|b| b.start_ms + bucket_ms <= down_ms)
        .collect();
    let pre_hit_ratio = pre.iter().map(|b| b.hits).sum::<u64>() as f64
        / pre.iter().map(|b| b.requests).sum::<u64>().max(1) as f64;
    let recovery_ms = rows
        .iter()
        .find(|b| b.start_ms >= up_ms && ratio(b) >= RECOVERED_SHARE * pre_hit_ratio)
        .map(|b| b.start_ms + bucket_ms - up_ms);
    Ok(OutageSection {
        clients: plan.clients,
        interval_us: plan.interval.as_micros() as u64,
        keys: plan.keys,
        skew: plan.skew,
        cache_timeout_ms: plan.timeout.as_millis() as u64,
        down_at_ms: down_ms,
        up_at_ms: up_ms,
        window_ms: window.as_millis() as u64,
        bucket_ms,
        buckets: rows,
        phases,
        failed_requests,
        pre_hit_ratio,
        recovery_ms,
    })
}
