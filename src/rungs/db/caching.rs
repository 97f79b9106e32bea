//! The lecture's caching patterns measured end to end: cache-aside (hit and miss) and
//! write-through against a Redis beside the database, and where the cache pays off.

use super::data::DataSet;
use super::{Labels, Plan, Session};
use crate::error::{Error, Result};
use crate::ownership::keys::RunKeys;
use crate::record::caching::CachePatterns;
use crate::record::rung::Query;
use crate::record::rung::Rung;
use crate::rungs::redis::Redis;
use crate::rungs::Latencies;
use crate::signal;
use crate::target::redis::RedisUrl;

/// A Redis beside the database, for the lecture's caching patterns measured end to
/// end; each engine that runs with it adds its [`CachePatterns`].
pub struct CacheProbe {
    conn: redis::Connection,
    keys: RunKeys<Redis>,
    /// What each engine measured.
    pub results: Vec<CachePatterns>,
}

impl CacheProbe {
    /// Connects to the Redis at `url` (keys under a run prefix, removed at the end).
    pub fn new(url: &RedisUrl) -> Result<CacheProbe> {
        Ok(CacheProbe {
            conn: crate::rungs::redis::connect(url)?,
            keys: RunKeys::new(url),
            results: Vec::new(),
        })
    }
}

/// Where reading through the cache starts to pay: `h * hit + (1 - h) * miss < direct`.
pub fn break_even(hit: f64, miss: f64, direct: f64) -> Option<f64> {
    if hit >= direct {
        return None;
    }
    Some(((miss - direct) / (miss - hit)).clamp(0.0, 1.0))
}

/// Measures cache-aside (hit, miss) and write-through on `s` with the probe's Redis.
pub(super) fn measure_caching<S: Session>(
    s: &mut S,
    probe: &mut CacheProbe,
    data: &DataSet,
    plan: &Plan,
    labels: &Labels,
) -> Result<Vec<Rung>> {
    use ::redis::Commands;
    let redis_err = |e: ::redis::RedisError| Error::Unusable(format!("Redis: {e}"));
    let mut params = data.params();
    let value = "x".repeat(120); // about one serialised order row
    let n = (plan.point / 10).max(20);
    let (mut hit, mut miss, mut direct, mut write) = (
        Latencies::new(),
        Latencies::new(),
        Latencies::new(),
        Latencies::new(),
    );
    let hot = probe.keys.key("cache:hot");
    let () = probe.conn.set_ex(&hot, &value, 60).map_err(redis_err)?;
    for i in 0..n {
        signal::check()?;
        let id = params.id();
        direct.time(|| s.point(id))?;
        hit.time(|| {
            probe
                .conn
                .get::<_, Option<String>>(&hot)
                .map(drop)
                .map_err(redis_err)
        })?;
        // A key never set before: the GET misses, the row is read and cached.
        let key = probe.keys.key(&format!("cache:order:{id}:{i}"));
        miss.time(|| {
            let cached: Option<String> = probe.conn.get(&key).map_err(redis_err)?;
            if cached.is_none() {
                s.point(id)?;
                let () = probe.conn.set_ex(&key, &value, 60).map_err(redis_err)?;
            }
            Ok(())
        })?;
    }
    for _ in 0..(n / 10).max(10) {
        signal::check()?;
        let id = params.id();
        let key = probe.keys.key(&format!("cache:order:{id}"));
        write.time(|| {
            s.update(id)?;
            let () = probe.conn.set_ex(&key, &value, 60).map_err(redis_err)?;
            Ok(())
        })?;
    }
    let rung = |l: &mut Latencies, query, method: &str| labels.rung(l, query, method.into());
    let hit = rung(&mut hit, Query::CacheHit, "cache-aside hit (Redis GET)")?;
    let miss = rung(
        &mut miss,
        Query::CacheMiss,
        "cache-aside miss (Redis GET miss + PK lookup + SET EX)",
    )?;
    let direct = rung(
        &mut direct,
        Query::NoCache,
        "no cache (PK lookup), beside the cache runs",
    )?;
    let write = rung(
        &mut write,
        Query::WriteThrough,
        "write-through (UPDATE + Redis SET EX)",
    )?;
    probe.results.push(CachePatterns {
        engine: labels.engine(),
        hit_ns: hit.mean_ns,
        miss_ns: miss.mean_ns,
        direct_ns: direct.mean_ns,
        write_through_ns: write.mean_ns,
        break_even_hit_ratio: break_even(hit.mean_ns, miss.mean_ns, direct.mean_ns),
    });
    Ok(vec![hit, miss, direct, write])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_pays_off_above_the_break_even_hit_ratio() {
        // hit 20, miss 70, direct 30: h * 20 + (1 - h) * 70 < 30 from h = 0.8.
        let h = break_even(20.0, 70.0, 30.0).unwrap();
        assert!((h - 0.8).abs() < 1e-12);
        assert!(h * 20.0 + (1.0 - h) * 70.0 <= 30.0 + 1e-9);
        // A cache slower than the database never pays.
        assert_eq!(break_even(40.0, 90.0, 30.0), None);
        // A miss no dearer than a direct read pays from the first hit.
        assert_eq!(break_even(1.0, 30.0, 30.0), Some(0.0));
    }
}
