//! The lecture's service: a product page, whose data is the expensive aggregate JOIN
//! restricted to one product (every order of that product joined to it, counted and
//! summed: a scan of the orders, as there is no index on `product_id`). Product keys
//! are drawn from a Zipf distribution over the catalogue (a few products are most of
//! the traffic). The page is served straight from the database, or cache-aside through
//! Redis or memcached with an expiry: GET; on a miss, the query, then SET with TTL.
//!
//! [`PageDb`] holds the loaded data set (a temp SQLite file, or a run-unique schema on
//! PostgreSQL, removed when dropped) and makes one [`PageRequest`] per load connection,
//! each with its own database connection, cache connection and key stream.

use super::load::{Request, Served};
use crate::error::{Error, Result};
use crate::record::rung::Engine;
use crate::rungs::db::postgres::{pg_load, SchemaGuard};
use crate::rungs::db::sql::Sql;
use crate::rungs::db::sqlite::{sqlite_err, sqlite_load, sqlite_open};
use crate::rungs::db::DataSet;
use crate::target::memcached::MemcachedUrl;
use crate::target::postgres::{connect_within, pg_err, PgTarget, STATEMENT_TIMEOUT};
use crate::target::redis::RedisUrl;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Zipf};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Product keys drawn from Zipf(n, s): key k (1..=n) with probability proportional to
/// 1 / k^s.
#[derive(Debug, Clone)]
pub struct ZipfKeys {
    dist: Zipf<f64>,
    rng: SmallRng,
}

impl ZipfKeys {
    /// Keys 1..=n with exponent `s` (0: uniform), from `seed`.
    pub fn new(n: u64, s: f64, seed: u64) -> Result<ZipfKeys> {
        let dist = Zipf::new(n as f64, s)
            .map_err(|e| Error::Input(format!("Zipf over {n} keys with s = {s}: {e}")))?;
        Ok(ZipfKeys {
            dist,
            rng: SmallRng::seed_from_u64(seed),
        })
    }

    /// The next key.
    pub fn next_key(&mut self) -> u64 {
        self.dist.sample(&mut self.rng) as u64
    }
}

/// Where the data set lives.
enum Store {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres {
        config: Box<postgres::Config>,
        _guard: Box<SchemaGuard>,
    },
}

/// The product catalogue loaded into one database, ready to serve pages.
pub struct PageDb {
    store: Store,
    sql: Arc<Sql>,
    /// The data set.
    pub data: DataSet,
    /// "sqlite" or "postgres".
    pub engine: Engine,
}

impl PageDb {
    /// SQLite in a run-owned temp dir under `scratch_in`.
    pub fn sqlite(data: &DataSet, scratch_in: &Path) -> Result<PageDb> {
        let dir =
            crate::ownership::run_dir(scratch_in, &crate::ownership::out_temp_prefix("sqlite"))?;
        let path = dir.path().join("ladder.db");
        let mut s = sqlite_open(&path)?;
        sqlite_load(&mut s, data)?;
        Ok(PageDb {
            store: Store::Sqlite { path, _dir: dir },
            sql: Arc::new(Sql::new(String::new(), "INTEGER")),
            data: *data,
            engine: Engine::Sqlite,
        })
    }

    /// PostgreSQL in a run-unique schema over the first transport of `target`.
    pub fn postgres(data: &DataSet, target: &PgTarget) -> Result<PageDb> {
        let config = target.transports[0].1.clone();
        let mut guard = SchemaGuard::create(target.connect(0)?, &config)?;
        let sql = Sql::new(format!("{}.", guard.schema), "BIGINT");
        pg_load(guard.client(), &sql, data)?;
        Ok(PageDb {
            store: Store::Postgres {
                config: Box::new(config),
                _guard: Box::new(guard),
            },
            sql: Arc::new(sql),
            data: *data,
            engine: Engine::Postgres,
        })
    }

    /// A new connection that runs the page query.
    pub fn connect(&self) -> Result<PageQuery> {
        match &self.store {
            Store::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).map_err(sqlite_err)?;
                Ok(PageQuery(QueryConn::Sqlite {
                    conn,
                    sql: self.sql.clone(),
                }))
            }
            Store::Postgres { config, .. } => {
                let mut client = connect_within(config, "product page")?;
                client
                    .batch_execute(&format!("SET statement_timeout = '{}'", STATEMENT_TIMEOUT))
                    .map_err(|e| pg_err("product page", e))?;
                let st = client
                    .prepare(&self.sql.page)
                    .map_err(|e| pg_err("prepare the product page", e))?;
                Ok(PageQuery(QueryConn::Postgres { client, st }))
            }
        }
    }
}

/// One database connection running the page query.
pub struct PageQuery(QueryConn);

enum QueryConn {
    Sqlite {
        conn: rusqlite::Connection,
        sql: Arc<Sql>,
    },
    Postgres {
        client: postgres::Client,
        st: postgres::Statement,
    },
}

impl PageQuery {
    /// The page of product `id`, as the text a cache would hold ("" where the product
    /// has no orders).
    pub fn page(&mut self, id: i64) -> Result<String> {
        match &mut self.0 {
            QueryConn::Sqlite { conn, sql } => {
                let mut st = conn.prepare_cached(&sql.page).map_err(sqlite_err)?;
                let mut rows = st.query([id]).map_err(sqlite_err)?;
                match rows.next().map_err(sqlite_err)? {
                    Some(r) => {
                        let name: String = r.get(0).map_err(sqlite_err)?;
                        let n: i64 = r.get(1).map_err(sqlite_err)?;
                        let sum: i64 = r.get(2).map_err(sqlite_err)?;
                        let last: i64 = r.get(3).map_err(sqlite_err)?;
                        Ok(format!("{id}|{name}|{n}|{sum}|{last}"))
                    }
                    None => Ok(String::new()),
                }
            }
            QueryConn::Postgres { client, st } => {
                let rows = client
                    .query(&*st, &[&id])
                    .map_err(|e| pg_err("product page", e))?;
                Ok(rows.first().map_or_else(String::new, |r| {
                    let (name, n, sum, last): (String, i64, i64, i64) =
                        (r.get(0), r.get(1), r.get(2), r.get(3));
                    format!("{id}|{name}|{n}|{sum}|{last}")
                }))
            }
        }
    }
}

/// A cache connection in front of the page query.
pub enum CacheConn {
    /// Redis.
    Redis(redis::Connection),
    /// memcached.
    Memcached(memcache::Client),
}

/// Where the page's cache is: nowhere, or a Redis or memcached (parsed once).
#[derive(Clone)]
pub enum CacheAt {
    /// No cache: every page from the database.
    None,
    /// A Redis.
    Redis(RedisUrl),
    /// A memcached.
    Memcached(MemcachedUrl),
}

impl CacheConn {
    /// Connects to the cache `at` (none where there is no cache).
    pub fn connect(at: &CacheAt) -> Result<Option<CacheConn>> {
        Ok(match at {
            CacheAt::None => None,
            CacheAt::Redis(url) => Some(CacheConn::Redis(crate::rungs::redis::connect(url)?)),
            CacheAt::Memcached(url) => Some(CacheConn::Memcached(url.connect()?)),
        })
    }

    fn get(&mut self, key: &str) -> Result<Option<String>> {
        match self {
            CacheConn::Redis(c) => redis::Commands::get(c, key)
                .map_err(|e| Error::Unusable(format!("Redis: GET: {e}"))),
            CacheConn::Memcached(c) => c
                .get(key)
                .map_err(|e| Error::Unusable(format!("memcached: get: {e}"))),
        }
    }

    fn set(&mut self, key: &str, value: &str, ttl_s: u64) -> Result<()> {
        match self {
            CacheConn::Redis(c) => redis::Commands::set_ex(c, key, value, ttl_s)
                .map_err(|e| Error::Unusable(format!("Redis: SET: {e}"))),
            CacheConn::Memcached(c) => c
                .set(key, value, ttl_s as u32)
                .map_err(|e| Error::Unusable(format!("memcached: set: {e}"))),
        }
    }

    /// Deletes `keys` (the run's, by name).
    pub fn delete(&mut self, keys: &[String]) {
        match self {
            CacheConn::Redis(c) => {
                for batch in keys.chunks(crate::ownership::SCAN_BATCH) {
                    let _: redis::RedisResult<()> = redis::Commands::del(c, batch);
                }
            }
            CacheConn::Memcached(c) => {
                for k in keys {
                    let _ = c.delete(k);
                }
            }
        }
    }
}

/// The cache keys of a run's pages: `<run prefix>page:<id>`.
#[derive(Debug, Clone)]
pub struct PageKeys {
    prefix: String,
}

impl PageKeys {
    /// A fresh run prefix.
    pub fn new() -> PageKeys {
        PageKeys {
            prefix: crate::ownership::redis_prefix(),
        }
    }

    /// The key of product `id`'s page.
    pub fn key(&self, id: u64) -> String {
        format!("{}page:{id}", self.prefix)
    }

    /// Every key the run may have written for `products` products.
    pub fn all(&self, products: u64) -> Vec<String> {
        (1..=products).map(|id| self.key(id)).collect()
    }
}

impl Default for PageKeys {
    fn default() -> Self {
        PageKeys::new()
    }
}

/// One load connection's product-page requests.
pub struct PageRequest {
    db: PageQuery,
    cache: Option<CacheConn>,
    keys: ZipfKeys,
    names: PageKeys,
    ttl_s: u64,
}

impl PageRequest {
    /// A connection's requests: its own database and cache connections and key stream.
    pub fn new(
        db: PageQuery,
        cache: Option<CacheConn>,
        keys: ZipfKeys,
        names: PageKeys,
        ttl_s: u64,
    ) -> PageRequest {
        PageRequest {
            db,
            cache,
            keys,
            names,
            ttl_s,
        }
    }
}

impl Request for PageRequest {
    fn call(&mut self) -> Result<Served> {
        let id = self.keys.next_key();
        let Some(cache) = &mut self.cache else {
            self.db.page(id as i64)?;
            return Ok(Served::Database);
        };
        let key = self.names.key(id);
        if cache.get(&key)?.is_some() {
            return Ok(Served::Cache);
        }
        let page = self.db.page(id as i64)?;
        cache.set(&key, &page, self.ttl_s)?;
        Ok(Served::Database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_keys_follow_their_law() {
        let (n, s) = (1000u64, 0.99);
        let mut keys = ZipfKeys::new(n, s, 7).unwrap();
        let draws = 200_000;
        let mut counts = vec![0u64; n as usize + 1];
        for _ in 0..draws {
            let k = keys.next_key();
            assert!((1..=n).contains(&k), "{k}");
            counts[k as usize] += 1;
        }
        // P(1) = 1 / H(n, s); P(1) / P(2) = 2^s.
        let h: f64 = (1..=n).map(|k| 1.0 / (k as f64).powf(s)).sum();
        let p1 = counts[1] as f64 / draws as f64;
        assert!(
            (p1 * h - 1.0).abs() < 0.05,
            "P(1) = {p1}, expected {}",
            1.0 / h
        );
        let ratio = counts[1] as f64 / counts[2] as f64;
        assert!((ratio / 2f64.powf(s) - 1.0).abs() < 0.1, "{ratio}");
        // Skewed: the top 10% of keys take well over half the draws.
        let top: u64 = counts[1..=(n as usize / 10)].iter().sum();
        assert!(top as f64 / draws as f64 > 0.6);
        // s = 0 is uniform.
        let mut flat = ZipfKeys::new(10, 0.0, 1).unwrap();
        let mut c = [0u64; 11];
        for _ in 0..50_000 {
            c[flat.next_key() as usize] += 1;
        }
        assert!(c[1..].iter().all(|&x| (4_000..6_000).contains(&x)), "{c:?}");
    }

    #[test]
    fn the_page_query_answers_per_product_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataSet::new(2_000, 3);
        let db = PageDb::sqlite(&data, dir.path()).unwrap();
        let mut q = db.connect().unwrap();
        let expected = data.orders().filter(|o| o.product_id == 5).count();
        let page = q.page(5).unwrap();
        let fields: Vec<&str> = page.split('|').collect();
        assert_eq!(fields[0], "5");
        assert_eq!(fields[1], "product-5");
        assert_eq!(fields[2], expected.to_string());
        assert_eq!(q.page(1_000_000).unwrap(), "");
    }
}
