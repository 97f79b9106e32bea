//! TTL: one Zipf key sequence at a fixed request rate, read-through into one key space
//! per TTL on the same Redis (GET; on a miss, SET with the TTL), so every TTL sees the
//! same requests; the hit ratio per TTL after a warm-up as long as the longest one.
//! The lecture's TTLs (minutes to an hour) are scaled down so the run takes seconds;
//! the hit ratio depends on requests per key per TTL, so the scale is said with it.
//!
//! Then lingering: keys set with one short TTL on the emptied server, no traffic, and
//! `INFO keyspace` / `expired_keys` sampled until none is left: a key past its TTL is
//! freed when touched (lazy) or when the active cycle (`hz` times a second) samples
//! it, so keys stay in memory a while after they expired.

use super::{info, info_field, pace, redis_err};
use crate::error::{Error, Result};
use crate::labs::product_page::ZipfKeys;
use crate::record::cache_lab::{LingerSample, LingerSection, TtlRow, TtlSection};
use std::time::{Duration, Instant};

/// The experiment's shape.
#[derive(Debug, Clone)]
pub struct TtlPlan {
    /// The lecture's TTLs, s.
    pub lecture_s: Vec<u64>,
    /// Run TTL = lecture TTL × scale.
    pub scale: f64,
    /// Distinct keys.
    pub keys: u64,
    /// Zipf exponent.
    pub skew: f64,
    /// Requests per second.
    pub rate_per_s: u64,
    /// Counted window after the warm-up (which lasts the longest TTL).
    pub measure: Duration,
    /// Keys of the lingering look.
    pub linger_keys: u64,
    /// Their TTL.
    pub linger_ttl: Duration,
    /// How long to sample at most, after the last SET.
    pub linger_for: Duration,
    /// Sampling period.
    pub linger_every: Duration,
    /// Seed of the key sequence.
    pub seed: u64,
}

/// The lecture's TTLs, s.
pub const LECTURE_TTLS_S: [u64; 4] = [300, 600, 1800, 3600];

/// The TTL sweep: 10 000 keys at Zipf 0.9 and 1000 requests a second put the lecture's
/// TTLs, scaled by `scale`, on the steep part of the curve (about 0.25 to 0.6).
pub fn default_plan(scale: f64, seed: u64) -> TtlPlan {
    TtlPlan {
        lecture_s: LECTURE_TTLS_S.to_vec(),
        scale,
        keys: 10_000,
        skew: 0.9,
        rate_per_s: 1000,
        measure: Duration::from_secs_f64(*LECTURE_TTLS_S.last().unwrap_or(&0) as f64 * scale),
        linger_keys: 20_000,
        linger_ttl: Duration::from_millis(200),
        linger_for: Duration::from_secs(5),
        linger_every: Duration::from_millis(50),
        seed,
    }
}

impl TtlPlan {
    fn ttl_ms(&self, lecture_s: u64) -> u64 {
        ((lecture_s as f64 * self.scale * 1000.0).round() as u64).max(1)
    }
}

/// Runs the sweep and the lingering look on `c` (a managed Redis: it is flushed), with
/// keys under `prefix`.
pub fn measure(plan: &TtlPlan, c: &mut redis::Connection, prefix: &str) -> Result<TtlSection> {
    let ttls: Vec<u64> = plan.lecture_s.iter().map(|&s| plan.ttl_ms(s)).collect();
    let warmup = Duration::from_millis(ttls.iter().copied().max().unwrap_or(0));
    let mut keys = ZipfKeys::new(plan.keys, plan.skew, plan.seed)?;
    let mut hits = vec![0u64; ttls.len()];
    let mut misses = vec![0u64; ttls.len()];
    let begin = Instant::now();
    let counted_from = begin + warmup;
    let end = counted_from + plan.measure;
    let interval = Duration::from_secs_f64(1.0 / plan.rate_per_s.max(1) as f64);
    let mut next = begin;
    while let Some(t0) = pace(&mut next, interval, end) {
        crate::signal::check()?;
        let id = keys.next_key();
        let names: Vec<String> = (0..ttls.len())
            .map(|i| format!("{prefix}{i}:{id}"))
            .collect();
        let got: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&names)
            .query(c)
            .map_err(redis_err("MGET"))?;
        let mut fill = redis::pipe();
        let mut fills = 0;
        for (i, g) in got.iter().enumerate() {
            let counted = t0 >= counted_from;
            if g.is_some() {
                hits[i] += u64::from(counted);
            } else {
                misses[i] += u64::from(counted);
                fills += 1;
                fill.cmd("SET")
                    .arg(&names[i])
                    .arg(1)
                    .arg("PX")
                    .arg(ttls[i])
                    .ignore();
            }
        }
        if fills > 0 {
            fill.query::<()>(c).map_err(redis_err("SET"))?;
        }
    }
    let rows = plan
        .lecture_s
        .iter()
        .zip(&ttls)
        .enumerate()
        .map(|(i, (&lecture_s, &ttl_ms))| TtlRow {
            lecture_s,
            ttl_ms,
            hits: hits[i],
            misses: misses[i],
            model_hit_ratio: model(plan, ttl_ms),
        })
        .collect();
    Ok(TtlSection {
        scale: plan.scale,
        keys: plan.keys,
        skew: plan.skew,
        rate_per_s: plan.rate_per_s,
        warmup_ms: warmup.as_millis() as u64,
        measure_ms: plan.measure.as_millis() as u64,
        rows,
        linger: Some(linger(plan, c, prefix)?),
    })
}

/// The renewal model's hit ratio: key k, requested at rate r_k = rate × p_k, misses
/// once, then hits for a TTL (r_k × TTL hits on average) before the next miss.
pub fn model(plan: &TtlPlan, ttl_ms: u64) -> f64 {
    let weights: Vec<f64> = (1..=plan.keys)
        .map(|k| (k as f64).powf(-plan.skew))
        .collect();
    let total: f64 = weights.iter().sum();
    let per_key = plan.rate_per_s as f64 * ttl_ms as f64 / 1000.0 / total;
    weights
        .iter()
        .map(|w| {
            let l = w * per_key;
            w / total * l / (1.0 + l)
        })
        .sum()
}

/// `keys=` and `expires=` of db0 in `INFO keyspace` (0 where db0 is absent: empty).
pub fn db0(keyspace: &str) -> (u64, u64) {
    let line = keyspace.lines().find_map(|l| l.strip_prefix("db0:"));
    let field = |name: &str| {
        line.and_then(|l| {
            l.split(',')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
    };
    (field("keys"), field("expires"))
}

fn expired_keys(c: &mut redis::Connection) -> Result<u64> {
    info_field(&info(c, "stats")?, "expired_keys")
        .ok_or_else(|| Error::Unusable("Redis: INFO stats has no expired_keys".into()))
}

/// Keys set with a short TTL on the emptied server, then sampled until gone.
fn linger(plan: &TtlPlan, c: &mut redis::Connection, prefix: &str) -> Result<LingerSection> {
    redis::cmd("FLUSHALL")
        .query::<()>(c)
        .map_err(redis_err("FLUSHALL"))?;
    let hz = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .query::<Vec<String>>(c)
        .ok()
        .and_then(|v| v.get(1).and_then(|h| h.parse().ok()));
    let base = expired_keys(c)?;
    let ttl_ms = plan.linger_ttl.as_millis() as u64;
    let ids: Vec<u64> = (1..=plan.linger_keys).collect();
    for batch in ids.chunks(1000) {
        let mut p = redis::pipe();
        for id in batch {
            p.cmd("SET")
                .arg(format!("{prefix}linger:{id}"))
                .arg(1)
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        p.query::<()>(c).map_err(redis_err("SET"))?;
    }
    let set_at = Instant::now();
    let mut samples = Vec::new();
    let mut gone_ms = None;
    let mut next = set_at;
    while let Some(t) = pace(&mut next, plan.linger_every, set_at + plan.linger_for) {
        crate::signal::check()?;
        let (keys, expires) = db0(&info(c, "keyspace")?);
        let at_ms = (t - set_at).as_millis() as u64;
        samples.push(LingerSample {
            at_ms,
            keys,
            expires,
            expired: expired_keys(c)?.saturating_sub(base),
        });
        if keys == 0 {
            gone_ms = Some(at_ms);
            break;
        }
    }
    Ok(LingerSection {
        keys: plan.linger_keys,
        ttl_ms,
        hz,
        samples,
        gone_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db0_counts_are_read_from_info_keyspace() {
        let info =
            "# Keyspace\r\ndb0:keys=20000,expires=19000,avg_ttl=120\r\ndb1:keys=3,expires=0\r\n";
        assert_eq!(db0(info), (20000, 19000));
        assert_eq!(db0("# Keyspace\r\n"), (0, 0));
    }

    #[test]
    fn the_model_grows_with_the_ttl_and_stays_a_ratio() {
        let plan = default_plan(0.001, 1);
        let m: Vec<f64> = [100, 1000, 10_000]
            .iter()
            .map(|&t| model(&plan, t))
            .collect();
        assert!(m[0] < m[1] && m[1] < m[2], "{m:?}");
        assert!(m.iter().all(|x| (0.0..1.0).contains(x)), "{m:?}");
    }
}
