//! The memory sweep as the record keeps it: what was swept, every point, the levels the
//! curve shows, and the small typed values (page sizes, chain order, load width) the
//! sweep and the access patterns record. [`crate::memory`] measures them.

use crate::counters::Reading;
use crate::measure::disturbance::Disturbance;
use crate::measure::rounds::RoundStat;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The page size a buffer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum PageKind {
    /// Base pages (4 KiB on x86_64); transparent huge pages refused.
    #[serde(rename = "4k")]
    #[value(name = "4k")]
    Small,
    /// Transparent huge pages (the host's size: 2 MiB on x86_64) requested through
    /// madvise on Linux; base pages where the OS has none (macOS: superpages not
    /// requested).
    #[serde(rename = "2m")]
    #[value(name = "2m")]
    Huge,
}

impl fmt::Display for PageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageKind::Small => "4k",
            PageKind::Huge => "2m",
        })
    }
}

/// The page size a buffer got, as checked after it was touched: what a point, a TLB
/// chain or a bandwidth buffer records beside the [`PageKind`] it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PagesObtained {
    /// At least 90% of the buffer on base pages.
    #[serde(rename = "4k")]
    Small,
    /// At least 90% on huge pages.
    #[serde(rename = "2m")]
    Huge,
    /// Some of each.
    #[serde(rename = "mixed")]
    Mixed,
    /// Not checked: smaps could not be read.
    #[serde(rename = "unknown")]
    Unknown,
    /// Not checked: macOS, where superpages are not requested.
    #[serde(rename = "superpages not requested")]
    NotRequested,
}

impl fmt::Display for PagesObtained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PagesObtained::Small => "4k",
            PagesObtained::Huge => "2m",
            PagesObtained::Mixed => "mixed",
            PagesObtained::Unknown => "unknown",
            PagesObtained::NotRequested => "superpages not requested",
        })
    }
}

/// The name of a level of the memory hierarchy, or of a working set taken from one;
/// written as "L1d", "L2", "L3"..., "RAM" and "user".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LevelName {
    /// Cache level n: 1 is the L1 data cache ("L1d"), 2 is "L2"...
    Cache(u8),
    /// Main memory ("RAM").
    Ram,
    /// A working set the user named with `--size` ("user"; working sets only).
    User,
}

impl LevelName {
    /// The L1 data cache.
    pub const L1D: LevelName = LevelName::Cache(1);
    /// The second cache level.
    pub const L2: LevelName = LevelName::Cache(2);
    /// The third cache level.
    pub const L3: LevelName = LevelName::Cache(3);
}

impl fmt::Display for LevelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelName::Cache(1) => f.write_str("L1d"),
            LevelName::Cache(n) => write!(f, "L{n}"),
            LevelName::Ram => f.write_str("RAM"),
            LevelName::User => f.write_str("user"),
        }
    }
}

impl std::str::FromStr for LevelName {
    type Err = String;
    fn from_str(s: &str) -> Result<LevelName, String> {
        let cache = |n: &str| n.parse::<u8>().ok().filter(|&n| n >= 2);
        match s {
            "L1d" => Ok(LevelName::L1D),
            "RAM" => Ok(LevelName::Ram),
            "user" => Ok(LevelName::User),
            _ => s
                .strip_prefix('L')
                .and_then(cache)
                .map(LevelName::Cache)
                .ok_or_else(|| format!("unknown memory level {s:?}")),
        }
    }
}

impl TryFrom<String> for LevelName {
    type Error = String;
    fn try_from(s: String) -> Result<LevelName, String> {
        s.parse()
    }
}

impl From<LevelName> for String {
    fn from(l: LevelName) -> String {
        l.to_string()
    }
}

/// The order in which the chain visits its nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Random inside windows of a few dozen pages, windows in random order.
    TlbLocal,
    /// One random cycle over the whole buffer.
    Random,
    /// Address order.
    Sequential,
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::TlbLocal => "tlb-local",
            Order::Random => "random",
            Order::Sequential => "sequential",
        })
    }
}

/// The vector width a streaming read uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isa {
    /// 512-bit loads.
    Avx512,
    /// 256-bit loads.
    Avx2,
    /// 128-bit loads.
    Sse2,
    /// 128-bit Arm NEON loads, four registers per instruction (`ld1 {v0-v3}`).
    Neon,
    /// 64-bit loads.
    Scalar,
}

/// What to sweep and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// Smallest working set, bytes.
    pub min_bytes: u64,
    /// Largest working set, bytes.
    pub max_bytes: u64,
    /// Grid points per octave.
    pub per_octave: u32,
    /// Page sizes to sweep with, one series each.
    pub pages: Vec<PageKind>,
    /// Chain order.
    pub order: Order,
    /// The CPU the measuring thread is pinned to.
    pub cpu: usize,
    /// Trials per point, spread over the rounds.
    pub trials: usize,
    /// Times the whole grid is swept (alternating direction); 1 in records before
    /// rounds existed.
    #[serde(default = "one_round")]
    pub rounds: u32,
    /// Shortest trial, milliseconds.
    pub min_trial_ms: f64,
    /// Seed of the chain orders.
    pub seed: u64,
    /// Bytes between nodes.
    pub node_bytes: u64,
    /// Whether `node_bytes` was assumed ([`crate::memory::NODE_BYTES`]) because the host's line size
    /// is unknown.
    #[serde(default)]
    pub node_bytes_assumed: bool,
    /// TLB-local window, bytes.
    pub window_bytes: u64,
    /// Perf counters read around each timed trial, by perf's names.
    #[serde(default)]
    pub counters: Vec<String>,
}

fn one_round() -> u32 {
    1
}

/// One measured working-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryPoint {
    /// Working-set size, bytes.
    pub size_bytes: u64,
    /// Page size obtained (checked in /proc/self/smaps).
    pub pages: PagesObtained,
    /// Page size asked for.
    pub pages_requested: PageKind,
    /// Share of the buffer on huge pages, where smaps could be read.
    pub huge_fraction: Option<f64>,
    /// Fastest trial, ns per access (the architectural figure).
    pub ns_per_access: f64,
    /// Median trial, ns per access (the typical figure).
    pub ns_median: f64,
    /// 99th-percentile trial, ns per access.
    pub ns_p99: f64,
    /// Coefficient of variation over the trials.
    pub cv: f64,
    /// Fastest trial in core cycles per access (null when the clock is unknown).
    pub cycles_per_access: Option<f64>,
    /// Trials taken.
    pub trials: usize,
    /// Perf counter readings per access over the timed trials.
    #[serde(default)]
    pub counters: BTreeMap<String, Reading>,
    /// Each round's visit of this point (empty in records before rounds existed).
    #[serde(default)]
    pub rounds: Vec<RoundStat>,
    /// The slowest round's best over the fastest round's best, minus one.
    #[serde(default)]
    pub round_spread: Option<f64>,
    /// Whether the rounds disagreed beyond the point's own noise; only the agreeing
    /// rounds make the figures above.
    #[serde(default)]
    pub unstable: bool,
}

/// The memory section of a run: configuration, every point, detected levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySection {
    /// What was swept.
    pub config: SweepConfig,
    /// Every measured point, series after series.
    pub points: Vec<MemoryPoint>,
    /// Detected levels, per page-size series.
    pub levels: Vec<Level>,
    /// Steal time and involuntary context switches over the sweep.
    #[serde(default)]
    pub disturbance: Option<Disturbance>,
    /// The level detector that found `levels` (absent in records made before it was
    /// kept: those are version 1).
    #[serde(default)]
    pub detector_version: Option<u32>,
    /// The levels an earlier detector found, kept by `ladder report --reanalyse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_levels: Option<PreviousLevels>,
}

impl MemorySection {
    /// The points of one page-size series.
    pub fn series(&self, pages: PageKind) -> impl Iterator<Item = &MemoryPoint> {
        self.points
            .iter()
            .filter(move |p| p.pages_requested == pages)
    }
}

/// A named level of the memory hierarchy, detected or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// "L1d", "L2", "L3", "RAM".
    pub name: LevelName,
    /// Whether the curve shows this level.
    pub detected: bool,
    /// Detected capacity: the largest working set still on the plateau (null for RAM,
    /// for a plateau that runs to the end of the sweep, and when not detected).
    pub size_bytes: Option<u64>,
    /// What sysfs reports for this level (null for RAM or when sysfs is silent).
    pub sysfs_size_bytes: Option<u64>,
    /// Plateau latency (median of its points), ns.
    pub latency_ns: Option<f64>,
    /// Plateau latency in core cycles.
    pub latency_cycles: Option<f64>,
    /// The plateau's smallest and largest working set.
    pub plateau_bytes: Option<(u64, u64)>,
    /// The page size of the series this level was detected in (set by the sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PageKind>,
    /// The smallest and largest capacity found when each round of the sweep is read on
    /// its own (absent with one round, or where no round bounds the level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_range_bytes: Option<(u64, u64)>,
    /// The load-to-use latency, in core cycles, that the host's microarchitecture
    /// documents for a level of this name (lowest, highest); absent where the CPU or
    /// the figure is unknown (`data/uarch.csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented_cycles: Option<(f64, f64)>,
    /// Where the documented figures disagree with the measured cycles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doubt: Option<LevelDoubt>,
}

/// How a measured level disagrees with its microarchitecture's documented cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LevelDoubt {
    /// Its cycles are more than 30% away from every level the microarchitecture
    /// documents: a stretch of a transition, partial hits in a cache others share, a
    /// busy SMT sibling or a VM's slice, not the cache itself.
    FarFromDocumented,
    /// Its cycles match another documented level better than the one it is named.
    NearerTo {
        /// The documented level its cycles match.
        level: LevelName,
    },
}

/// The levels a run held before `ladder report --reanalyse` replaced them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousLevels {
    /// The detector that found them (1 for records made before the version was kept).
    pub detector_version: u32,
    /// The levels as they were.
    pub levels: Vec<Level>,
}

impl Level {
    /// Whether this is the RAM level.
    pub fn is_ram(&self) -> bool {
        self.name == LevelName::Ram
    }

    /// Whether the capacity moved between rounds by more than `steps` grid steps of a
    /// grid with `per_octave` points per octave.
    pub fn varies(&self, per_octave: u32, steps: f64) -> bool {
        self.size_range_bytes.is_some_and(|(lo, hi)| {
            (hi as f64 / lo.max(1) as f64).log2() > steps / f64::from(per_octave.max(1))
        })
    }
}

/// Whether a sweep to `max_bytes` goes far enough past the last-level cache (twice its
/// size) to be sure its last plateau is RAM.
pub fn reaches_past_caches(max_bytes: u64, llc: Option<u64>) -> bool {
    llc.is_some_and(|l| max_bytes >= l.saturating_mul(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_read_back_as_written() {
        for (name, text) in [
            (LevelName::L1D, "L1d"),
            (LevelName::L2, "L2"),
            (LevelName::Cache(4), "L4"),
            (LevelName::Ram, "RAM"),
            (LevelName::User, "user"),
        ] {
            assert_eq!(name.to_string(), text);
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<LevelName>(&json).unwrap(), name);
        }
        for bad in ["L1", "L0", "ram", "Lx", ""] {
            assert!(bad.parse::<LevelName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn obtained_pages_read_back_as_written() {
        for text in ["4k", "2m", "mixed", "unknown", "superpages not requested"] {
            let p: PagesObtained = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(p.to_string(), text);
        }
    }
}
