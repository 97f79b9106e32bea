//! The SSD rung: 4 KiB random reads at queue depth 1 that bypass the page cache
//! (O_DIRECT, aligned buffer), the same reads from a warm page cache for contrast, and
//! fsync'd 4 KiB writes — from a file in a run-owned temp dir on the filesystem asked
//! for. A tmpfs or ramfs path is refused (it is RAM, not a disk) unless allowed.

use super::{Latencies, Rung};
use crate::error::{Error, Result};
use crate::platform::Bypass;
pub use crate::platform::{mount_of, Mount};
use crate::record::rung::{Caveat, RungId, StorageOp};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The I/O size and alignment.
pub const BLOCK: usize = 4096;

/// What to measure.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// A directory on the filesystem to measure.
    pub dir: PathBuf,
    /// Size of the test file, bytes (a multiple of [`BLOCK`]).
    pub file_size: u64,
    /// Timed reads per kind (writes: a tenth of this).
    pub samples: u64,
    /// Measure a RAM-backed filesystem anyway.
    pub allow_ram: bool,
    /// Seed of the offsets.
    pub seed: u64,
}

/// Whether a filesystem type keeps its data in RAM.
pub fn is_ram_fs(fstype: &str) -> bool {
    matches!(fstype, "tmpfs" | "ramfs" | "devtmpfs")
}

/// A 4 KiB-aligned I/O buffer (O_DIRECT needs aligned memory, lengths and offsets).
struct AlignedBlock {
    ptr: *mut u8,
}

impl AlignedBlock {
    fn new() -> AlignedBlock {
        let layout = Self::layout();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        AlignedBlock { ptr }
    }

    fn layout() -> Layout {
        Layout::from_size_align(BLOCK, BLOCK).expect("4096 is a valid size and alignment")
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr holds BLOCK bytes we own exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, BLOCK) }
    }
}

impl Drop for AlignedBlock {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in new().
        unsafe { dealloc(self.ptr, Self::layout()) }
    }
}

/// Writes `size` bytes of pseudo-random data (not zeros: some devices compress or
/// skip them) and syncs them to the device.
fn fill(path: &Path, size: u64, rng: &mut SmallRng) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        crate::signal::check()?;
        rng.fill(&mut chunk[..]);
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).map_err(|e| Error::io(path, e))?;
        left -= n as u64;
    }
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// The test file: in a run-owned temp dir on the filesystem asked for (removed on
/// drop, also after an error or Ctrl-C), filled and synced.
pub struct TestFile {
    tmp: tempfile::TempDir,
    path: PathBuf,
    blocks: u64,
    /// "ext4 on /dev/vda (/)": what was measured.
    pub where_: String,
}

impl TestFile {
    /// Checks the filesystem (a RAM-backed one is refused unless allowed, free space
    /// must suffice) and writes the file.
    pub fn create(cfg: &StorageConfig) -> Result<TestFile> {
        let dir = cfg
            .dir
            .canonicalize()
            .map_err(|e| Error::Input(format!("--path {}: {e}", cfg.dir.display())))?;
        let mount = crate::platform::mount(&dir);
        let fstype = mount.as_ref().map_or("unknown", |m| m.fstype.as_str());
        if is_ram_fs(fstype) && !cfg.allow_ram {
            return Err(Error::Unusable(format!(
                "{} is on {fstype}, which is RAM, not a disk; pick a path on a real disk or pass --allow-ram",
                dir.display()
            )));
        }
        let blocks = cfg.file_size / BLOCK as u64;
        if blocks == 0 {
            return Err(Error::Input(format!(
                "--file-size must be at least {BLOCK} bytes"
            )));
        }
        let free = free_bytes(&dir);
        if free.is_some_and(|f| f < cfg.file_size.saturating_add(64 << 20)) {
            return Err(Error::Unusable(format!(
                "{} has {} free; the test file needs {} plus 64 MiB",
                dir.display(),
                crate::units::format_size(free.unwrap_or(0)),
                crate::units::format_size(cfg.file_size)
            )));
        }
        let where_ = match &mount {
            Some(m) => format!("{} on {} ({})", m.fstype, m.source, m.point.display()),
            None => "unknown filesystem".into(),
        };
        let tmp = crate::clean::run_dir(&dir, &crate::clean::out_temp_prefix("storage"))
            .map_err(|e| Error::Input(format!("cannot write in {}: {e}", dir.display())))?;
        let path = tmp.path().join("data.bin");
        fill(
            &path,
            blocks * BLOCK as u64,
            &mut SmallRng::seed_from_u64(cfg.seed),
        )?;
        Ok(TestFile {
            tmp,
            path,
            blocks,
            where_,
        })
    }

    fn size(&self) -> u64 {
        self.blocks * BLOCK as u64
    }

    /// Removes the file and its temp dir now, reporting an error.
    pub fn remove(self) -> Result<()> {
        let dir = self.tmp.path().to_path_buf();
        self.tmp.close().map_err(|e| Error::io(dir, e))
    }
}

/// Random 4 KiB reads of a [`TestFile`] that bypass the page cache: O_DIRECT with an
/// aligned buffer (Linux), F_NOCACHE (macOS), or where O_DIRECT is refused,
/// POSIX_FADV_DONTNEED after each read (the file was synced when written) with
/// POSIX_FADV_RANDOM. See [`crate::platform::open_uncached`].
pub struct DirectReads {
    file: File,
    bypass: Bypass,
    block: AlignedBlock,
    rng: SmallRng,
    blocks: u64,
    path: PathBuf,
}

impl DirectReads {
    /// Opens the file for uncached reads (and writes).
    pub fn open(tf: &TestFile, seed: u64) -> Result<DirectReads> {
        let mut block = AlignedBlock::new();
        let (file, bypass) =
            crate::platform::open_uncached(&tf.path, block.as_mut()).map_err(|e| {
                match e.kind() {
                    std::io::ErrorKind::Unsupported => Error::Unusable(e.to_string()),
                    _ => Error::io(&tf.path, e),
                }
            })?;
        Ok(DirectReads {
            file,
            bypass,
            block,
            rng: SmallRng::seed_from_u64(seed),
            blocks: tf.blocks,
            path: tf.path.clone(),
        })
    }

    /// How the reads bypass the page cache.
    pub fn bypass(&self) -> Bypass {
        self.bypass
    }

    fn offset(&mut self) -> u64 {
        self.rng.random_range(0..self.blocks) * BLOCK as u64
    }

    /// One 4 KiB read at a random aligned offset.
    pub fn read_one(&mut self) -> Result<()> {
        let off = self.offset();
        self.file
            .read_exact_at(self.block.as_mut(), off)
            .map_err(|e| Error::io(&self.path, e))?;
        if self.bypass == Bypass::DropAfterRead {
            crate::platform::drop_cached(&self.file, off, BLOCK as u64);
        }
        Ok(())
    }

    /// One 4 KiB write of fresh random data at a random aligned offset, made durable
    /// with fdatasync before returning.
    pub fn write_synced(&mut self) -> Result<()> {
        let off = self.offset();
        self.rng.fill(self.block.as_mut());
        let io = |e| Error::io(&self.path, e);
        self.file
            .write_all_at(self.block.as_mut(), off)
            .map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Runs the storage rung: returns the uncached reads, the warm page-cache reads and the
/// fsync'd writes. `on_progress` is told the fraction done.
pub fn measure(cfg: &StorageConfig, mut on_progress: impl FnMut(f64)) -> Result<Vec<Rung>> {
    if cfg.samples == 0 {
        return Err(Error::Input("--samples must be at least 1".into()));
    }
    let tf = TestFile::create(cfg)?;
    on_progress(0.25);
    let where_ = tf.where_.clone();

    // 1. Reads that bypass the page cache.
    let mut reads = DirectReads::open(&tf, cfg.seed)?;
    let mut cold = Latencies::new();
    for i in 0..cfg.samples {
        crate::signal::check()?;
        cold.time(|| reads.read_one())?;
        if i % 256 == 0 {
            on_progress(0.25 + 0.35 * i as f64 / cfg.samples as f64);
        }
    }
    let (method, caveat) = match reads.bypass() {
        Bypass::DropAfterRead => (
            "4K random read QD1, page cache dropped (fallback)".to_string(),
            Some(Caveat::DirectIoRefused),
        ),
        flag => (format!("{} 4K random read QD1", flag.name()), None),
    };
    let mut read = cold.rung(
        RungId::Storage {
            op: StorageOp::RandomRead,
        },
        &method,
        Some(where_.clone()),
    )?;
    read.caveat = caveat;
    let mut rungs = vec![read];

    // 2. The same reads from a warm page cache.
    let io = |e| Error::io(&tf.path, e);
    let buffered = File::open(&tf.path).map_err(io)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < tf.size() {
        let n = buffered.read_at(&mut chunk, at).map_err(io)?;
        if n == 0 {
            break;
        }
        at += n as u64;
    }
    let mut rng = SmallRng::seed_from_u64(cfg.seed ^ 1);
    let mut block = AlignedBlock::new();
    let mut warm = Latencies::new();
    for _ in 0..cfg.samples {
        crate::signal::check()?;
        let off = rng.random_range(0..tf.blocks) * BLOCK as u64;
        warm.time(|| buffered.read_exact_at(block.as_mut(), off).map_err(io))?;
    }
    on_progress(0.7);
    rungs.push(warm.rung(
        RungId::Storage {
            op: StorageOp::CachedRead,
        },
        "buffered 4K random read QD1, warm page cache (RAM)",
        Some(where_.clone()),
    )?);

    // 3. 4 KiB writes, each made durable before the next.
    let writes = (cfg.samples / 10).max(1);
    let mut synced = Latencies::new();
    for i in 0..writes {
        crate::signal::check()?;
        synced.time(|| reads.write_synced())?;
        if i % 64 == 0 {
            on_progress(0.7 + 0.3 * i as f64 / writes as f64);
        }
    }
    let write_method = match reads.bypass() {
        Bypass::DropAfterRead => "4K random write + fdatasync QD1".to_string(),
        flag => format!("{} 4K random write + fdatasync QD1", flag.name()),
    };
    rungs.push(synced.rung(
        RungId::Storage {
            op: StorageOp::SyncedWrite,
        },
        &write_method,
        Some(where_),
    )?);
    drop(reads);
    drop(buffered);
    tf.remove()?;
    on_progress(1.0);
    Ok(rungs)
}

/// Bytes free for an unprivileged user on the filesystem of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct; c is a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /dev/shm rw,nosuid,nodev shared:2 - tmpfs tmpfs rw
31 22 0:27 / /tmp/my\\040dir rw shared:3 - tmpfs none rw
";

    #[test]
    fn the_longest_mount_point_wins() {
        let m = mount_of(MOUNTINFO, Path::new("/work/results")).unwrap();
        assert_eq!((m.fstype.as_str(), m.source.as_str()), ("ext4", "/dev/vda"));
        let m = mount_of(MOUNTINFO, Path::new("/dev/shm/x")).unwrap();
        assert_eq!(m.fstype, "tmpfs");
        let m = mount_of(MOUNTINFO, Path::new("/tmp/my dir/a")).unwrap();
        assert_eq!(m.point, Path::new("/tmp/my dir"));
        // A sibling whose name merely starts the same is not inside the mount.
        let m = mount_of(MOUNTINFO, Path::new("/dev/shmem")).unwrap();
        assert_eq!(m.fstype, "ext4");
    }

    #[test]
    fn ram_filesystems_are_recognised() {
        assert!(is_ram_fs("tmpfs") && is_ram_fs("ramfs"));
        assert!(!is_ram_fs("ext4") && !is_ram_fs("xfs"));
    }
}
