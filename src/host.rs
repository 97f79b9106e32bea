//! What the host is: CPU model, caches (from sysfs), page size, THP mode, hypervisor,
//! calibrated core clock, whether pinning works, which perf counters can be opened.
//!
//! Everything here is read or measured, never assumed: a fact that cannot be found is
//! `None` and shows as "unknown".

use crate::counters::{self, CounterProbe};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;

/// One cache as sysfs describes it.
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
    /// Caches of the measured CPU, from sysfs.
    pub caches: Vec<CacheInfo>,
    /// The base page size in bytes.
    pub page_size: u64,
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
    /// Whether the measuring thread could be pinned to a CPU.
    pub pinning: bool,
    /// Memory available for working sets (MemAvailable), bytes.
    pub mem_available_bytes: Option<u64>,
    /// Which perf counters can be opened, and why not where they cannot.
    pub counters: Vec<CounterProbe>,
}

impl Host {
    /// Describes this machine (takes about a tenth of a second: the clock calibration).
    pub fn probe() -> Host {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpus = allowed_cpus();
        let cache_cpu = cpus.first().copied().unwrap_or(0);
        let hypervisor = hypervisor_vendor();
        let clock = calibrate_clock();
        Host {
            hostname: hostname(),
            cpu_model: cpuinfo_field(&cpuinfo, "model name")
                .or_else(|| cpuinfo_field(&cpuinfo, "Processor")),
            caches: sysfs_caches(Path::new(&format!(
                "/sys/devices/system/cpu/cpu{cache_cpu}/cache"
            ))),
            page_size: page_size() as u64,
            thp: fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
                .ok()
                .and_then(|s| bracketed(&s)),
            virtualized: hypervisor.is_some() || cpuinfo_has_flag(&cpuinfo, "hypervisor"),
            hypervisor,
            clock_ghz: clock.map(|c| c.0),
            clock_spread: clock.map(|c| c.1),
            pinning: pinning_works(&cpus),
            mem_available_bytes: mem_available(),
            counters: counters::probe(),
            cpus,
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

/// The base page size in bytes.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as usize
    } else {
        4096
    }
}

/// The host name, from the kernel.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// MemAvailable from /proc/meminfo, in bytes.
pub fn mem_available() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_kib(&meminfo, "MemAvailable:").map(|kib| kib * 1024)
}

fn meminfo_kib(meminfo: &str, field: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn cpuinfo_field(cpuinfo: &str, name: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

fn cpuinfo_has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo_field(cpuinfo, "flags").is_some_and(|f| f.split_whitespace().any(|x| x == flag))
}

/// The bracketed choice in a sysfs mode file: "always [madvise] never" -> "madvise".
fn bracketed(s: &str) -> Option<String> {
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    Some(s[start + 1..end].to_string())
}

/// Parses sysfs sizes such as "32K", "1024K", "32768K", "8M".
fn sysfs_size(s: &str) -> Option<u64> {
    crate::units::parse_size(s).ok().map(|v| v as u64)
}

/// Reads every `index*` directory under a sysfs cache directory.
pub fn sysfs_caches(dir: &Path) -> Vec<CacheInfo> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let read = |p: &Path, f: &str| fs::read_to_string(p.join(f)).map(|s| s.trim().to_string());
    let mut caches: Vec<CacheInfo> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("index"))
        .filter_map(|e| {
            let p = e.path();
            Some(CacheInfo {
                level: read(&p, "level").ok()?.parse().ok()?,
                kind: read(&p, "type").ok()?,
                size_bytes: sysfs_size(&read(&p, "size").ok()?)?,
                line_bytes: read(&p, "coherency_line_size").ok()?.parse().ok()?,
                shared_cpus: read(&p, "shared_cpu_list").unwrap_or_default(),
            })
        })
        .collect();
    caches.sort_by(|a, b| (a.level, &a.kind).cmp(&(b.level, &b.kind)));
    caches
}

/// The hypervisor's vendor, from CPUID leaf 0x40000000 or /sys/hypervisor/type.
fn hypervisor_vendor() -> Option<String> {
    cpuid_hypervisor().or_else(|| {
        fs::read_to_string("/sys/hypervisor/type")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
}

#[cfg(target_arch = "x86_64")]
fn cpuid_hypervisor() -> Option<String> {
    use std::arch::x86_64::__cpuid;
    // CPUID is safe on x86_64; leaf 1 ECX bit 31 says whether the hypervisor leaves
    // exist before we read them.
    let leaf1 = __cpuid(1);
    if leaf1.ecx & (1 << 31) == 0 {
        return None;
    }
    let hv = __cpuid(0x4000_0000);
    let bytes: Vec<u8> = [hv.ebx, hv.ecx, hv.edx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect();
    let sig = String::from_utf8_lossy(&bytes)
        .trim_matches(char::from(0))
        .to_string();
    Some(
        match sig.as_str() {
            "KVMKVMKVM" => "KVM",
            "Microsoft Hv" => "Hyper-V",
            "VMwareVMware" => "VMware",
            "XenVMMXenVMM" => "Xen",
            "TCGTCGTCGTCG" => "QEMU (TCG)",
            " lrpepyh  vr" => "Parallels",
            "ACRNACRNACRN" => "ACRN",
            "bhyve bhyve " => "bhyve",
            _ => return Some(format!("unknown ({sig})")),
        }
        .to_string(),
    )
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_hypervisor() -> Option<String> {
    None
}

/// Whether this thread can be pinned (tried on a helper thread, so the caller's own
/// affinity is left alone).
fn pinning_works(cpus: &[usize]) -> bool {
    let Some(&cpu) = cpus.last() else {
        return false;
    };
    std::thread::spawn(move || core_affinity::set_for_current(core_affinity::CoreId { id: cpu }))
        .join()
        .unwrap_or(false)
}

/// Pins the calling thread to `cpu`; an error names the CPUs that exist.
pub fn pin_to(cpu: usize, cpus: &[usize]) -> crate::Result<()> {
    if !cpus.contains(&cpu) {
        return Err(crate::Error::Input(format!(
            "CPU {cpu} does not exist or is not allowed here (available: {})",
            cpus.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        Ok(())
    } else {
        Err(crate::Error::Unusable(format!(
            "could not pin the measuring thread to CPU {cpu}"
        )))
    }
}

/// The calling thread pinned to one CPU for as long as this value lives; dropping it
/// gives the thread back the CPUs it was allowed before, so a later phase (and every
/// process it starts) does not inherit the pin by accident.
pub struct Pinned {
    #[cfg(target_os = "linux")]
    before: Option<libc::cpu_set_t>,
}

impl Pinned {
    /// Pins the calling thread to `cpu` (see [`pin_to`]).
    pub fn to(cpu: usize, cpus: &[usize]) -> crate::Result<Pinned> {
        #[cfg(target_os = "linux")]
        let before = {
            // SAFETY: an all-zero cpu_set_t is a valid empty set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: pid 0 is the calling thread; the size matches the set we pass.
            let rc = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
            };
            (rc == 0).then_some(set)
        };
        pin_to(cpu, cpus)?;
        Ok(Pinned {
            #[cfg(target_os = "linux")]
            before,
        })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(set) = &self.before {
            // SAFETY: pid 0 is the calling thread; the set was filled by sched_getaffinity.
            unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
            }
        }
    }
}

/// The CPUs the calling thread may run on now.
pub fn allowed_cpus() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Adds per calibration block: one block is this many dependent adds.
const ADDS_PER_ITER: u64 = 100;

/// Runs `iters` iterations of 100 dependent register-register adds (one cycle each on
/// every out-of-order core we know of; the loop counter runs beside them). The addend
/// is a register, not an immediate: Intel cores since Golden Cove fold chains of
/// `add reg, imm` in the renamer, which made an immediate chain report 9-10 GHz on a
/// Xeon guest.
#[cfg(target_arch = "x86_64")]
fn add_chain(iters: u64) {
    // SAFETY: pure register arithmetic on three scratch registers; no memory, no stack.
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 100",
            "add {x}, {one}",
            ".endr",
            "dec {n}",
            "jnz 2b",
            x = inout(reg) 0u64 => _,
            one = in(reg) std::hint::black_box(1u64),
            n = inout(reg) iters.max(1) => _,
            options(nomem, nostack),
        );
    }
}

#[cfg(target_arch = "aarch64")]
fn add_chain(iters: u64) {
    // SAFETY: pure register arithmetic on two scratch registers; no memory, no stack.
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 100",
            "add {x}, {x}, {one}",
            ".endr",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            x = inout(reg) 0u64 => _,
            one = in(reg) std::hint::black_box(1u64),
            n = inout(reg) iters.max(1) => _,
            options(nomem, nostack),
        );
    }
}

/// The core clock in GHz from a timed chain of dependent adds, and the spread of the
/// trials (1 - slowest rate / best rate): the best of 15 trials of at least 5 ms, so a
/// frequency ramp, an interruption or a busy SMT sibling on the host (which slows an
/// ALU chain, not a load chain) has to hit every trial to count.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn calibrate_clock() -> Option<(f64, f64)> {
    let policy = crate::measure::TrialPolicy {
        trials: 15,
        min_trial: std::time::Duration::from_millis(5),
    };
    let ns_per_iter = crate::measure::per_op_ns(add_chain, 10_000, policy, &mut ());
    let s = crate::measure::Summary::of(&ns_per_iter)?;
    (s.min > 0.0).then(|| (ADDS_PER_ITER as f64 / s.min, 1.0 - s.min / s.max))
}

/// Without inline assembly for this architecture the clock is unknown.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn calibrate_clock() -> Option<(f64, f64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sysfs_cache_tree() {
        let dir = tempfile::tempdir().unwrap();
        for (i, (level, kind, size)) in [
            (1, "Data", "32K"),
            (1, "Instruction", "32K"),
            (2, "Unified", "1024K"),
        ]
        .iter()
        .enumerate()
        {
            let d = dir.path().join(format!("index{i}"));
            fs::create_dir(&d).unwrap();
            fs::write(d.join("level"), format!("{level}\n")).unwrap();
            fs::write(d.join("type"), format!("{kind}\n")).unwrap();
            fs::write(d.join("size"), format!("{size}\n")).unwrap();
            fs::write(d.join("coherency_line_size"), "64\n").unwrap();
            fs::write(d.join("shared_cpu_list"), "0\n").unwrap();
        }
        let caches = sysfs_caches(dir.path());
        assert_eq!(caches.len(), 3);
        assert_eq!(caches[0].name(), "L1d");
        assert_eq!(caches[1].name(), "L1i");
        assert_eq!(caches[2].name(), "L2");
        assert_eq!(caches[2].size_bytes, 1 << 20);
        assert!(!caches[1].holds_data());
    }

    #[test]
    fn missing_sysfs_gives_no_caches() {
        assert!(sysfs_caches(Path::new("/nonexistent/cache")).is_empty());
    }

    #[test]
    fn bracketed_mode_is_extracted() {
        assert_eq!(
            bracketed("always [madvise] never\n"),
            Some("madvise".into())
        );
        assert_eq!(bracketed("never"), None);
    }

    #[test]
    fn meminfo_field_is_read_in_kib() {
        let text = "MemTotal: 100 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(meminfo_kib(text, "MemAvailable:"), Some(2048));
        assert_eq!(meminfo_kib(text, "Nope:"), None);
    }

    #[test]
    fn a_pin_is_undone_when_it_ends() {
        let before = allowed_cpus();
        let Some(&cpu) = before.last() else { return };
        std::thread::spawn(move || {
            let pinned = Pinned::to(cpu, &before).unwrap();
            assert_eq!(allowed_cpus(), vec![cpu]);
            drop(pinned);
            assert_eq!(allowed_cpus(), before);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn clock_calibration_gives_a_plausible_rate() {
        if let Some((ghz, spread)) = calibrate_clock() {
            assert!((0.2..10.0).contains(&ghz), "{ghz} GHz");
            assert!((0.0..1.0).contains(&spread), "{spread}");
        }
    }
}
