//! What `ladder cores` measured (core-to-core latency, false sharing, the write side per
//! level, scaling with cores, loaded latency), as the record keeps it;
//! [`crate::cores`] measures it.

use super::memory::{Isa, LevelName};
pub use crate::record::patterns::LoadedPoint;
use serde::{Deserialize, Serialize};

/// Where one logical CPU sits, from sysfs (Linux); empty lists and nulls where the OS
/// does not say. A hypervisor shows the guest the topology it chooses, which need not
/// be the host's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuPlace {
    /// The logical CPU.
    pub cpu: usize,
    /// The CPUs of its core, itself included (`thread_siblings_list`); more than one
    /// with SMT.
    #[serde(default)]
    pub core_cpus: Vec<usize>,
    /// The CPUs that share its last-level cache (that cache's `shared_cpu_list`).
    #[serde(default)]
    pub llc_cpus: Vec<usize>,
    /// The level of that cache (3 on most x86, 2 on many Arm chips).
    #[serde(default)]
    pub llc_level: Option<u32>,
    /// Its package (socket), `physical_package_id`.
    #[serde(default)]
    pub package: Option<u32>,
    /// Its NUMA node.
    #[serde(default)]
    pub node: Option<u32>,
}

/// How two CPUs are related: what a cache line travels through between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// Two hardware threads of one core (SMT siblings): the line stays in the core.
    SameCore,
    /// Different cores under one last-level cache.
    SameL3,
    /// Different last-level caches in one package (another CCX or chiplet).
    OtherL3,
    /// Different packages (sockets).
    OtherSocket,
    /// The OS does not say enough to tell.
    Unknown,
}

/// How the two threads of a pair hand the line over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handoff {
    /// Each side spins on a compare-and-swap from the other side's value to its own
    /// (the standard method, as nviennot's core-to-core-latency). Records written
    /// before `bursts_per_pair` existed timed an older variant that waited on plain
    /// loads between its compare-and-swaps (about 12-14 ns more per hop).
    Cas,
    /// Each side spins on plain loads until the word is its turn, then stores the next
    /// value: the handoff of a plain flag (a message-passing queue's), whose line goes
    /// shared to the waiting reader first and exclusive at the store.
    Store,
}

/// The line's round trip between one ordered pair of CPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairLatency {
    /// The CPU that starts each round trip.
    pub cpu_a: usize,
    /// The CPU that answers.
    pub cpu_b: usize,
    /// How they are related.
    pub relation: Relation,
    /// How the line was handed over.
    pub handoff: Handoff,
    /// Half the median round trip, ns.
    pub one_way_ns: f64,
    /// Median round trip, ns (each sample is the mean of a batch of round trips).
    pub round_trip_ns: f64,
    /// 99th percentile of the samples' round trips, ns.
    pub p99_ns: f64,
    /// Each burst's one-way latency (half its median round trip), ns, in the order
    /// measured; the bursts are spread over the whole measurement. Empty in older
    /// records (one block per pair).
    #[serde(default)]
    pub burst_one_way_ns: Vec<f64>,
    /// The modes of the bursts, fastest first (see `measure::modes`): one where the
    /// pair stayed in one placement, more where it moved (a VM's vCPUs moved between
    /// physical cores) during the run. `one_way_ns` is the median of the mode holding
    /// the most bursts. Empty in older records.
    #[serde(default)]
    pub modes: Vec<PairMode>,
}

/// One placement a pair was seen in: a mode of its bursts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairMode {
    /// Median one-way latency of the mode's bursts, ns.
    pub one_way_ns: f64,
    /// Bursts in the mode.
    pub bursts: usize,
    /// The mode's share of the pair's bursts.
    pub share: f64,
}

/// Threads incrementing counters in one line, in separate lines, or one shared atomic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FalseSharing {
    /// Threads, one per CPU.
    pub threads: usize,
    /// Their CPUs.
    pub cpus: Vec<usize>,
    /// Increments per thread per trial.
    pub increments: u64,
    /// Each thread its own counter, all counters in one cache line: ns per increment
    /// (per thread, median of the trials). Since `padded_fetch_add_ns` exists an
    /// increment is a load, add and store the core cannot rename; older records timed
    /// one it may rename (then `padded_ns` is about one cycle, register speed).
    pub same_line_ns: f64,
    /// Each counter in its own line, 128 bytes apart (past the adjacent-line
    /// prefetcher's pair): ns per increment.
    pub padded_ns: f64,
    /// One counter shared by all threads, atomic fetch-add: ns per increment.
    pub atomic_ns: f64,
    /// same_line_ns / padded_ns.
    pub slowdown: f64,
    /// Each thread an atomic fetch-add on its own counter, all in one line: ns per
    /// increment. Null in older records.
    #[serde(default)]
    pub same_line_fetch_add_ns: Option<f64>,
    /// The same, each counter in its own line: ns per increment (an uncontended atomic
    /// in L1). Null in older records.
    #[serde(default)]
    pub padded_fetch_add_ns: Option<f64>,
}

/// What a bandwidth kernel does with the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BandwidthKind {
    /// Vector loads.
    Read,
    /// Vector stores (each line read first where caches write-allocate).
    Write,
    /// Loads from one half, stores to the other; bytes read plus bytes written count.
    Copy,
    /// Non-temporal (streaming) stores that bypass the caches.
    NtStore,
}

impl BandwidthKind {
    /// The kinds measured in every level, in the order of their columns.
    pub const ALL: [BandwidthKind; 4] = [
        BandwidthKind::Read,
        BandwidthKind::Write,
        BandwidthKind::Copy,
        BandwidthKind::NtStore,
    ];
}

/// Single-thread bandwidth of one kind in one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelBandwidth {
    /// "L1d", "L2", "L3" or "RAM".
    pub level: LevelName,
    /// Working set, bytes (copy: both halves).
    pub size_bytes: u64,
    /// What the kernel does.
    pub kind: BandwidthKind,
    /// Best trial, GB/s (10^9 bytes per second).
    pub gbps: f64,
    /// Vector width used.
    pub isa: Isa,
}

/// Aggregate read bandwidth of several threads at the RAM set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingPoint {
    /// Threads, one per CPU.
    pub threads: usize,
    /// Their CPUs.
    pub cpus: Vec<usize>,
    /// All threads together, best trial, GB/s.
    pub read_gbps: f64,
}

/// The `cores` section of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoresSection {
    /// The CPUs measured.
    pub cpus: Vec<usize>,
    /// Where each sits.
    pub topology: Vec<CpuPlace>,
    /// Samples per pair and handoff.
    pub samples_per_pair: u32,
    /// Round trips per sample.
    pub round_trips_per_sample: u32,
    /// Bursts per pair and handoff, spread over the measurement (each an untimed
    /// warm-up sample, then timed samples); 0 in older records, which timed each pair
    /// in one block.
    #[serde(default)]
    pub bursts_per_pair: u32,
    /// The shortest time the bursts of every pair were spread over, ms.
    #[serde(default)]
    pub spread_ms: u64,
    /// One entry per ordered pair of distinct CPUs and handoff.
    #[serde(default)]
    pub pairs: Vec<PairLatency>,
    /// False sharing; null with fewer than two CPUs.
    #[serde(default)]
    pub false_sharing: Option<FalseSharing>,
    /// Single-thread bandwidth per level and kind.
    #[serde(default)]
    pub bandwidth: Vec<LevelBandwidth>,
    /// The vector width of the kernels where it has no non-temporal store kernel here
    /// (Arm, scalar): the reason there are no `nt-store` rows. Null where there is one.
    #[serde(default)]
    pub no_nt_store: Option<Isa>,
    /// A store followed by a load of the same word, dependent: ns per pair (the store
    /// forwarding latency; a store's own latency hides in the store buffer). Since
    /// `renamed_reload_ns` exists the load uses an indexed address, which no core
    /// renames; older records timed a form the core may rename (about one cycle).
    #[serde(default)]
    pub store_forward_ns: Option<f64>,
    /// The same store and reload addressed by one base register, the form memory
    /// renaming recognises: ns per pair (about one cycle where the core renames it,
    /// like `store_forward_ns` where it does not). Null in older records.
    #[serde(default)]
    pub renamed_reload_ns: Option<f64>,
    /// Read bandwidth with 1..N threads at the RAM set.
    #[serde(default)]
    pub scaling: Vec<ScalingPoint>,
    /// RAM set of the scaling and loaded-latency experiments, bytes.
    pub ram_bytes: u64,
    /// The RAM chase on one CPU while the others stream at rising intensity.
    #[serde(default)]
    pub loaded: Vec<LoadedPoint>,
    /// The CPU of the loaded-latency chase.
    #[serde(default)]
    pub chase_cpu: Option<usize>,
}
