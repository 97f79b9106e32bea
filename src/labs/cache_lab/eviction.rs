//! Eviction: one key sequence (Zipf at several skews, and Zipf polluted by periodic
//! scans of cold keys) replayed read-through against a bounded cache — managed Redis
//! under each `maxmemory-policy`, and managed memcached given the same memory — with
//! the hit ratio from the client and from the server's own counters, and the latency
//! of the read-through request (GET; on a miss, the origin's primary-key lookup, then
//! SET).

use super::{info, info_field, redis_err, KvConn};
use crate::error::{Error, Result};
use crate::labs::product_page::ZipfKeys;
use crate::record::cache_lab::{EvictionRow, EvictionSection, Policy, Skip, SkipReason, Workload};
use crate::rungs::latency_histogram;
use crate::services::memcached::ManagedMemcached;
use crate::services::redis::ManagedRedis;
use crate::target::memcached::MemcachedUrl;
use crate::target::postgres::PgTarget;
use crate::target::redis::RedisUrl;
use hdrhistogram::Histogram;
use std::time::Instant;

/// The TTL of every cached value, s: long beside a run, and what `volatile-ttl` needs
/// (it only evicts keys that have one).
const VALUE_TTL_S: u64 = 3600;
const MIB: u64 = 1 << 20;

/// What to replay, and against which sizes.
#[derive(Debug, Clone)]
pub struct EvictionPlan {
    /// Distinct keys.
    pub keys: u64,
    /// Bytes per value.
    pub value_bytes: u64,
    /// Measured requests per replay (a warm-up of the same sequence's first
    /// `warmup` requests comes first).
    pub requests: u64,
    /// Warm-up requests.
    pub warmup: u64,
    /// The cache size every workload runs at (fraction of the working set).
    pub fraction: f64,
    /// Further sizes, run at the sweep skew only.
    pub sizes: Vec<f64>,
    /// The Zipf skews at `fraction`.
    pub skews: Vec<f64>,
    /// The skew of the size sweep and the scan workload.
    pub sweep_skew: f64,
    /// Whether to run the scan-polluted workload.
    pub scan: bool,
    /// The caches compared (allkeys-lru's means give the break-even).
    pub policies: Vec<Policy>,
    /// Seed of the key sequence.
    pub seed: u64,
}

/// The origin: a table of `keys` rows on the managed PostgreSQL, read by primary key.
pub struct Origin {
    client: postgres::Client,
    st: postgres::Statement,
}

impl Origin {
    /// Creates the table (`keys` rows of `value_bytes` each) and prepares the lookup.
    pub fn load(target: &PgTarget, keys: u64, value_bytes: u64) -> Result<Origin> {
        let pg = |e: postgres::Error| Error::Unusable(format!("PostgreSQL: cache-lab origin: {e}"));
        let mut client = target.connect(0)?;
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS cache_lab_item; \
                 CREATE TABLE cache_lab_item (id BIGINT PRIMARY KEY, v TEXT NOT NULL); \
                 INSERT INTO cache_lab_item SELECT g, lpad(g::text, {value_bytes}, 'v') \
                 FROM generate_series(1, {keys}) g; ANALYZE cache_lab_item"
            ))
            .map_err(pg)?;
        let st = client
            .prepare("SELECT v FROM cache_lab_item WHERE id = $1")
            .map_err(pg)?;
        Ok(Origin { client, st })
    }

    /// The value of key `id`.
    pub fn get(&mut self, id: u64) -> Result<String> {
        let row = self
            .client
            .query_one(&self.st, &[&(id as i64)])
            .map_err(|e| Error::Unusable(format!("PostgreSQL: cache-lab origin: {e}")))?;
        Ok(row.get(0))
    }
}

/// The key sequence of `workload`: `n` keys in 1..=keys.
pub fn sequence(workload: Workload, keys: u64, n: u64, seed: u64) -> Result<Vec<u64>> {
    let mut z = ZipfKeys::new(keys, workload.s(), seed)?;
    let mut out = Vec::with_capacity(n as usize);
    while (out.len() as u64) < n {
        if let Workload::ZipfScan { period, length, .. } = workload {
            if out.len() as u64 % (period + length) >= period {
                // The scan: the coldest `length` keys, in order.
                let i = out.len() as u64 % (period + length) - period;
                out.push(keys - length + 1 + i);
                continue;
            }
        }
        out.push(z.next_key());
    }
    Ok(out)
}

/// What one replay counted.
struct Replay {
    hits: u64,
    misses: u64,
    refused: u64,
    all: Histogram<u64>,
    hit_sum: f64,
    miss_sum: f64,
}

/// Read-through requests for `seq`.
fn replay(cache: &mut KvConn, origin: &mut Origin, prefix: &str, seq: &[u64]) -> Result<Replay> {
    let mut r = Replay {
        hits: 0,
        misses: 0,
        refused: 0,
        all: latency_histogram(),
        hit_sum: 0.0,
        miss_sum: 0.0,
    };
    for (i, &id) in seq.iter().enumerate() {
        if i % 4096 == 0 {
            crate::signal::check()?;
        }
        let key = format!("{prefix}{id}");
        let start = Instant::now();
        let hit = cache.get(&key)?.is_some();
        if !hit {
            let v = origin.get(id)?;
            r.refused += u64::from(!cache.set(&key, &v, VALUE_TTL_S)?);
        }
        let ns = start.elapsed().as_nanos() as u64;
        r.all.saturating_record(ns.max(1));
        if hit {
            r.hits += 1;
            r.hit_sum += ns as f64;
        } else {
            r.misses += 1;
            r.miss_sum += ns as f64;
        }
    }
    Ok(r)
}

/// Server counters: hits, misses, evictions, bytes in use.
type Counters = [Option<u64>; 4];

fn redis_counters(c: &mut redis::Connection) -> Result<Counters> {
    let stats = info(c, "stats")?;
    let mem = info(c, "memory")?;
    Ok([
        info_field(&stats, "keyspace_hits"),
        info_field(&stats, "keyspace_misses"),
        info_field(&stats, "evicted_keys"),
        info_field(&mem, "used_memory"),
    ])
}

/// `stats` over memcached's unix socket, read here: the memcache crate's `stats` stops
/// at the first line.
fn memcached_counters(socket: &std::path::Path) -> Result<Counters> {
    use std::io::{BufRead, BufReader, Write};
    let io = |e: std::io::Error| Error::Unusable(format!("memcached: stats: {e}"));
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(io)?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(io)?;
    stream.write_all(b"stats\r\n").map_err(io)?;
    let mut stats = std::collections::HashMap::new();
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(io)?;
        let line = line.trim_end();
        if line == "END" {
            break;
        }
        let mut parts = line.split(' ');
        if let (Some("STAT"), Some(k), Some(v)) = (parts.next(), parts.next(), parts.next()) {
            stats.insert(k.to_string(), v.to_string());
        }
    }
    let f = |n: &str| stats.get(n).and_then(|v| v.parse().ok());
    Ok([f("get_hits"), f("get_misses"), f("evictions"), f("bytes")])
}

/// The bytes the whole key set takes in `redis` (unbounded), and the empty server's
/// used_memory.
fn working_set(c: &mut redis::Connection, plan: &EvictionPlan, prefix: &str) -> Result<(u64, u64)> {
    redis::cmd("FLUSHALL")
        .query::<()>(c)
        .map_err(redis_err("FLUSHALL"))?;
    config_set(c, "maxmemory", "0")?;
    let used = |c: &mut redis::Connection| -> Result<u64> {
        info_field(&info(c, "memory")?, "used_memory")
            .ok_or_else(|| Error::Unusable("Redis: INFO memory has no used_memory".into()))
    };
    let before = used(c)?;
    let value = "v".repeat(plan.value_bytes as usize);
    let ids: Vec<u64> = (1..=plan.keys).collect();
    for batch in ids.chunks(1000) {
        let mut p = redis::pipe();
        for id in batch {
            p.set_ex(format!("{prefix}{id}"), &value, VALUE_TTL_S)
                .ignore();
        }
        p.query::<()>(c).map_err(redis_err("SET"))?;
    }
    let after = used(c)?;
    redis::cmd("FLUSHALL")
        .query::<()>(c)
        .map_err(redis_err("FLUSHALL"))?;
    // The empty server after a full one can hold more (grown tables, buffers): the
    // larger of the two is the overhead a bounded cache must leave room for.
    let empty = used(c)?.max(before);
    Ok((after.saturating_sub(before), empty))
}

fn config_set(c: &mut redis::Connection, name: &str, value: &str) -> Result<()> {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query::<()>(c)
        .map_err(redis_err("CONFIG SET"))
}

/// The (workload, size) pairs of `plan`, each run under every policy.
pub fn cases(plan: &EvictionPlan) -> Vec<(Workload, f64)> {
    let mut out: Vec<(Workload, f64)> = plan
        .skews
        .iter()
        .map(|&s| (Workload::Zipf { s }, plan.fraction))
        .collect();
    if plan.scan {
        let length = ((plan.keys as f64 * plan.fraction).round() as u64).clamp(1, plan.keys);
        out.push((
            Workload::ZipfScan {
                s: plan.sweep_skew,
                period: 5 * length,
                length,
            },
            plan.fraction,
        ));
    }
    for &f in &plan.sizes {
        if (f - plan.fraction).abs() > 1e-9 || !plan.skews.contains(&plan.sweep_skew) {
            out.push((Workload::Zipf { s: plan.sweep_skew }, f));
        }
    }
    out
}

/// Runs every case under every policy; `tick` is called after each replay. Returns the
/// section and the parts skipped (memcached where the size is under its 1 MiB page).
pub fn measure(
    plan: &EvictionPlan,
    redis: &ManagedRedis,
    target: &PgTarget,
    tick: &dyn Fn(&str),
) -> Result<(EvictionSection, Vec<Skip>)> {
    let mut origin = Origin::load(target, plan.keys, plan.value_bytes)?;
    let url = RedisUrl::parse(&redis.unix_url())?;
    let mut rc = crate::rungs::redis::connect(&url)?;
    // Both connections open before the empty server's memory is read.
    let mut rcache = KvConn::Redis(crate::rungs::redis::connect(&url)?);
    let prefix = crate::ownership::redis_prefix();
    let (ws, baseline) = working_set(&mut rc, plan, &prefix)?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let n = plan.warmup + plan.requests;
    for (workload, fraction) in cases(plan) {
        let seq = sequence(workload, plan.keys, n, plan.seed)?;
        let budget = (ws as f64 * fraction).round() as u64;
        for &policy in &plan.policies {
            let row = if let Some(name) = policy.redis_name() {
                redis::cmd("FLUSHALL")
                    .query::<()>(&mut rc)
                    .map_err(redis_err("FLUSHALL"))?;
                config_set(&mut rc, "maxmemory-policy", name)?;
                let limit = baseline + budget;
                config_set(&mut rc, "maxmemory", &limit.to_string())?;
                replay(
                    &mut rcache,
                    &mut origin,
                    &prefix,
                    &seq[..plan.warmup as usize],
                )?;
                let before = redis_counters(&mut rc)?;
                let r = replay(
                    &mut rcache,
                    &mut origin,
                    &prefix,
                    &seq[plan.warmup as usize..],
                )?;
                let after = redis_counters(&mut rc)?;
                config_set(&mut rc, "maxmemory", "0")?;
                row(policy, workload, fraction, limit, &r, before, after)
            } else {
                // -m is whole MiB (one slab page each): the nearest, where there is one.
                let mib = (budget as f64 / MIB as f64).round() as u64;
                if mib == 0 {
                    let why = Skip::Reason(SkipReason::MemcachedUnderOneMib {
                        fraction,
                        budget_bytes: budget,
                    });
                    if !skipped.contains(&why) {
                        skipped.push(why);
                    }
                    tick(policy.label());
                    continue;
                }
                let server = ManagedMemcached::start_with_memory(mib as u32)?;
                let url = MemcachedUrl::parse(&server.unix_url())?;
                let mut mc = KvConn::Memcached(url.connect()?);
                replay(&mut mc, &mut origin, &prefix, &seq[..plan.warmup as usize])?;
                let before = memcached_counters(&server.socket)?;
                let r = replay(&mut mc, &mut origin, &prefix, &seq[plan.warmup as usize..])?;
                let after = memcached_counters(&server.socket)?;
                row(policy, workload, fraction, mib * MIB, &r, before, after)
            };
            rows.push(row);
            tick(policy.label());
        }
    }
    redis::cmd("FLUSHALL")
        .query::<()>(&mut rc)
        .map_err(redis_err("FLUSHALL"))?;
    // The origin alone, on the sweep skew's sequence: what a request costs uncached.
    let seq = sequence(
        Workload::Zipf { s: plan.sweep_skew },
        plan.keys,
        plan.requests.min(5000),
        plan.seed,
    )?;
    let start = Instant::now();
    for &id in &seq {
        origin.get(id)?;
    }
    let direct = start.elapsed().as_nanos() as f64 / seq.len().max(1) as f64;
    let reference = rows.iter().find(|r| {
        r.policy == Policy::AllkeysLru
            && r.workload == (Workload::Zipf { s: plan.sweep_skew })
            && (r.cache_fraction - plan.fraction).abs() < 1e-9
    });
    let break_even = reference
        .and_then(|r| crate::rungs::db::break_even(r.hit_mean_ns?, r.miss_mean_ns?, direct));
    Ok((
        EvictionSection {
            keys: plan.keys,
            value_bytes: plan.value_bytes,
            requests: plan.requests,
            cache_fraction: plan.fraction,
            sweep_skew: plan.sweep_skew,
            working_set_bytes: ws,
            redis_baseline_bytes: baseline,
            origin: "PostgreSQL primary-key lookup (managed server, unix socket)".into(),
            direct_mean_ns: direct,
            break_even_hit_ratio: break_even,
            rows,
        },
        skipped,
    ))
}

fn row(
    policy: Policy,
    workload: Workload,
    cache_fraction: f64,
    limit_bytes: u64,
    r: &Replay,
    before: Counters,
    after: Counters,
) -> EvictionRow {
    let delta = |i: usize| Some(after[i]?.saturating_sub(before[i]?));
    let mean = |sum: f64, n: u64| (n > 0).then(|| sum / n as f64);
    EvictionRow {
        policy,
        workload,
        cache_fraction,
        limit_bytes,
        client_hits: r.hits,
        client_misses: r.misses,
        refused_sets: r.refused,
        server_hits: delta(0),
        server_misses: delta(1),
        evicted: delta(2),
        used_bytes: after[3],
        mean_ns: r.all.mean(),
        p99_ns: r.all.value_at_quantile(0.99) as f64,
        hit_mean_ns: mean(r.hit_sum, r.hits),
        miss_mean_ns: mean(r.miss_sum, r.misses),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_visit_the_cold_end_in_order() {
        let w = Workload::ZipfScan {
            s: 0.99,
            period: 10,
            length: 4,
        };
        let seq = sequence(w, 100, 28, 1).unwrap();
        assert_eq!(&seq[10..14], &[97, 98, 99, 100]);
        assert_eq!(&seq[24..28], &[97, 98, 99, 100]);
        assert!(seq.iter().all(|k| (1..=100).contains(k)));
        assert_eq!(seq, sequence(w, 100, 28, 1).unwrap());
    }
}
