//! Any other OS: every host fact the OS keeps is unknown, and uncached reads, pinning
//! and huge pages are "unsupported on this platform". Buffers are plain mmap.

use super::Mount;
use super::{Bypass, Pinned};
use crate::record::cores::CpuPlace;
use crate::record::host::{CacheInfo, CoreKind, CpuId, NoAffinity, NoHugePages};
use crate::record::memory::{PageKind, PagesObtained};
use crate::record::placement::NoIrqPlacement;
use std::fs::File;
use std::io;
use std::path::Path;

/// What the host record says about huge pages.
pub const NO_HUGE_PAGES: NoHugePages = NoHugePages::Unsupported;
/// What a point's page size says.
pub const PAGES_UNCHECKED: PagesObtained = PagesObtained::Unknown;

/// Unknown here.
pub fn cpu_model() -> Option<String> {
    None
}

/// Unknown here.
pub fn cpu_id() -> Option<CpuId> {
    None
}

/// Unknown here.
pub fn hypervisor_flag() -> bool {
    false
}

/// Unknown here.
pub fn hypervisor() -> Option<String> {
    None
}

/// Unknown here.
pub fn caches(_cpu: usize) -> Vec<CacheInfo> {
    Vec::new()
}

/// No THP here.
pub fn thp() -> Option<String> {
    None
}

/// Unknown here.
pub fn huge_page_bytes() -> Option<u64> {
    None
}

/// Unknown here.
pub fn mem_available() -> Option<u64> {
    None
}

/// Unknown here.
pub fn mem_total() -> Option<u64> {
    None
}

/// Unknown here.
pub fn numa_nodes() -> Option<Vec<String>> {
    None
}

/// Unknown here.
pub fn core_kinds() -> Vec<CoreKind> {
    Vec::new()
}

/// No CPU set to save: no thread affinity on this platform.
pub type Affinity = ();

/// Nothing to save: no thread affinity on this platform.
pub fn current_affinity() -> Option<Affinity> {
    None
}

/// Nothing to put back: no thread affinity on this platform.
pub fn restore_affinity(_set: &Affinity) {}

/// Nothing to pin: no thread affinity on this platform; the child runs where the OS puts it.
pub fn pin_child(_cmd: &mut std::process::Command, _cpu: usize) {}

/// Pinning is unsupported on this platform.
pub fn pin_current(_cpu: usize) -> Pinned {
    Pinned::Unsupported(NoAffinity::Unsupported)
}

/// Base pages only.
pub fn advise_pages(_start: *mut u8, _len: usize, _pages: PageKind) {}

/// Not checked here.
pub fn huge_fraction(_lo: usize, _hi: usize) -> Option<f64> {
    None
}

/// Unknown here.
pub fn mount(_path: &Path) -> Option<Mount> {
    None
}

/// Uncached reads are unsupported on this platform.
pub fn open_uncached(_path: &Path, _probe: &mut [u8]) -> io::Result<(File, Bypass)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "uncached reads are unsupported on this platform",
    ))
}

/// Not shown on this platform.
pub fn interrupts() -> Option<String> {
    None
}

/// Not shown on this platform: no per-CPU interrupt counts.
pub fn device_irqs(_dir: &Path) -> Result<Vec<String>, NoIrqPlacement> {
    Err(NoIrqPlacement::NotShown)
}

/// Nothing to drop.
pub fn drop_cached(_file: &File, _offset: u64, _len: u64) {}

/// Unknown here.
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
