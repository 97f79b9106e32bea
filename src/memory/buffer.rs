//! Working-set buffers: anonymous mappings (mmap on every OS) aligned for the page size
//! asked for, with transparent huge pages requested or refused where the OS has them
//! (Linux madvise; macOS: superpages not requested), and a check of what the kernel
//! actually gave (Linux smaps). The OS-specific parts are in [`crate::platform`].

use crate::error::{Error, Result};
use crate::record::memory::PageKind;
use std::sync::OnceLock;

/// The alignment of a huge-page buffer: the host's huge page size, or the base page
/// where the OS has no huge pages or does not say (nothing larger would be given then).
pub fn huge_align() -> usize {
    static ALIGN: OnceLock<usize> = OnceLock::new();
    *ALIGN.get_or_init(|| {
        crate::platform::huge_page_bytes()
            .and_then(|b| usize::try_from(b).ok())
            .filter(|b| b.is_power_of_two())
            .unwrap_or_else(crate::host::page_size)
    })
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
    /// Maps `len` bytes for `pages`. Huge pages get a start aligned to the host's huge
    /// page size. Pages are not touched here: the caller's first write faults them in
    /// (and for huge pages, that first touch is when the kernel decides).
    pub fn new(len: usize, pages: PageKind) -> Result<Buffer> {
        if len == 0 {
            return Err(Error::Input("a working set must not be empty".into()));
        }
        let align = match pages {
            PageKind::Small => crate::host::page_size(),
            PageKind::Huge => huge_align(),
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
        crate::platform::advise_pages(start, rounded, pages);
        Ok(Buffer {
            map,
            map_len,
            start,
            len,
        })
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

    /// The share of this buffer's resident memory that sits on huge pages (Linux:
    /// `AnonHugePages` in /proc/self/smaps); `None` where that cannot be read.
    pub fn huge_fraction(&self) -> Option<f64> {
        let lo = self.map as usize;
        crate::platform::huge_fraction(lo, lo + self.map_len)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: map/map_len are exactly what mmap returned; nothing borrows the
        // buffer past its lifetime.
        unsafe {
            libc::munmap(self.map as *mut libc::c_void, self.map_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_buffers_are_aligned_to_the_host_huge_page() {
        let mut b = Buffer::new(3 << 20, PageKind::Huge).unwrap();
        assert_eq!(b.as_mut_ptr() as usize % huge_align(), 0);
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
        // Linux checks smaps and finds no huge page; elsewhere nothing is checked.
        #[cfg(target_os = "linux")]
        assert_eq!(b.huge_fraction(), Some(0.0));
        #[cfg(not(target_os = "linux"))]
        assert_eq!(b.huge_fraction(), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn page_faults_count_the_pages_a_fresh_buffer_touches() {
        use crate::counters::{CounterGroup, Reading};
        use crate::measure::TrialHook;
        let mut g = CounterGroup::open(&["page-faults".to_string(), "cycles".to_string()]);
        let pages = 2048;
        let page = crate::host::page_size();
        let mut buf = Buffer::new(pages * page, PageKind::Small).unwrap();
        let p = buf.as_mut_ptr();
        g.begin();
        for i in 0..pages {
            // SAFETY: i * page < len, inside the mapping.
            unsafe { p.add(i * page).write_volatile(1) };
        }
        g.end(pages as u64);
        let readings = g.take();
        let faults = readings[0].1.per_access().expect("page-faults counted");
        assert!(faults >= 0.9, "{faults} faults per page");
        // Hardware cycles: counted where a PMU exists, a reason where not; never 0.
        match &readings[1].1 {
            Reading::Counted { total, .. } => assert!(*total > 0.0),
            Reading::Unsupported { reason } | Reading::NotPermitted { reason } => {
                assert!(!reason.is_empty())
            }
            Reading::NotCounted => {}
        }
    }
}
