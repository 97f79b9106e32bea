//! The host description recorded in every run: what `crate::host` probes, as stored.

use crate::counters::CounterProbe;
use serde::{Deserialize, Serialize};

/// A fixed fact about the host that the report words, or the sentence a record from
/// before the typed facts stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HostNote<T> {
    /// The fact.
    Fact(T),
    /// An older record's text, shown as written.
    Text(String),
}

/// Why the measuring thread runs unpinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAffinity {
    /// macOS has no thread affinity; the thread asks for QoS user-interactive instead.
    MacosQos,
    /// The OS has no thread affinity ladder can use.
    Unsupported,
}

/// Why huge pages are not in play where the OS has no THP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoHugePages {
    /// Linux without transparent huge pages.
    ThpUnavailable,
    /// macOS: superpages are not requested.
    SuperpagesNotRequested,
    /// An OS without huge pages ladder can use.
    Unsupported,
}

/// One kind of core on a hybrid CPU (performance or efficiency cores).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreKind {
    /// "performance", "efficiency" (or "mid" for a third capacity class).
    pub kind: String,
    /// Its logical CPUs, where the OS names them (Linux); empty where it only counts
    /// them (macOS).
    pub cpus: Vec<usize>,
    /// How many logical CPUs are of this kind.
    pub count: usize,
    /// Where the OS said so: "cpu_core PMU", "cpu_capacity 1024", "hw.perflevel0".
    pub source: String,
}

impl CoreKind {
    /// A kind with its named CPUs.
    pub fn new(kind: &str, cpus: Vec<usize>, source: &str) -> CoreKind {
        CoreKind {
            kind: kind.into(),
            count: cpus.len(),
            cpus,
            source: source.into(),
        }
    }
}

/// One cache as sysfs (or sysctl) describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheInfo {
    /// 1, 2, 3...
    pub level: u32,
    /// "Data", "Instruction" or "Unified".
    pub kind: String,
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Coherency line size in bytes.
    pub line_bytes: u64,
    /// The CPUs that share this cache, as sysfs lists them ("0-1").
    pub shared_cpus: String,
}

impl CacheInfo {
    /// Whether loads are served from this cache (data or unified).
    pub fn holds_data(&self) -> bool {
        self.kind != "Instruction"
    }

    /// "L1d", "L1i", "L2", "L3".
    pub fn name(&self) -> String {
        match (self.level, self.kind.as_str()) {
            (1, "Data") => "L1d".into(),
            (1, "Instruction") => "L1i".into(),
            (l, _) => format!("L{l}"),
        }
    }
}

/// The host description recorded in every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// The host name.
    pub hostname: String,
    /// The CPU model string.
    pub cpu_model: Option<String>,
    /// Logical CPUs this process may run on.
    pub cpus: Vec<usize>,
    /// Caches of the measured CPU, from sysfs (macOS: sysctl).
    pub caches: Vec<CacheInfo>,
    /// The cache line size in bytes (sysfs coherency_line_size, macOS hw.cachelinesize);
    /// null where unknown.
    #[serde(default)]
    pub line_bytes: Option<u64>,
    /// The base page size in bytes.
    pub page_size: u64,
    /// Why huge pages are not in play where the OS has no THP (`thp_unavailable`,
    /// macOS: `superpages_not_requested`; older records: a sentence); null where THP
    /// exists.
    #[serde(default)]
    pub huge_pages_note: Option<HostNote<NoHugePages>>,
    /// The transparent huge page size in bytes (hpage_pmd_size); null where the OS has
    /// none or does not say.
    #[serde(default)]
    pub huge_page_bytes: Option<u64>,
    /// Transparent huge page mode: "always", "madvise", "never" or None when absent.
    pub thp: Option<String>,
    /// Whether a hypervisor is visible.
    pub virtualized: bool,
    /// Which hypervisor, where it says.
    pub hypervisor: Option<String>,
    /// Core clock in GHz, calibrated with a chain of dependent adds.
    pub clock_ghz: Option<f64>,
    /// How far the calibration trials spread: the slowest trial's rate below the best,
    /// as a fraction (a disturbed calibration spreads widely).
    #[serde(default)]
    pub clock_spread: Option<f64>,
    /// The generic timer's frequency in Hz (aarch64 CNTFRQ_EL0), where readable.
    #[serde(default)]
    pub counter_hz: Option<u64>,
    /// Whether the measuring thread could be pinned to a CPU.
    pub pinning: bool,
    /// Why the thread is not pinned where the OS has no affinity (`macos_qos`; older
    /// records: a sentence); null where pinning exists.
    #[serde(default)]
    pub pinning_note: Option<HostNote<NoAffinity>>,
    /// Performance and efficiency cores, where the OS tells them apart; empty otherwise.
    #[serde(default)]
    pub core_kinds: Vec<CoreKind>,
    /// Memory available for working sets (MemAvailable), bytes.
    pub mem_available_bytes: Option<u64>,
    /// The memory the OS manages (Linux MemTotal, macOS hw.memsize), bytes; absent in
    /// older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_total_bytes: Option<u64>,
    /// The CPUs of each NUMA node, in node order ("0-15"); absent where the OS does not
    /// show nodes, and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numa_nodes: Option<Vec<String>>,
    /// The kernel's name and release (uname: "Linux 6.1.0-26-amd64"); absent in older
    /// records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Which perf counters can be opened, and why not where they cannot.
    pub counters: Vec<CounterProbe>,
    /// What identifies the CPU's microarchitecture (absent in older records and where
    /// the OS does not say).
    #[serde(default)]
    pub cpu_id: Option<CpuId>,
    /// The microarchitecture `cpu_id` names in `data/uarch.csv` ("Zen 3"); absent when
    /// the CPU is not in the table.
    #[serde(default)]
    pub uarch: Option<String>,
}

/// The identity of a CPU as the OS shows it: CPUID's vendor, family, model and stepping
/// on x86; the MIDR's implementer and part on Arm (Linux /proc/cpuinfo); hw.cpufamily
/// on Apple silicon (macOS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuId {
    /// "GenuineIntel", "AuthenticAMD", "arm", "apple".
    pub vendor: String,
    /// x86 family (decimal, as /proc/cpuinfo shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<u32>,
    /// x86 model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<u32>,
    /// x86 stepping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stepping: Option<u32>,
    /// Arm MIDR implementer (0x41 Arm, 0x61 Apple...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementer: Option<u32>,
    /// Arm MIDR part number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// macOS hw.cpufamily.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpufamily: Option<u32>,
    /// The microcode revision, where the OS shows it ("0xa0011d1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microcode: Option<String>,
}

impl Host {
    /// The kind of core `cpu` is ("performance", "efficiency"), where the OS names the
    /// CPUs of each kind.
    pub fn core_kind_of(&self, cpu: usize) -> Option<&str> {
        self.core_kinds
            .iter()
            .find(|k| k.cpus.contains(&cpu))
            .map(|k| k.kind.as_str())
    }

    /// "pinned to CPU 3" (with its core kind on a hybrid CPU: "pinned to CPU 3
    /// (performance core)"), or why the thread is not pinned.
    pub fn pinned_to(&self, cpu: usize) -> String {
        match (&self.pinning_note, self.core_kind_of(cpu)) {
            (Some(note), _) => note.to_string(),
            (None, Some(kind)) => format!("pinned to CPU {cpu} ({kind} core)"),
            (None, None) => format!("pinned to CPU {cpu}"),
        }
    }

    /// The caches that serve loads, ordered by level.
    pub fn data_caches(&self) -> Vec<&CacheInfo> {
        let mut v: Vec<&CacheInfo> = self.caches.iter().filter(|c| c.holds_data()).collect();
        v.sort_by_key(|c| c.level);
        v
    }

    /// The largest data cache's size (the last level), if sysfs said.
    pub fn last_level_cache_bytes(&self) -> Option<u64> {
        self.data_caches().last().map(|c| c.size_bytes)
    }
}
