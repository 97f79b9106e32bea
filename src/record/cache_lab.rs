//! `ladder cache-lab`: what caches do when they are full (eviction) or when a hot key
//! expires under load (stampede), what TTLs buy and how long expired keys linger, how
//! stale reads get under a writer, and a cache outage, as the record keeps it.

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
    /// Hit ratio against a time-scaled TTL, and how long expired keys linger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<TtlSection>,
    /// Stale reads under a writer, per invalidation strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staleness: Option<StalenessSection>,
    /// The cache server killed mid-run and restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<OutageSection>,
    /// Parts (or cache sizes) not measured, and why; the report words them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skip>,
    /// The user's Redis the parts that need no CONFIG ran on (URL, password redacted);
    /// absent: a managed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_redis: Option<String>,
}

/// A part or a cache size left out of a cache-lab run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Skip {
    /// Why, as a fact.
    Reason(SkipReason),
    /// The sentence a record from before the typed reasons stored.
    Text(String),
}

/// Why a part or a size was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The part (named as `--parts` names it) needs a server of our own (CONFIG SET,
    /// FLUSHALL or a kill), and the run was given a user's Redis.
    NeedsOwnServer {
        /// `--parts` name.
        part: String,
    },
    /// memcached's `-m` is whole MiB: this share of the working set rounds to none.
    MemcachedUnderOneMib {
        /// Share of the working set.
        fraction: f64,
        /// Bytes that share is.
        budget_bytes: u64,
    },
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

impl EvictionSection {
    /// Whether the rows hold more than one cache size at the sweep skew: what a chart of
    /// hit ratio against size needs (`ladder run`'s short form measures one size).
    pub fn has_size_sweep(&self) -> bool {
        let mut sizes: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.workload == (Workload::Zipf { s: self.sweep_skew }))
            .map(|r| r.cache_fraction)
            .collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup();
        sizes.len() > 1
    }
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

/// Hit ratio against TTL at a fixed request rate, the lecture's TTLs scaled down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TtlSection {
    /// The time scale: a TTL of `lecture_s` seconds runs as `lecture_s * scale`.
    pub scale: f64,
    /// Distinct keys.
    pub keys: u64,
    /// Zipf exponent of the key sequence.
    pub skew: f64,
    /// Requests per second (each request is a GET, and on a miss a SET with the TTL,
    /// in every TTL's own key space: one sequence, one cache per TTL).
    pub rate_per_s: u64,
    /// Requests before counting (as long as the longest TTL), ms.
    pub warmup_ms: u64,
    /// The counted window, ms.
    pub measure_ms: u64,
    /// One row per TTL.
    pub rows: Vec<TtlRow>,
    /// Expired keys left in memory after traffic stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linger: Option<LingerSection>,
}

/// One TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TtlRow {
    /// The lecture's TTL, s.
    pub lecture_s: u64,
    /// The TTL run, ms.
    pub ttl_ms: u64,
    /// Counted hits.
    pub hits: u64,
    /// Counted misses.
    pub misses: u64,
    /// What a renewal model expects at this rate, keys, skew and TTL (a key of
    /// request rate r holds λ = r × TTL hits per miss: hit ratio Σ p λ / (1 + λ)).
    pub model_hit_ratio: f64,
}

impl TtlRow {
    /// Hit ratio.
    pub fn hit_ratio(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
}

/// Keys set with one short TTL on an otherwise empty server, then no traffic: what
/// Redis still holds over time (lazy expiry frees a key when touched; the active cycle,
/// `hz` times a second, samples keys with a TTL and frees the expired ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LingerSection {
    /// Keys set.
    pub keys: u64,
    /// Their TTL, ms.
    pub ttl_ms: u64,
    /// The server's `hz` (CONFIG GET hz).
    pub hz: Option<u64>,
    /// Samples from the moment the last key was set.
    pub samples: Vec<LingerSample>,
    /// When the keyspace held none of them any more, ms after the last SET (absent:
    /// not within the sampled time).
    pub gone_ms: Option<u64>,
}

/// One look at `INFO keyspace` / `INFO stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LingerSample {
    /// Time since the last SET, ms.
    pub at_ms: u64,
    /// `keys=` of db0.
    pub keys: u64,
    /// `expires=` of db0.
    pub expires: u64,
    /// `expired_keys` since the keys were set.
    pub expired: u64,
}

/// How a writer keeps the cache in step with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invalidation {
    /// UPDATE, then SET the new value.
    WriteThrough,
    /// UPDATE, then DEL; readers refill on a miss (cache-aside).
    DeleteOnWrite,
    /// UPDATE only; cached values expire after a short TTL.
    TtlOnly,
}

impl Invalidation {
    /// Every strategy, in report order.
    pub const ALL: [Invalidation; 3] = [
        Invalidation::WriteThrough,
        Invalidation::DeleteOnWrite,
        Invalidation::TtlOnly,
    ];

    /// The name shown in reports.
    pub fn label(self) -> &'static str {
        match self {
            Invalidation::WriteThrough => "write-through",
            Invalidation::DeleteOnWrite => "delete-on-write",
            Invalidation::TtlOnly => "TTL only",
        }
    }
}

/// A latency summary, ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Samples.
    pub n: u64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Median, ns.
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Largest, ns.
    pub max_ns: f64,
}

/// Readers and a writer on one set of products, per invalidation strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalenessSection {
    /// Products (rows, and cache keys).
    pub keys: u64,
    /// Reader threads.
    pub readers: u32,
    /// Each reader's pause between reads, µs.
    pub read_interval_us: u64,
    /// The writer's pause between UPDATEs (of a product drawn at random), µs.
    pub write_interval_us: u64,
    /// The measured window per strategy, ms.
    pub window_ms: u64,
    /// The TTL of TTL-only's cached values, ms (the others set none).
    pub ttl_ms: u64,
    /// The row read and updated ("a PostgreSQL row by primary key").
    pub origin: String,
    /// The writer alone, UPDATE only, no readers and no cache: the write penalty's
    /// baseline.
    pub plain_update: Summary,
    /// One row per strategy.
    pub rows: Vec<StalenessRow>,
}

/// One strategy's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalenessRow {
    /// The strategy.
    pub strategy: Invalidation,
    /// Reads in the window.
    pub reads: u64,
    /// Reads that returned a version older than the newest one committed when the read
    /// started.
    pub stale_reads: u64,
    /// Per stale read, the time from the commit of the UPDATE that made it stale to the
    /// start of the read (absent: no stale read).
    pub stale_window: Option<Summary>,
    /// The writer's UPDATE plus its cache step.
    pub write: Summary,
    /// The cache step alone (SET or DEL after the UPDATE; absent for TTL only): what
    /// the strategy adds to every write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_step: Option<Summary>,
    /// Reader refills that stored a version older than one whose cache step (DEL or
    /// SET) had already completed: the value stays stale until the next write or
    /// expiry (delete-on-write's classic race).
    pub stale_fills: u64,
    /// After the writer stopped and `settle_ms` passed, products whose cached value
    /// was still older than the database's.
    pub stale_after_settle: u64,
    /// The pause before that check, ms (TTL-only: past the TTL).
    pub settle_ms: u64,
}

impl StalenessRow {
    /// Stale reads over reads.
    pub fn stale_fraction(&self) -> f64 {
        if self.reads == 0 {
            0.0
        } else {
            self.stale_reads as f64 / self.reads as f64
        }
    }
}

/// The cache server killed mid-run while readers keep reading through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageSection {
    /// Reader threads.
    pub clients: u32,
    /// Each reader's pause between requests, µs.
    pub interval_us: u64,
    /// Products, read with Zipf skew `skew`.
    pub keys: u64,
    /// The Zipf exponent.
    pub skew: f64,
    /// Connect, read and write timeout of the cache connections, ms.
    pub cache_timeout_ms: u64,
    /// When the server was killed, ms from the start.
    pub down_at_ms: u64,
    /// When the restarted server answered, ms from the start.
    pub up_at_ms: u64,
    /// The window, ms.
    pub window_ms: u64,
    /// Bucket width, ms.
    pub bucket_ms: u64,
    /// Requests before the kill, while the server was down (from the kill until the
    /// restarted server answered), and after: latency of each phase.
    pub phases: Vec<OutagePhase>,
    /// One row per bucket of the window.
    pub buckets: Vec<OutageBucket>,
    /// Requests that failed to answer at all (the database failed too).
    pub failed_requests: u64,
    /// Hit ratio before the outage.
    pub pre_hit_ratio: f64,
    /// From the restart until the first bucket whose hit ratio is back to 90% of
    /// `pre_hit_ratio`, ms (absent: not within the window).
    pub recovery_ms: Option<u64>,
}

/// Before, during or after the outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The cache up, warm.
    Before,
    /// From the kill until the restarted server answered.
    Down,
    /// After the restart (empty cache, refilling).
    After,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 3] = [Phase::Before, Phase::Down, Phase::After];

    /// The name shown in reports.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::Down => "cache down",
            Phase::After => "after restart",
        }
    }
}

/// One phase of the outage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutagePhase {
    /// The phase.
    pub phase: Phase,
    /// Cache hits.
    pub hits: u64,
    /// Cache commands that failed.
    pub cache_errors: u64,
    /// Requests answered from the database because the cache failed.
    pub fallbacks: u64,
    /// Request latency (absent: no request).
    pub latency: Option<Summary>,
}

/// One slice of the outage window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutageBucket {
    /// Start, ms from the beginning.
    pub start_ms: u64,
    /// Requests that started in it.
    pub requests: u64,
    /// Cache hits.
    pub hits: u64,
    /// Cache commands that failed (connect, GET or SET).
    pub cache_errors: u64,
    /// Requests answered from the database because the cache failed.
    pub fallbacks: u64,
    /// Median request latency, ns (absent: no request).
    pub p50_ns: Option<f64>,
    /// p99 request latency, ns.
    pub p99_ns: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_without_the_new_parts_still_loads_and_writes_none_of_them() {
        // A record from before TTL, staleness and outage: only eviction/stampede keys.
        let old: CacheLabSection = serde_json::from_str(r#"{"skipped": ["x"]}"#).unwrap();
        assert!(old.ttl.is_none() && old.staleness.is_none() && old.outage.is_none());
        assert_eq!(old.skipped, [Skip::Text("x".into())]);
        let text = serde_json::to_string(&old).unwrap();
        assert!(!text.contains("ttl") && !text.contains("staleness") && !text.contains("outage"));
    }

    #[test]
    fn a_typed_skip_round_trips_as_a_fact() {
        let skip = Skip::Reason(SkipReason::MemcachedUnderOneMib {
            fraction: 0.01,
            budget_bytes: 120_000,
        });
        let text = serde_json::to_string(&skip).unwrap();
        assert!(!text.contains(' '), "a fact, not a sentence: {text}");
        assert_eq!(serde_json::from_str::<Skip>(&text).unwrap(), skip);
    }
}
