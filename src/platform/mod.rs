//! The OS-specific parts of a measurement behind one facade: working-set buffers (page
//! advice and the check of what the kernel gave), uncached file reads, thread pinning,
//! cache discovery, hybrid core kinds and the host facts the OS keeps (huge page size,
//! THP, available memory, hypervisor hints).
//!
//! One file per OS, picked at compile time: `linux.rs` (sysfs, procfs, madvise,
//! O_DIRECT, sched affinity), `macos.rs` (sysctl, F_NOCACHE, no affinity) and `other.rs`
//! (every fact unknown, every OS-specific feature "unsupported on this platform"). Each
//! exposes the same functions, so callers never carry a `cfg` of their own. Perf
//! counters have their own backend split in [`crate::counters`]; the clock calibration
//! is per architecture and lives in [`crate::host`].

#[cfg_attr(target_os = "linux", path = "linux.rs")]
#[cfg_attr(target_os = "macos", path = "macos.rs")]
#[cfg_attr(not(any(target_os = "linux", target_os = "macos")), path = "other.rs")]
mod os;

use std::path::{Path, PathBuf};

pub use os::{
    advise_pages, caches, core_kinds, cpu_id, cpu_model, cpu_place, current_affinity, device_irqs,
    drop_cached, evict_file, huge_fraction, huge_page_bytes, hypervisor, hypervisor_flag,
    interrupts, mem_available, mem_total, mount, numa_nodes, open_uncached, pin_child, pin_current,
    restore_affinity, storage_read_bytes, thp, Affinity, NO_HUGE_PAGES, PAGES_UNCHECKED,
};

/// How uncached reads bypass the page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bypass {
    /// O_DIRECT (Linux): the read goes to the device, aligned buffer and offsets.
    Direct,
    /// F_NOCACHE (macOS): the file's data is not kept in the unified buffer cache.
    NoCache,
    /// The file's cached pages are dropped after every read (POSIX_FADV_DONTNEED), the
    /// fallback where O_DIRECT is refused.
    DropAfterRead,
}

impl Bypass {
    /// The flag or advice that does it, as it appears in a rung's method.
    pub fn name(self) -> &'static str {
        match self {
            Bypass::Direct => "O_DIRECT",
            Bypass::NoCache => "F_NOCACHE",
            Bypass::DropAfterRead => "POSIX_FADV_DONTNEED",
        }
    }
}

/// What pinning the calling thread to a CPU did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// The thread now runs on that CPU only.
    Yes,
    /// The OS has affinity but refused this CPU.
    Refused,
    /// The OS has no thread affinity (and what was done instead).
    Unsupported(crate::record::host::NoAffinity),
}

/// The filesystem and device under a path (Linux: /proc/self/mountinfo; macOS: statfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Mount point.
    pub point: PathBuf,
    /// Filesystem type ("ext4", "tmpfs"...).
    pub fstype: String,
    /// Mount source (the device, e.g. "/dev/vda").
    pub source: String,
}

/// Finds the mount holding `path` in mountinfo text (the longest matching mount point).
pub fn mount_of(mountinfo: &str, path: &Path) -> Option<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split_whitespace().nth(4)?.replace("\\040", " ");
            let mut r = right.split_whitespace();
            let fstype = r.next()?.to_string();
            let source = r.next().unwrap_or("").to_string();
            Some(Mount {
                point: PathBuf::from(point),
                fstype,
                source,
            })
        })
        .filter(|m| path.starts_with(&m.point))
        .max_by_key(|m| m.point.as_os_str().len())
}
