//! Linux: sysfs and procfs for the host facts, madvise for transparent huge pages and
//! /proc/self/smaps to check them, O_DIRECT (or POSIX_FADV_DONTNEED) for uncached
//! reads, sched affinity for pinning.

use super::Mount;
use super::{Bypass, Pinned};
use crate::record::cores::CpuPlace;
use crate::record::host::{CacheInfo, CoreKind, CpuId, NoHugePages};
use crate::record::memory::{PageKind, PagesObtained};
use crate::record::placement::NoIrqPlacement;
use crate::units::parse_cpu_list;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// What the host record says about huge pages when the kernel has no THP.
pub const NO_HUGE_PAGES: NoHugePages = NoHugePages::ThpUnavailable;
/// What a point's page size says when smaps could not be read.
pub const PAGES_UNCHECKED: PagesObtained = PagesObtained::Unknown;

/// The CPU model, from /proc/cpuinfo ("model name" on x86, "Processor" on older Arm).
pub fn cpu_model() -> Option<String> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo_field(&cpuinfo, "model name").or_else(|| cpuinfo_field(&cpuinfo, "Processor"))
}

/// The CPU's identity from /proc/cpuinfo: vendor, family, model and stepping on x86;
/// the MIDR implementer and part on Arm.
pub fn cpu_id() -> Option<CpuId> {
    cpu_id_from(&fs::read_to_string("/proc/cpuinfo").ok()?)
}

fn cpu_id_from(cpuinfo: &str) -> Option<CpuId> {
    let num = |name: &str| {
        let v = cpuinfo_field(cpuinfo, name)?;
        match v.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    };
    let microcode = cpuinfo_field(cpuinfo, "microcode");
    if let Some(vendor) = cpuinfo_field(cpuinfo, "vendor_id") {
        return Some(CpuId {
            vendor,
            family: num("cpu family"),
            model: num("model"),
            stepping: num("stepping"),
            microcode,
            ..CpuId::default()
        });
    }
    let implementer = num("CPU implementer")?;
    Some(CpuId {
        vendor: "arm".into(),
        implementer: Some(implementer),
        part: num("CPU part"),
        microcode,
        ..CpuId::default()
    })
}

/// Whether /proc/cpuinfo carries the `hypervisor` flag.
pub fn hypervisor_flag() -> bool {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| cpuinfo_field(&c, "flags"))
        .is_some_and(|f| f.split_whitespace().any(|x| x == "hypervisor"))
}

/// The hypervisor named by /sys/hypervisor/type (Xen), where present.
pub fn hypervisor() -> Option<String> {
    fs::read_to_string("/sys/hypervisor/type")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The caches of `cpu`, from sysfs.
pub fn caches(cpu: usize) -> Vec<CacheInfo> {
    sysfs_caches(Path::new(&format!(
        "/sys/devices/system/cpu/cpu{cpu}/cache"
    )))
}

/// Transparent huge page mode ("always", "madvise", "never"), where the kernel has THP.
pub fn thp() -> Option<String> {
    fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .ok()
        .and_then(|s| bracketed(&s))
}

/// The size of a transparent huge page (a PMD: 2 MiB with 4 KiB base pages, 32 MiB
/// with 16 KiB, 512 MiB with 64 KiB), where the kernel says.
pub fn huge_page_bytes() -> Option<u64> {
    fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&b| b > 0)
}

/// MemAvailable from /proc/meminfo, in bytes.
pub fn mem_available() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_kib(&meminfo, "MemAvailable:").map(|kib| kib * 1024)
}

/// The memory the kernel manages (MemTotal), bytes.
pub fn mem_total() -> Option<u64> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_kib(&meminfo, "MemTotal:").map(|kib| kib * 1024)
}

/// The CPUs of each NUMA node, in node order ("0-15"), from sysfs.
pub fn numa_nodes() -> Option<Vec<String>> {
    let mut nodes: Vec<(u32, String)> = fs::read_dir("/sys/devices/system/node")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.strip_prefix("node")?.parse().ok()?;
            let cpus = fs::read_to_string(e.path().join("cpulist")).ok()?;
            Some((n, cpus.trim().to_string()))
        })
        .collect();
    nodes.sort();
    (!nodes.is_empty()).then(|| nodes.into_iter().map(|(_, c)| c).collect())
}

/// Performance and efficiency cores: from the `cpu_core` and `cpu_atom` PMUs (Intel
/// hybrid), else from `cpu_capacity` (Arm big.LITTLE); empty where every core is alike.
pub fn core_kinds() -> Vec<CoreKind> {
    let pmu = |name: &str| {
        fs::read_to_string(format!("/sys/bus/event_source/devices/{name}/cpus"))
            .ok()
            .and_then(|s| parse_cpu_list(&s))
    };
    if let (Some(p), Some(e)) = (pmu("cpu_core"), pmu("cpu_atom")) {
        return vec![
            CoreKind::new("performance", p, "cpu_core PMU"),
            CoreKind::new("efficiency", e, "cpu_atom PMU"),
        ];
    }
    let mut by_capacity = BTreeMap::new();
    for entry in fs::read_dir("/sys/devices/system/cpu")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(cpu) = name.strip_prefix("cpu").and_then(|n| n.parse().ok()) else {
            continue;
        };
        let capacity = fs::read_to_string(entry.path().join("cpu_capacity"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if let Some(c) = capacity {
            by_capacity.entry(c).or_insert_with(Vec::new).push(cpu);
        }
    }
    kinds_by_capacity(by_capacity)
}

/// Names the capacity classes: the highest "performance", the lowest "efficiency",
/// any between "mid"; nothing when there is one class.
fn kinds_by_capacity(by_capacity: BTreeMap<u64, Vec<usize>>) -> Vec<CoreKind> {
    if by_capacity.len() < 2 {
        return Vec::new();
    }
    let last = by_capacity.len() - 1;
    by_capacity
        .into_iter()
        .rev()
        .enumerate()
        .map(|(i, (capacity, mut cpus))| {
            cpus.sort_unstable();
            let kind = match i {
                0 => "performance",
                i if i == last => "efficiency",
                _ => "mid",
            };
            CoreKind::new(kind, cpus, &format!("cpu_capacity {capacity}"))
        })
        .collect()
}

/// Where `cpu` sits (SMT siblings, last-level cache group, package, NUMA node), from
/// sysfs; what a file does not say stays unknown.
pub fn cpu_place(cpu: usize) -> CpuPlace {
    let dir = Path::new("/sys/devices/system/cpu").join(format!("cpu{cpu}"));
    let read = |f: &str| fs::read_to_string(dir.join(f)).ok();
    let llc = sysfs_caches(&dir.join("cache"))
        .into_iter()
        .filter(|c| c.holds_data())
        .max_by_key(|c| c.level);
    // A cpuN folder links its NUMA node as nodeK.
    let node = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("node")?
                .parse::<u32>()
                .ok()
        });
    CpuPlace::parse(
        cpu,
        read("topology/thread_siblings_list").as_deref(),
        llc.as_ref().map(|c| (c.level, c.shared_cpus.as_str())),
        read("topology/physical_package_id").as_deref(),
        node,
    )
}

/// The calling thread's CPU set, as sched_getaffinity gives it.
pub type Affinity = libc::cpu_set_t;

/// The CPUs the calling thread may run on now, to put back with [`restore_affinity`].
pub fn current_affinity() -> Option<Affinity> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; the size matches the set we pass.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

/// Gives the calling thread back the CPUs of `set`.
pub fn restore_affinity(set: &Affinity) {
    // SAFETY: pid 0 is the calling thread; the set was filled by sched_getaffinity.
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
    }
}

/// Makes `cmd`'s process (and every process it forks) run on `cpu` alone.
pub fn pin_child(cmd: &mut std::process::Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes the
    // async-signal-safe sched_setaffinity call on a set built on its own stack.
    unsafe {
        cmd.pre_exec(move || {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Pins the calling thread to `cpu` with sched_setaffinity.
pub fn pin_current(cpu: usize) -> Pinned {
    match core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        true => Pinned::Yes,
        false => Pinned::Refused,
    }
}

/// Asks for transparent huge pages over `len` bytes at `start` (or refuses them, for
/// base pages). A refusal (THP compiled out) is not an error: [`huge_fraction`] says
/// what the kernel gave.
pub fn advise_pages(start: *mut u8, len: usize, pages: PageKind) {
    let advice = match pages {
        PageKind::Small => libc::MADV_NOHUGEPAGE,
        PageKind::Huge => libc::MADV_HUGEPAGE,
    };
    // SAFETY: the caller passes a page-aligned range inside a mapping it owns; madvise
    // only changes how the kernel backs it.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, advice);
    }
}

/// The share of the resident memory in `lo..hi` that sits on huge pages, from
/// `AnonHugePages` in /proc/self/smaps; `None` where that cannot be read.
pub fn huge_fraction(lo: usize, hi: usize) -> Option<f64> {
    let smaps = fs::read_to_string("/proc/self/smaps").ok()?;
    let (mut rss_kb, mut huge_kb) = (0u64, 0u64);
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    // madvise may split one mapping into several VMAs.
                    inside = a >= lo && b <= hi;
                    continue;
                }
            }
        }
        if !inside {
            continue;
        }
        let field = |name: &str| -> Option<u64> {
            line.strip_prefix(name)?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        };
        if let Some(v) = field("Rss:") {
            rss_kb += v;
        } else if let Some(v) = field("AnonHugePages:") {
            huge_kb += v;
        }
    }
    (rss_kb > 0).then(|| huge_kb as f64 / rss_kb as f64)
}

/// Opens `path` for reads that bypass the page cache: O_DIRECT where a first aligned
/// read into `probe` succeeds, else a plain open with POSIX_FADV_RANDOM and the file's
/// cached pages dropped (the caller then drops each block after reading it).
pub fn open_uncached(path: &Path, probe: &mut [u8]) -> io::Result<(File, Bypass)> {
    let direct = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    match direct {
        Ok(f) if f.read_exact_at(probe, 0).is_ok() => Ok((f, Bypass::Direct)),
        _ => {
            let f = OpenOptions::new().read(true).write(true).open(path)?;
            let len = f.metadata()?.len();
            fadvise(&f, 0, len, libc::POSIX_FADV_RANDOM);
            drop_cached(&f, 0, len);
            Ok((f, Bypass::DropAfterRead))
        }
    }
}

/// The mount holding `path`, from /proc/self/mountinfo.
pub fn mount(path: &Path) -> Option<Mount> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    super::mount_of(&mountinfo, path)
}

/// /proc/interrupts: every interrupt line's count per CPU.
pub fn interrupts() -> Option<String> {
    fs::read_to_string("/proc/interrupts").ok()
}

/// The interrupt lines (their labels in /proc/interrupts, "36") of the block device
/// under `dir`: the filesystem's device number leads to /sys/dev/block, a partition to
/// its disk, a device-mapper volume over one device to that device; then the nearest
/// ancestor of the disk's device in sysfs with interrupt lines of its own (a PCI
/// function's `msi_irqs`, else its legacy `irq`).
pub fn device_irqs(dir: &Path) -> Result<Vec<String>, NoIrqPlacement> {
    use std::os::unix::fs::MetadataExt;
    if fs::metadata("/proc/interrupts").is_err() {
        return Err(NoIrqPlacement::NotShown);
    }
    let dev = fs::metadata(dir)
        .map_err(|_| NoIrqPlacement::NoDevice)?
        .dev();
    // glibc's gnu_dev_major and gnu_dev_minor.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let canon = |p: &Path| fs::canonicalize(p).map_err(|_| NoIrqPlacement::NoDevice);
    let mut node = canon(Path::new(&format!("/sys/dev/block/{major}:{minor}")))?;
    for _ in 0..4 {
        if node.join("partition").exists() {
            node = node.parent().ok_or(NoIrqPlacement::NoDevice)?.to_path_buf();
            continue;
        }
        let slaves: Vec<_> = fs::read_dir(node.join("slaves"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        match slaves.as_slice() {
            [] => break,
            [one] => node = canon(one)?,
            _ => return Err(NoIrqPlacement::NoDevice),
        }
    }
    let device = canon(&node.join("device"))?;
    for d in device
        .ancestors()
        .take_while(|d| d.starts_with("/sys/devices/"))
    {
        if let Ok(entries) = fs::read_dir(d.join("msi_irqs")) {
            let mut irqs: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !irqs.is_empty() {
                irqs.sort();
                return Ok(irqs);
            }
        }
        if let Ok(irq) = fs::read_to_string(d.join("irq")) {
            let irq = irq.trim();
            if !irq.is_empty() && irq != "0" {
                return Ok(vec![irq.to_string()]);
            }
        }
    }
    Err(NoIrqPlacement::NoDeviceIrq)
}

/// Drops the cached pages of `len` bytes at `offset` (POSIX_FADV_DONTNEED).
pub fn drop_cached(file: &File, offset: u64, len: u64) {
    fadvise(file, offset, len, libc::POSIX_FADV_DONTNEED);
}

fn fadvise(file: &File, offset: u64, len: u64, advice: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open fd; posix_fadvise only gives the kernel a hint.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), offset as i64, len as i64, advice);
    }
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
fn sysfs_caches(dir: &Path) -> Vec<CacheInfo> {
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

/// Writes back and drops every cached page of the file at `path`, so its next read
/// comes from the device (fdatasync, then POSIX_FADV_DONTNEED; no root needed, only
/// read access). The kernel may keep pages another process holds mapped.
pub fn evict_file(path: &Path) -> std::io::Result<()> {
    let file = File::open(path)?;
    file.sync_data()?;
    fadvise(&file, 0, 0, libc::POSIX_FADV_DONTNEED);
    Ok(())
}

/// Bytes that process `pid` (this thread where `None`) has caused to be read from
/// storage (`read_bytes` of /proc/<pid>/io), or `None` where that is not readable.
pub fn storage_read_bytes(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/io"),
        None => "/proc/thread-self/io".to_string(),
    };
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("read_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_identity_is_read_from_cpuinfo_on_x86_and_arm() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nstepping\t: 1\nmicrocode\t: 0xa0011d1\n";
        let id = cpu_id_from(x86).unwrap();
        assert_eq!(id.vendor, "AuthenticAMD");
        assert_eq!(
            (id.family, id.model, id.stepping),
            (Some(25), Some(1), Some(1))
        );
        assert_eq!(id.microcode.as_deref(), Some("0xa0011d1"));
        let arm = "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd40\nCPU revision\t: 1\n";
        let id = cpu_id_from(arm).unwrap();
        assert_eq!(
            (id.vendor.as_str(), id.implementer, id.part),
            ("arm", Some(0x41), Some(0xd40))
        );
        assert_eq!(cpu_id_from("processor\t: 0\n"), None);
    }

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
    fn capacity_classes_become_core_kinds() {
        let one = BTreeMap::from([(1024, vec![0, 1, 2, 3])]);
        assert!(kinds_by_capacity(one).is_empty());
        let three = BTreeMap::from([
            (446, vec![0, 1, 2, 3]),
            (871, vec![4, 5, 6]),
            (1024, vec![7]),
        ]);
        let kinds = kinds_by_capacity(three);
        let names: Vec<&str> = kinds.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(names, ["performance", "mid", "efficiency"]);
        assert_eq!(kinds[0].cpus, [7]);
        assert_eq!(kinds[2].count, 4);
        assert_eq!(kinds[2].source, "cpu_capacity 446");
    }

    #[test]
    fn the_huge_page_size_is_read_not_assumed() {
        // Where THP exists the kernel says its size; where not, it is unknown.
        match thp() {
            Some(_) => assert!(huge_page_bytes().is_some_and(|b| b.is_power_of_two())),
            None => assert_eq!(huge_page_bytes(), None),
        }
    }
}
