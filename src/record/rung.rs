//! Typed rung identity: what a row measured, as values (kind, operation, transport,
//! spacing, query), never as display text. The ladder and the comparisons match on
//! these; the `rung` and `method` strings of a row are for readers only.

use super::placement::{NoIrqPlacement, Placement};
use crate::counters::Reading;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A family of rungs: what `ladder run --skip` names, and what a skip is recorded
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// The memory sweep (L1, L2/L3, RAM).
    Memory,
    /// Between the cores and on the write side (`ladder cores`, short form).
    Cores,
    /// The storage rung.
    Ssd,
    /// The Redis rung.
    Redis,
    /// The memcached rung.
    Memcached,
    /// The database rungs (SQLite and PostgreSQL).
    Db,
    /// The external-API rung.
    Http,
    /// The web's caches on loopback: origin, edge, phases, name resolution.
    Web,
    /// A short fixed-rate GET load on the Redis and memcached measured in the run.
    Load,
    /// `ladder cache-lab`'s short form: eviction (LRU against LFU), staleness, outage.
    CacheLab,
}

impl Family {
    /// The name a skip of the whole family is shown with ("database" for [`Family::Db`]).
    pub fn name(self) -> &'static str {
        match self {
            Family::Memory => "memory",
            Family::Cores => "cores",
            Family::Ssd => "ssd",
            Family::Redis => "redis",
            Family::Memcached => "memcached",
            Family::Db => "database",
            Family::Http => "http",
            Family::Web => "web",
            Family::Load => "load",
            Family::CacheLab => "cache-lab",
        }
    }
}

/// How a client reaches a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Loopback or network TCP.
    Tcp,
    /// A unix-domain socket.
    UnixSocket,
    /// No transport: the engine runs inside the process (SQLite).
    Embedded,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "TCP",
            Transport::UnixSocket => "unix socket",
            Transport::Embedded => "embedded",
        })
    }
}

/// What the storage rung timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageOp {
    /// 4 KiB random reads past the page cache (O_DIRECT or its fallback), QD1.
    RandomRead,
    /// The same reads from a warm page cache (RAM).
    CachedRead,
    /// 4 KiB writes, each made durable before the next.
    SyncedWrite,
}

/// A Redis command of the Redis rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisOp {
    /// PING.
    Ping,
    /// GET of a key that exists.
    GetHit,
    /// GET of a key that does not.
    GetMiss,
    /// SET with an expiry.
    SetEx,
    /// INCR.
    Incr,
    /// SET with an expiry on a server with the append-only file set to `fsync`.
    SetPersisted {
        /// The `appendfsync` policy (or no AOF at all).
        fsync: AofFsync,
    },
}

/// Redis's persistence setting of a timed SET: `appendonly no`, or `appendonly yes`
/// with an `appendfsync` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AofFsync {
    /// `appendonly no`: nothing written.
    Off,
    /// `appendfsync everysec`: written at once, fsync'd once a second in the background.
    Everysec,
    /// `appendfsync always`: fsync'd before the answer.
    Always,
}

impl AofFsync {
    /// Every setting, in the order measured.
    pub const ALL: [AofFsync; 3] = [AofFsync::Off, AofFsync::Everysec, AofFsync::Always];
}

impl RedisOp {
    /// Every command, in the order they are measured.
    pub const ALL: [RedisOp; 5] = [
        RedisOp::Ping,
        RedisOp::GetHit,
        RedisOp::GetMiss,
        RedisOp::SetEx,
        RedisOp::Incr,
    ];

    /// "PING", "GET hit", "SET with TTL (EX 60)"...
    pub fn label(self) -> &'static str {
        match self {
            RedisOp::Ping => "PING",
            RedisOp::GetHit => "GET hit",
            RedisOp::GetMiss => "GET miss",
            RedisOp::SetEx => "SET with TTL (EX 60)",
            RedisOp::Incr => "INCR",
            RedisOp::SetPersisted {
                fsync: AofFsync::Off,
            } => "SET, appendonly no",
            RedisOp::SetPersisted {
                fsync: AofFsync::Everysec,
            } => "SET, appendonly yes, appendfsync everysec",
            RedisOp::SetPersisted {
                fsync: AofFsync::Always,
            } => "SET, appendonly yes, appendfsync always",
        }
    }
}

/// A memcached command of the memcached rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemcachedOp {
    /// GET of a key that exists.
    GetHit,
    /// GET of a key that does not.
    GetMiss,
    /// SET with an expiry.
    Set,
    /// One multi-get (`gets k1 k2 ...`) of `keys` keys that exist: one round trip.
    MultiGet {
        /// Keys per multi-get.
        keys: u64,
    },
}

impl MemcachedOp {
    /// "GET hit", "SET with TTL (60 s)", "multi-get of 10 keys"...
    pub fn label(self) -> String {
        match self {
            MemcachedOp::GetHit => "GET hit".into(),
            MemcachedOp::GetMiss => "GET miss".into(),
            MemcachedOp::Set => "SET with TTL (60 s)".into(),
            MemcachedOp::MultiGet { keys } => format!("multi-get of {keys} keys"),
        }
    }
}

/// How commands follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Spacing {
    /// Each command sent as soon as the previous answer arrived.
    BackToBack,
    /// The client sleeps `ms` between commands.
    Gap {
        /// The sleep, milliseconds.
        ms: u64,
    },
    /// `batch` commands per round trip; the time is per command.
    Pipelined {
        /// Commands per batch.
        batch: u64,
    },
}

/// A database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// Embedded SQLite.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// What a database row timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Query {
    /// A prepared primary-key lookup on a warm connection.
    PointLookup,
    /// A prepared indexed range scan.
    RangeScan,
    /// The aggregate JOIN over every order: the lecture's expensive query.
    Aggregate,
    /// The point lookup, cold: each sample on a server restarted with the tables'
    /// files evicted from the page cache (SQLite: the file evicted, a new connection),
    /// the statement prepared before the eviction.
    PointLookupCold,
    /// The aggregate, cold, as [`Query::PointLookupCold`].
    AggregateCold,
    /// A new connection (connect or open).
    Connect,
    /// The first query on a new connection (prepare + point lookup).
    FirstQuery,
    /// Cache-aside read that hits Redis.
    CacheHit,
    /// Cache-aside read that misses: GET, point lookup, SET.
    CacheMiss,
    /// The point lookup alone, beside the cache runs.
    NoCache,
    /// Write-through: UPDATE and SET.
    WriteThrough,
}

/// What one measured row is: the identity the ladder and the comparisons match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RungId {
    /// The storage rung.
    Storage {
        /// What was timed.
        op: StorageOp,
    },
    /// A Redis command.
    Redis {
        /// The command.
        op: RedisOp,
        /// How the client reached the server.
        transport: Transport,
        /// How commands followed each other.
        spacing: Spacing,
    },
    /// A memcached command.
    Memcached {
        /// The command.
        op: MemcachedOp,
        /// How the client reached the server.
        transport: Transport,
        /// How commands followed each other.
        spacing: Spacing,
    },
    /// A database query.
    Sql {
        /// SQLite or PostgreSQL.
        engine: Engine,
        /// What was timed.
        query: Query,
        /// How the client reached the server.
        transport: Transport,
    },
    /// A GET of the user's HTTP endpoint, a new connection each.
    Http,
}

impl RungId {
    /// The family a skip of this row is recorded against.
    pub fn family(&self) -> Family {
        match self {
            RungId::Storage { .. } => Family::Ssd,
            RungId::Redis { .. } => Family::Redis,
            RungId::Memcached { .. } => Family::Memcached,
            RungId::Sql { .. } => Family::Db,
            RungId::Http => Family::Http,
        }
    }

    /// The row's `rung` text: "ssd", "page cache", "redis", "sqlite", "postgres", "http".
    pub fn name(&self) -> &'static str {
        match self {
            RungId::Storage {
                op: StorageOp::CachedRead,
            } => "page cache",
            RungId::Storage { .. } => "ssd",
            RungId::Redis { .. } => "redis",
            RungId::Memcached { .. } => "memcached",
            RungId::Sql {
                engine: Engine::Sqlite,
                ..
            } => "sqlite",
            RungId::Sql {
                engine: Engine::Postgres,
                ..
            } => "postgres",
            RungId::Http => "http",
        }
    }
}

/// One measured operation of a comparison rung: a latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rung {
    /// What was measured: the identity the ladder and the comparisons match on.
    pub id: RungId,
    /// The rung, for readers: "ssd", "redis", "sqlite", "postgres", "http".
    pub rung: String,
    /// What exactly was timed, for readers: "O_DIRECT 4K random read QD1", "GET hit
    /// over TCP"...
    pub method: String,
    /// Timed operations.
    pub samples: u64,
    /// Median, ns.
    pub p50_ns: f64,
    /// 90th percentile, ns.
    pub p90_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// Slowest, ns.
    pub max_ns: f64,
    /// Fastest, ns.
    pub min_ns: f64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// What the measuring side saw, as text: the device, an OS message, a status (in
    /// older records also the fallbacks [`Rung::caveat`] now types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A fixed fact about how the row was measured, worded by the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveat: Option<Caveat>,
    /// Perf counters of the measuring thread per operation, counted from the first
    /// timed operation to the last (so they include the loop between operations, and
    /// the sleep of spaced ones).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, Reading>,
    /// Where client and server ran (service rungs; absent where placement does not
    /// apply, and in records before placement was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Storage reads: why they could not be placed beside the device's completion
    /// interrupt (absent where they were, and in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_irq_placement: Option<NoIrqPlacement>,
    /// Database rows: the bytes the process that ran the query read from the storage
    /// device per query (mean; Linux's /proc/<pid>/io `read_bytes`, page-cache hits not
    /// counted): a cold row's proof that it read the device, a warm row's that it did
    /// not. Absent where that cannot be read (another host's server, another user's
    /// process, a platform without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_read_bytes: Option<f64>,
    /// Every sample, as an HdrHistogram (1 ns to an hour, 3 significant digits) in its
    /// V2 deflate serialization, base64: what `ladder compare --baseline` draws its
    /// confidence intervals from. Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl Rung {
    /// `hist` in the form [`Rung::histogram`] stores.
    pub fn encode_histogram(hist: &hdrhistogram::Histogram<u64>) -> Option<String> {
        use base64::Engine;
        use hdrhistogram::serialization::Serializer;
        let mut bytes = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new()
            .serialize(hist, &mut bytes)
            .ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// The stored histogram, where there is one and it reads.
    pub fn decode_histogram(&self) -> Option<hdrhistogram::Histogram<u64>> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.histogram.as_ref()?)
            .ok()?;
        hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .ok()
    }
}

/// A fixed fact about how a row was measured (the report words it, so `ladder report`
/// re-words it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Caveat {
    /// O_DIRECT was refused: the reads went through the page cache, each read's block
    /// dropped from it after the read.
    DirectIoRefused,
}

/// A rung that could not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The family that did not run, all of it or a part named by `rung`.
    pub family: Family,
    /// What did not run, for readers: "database", "postgres", "http"...
    pub rung: String,
    /// Why it did not run, in one line.
    pub reason: String,
}

impl Skipped {
    /// The whole of `family` did not run, for `reason`.
    pub fn all(family: Family, reason: impl Into<String>) -> Skipped {
        Skipped {
            family,
            rung: family.name().to_string(),
            reason: reason.into(),
        }
    }
}
