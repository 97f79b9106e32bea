//! Working-set buffers: anonymous mappings aligned for the page size asked for, with
//! transparent huge pages requested (2 MiB) or refused (4 KiB) through madvise, and a
//! check of what the kernel actually gave.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The huge-page alignment and size on x86_64 and aarch64 Linux.
pub const HUGE_PAGE: usize = 2 << 20;

/// The page size a buffer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum PageKind {
    /// Base pages (4 KiB on x86_64); transparent huge pages refused.
    #[serde(rename = "4k")]
    #[value(name = "4k")]
    Small,
    /// Transparent huge pages (2 MiB) requested through madvise.
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

/// An anonymous, page-aligned memory mapping, unmapped on drop.
pub struct Buffer {
    map: *mut u8,
    map_len: usize,
    start: *mut u8,
    len: usize,
}

// SAFETY: the buffer owns its mapping outright; nothing else aliases it.
unsafe impl Send for Buffer {}

impl Buffer {
    /// Maps `len` bytes for `pages`. Huge pages get a 2 MiB-aligned start. Pages are not
    /// touched here: the caller's first write faults them in (and for huge pages, that
    /// first touch is when the kernel decides).
    #[cfg(target_os = "linux")]
    pub fn new(len: usize, pages: PageKind) -> Result<Buffer> {
        if len == 0 {
            return Err(Error::Input("a working set must not be empty".into()));
        }
        let align = match pages {
            PageKind::Small => crate::host::page_size(),
            PageKind::Huge => HUGE_PAGE,
        };
        let rounded = len.div_ceil(align) * align;
        let map_len = rounded + align;
        // SAFETY: an anonymous private mapping with no address hint; the result is
        // checked against MAP_FAILED before use.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(Error::Internal(format!(
                "could not map {} bytes: {}",
                map_len,
                std::io::Error::last_os_error()
            )));
        }
        let map = map as *mut u8;
        let offset = (align - (map as usize % align)) % align;
        // SAFETY: offset < align and rounded + align == map_len, so start..start+rounded
        // lies inside the mapping.
        let start = unsafe { map.add(offset) };
        let advice = match pages {
            PageKind::Small => libc::MADV_NOHUGEPAGE,
            PageKind::Huge => libc::MADV_HUGEPAGE,
        };
        // SAFETY: start is page aligned and start..start+rounded is inside our mapping.
        // A refusal (e.g. THP compiled out) is not an error: the page check says so.
        unsafe {
            libc::madvise(start as *mut libc::c_void, rounded, advice);
        }
        Ok(Buffer {
            map,
            map_len,
            start,
            len,
        })
    }

    /// Buffers need mmap and madvise; elsewhere they are unsupported.
    #[cfg(not(target_os = "linux"))]
    pub fn new(_len: usize, _pages: PageKind) -> Result<Buffer> {
        Err(Error::Unusable(
            "memory buffers are unsupported on this platform (Linux only)".into(),
        ))
    }

    /// The first byte of the usable region.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.start
    }

    /// The usable length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The share of this buffer's resident memory that sits on huge pages, from
    /// `AnonHugePages` in /proc/self/smaps; `None` where that cannot be read.
    pub fn huge_fraction(&self) -> Option<f64> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let lo = self.map as usize;
        let hi = lo + self.map_len;
        let (mut rss_kb, mut huge_kb) = (0u64, 0u64);
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((a, b)) = range.split_once('-') {
                    if let (Ok(a), Ok(b)) =
                        (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                    {
                        // madvise may split our mapping into several VMAs.
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
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: map/map_len are exactly what mmap returned; nothing borrows the
        // buffer past its lifetime.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::munmap(self.map as *mut libc::c_void, self.map_len);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn huge_buffers_are_2mib_aligned() {
        let mut b = Buffer::new(3 << 20, PageKind::Huge).unwrap();
        assert_eq!(b.as_mut_ptr() as usize % HUGE_PAGE, 0);
        assert_eq!(b.len(), 3 << 20);
    }

    #[test]
    fn small_pages_stay_small() {
        let mut b = Buffer::new(8 << 20, PageKind::Small).unwrap();
        let p = b.as_mut_ptr();
        for i in (0..b.len()).step_by(4096) {
            // SAFETY: i < len, inside the mapping.
            unsafe { p.add(i).write(1) };
        }
        assert_eq!(b.huge_fraction(), Some(0.0));
    }
}
