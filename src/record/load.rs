//! The `load` section: fixed-rate (open-loop) load runs against a service, each with
//! its latency distribution corrected for coordinated omission (measured from each
//! request's intended start) and uncorrected (from its actual send) beside it, the
//! rate achieved, the hit ratio over time, and the CPU the servers spent.

use super::rung::Engine;
use serde::{Deserialize, Serialize};

/// What a load run sent its requests to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LoadTarget {
    /// A Redis GET of one existing key.
    RedisGet,
    /// A memcached GET of one existing key.
    MemcachedGet,
    /// A product page: the per-product aggregate JOIN, key drawn Zipf.
    ProductPage {
        /// Where the page comes from.
        cache: PageCache,
        /// "sqlite" or "postgres".
        engine: crate::record::rung::Engine,
    },
}

/// The cache in front of the product page's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageCache {
    /// Straight from the database.
    None,
    /// Cache-aside through Redis (GET; on a miss, the query and SET EX).
    Redis,
    /// Cache-aside through memcached (get; on a miss, the query and set with expiry).
    Memcached,
}

/// Latency percentiles of a load run, ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

/// One second of a load run, by the requests' intended start (warm-up included: from
/// a cold cache, this is the hit ratio's warm-up curve).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds from the start of the run (warm-up included).
    pub t_s: u32,
    /// Requests answered.
    pub requests: u64,
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that ran the database query.
    pub db_queries: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Mean corrected latency, ns.
    pub mean_ns: f64,
    /// Slowest corrected latency, ns.
    pub max_ns: f64,
}

/// CPU a server spent during the measured window (utime + stime from
/// `/proc/<pid>/stat`, its children included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCpu {
    /// "postgres", "redis", "memcached".
    pub server: String,
    /// CPU-seconds per second of the window.
    pub cpu_s_per_s: f64,
    /// CPU-seconds per request answered in the window.
    pub cpu_s_per_request: f64,
}

/// Why the load generator itself may have limited the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientLimit {
    /// The rate achieved is under 95% of the target.
    RateMissed,
    /// The generator's own CPU was near all the CPU its threads could use.
    ClientCpu,
}

/// One fixed-rate load run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRun {
    /// What the requests went to.
    pub target: LoadTarget,
    /// Requests per second asked for.
    pub rate_target: f64,
    /// Requests per second sent and answered in the measured window.
    pub rate_achieved: f64,
    /// Client connections (one thread each).
    pub connections: u32,
    /// The measured window, seconds (after the warm-up).
    pub duration_s: f64,
    /// The warm-up, seconds (left out of the percentiles, kept in `per_second`).
    pub warmup_s: f64,
    /// Requests answered in the measured window.
    pub requests: u64,
    /// Requests that failed in the whole run.
    pub errors: u64,
    /// The first failure, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Requests of the schedule never sent: the generator was still behind when the run
    /// ended.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsent: u64,
    /// Latency from each request's intended start (coordinated omission corrected).
    pub percentiles_ns: Percentiles,
    /// Latency from each request's actual send (the service time alone).
    pub uncorrected_percentiles_ns: Percentiles,
    /// Share of requests answered from the cache in the window (cache-aside only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_ratio: Option<f64>,
    /// Database queries run per second in the window (product pages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_queries_per_s: Option<f64>,
    /// CPU of each managed server; absent for servers that are not ours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_cpu: Vec<ServerCpu>,
    /// All the servers' CPU-seconds per request (the sum of `server_cpu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_s_per_request: Option<f64>,
    /// The generator process's CPU-seconds per second (an embedded SQLite's included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_s_per_s: Option<f64>,
    /// CPUs the generator's threads could use.
    pub client_cpus: u32,
    /// Signs that the client, not the server, set the pace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_limits: Vec<ClientLimit>,
    /// Per second of the run, warm-up included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_second: Vec<Second>,
}

/// Whether a count is zero (left out of the record).
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The load section of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSection {
    /// The product-page set-up where there is one: data set, key skew, TTL, and how
    /// the rate was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_page: Option<ProductPageSetup>,
    /// The runs, in the order they ran.
    pub runs: Vec<LoadRun>,
}

/// How the product-page runs were set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductPageSetup {
    /// Orders in the data set.
    pub orders: u64,
    /// Products (the page keys).
    pub products: u64,
    /// Zipf exponent of the key distribution.
    pub zipf_s: f64,
    /// Expiry of a cached page, seconds.
    pub ttl_s: u64,
    /// The rate asked for.
    pub rate_asked: f64,
    /// What the database alone sustained, closed loop (requests/s), where measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_capacity: Option<f64>,
    /// The rate every variant ran at: the rate asked for, or less where the database
    /// alone could not sustain it.
    pub rate_used: f64,
}

fn engine(e: Engine) -> &'static str {
    match e {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    }
}

/// "Redis GET", "product page via Redis (PostgreSQL)"...
pub fn target_label(t: &LoadTarget) -> String {
    match t {
        LoadTarget::RedisGet => "Redis GET".into(),
        LoadTarget::MemcachedGet => "memcached GET".into(),
        LoadTarget::ProductPage { cache, engine: e } => match cache {
            PageCache::None => format!("product page from {}", engine(*e)),
            PageCache::Redis => format!("product page via Redis ({})", engine(*e)),
            PageCache::Memcached => format!("product page via memcached ({})", engine(*e)),
        },
    }
}

/// The latency-vs-rate curves of a section: per target, its runs in order of rate,
/// where one target ran at two or more rates (`ladder load --rates`).
pub fn rate_curves(section: &LoadSection) -> Vec<(String, Vec<&LoadRun>)> {
    let mut curves: Vec<(String, Vec<&LoadRun>)> = Vec::new();
    for r in &section.runs {
        let label = target_label(&r.target);
        match curves.iter_mut().find(|c| c.0 == label) {
            Some(c) => c.1.push(r),
            None => curves.push((label, vec![r])),
        }
    }
    curves.retain(|c| c.1.len() > 1);
    for c in &mut curves {
        c.1.sort_by(|a, b| a.rate_target.total_cmp(&b.rate_target));
    }
    curves
}
