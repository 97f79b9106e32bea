//! macOS: sysctl for the host facts (caches, line size, performance levels, CPU
//! model), F_NOCACHE for uncached reads, base pages only (superpages are not
//! requested), and no thread pinning: macOS has no thread affinity, so the measuring
//! thread asks for the user-interactive QoS class instead (which keeps it on the
//! performance cores of Apple silicon) and the record says it was not pinned.

use super::Mount;
use super::{Bypass, Pinned};
use crate::record::cores::CpuPlace;
use crate::record::host::{CacheInfo, CoreKind, CpuId, NoAffinity, NoHugePages};
use crate::record::memory::{PageKind, PagesObtained};
use crate::record::placement::NoIrqPlacement;
use std::ffi::{CStr, CString};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// What the host record says about huge pages: none are asked for.
pub const NO_HUGE_PAGES: NoHugePages = NoHugePages::SuperpagesNotRequested;
/// What a point's page size says: base pages, nothing checked.
pub const PAGES_UNCHECKED: PagesObtained = PagesObtained::NotRequested;

/// An integer sysctl (32- or 64-bit), where it exists.
fn sysctl_u64(name: &str) -> Option<u64> {
    let cname = CString::new(name).ok()?;
    let mut value = 0u64;
    let mut len = std::mem::size_of::<u64>();
    // SAFETY: cname is NUL-terminated; value is a writable 8-byte buffer and len says
    // so; a 4-byte sysctl fills the low half (both macOS targets are little-endian).
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            &mut value as *mut u64 as *mut libc::c_void,
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0 && value > 0).then_some(value)
}

/// A string sysctl, where it exists.
fn sysctl_string(name: &str) -> Option<String> {
    let cname = CString::new(name).ok()?;
    let mut len = 0usize;
    // SAFETY: a size query: a null buffer, and len receives the size needed.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            std::ptr::null_mut(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 || len == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    // SAFETY: buf holds len writable bytes, as len says.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_void,
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then(|| {
        buf.truncate(len);
        String::from_utf8_lossy(&buf)
            .trim_end_matches('\0')
            .trim()
            .to_string()
    })
}

/// The CPU model (machdep.cpu.brand_string).
pub fn cpu_model() -> Option<String> {
    sysctl_string("machdep.cpu.brand_string").filter(|s| !s.is_empty())
}

/// The CPU's identity: hw.cpufamily on Apple silicon; machdep.cpu.* on Intel Macs.
pub fn cpu_id() -> Option<CpuId> {
    let vendor = sysctl_string("machdep.cpu.vendor");
    let small = |name: &str| sysctl_u64(name).and_then(|v| u32::try_from(v).ok());
    match vendor {
        Some(vendor) if !vendor.is_empty() => Some(CpuId {
            vendor,
            family: small("machdep.cpu.family"),
            model: small("machdep.cpu.model"),
            stepping: small("machdep.cpu.stepping"),
            ..CpuId::default()
        }),
        _ => Some(CpuId {
            vendor: "apple".into(),
            cpufamily: Some(small("hw.cpufamily")?),
            ..CpuId::default()
        }),
    }
}

/// Whether macOS says it runs under a hypervisor (kern.hv_vmm_present).
pub fn hypervisor_flag() -> bool {
    sysctl_u64("kern.hv_vmm_present").is_some()
}

/// macOS does not name the hypervisor.
pub fn hypervisor() -> Option<String> {
    None
}

/// The caches of the fastest cores: hw.perflevel0.* on a CPU with several performance
/// levels (Apple silicon, where the plain hw.* keys can describe the efficiency
/// cluster), hw.* otherwise or where a perflevel key is missing; hw.cachelinesize is the
/// line. Which CPUs share a cache is not exposed, so `shared_cpus` is empty.
pub fn caches(_cpu: usize) -> Vec<CacheInfo> {
    let Some(line_bytes) = sysctl_u64("hw.cachelinesize") else {
        return Vec::new();
    };
    let hybrid = sysctl_u64("hw.nperflevels").is_some_and(|n| n >= 2);
    let size = |key: &str| {
        hybrid
            .then(|| sysctl_u64(&format!("hw.perflevel0.{key}")))
            .flatten()
            .or_else(|| sysctl_u64(&format!("hw.{key}")))
    };
    [
        (1, "Data", "l1dcachesize"),
        (1, "Instruction", "l1icachesize"),
        (2, "Unified", "l2cachesize"),
        (3, "Unified", "l3cachesize"),
    ]
    .into_iter()
    .filter_map(|(level, kind, key)| {
        Some(CacheInfo {
            level,
            kind: kind.into(),
            size_bytes: size(key)?,
            line_bytes,
            shared_cpus: String::new(),
        })
    })
    .collect()
}

/// macOS has no transparent huge pages.
pub fn thp() -> Option<String> {
    None
}

/// No huge page is asked for, so there is no size to report.
pub fn huge_page_bytes() -> Option<u64> {
    None
}

/// Not read on macOS (the free page count needs the Mach host API): unknown.
pub fn mem_available() -> Option<u64> {
    None
}

/// The machine's memory (hw.memsize), bytes.
pub fn mem_total() -> Option<u64> {
    sysctl_u64("hw.memsize")
}

/// macOS does not show NUMA nodes (Apple silicon has one).
pub fn numa_nodes() -> Option<Vec<String>> {
    None
}

/// The performance levels (hw.perflevel0 = performance, hw.perflevel1 = efficiency on
/// Apple silicon); empty where there is one level. macOS counts the CPUs of a level but
/// does not name them.
pub fn core_kinds() -> Vec<CoreKind> {
    let levels = sysctl_u64("hw.nperflevels").unwrap_or(0);
    if levels < 2 {
        return Vec::new();
    }
    (0..levels)
        .filter_map(|i| {
            let key = format!("hw.perflevel{i}");
            let name = sysctl_string(&format!("{key}.name"))?.to_lowercase();
            let count = sysctl_u64(&format!("{key}.logicalcpu"))? as usize;
            Some(CoreKind {
                kind: name,
                cpus: Vec::new(),
                count,
                source: key,
            })
        })
        .collect()
}

/// No CPU set to save: macOS has no thread affinity.
pub type Affinity = ();

/// Nothing to save: macOS has no thread affinity.
pub fn current_affinity() -> Option<Affinity> {
    None
}

/// Nothing to put back: macOS has no thread affinity.
pub fn restore_affinity(_set: &Affinity) {}

/// Nothing to pin: macOS has no thread affinity; the child runs where the OS puts it.
pub fn pin_child(_cmd: &mut std::process::Command, _cpu: usize) {}

/// No thread affinity on macOS: asks for the user-interactive QoS class instead.
pub fn pin_current(_cpu: usize) -> Pinned {
    // SAFETY: sets a scheduling hint for the calling thread only; no pointers.
    unsafe {
        libc::pthread_set_qos_class_self_np(libc::qos_class_t::QOS_CLASS_USER_INTERACTIVE, 0);
    }
    Pinned::Unsupported(NoAffinity::MacosQos)
}

/// Base pages only: superpages are not requested.
pub fn advise_pages(_start: *mut u8, _len: usize, _pages: PageKind) {}

/// Not checked: no smaps on macOS.
pub fn huge_fraction(_lo: usize, _hi: usize) -> Option<f64> {
    None
}

/// The mount holding `path`, from statfs (filesystem type, device, mount point).
pub fn mount(path: &Path) -> Option<Mount> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs is a plain C struct; all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path and st a writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let text = |chars: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates these fixed-size fields.
        unsafe { CStr::from_ptr(chars.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Some(Mount {
        point: PathBuf::from(text(&st.f_mntonname)),
        fstype: text(&st.f_fstypename),
        source: text(&st.f_mntfromname),
    })
}

/// Opens `path` with F_NOCACHE, so reads go to the device instead of the unified
/// buffer cache.
pub fn open_uncached(path: &Path, _probe: &mut [u8]) -> io::Result<(File, Bypass)> {
    use std::os::fd::AsRawFd;
    let f = OpenOptions::new().read(true).write(true).open(path)?;
    // SAFETY: a valid open fd; F_NOCACHE takes an int argument.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_NOCACHE, 1) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((f, Bypass::NoCache))
}

/// Not shown on this platform.
pub fn interrupts() -> Option<String> {
    None
}

/// Not shown on this platform: no per-CPU interrupt counts.
pub fn device_irqs(_dir: &Path) -> Result<Vec<String>, NoIrqPlacement> {
    Err(NoIrqPlacement::NotShown)
}

/// Nothing to drop: F_NOCACHE keeps the data out of the cache.
pub fn drop_cached(_file: &File, _offset: u64, _len: u64) {}

/// Unknown: macOS does not name which CPUs share a core or a cache.
pub fn cpu_place(cpu: usize) -> CpuPlace {
    CpuPlace::unknown(cpu)
}

/// Not here: no way to drop one file's cached pages is known on this platform.
pub fn evict_file(_path: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "dropping one file's cached pages is not supported on this platform",
    ))
}

/// Unknown here.
pub fn storage_read_bytes(_pid: Option<u32>) -> Option<u64> {
    None
}
