//! `ladder cache-lab`: what caches do when they are full ([`eviction`]: bounded Redis
//! under each policy, and memcached, replaying one key sequence) and when a hot key
//! expires under concurrent load ([`stampede`]); what a TTL buys and how long expired
//! keys linger ([`ttl`]); how stale reads get while a writer updates rows
//! ([`staleness`]); and what readers see when the cache server dies ([`outage`]).
//! Managed servers only: the experiments reconfigure Redis (`maxmemory`,
//! `maxmemory-policy`, `FLUSHALL`), kill and restart it, and start memcached with small
//! memory, which is never done to a user's server.

pub mod eviction;
pub mod outage;
pub mod staleness;
pub mod stampede;
pub mod ttl;

use crate::error::{Error, Result};
use crate::record::cache_lab::Summary;
use crate::target::postgres::PgTarget;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// A cache connection holding text values.
pub enum KvConn {
    /// Redis.
    Redis(redis::Connection),
    /// memcached.
    Memcached(memcache::Client),
}

impl KvConn {
    /// GET: the value, or `None` on a miss.
    pub fn get(&mut self, key: &str) -> Result<Option<String>> {
        match self {
            KvConn::Redis(c) => redis::Commands::get(c, key).map_err(redis_err("GET")),
            KvConn::Memcached(c) => c
                .get(key)
                .map_err(|e| Error::Unusable(format!("memcached: get: {e}"))),
        }
    }

    /// SET with an expiry in seconds: `false` where Redis refused it for want of
    /// memory (OOM: nothing left it may evict), which a read-through client survives.
    pub fn set(&mut self, key: &str, value: &str, ttl_s: u64) -> Result<bool> {
        match self {
            KvConn::Redis(c) => match redis::Commands::set_ex::<_, _, ()>(c, key, value, ttl_s) {
                Ok(()) => Ok(true),
                Err(e) if e.code() == Some("OOM") => Ok(false),
                Err(e) => Err(redis_err("SET")(e)),
            },
            KvConn::Memcached(c) => c
                .set(key, value, ttl_s as u32)
                .map(|()| true)
                .map_err(|e| Error::Unusable(format!("memcached: set: {e}"))),
        }
    }
}

/// Maps a Redis error of `what` to a one-line error.
pub fn redis_err(what: &'static str) -> impl Fn(redis::RedisError) -> Error {
    move |e| Error::Unusable(format!("Redis: {what}: {e}"))
}

/// The `name:value` fields of a Redis `INFO` answer.
pub fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|r| r.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// `INFO section` of a Redis connection.
pub fn info(c: &mut redis::Connection, section: &str) -> Result<String> {
    redis::cmd("INFO")
        .arg(section)
        .query(c)
        .map_err(redis_err("INFO"))
}

/// Paces a loop: sleeps until the next slot, `None` once `end` has passed.
pub fn pace(next: &mut Instant, interval: Duration, end: Instant) -> Option<Instant> {
    let now = Instant::now();
    if *next > now {
        std::thread::sleep(*next - now);
    }
    let start = Instant::now();
    if start >= end {
        return None;
    }
    *next = (*next + interval).max(start);
    Some(start)
}

/// The summary of `h` (absent where it is empty).
pub fn summary(h: &Histogram<u64>) -> Option<Summary> {
    (!h.is_empty()).then(|| Summary {
        n: h.len(),
        mean_ns: h.mean(),
        p50_ns: h.value_at_quantile(0.5) as f64,
        p99_ns: h.value_at_quantile(0.99) as f64,
        max_ns: h.max() as f64,
    })
}

/// The sum of `parts`.
pub fn merged<'a>(parts: impl IntoIterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut all = crate::rungs::latency_histogram();
    for h in parts {
        // Same bounds everywhere: adding cannot fail.
        let _ = all.add(h);
    }
    all
}

/// A table of products on the managed PostgreSQL (`id`, `version`, `price`), read and
/// updated by primary key: the row behind the staleness and outage experiments.
pub struct Products {
    client: postgres::Client,
    read: postgres::Statement,
    update: postgres::Statement,
}

fn pg(e: postgres::Error) -> Error {
    Error::Unusable(format!("PostgreSQL: cache-lab products: {e}"))
}

impl Products {
    /// (Re)creates the table with `keys` rows at version 0.
    pub fn load(target: &PgTarget, keys: u64) -> Result<()> {
        target
            .connect(0)?
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS cache_lab_product; \
                 CREATE TABLE cache_lab_product (id BIGINT PRIMARY KEY, \
                 version BIGINT NOT NULL, price BIGINT NOT NULL); \
                 INSERT INTO cache_lab_product SELECT g, 0, 100 \
                 FROM generate_series(1, {keys}) g; ANALYZE cache_lab_product"
            ))
            .map_err(pg)
    }

    /// A connection with the read and the update prepared.
    pub fn connect(target: &PgTarget) -> Result<Products> {
        let mut client = target.connect(0)?;
        let read = client
            .prepare("SELECT version, price FROM cache_lab_product WHERE id = $1")
            .map_err(pg)?;
        let update = client
            .prepare(
                "UPDATE cache_lab_product SET version = version + 1, price = price + 1 \
                 WHERE id = $1 RETURNING version, price",
            )
            .map_err(pg)?;
        Ok(Products {
            client,
            read,
            update,
        })
    }

    /// Product `id`'s (version, price).
    pub fn read(&mut self, id: u64) -> Result<(u64, i64)> {
        let r = self
            .client
            .query_one(&self.read, &[&(id as i64)])
            .map_err(pg)?;
        Ok((r.get::<_, i64>(0) as u64, r.get(1)))
    }

    /// Bumps product `id`'s version and price (one autocommitted UPDATE); the new
    /// (version, price).
    pub fn update(&mut self, id: u64) -> Result<(u64, i64)> {
        let r = self
            .client
            .query_one(&self.update, &[&(id as i64)])
            .map_err(pg)?;
        Ok((r.get::<_, i64>(0) as u64, r.get(1)))
    }

    /// Every product back to version 0.
    pub fn reset(&mut self) -> Result<()> {
        self.client
            .batch_execute("UPDATE cache_lab_product SET version = 0, price = 100")
            .map_err(pg)
    }
}

/// A cached product: "version|price".
pub fn product_value(version: u64, price: i64) -> String {
    format!("{version}|{price}")
}

/// The version of a cached product value.
pub fn product_version(value: &str) -> Option<u64> {
    value.split('|').next().and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_fields_are_read_by_exact_name() {
        let info = "# Stats\r\nkeyspace_hits:12\r\nkeyspace_misses:3\r\nevicted_keys:0\r\n";
        assert_eq!(info_field(info, "keyspace_hits"), Some(12));
        assert_eq!(info_field(info, "keyspace_misses"), Some(3));
        assert_eq!(info_field(info, "evicted_keys"), Some(0));
        assert_eq!(info_field(info, "keyspace"), None);
    }
}
