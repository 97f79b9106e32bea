//! `ladder cache-lab`: what caches do when they are full ([`eviction`]: bounded Redis
//! under each policy, and memcached, replaying one key sequence) and when a hot key
//! expires under concurrent load ([`stampede`]). Managed servers only: the experiments
//! reconfigure Redis (`maxmemory`, `maxmemory-policy`, `FLUSHALL`) and start memcached
//! with small memory, which is never done to a user's server.

pub mod eviction;
pub mod stampede;

use crate::error::{Error, Result};

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
