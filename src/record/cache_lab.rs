//! `ladder cache-lab`: what caches do when they are full (eviction) or when a hot key
//! expires under load (stampede), as the record keeps it.

use serde::{Deserialize, Serialize};

/// Everything `ladder cache-lab` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheLabSection {
    /// The eviction experiment, where it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction: Option<EvictionSection>,
    /// The stampede experiment, where it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stampede: Option<StampedeSection>,
    /// Parts not measured, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// The eviction policy (or server) a cache ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Redis `allkeys-lru` (approximated by sampling).
    AllkeysLru,
    /// Redis `allkeys-lfu`.
    AllkeysLfu,
    /// Redis `allkeys-random`.
    AllkeysRandom,
    /// Redis `volatile-ttl` (every key has the same TTL here).
    VolatileTtl,
    /// memcached's segmented LRU per slab class.
    Memcached,
}

impl Policy {
    /// Every policy, in report order.
    pub const ALL: [Policy; 5] = [
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
        Policy::VolatileTtl,
        Policy::Memcached,
    ];

    /// The name Redis's `maxmemory-policy` takes (none for memcached).
    pub fn redis_name(self) -> Option<&'static str> {
        match self {
            Policy::AllkeysLru => Some("allkeys-lru"),
            Policy::AllkeysLfu => Some("allkeys-lfu"),
            Policy::AllkeysRandom => Some("allkeys-random"),
            Policy::VolatileTtl => Some("volatile-ttl"),
            Policy::Memcached => None,
        }
    }

    /// The name shown in reports.
    pub fn label(self) -> &'static str {
        self.redis_name().unwrap_or("memcached")
    }
}

/// The key sequence replayed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Workload {
    /// Zipf(keys, s).
    Zipf {
        /// The exponent.
        s: f64,
    },
    /// Zipf(keys, s), and every `period` requests a sequential pass over `length` keys
    /// from the cold end of the key space (the case LRU loses).
    ZipfScan {
        /// The exponent.
        s: f64,
        /// Requests between scans.
        period: u64,
        /// Keys per scan.
        length: u64,
    },
}

impl Workload {
    /// The Zipf exponent.
    pub fn s(&self) -> f64 {
        match *self {
            Workload::Zipf { s } | Workload::ZipfScan { s, .. } => s,
        }
    }
}

/// How the eviction experiment was set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvictionSection {
    /// Distinct keys.
    pub keys: u64,
    /// Bytes per value.
    pub value_bytes: u64,
    /// Measured requests per replay (after a warm-up of one request per key, not
    /// counted).
    pub requests: u64,
    /// The cache size every workload ran at (fraction of the working set's bytes).
    pub cache_fraction: f64,
    /// The skew of the size sweep and of the scan workload.
    pub sweep_skew: f64,
    /// Bytes the whole key set takes in Redis (used_memory with every key loaded, less
    /// the empty server's).
    pub working_set_bytes: u64,
    /// The empty server's used_memory, added to each maxmemory.
    pub redis_baseline_bytes: u64,
    /// The origin behind the cache ("SQLite primary-key lookup").
    pub origin: String,
    /// Mean of the origin alone (no cache), ns.
    pub direct_mean_ns: f64,
    /// The hit ratio above which read-through beats the origin alone, from the mean
    /// hit, miss and direct costs measured here (null: the cache never pays).
    pub break_even_hit_ratio: Option<f64>,
    /// One row per policy, workload and cache size.
    pub rows: Vec<EvictionRow>,
}

/// One replay of a key sequence against one bounded cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvictionRow {
    /// The policy.
    pub policy: Policy,
    /// The key sequence.
    pub workload: Workload,
    /// The cache size as a fraction of the working set's bytes.
    pub cache_fraction: f64,
    /// The memory limit given to the server, bytes (Redis maxmemory, memcached -m).
    pub limit_bytes: u64,
    /// Hits and misses as the client saw them (GET found / not found).
    pub client_hits: u64,
    /// Misses as the client saw them.
    pub client_misses: u64,
    /// SETs the server refused for want of memory (Redis OOM: its own overhead had
    /// grown past maxmemory with nothing left to evict); the request was still served.
    #[serde(default)]
    pub refused_sets: u64,
    /// keyspace_hits / get_hits from the server, over the measured replay.
    pub server_hits: Option<u64>,
    /// keyspace_misses / get_misses from the server.
    pub server_misses: Option<u64>,
    /// evicted_keys / evictions from the server.
    pub evicted: Option<u64>,
    /// Memory in use at the end (Redis used_memory, memcached bytes).
    pub used_bytes: Option<u64>,
    /// Mean of the read-through request (GET; on a miss, origin + SET), ns.
    pub mean_ns: f64,
    /// p99 of the read-through request, ns.
    pub p99_ns: f64,
    /// Mean of the hits alone, ns.
    pub hit_mean_ns: Option<f64>,
    /// Mean of the misses alone, ns.
    pub miss_mean_ns: Option<f64>,
}

impl EvictionRow {
    /// Client-side hit ratio.
    pub fn hit_ratio(&self) -> f64 {
        let n = self.client_hits + self.client_misses;
        if n == 0 {
            0.0
        } else {
            self.client_hits as f64 / n as f64
        }
    }
}

/// A stampede protection strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every miss recomputes.
    None,
    /// `SET lock NX PX`: the winner recomputes, the others wait and retry.
    Lock,
    /// Probabilistic early refresh (XFetch, Vattani et al. 2015).
    Xfetch,
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 3] = [Strategy::None, Strategy::Lock, Strategy::Xfetch];

    /// The name shown in reports.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::None => "no protection",
            Strategy::Lock => "lock (SET NX PX) + retry",
            Strategy::Xfetch => "XFetch early refresh",
        }
    }
}

/// How the stampede experiment was set up, and its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StampedeSection {
    /// Concurrent clients (threads), each requesting the hot key in a closed loop.
    pub clients: u32,
    /// The hot key's TTL, ms.
    pub ttl_ms: u64,
    /// The measured window, ms (one expiry falls inside it).
    pub window_ms: u64,
    /// Each client's pause between request starts, ms.
    pub interval_ms: u64,
    /// The recompute behind the key ("the product page from SQLite, N orders").
    pub origin: String,
    /// Mean of one recompute, ns.
    pub origin_mean_ns: f64,
    /// One row per strategy.
    pub rows: Vec<StampedeRow>,
}

/// One strategy under the stampede.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StampedeRow {
    /// The strategy.
    pub strategy: Strategy,
    /// Requests in the window.
    pub requests: u64,
    /// Requests that ran the origin query.
    pub origin_queries: u64,
    /// Clients that ran the origin query at least once.
    pub clients_at_origin: u32,
    /// Requests that arrived while the key was missing (before the first refill).
    pub misses: u64,
    /// p99 of the requests in the window, ns.
    pub p99_ns: f64,
    /// The slowest request, ns.
    pub max_ns: f64,
}
