//! What `ladder stride` measured (stride, line size, bandwidth, TLB, parallel chains,
//! loaded latency), as the record keeps it; [`crate::memory::patterns`] measures it.

use super::memory::{Isa, LevelName, Order, PageKind, PagesObtained};
use serde::{Deserialize, Serialize};

/// A working set named after the level it sits in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkingSet {
    /// "L1d", "L2", "L3", "RAM", or "user" for a size named with --size.
    pub level: LevelName,
    /// Bytes.
    pub size_bytes: u64,
}

/// Latency against stride for one working set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StridePoint {
    /// Bytes between consecutive nodes.
    pub stride_bytes: u64,
    /// Chase in address order (a prefetcher can follow it), ns per access.
    pub sequential_ns: f64,
    /// The same nodes in random order (it cannot), ns per access.
    pub random_ns: f64,
}

/// The stride curve of one working set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrideSet {
    /// Where the working set sits.
    pub set: WorkingSet,
    /// One point per stride, 8 B to 4 KiB.
    pub points: Vec<StridePoint>,
}

/// The line-size probe: a pair of loads `offset_bytes` apart in each of a set of pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbePoint {
    /// Distance of the second load from the first.
    pub offset_bytes: u64,
    /// ns per pair of loads.
    pub ns_per_pair: f64,
}

/// Read bandwidth in one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bandwidth {
    /// Level name.
    pub level: LevelName,
    /// Working set, bytes.
    pub size_bytes: u64,
    /// Best trial, GB/s (10^9 bytes per second).
    pub read_gbps: f64,
    /// The same in bytes per core cycle.
    pub bytes_per_cycle: Option<f64>,
    /// Loads used.
    pub isa: Isa,
    /// Page size obtained for the buffer ("2m" where THP allowed it: a stream over 4 KiB
    /// pages pays a TLB miss every 4 KiB, and a nested page walk in a VM).
    pub pages: PagesObtained,
}

/// One TLB measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlbPoint {
    /// Chain order.
    pub order: Order,
    /// Page size asked for.
    pub pages: PageKind,
    /// Page size obtained.
    pub pages_obtained: PagesObtained,
    /// Working set, bytes.
    pub size_bytes: u64,
    /// ns per access (fastest trial).
    pub ns_per_access: f64,
}

/// One point of the one-access-per-page chase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagePoint {
    /// Pages visited (one line each, at random offsets so they spread over cache sets).
    pub pages: u64,
    /// ns per access.
    pub ns_per_access: f64,
    /// The same number of lines packed together in random order (same cache footprint,
    /// few pages), ns per access.
    pub packed_ns: f64,
    /// The difference: what spreading over pages costs, the TLB's share.
    pub tlb_ns: f64,
}

/// The TLB section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlbSection {
    /// TLB-local and fully random chains, with 4 KiB and 2 MiB pages.
    pub orders: Vec<TlbPoint>,
    /// One access per 4 KiB page, against the number of pages.
    pub per_page: Vec<PagePoint>,
    /// Page counts at which the per-page curve steps up: TLB entries the curve shows.
    pub reach_entries: Vec<u64>,
}

/// Independent chains interleaved in one loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParallelPoint {
    /// Level of the working set.
    pub level: LevelName,
    /// Working set, bytes.
    pub size_bytes: u64,
    /// Chains.
    pub chains: u32,
    /// ns per access over all chains.
    pub ns_per_access: f64,
    /// Latency of one chain / time per access here: loads in flight (Little's law).
    pub misses_in_flight: f64,
}

/// Latency while another core streams reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadedPoint {
    /// Share of time the background thread streams (0 = idle, 1 = flat out).
    pub intensity: f64,
    /// Bandwidth the background thread achieved, GB/s.
    pub background_gbps: f64,
    /// Chase latency at the RAM working set, ns.
    pub latency_ns: f64,
}

/// Everything `ladder stride` measures. The headline figures come first; scripts read
/// them by these names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternsSection {
    /// Cache line size detected from the line probe.
    pub line_size_bytes: Option<u64>,
    /// What sysfs says (coherency_line_size).
    pub sysfs_line_bytes: Option<u64>,
    /// Fully random minus TLB-local at `tlb_bytes`, 4 KiB pages, ns.
    pub tlb_penalty_ns: Option<f64>,
    /// The same with 2 MiB pages, ns.
    pub tlb_penalty_2m_ns: Option<f64>,
    /// Loads in flight with 16 chains at the RAM working set.
    pub misses_in_flight: Option<f64>,
    /// Latency against stride, per working set.
    pub stride: Vec<StrideSet>,
    /// The line-size probe.
    pub line_probe: Vec<ProbePoint>,
    /// Read bandwidth per level.
    pub bandwidth: Vec<Bandwidth>,
    /// Page-walk cost and TLB reach.
    pub tlb: TlbSection,
    /// Memory-level parallelism.
    pub parallel: Vec<ParallelPoint>,
    /// Loaded latency (empty with one CPU).
    pub loaded: Vec<LoadedPoint>,
}
