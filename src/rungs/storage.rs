//! The SSD rung: 4 KiB random reads at queue depth 1 that bypass the page cache
//! (O_DIRECT, aligned buffer), the same reads from a warm page cache for contrast, and
//! fsync'd 4 KiB writes — from a file in a run-owned temp dir on the filesystem asked
//! for. A tmpfs or ramfs path is refused (it is RAM, not a disk) unless allowed.
//!
//! A read's completion is an interrupt, and the interrupt lands on one CPU (a VM's
//! virtio disk often has one queue whose interrupt goes to one vCPU): a reader on that
//! CPU is woken there, a reader elsewhere is woken across CPUs, which in a VM costs an
//! inter-processor interrupt through the hypervisor. So the uncached reads are timed
//! twice, pinned on the interrupt's CPU and on another, each row placed and with the
//! device's interrupts per CPU during its reads as evidence; the CPU is found from the
//! device's own interrupt lines (sysfs), counted in /proc/interrupts over a few probe
//! reads. Where that cannot be done the one row says why ([`NoIrqPlacement`]).

use super::{Latencies, Rung};
use crate::error::{Error, Result};
use crate::platform::Bypass;
pub use crate::platform::{mount_of, Mount};
use crate::record::placement::{CpuCount, NoIrqPlacement, Placement, PlacementKind};
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
        let tmp = crate::ownership::run_dir(&dir, &crate::ownership::out_temp_prefix("storage"))
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

/// Reads of the probe that finds the interrupt's CPU.
const PROBE_READS: u64 = 64;

/// The per-CPU sums of the interrupt lines labelled `irqs` ("36") in the text of
/// /proc/interrupts: (CPU, count) for every CPU column of its header. None where the
/// text has no header.
pub fn irq_counts(text: &str, irqs: &[String]) -> Option<Vec<(usize, u64)>> {
    let mut lines = text.lines();
    let cpus: Vec<usize> = lines
        .next()?
        .split_whitespace()
        .map(|t| t.strip_prefix("CPU")?.parse().ok())
        .collect::<Option<_>>()?;
    if cpus.is_empty() {
        return None;
    }
    let mut sums = vec![0u64; cpus.len()];
    for line in lines {
        let mut tokens = line.split_whitespace();
        let Some(label) = tokens.next().and_then(|t| t.strip_suffix(':')) else {
            continue;
        };
        if !irqs.iter().any(|i| i == label) {
            continue;
        }
        for (sum, n) in sums
            .iter_mut()
            .zip(tokens.map_while(|t| t.parse::<u64>().ok()))
        {
            *sum += n;
        }
    }
    Some(cpus.into_iter().zip(sums).collect())
}

/// What fired between two counts: the CPUs whose count rose, and by how much.
pub fn fired(before: &[(usize, u64)], after: &[(usize, u64)]) -> Vec<CpuCount> {
    after
        .iter()
        .filter_map(|&(cpu, n)| {
            let was = before.iter().find(|b| b.0 == cpu).map_or(0, |b| b.1);
            (n > was).then(|| CpuCount {
                cpu,
                count: n - was,
            })
        })
        .collect()
}

/// The counts of `irqs` now.
fn counts_now(irqs: &[String]) -> Result<Vec<(usize, u64)>, NoIrqPlacement> {
    crate::platform::interrupts()
        .and_then(|t| irq_counts(&t, irqs))
        .ok_or(NoIrqPlacement::NotShown)
}

/// The CPU that took most of the device's interrupts; None where none fired.
pub fn busiest(fired: &[CpuCount]) -> Option<usize> {
    fired.iter().max_by_key(|c| c.count).map(|c| c.cpu)
}

/// Where the uncached reads run: the device's interrupt lines, the CPU their interrupts
/// land on and another CPU this process may use.
struct IrqPlan {
    irqs: Vec<String>,
    irq_cpu: usize,
    other_cpu: usize,
}

/// Finds the interrupt's CPU: the device's interrupt lines, counted over a few reads
/// pinned to the first CPU of `cpus`.
fn locate(
    dir: &Path,
    reads: &mut DirectReads,
    cpus: &[usize],
) -> Result<std::result::Result<IrqPlan, NoIrqPlacement>> {
    let irqs = match (cpus.len(), crate::platform::device_irqs(dir)) {
        (0 | 1, _) => return Ok(Err(NoIrqPlacement::OneCpu)),
        (_, Err(why)) => return Ok(Err(why)),
        (_, Ok(irqs)) => irqs,
    };
    let _pin = crate::host::Pinned::to(cpus[0], cpus)?;
    let Ok(before) = counts_now(&irqs) else {
        return Ok(Err(NoIrqPlacement::NotShown));
    };
    for _ in 0..PROBE_READS {
        reads.read_one()?;
    }
    let Ok(after) = counts_now(&irqs) else {
        return Ok(Err(NoIrqPlacement::NotShown));
    };
    Ok(match busiest(&fired(&before, &after)) {
        None => Err(NoIrqPlacement::NoneFired),
        Some(cpu) if !cpus.contains(&cpu) => Err(NoIrqPlacement::IrqCpuNotAllowed),
        Some(irq_cpu) => Ok(IrqPlan {
            other_cpu: *cpus.iter().find(|&&c| c != irq_cpu).unwrap_or(&irq_cpu),
            irqs,
            irq_cpu,
        }),
    })
}

/// `samples` uncached reads, the caller's thread as placed; `on_read` gets the count
/// done every 256 reads.
fn time_reads(
    reads: &mut DirectReads,
    samples: u64,
    mut on_read: impl FnMut(u64),
) -> Result<Latencies> {
    let mut cold = Latencies::new();
    for i in 0..samples {
        crate::signal::check()?;
        cold.time(|| reads.read_one())?;
        if i % 256 == 0 {
            on_read(i);
        }
    }
    Ok(cold)
}

/// Runs the storage rung: returns the uncached reads (on the device interrupt's CPU
/// and on another, or unplaced with the reason), the warm page-cache reads and the
/// fsync'd writes. `on_progress` is told the fraction done.
pub fn measure(cfg: &StorageConfig, mut on_progress: impl FnMut(f64)) -> Result<Vec<Rung>> {
    if cfg.samples == 0 {
        return Err(Error::Input("--samples must be at least 1".into()));
    }
    let tf = TestFile::create(cfg)?;
    on_progress(0.25);
    let where_ = tf.where_.clone();

    // 1. Reads that bypass the page cache, beside the device's interrupt and away.
    let mut reads = DirectReads::open(&tf, cfg.seed)?;
    let cpus = crate::host::allowed_cpus();
    let plan = locate(&tf.path, &mut reads, &cpus)?;
    let placed: Vec<(Option<Placement>, Option<NoIrqPlacement>)> = match &plan {
        Ok(p) => [
            (PlacementKind::IrqCpu, p.irq_cpu),
            (PlacementKind::OtherThanIrq, p.other_cpu),
        ]
        .into_iter()
        .map(|(kind, cpu)| {
            let placement = Placement {
                kind,
                client_cpu: cpu,
                server_cpus: Some(vec![p.irq_cpu]),
                interrupts: Vec::new(),
            };
            (Some(placement), None)
        })
        .collect(),
        Err(why) => vec![(None, Some(*why))],
    };
    let (method, caveat) = match reads.bypass() {
        Bypass::DropAfterRead => (
            "4K random read QD1, page cache dropped (fallback)".to_string(),
            Some(Caveat::DirectIoRefused),
        ),
        flag => (format!("{} 4K random read QD1", flag.name()), None),
    };
    let mut rungs = Vec::new();
    let share = 0.35 / placed.len() as f64;
    for (k, (placement, why)) in placed.into_iter().enumerate() {
        let pin = match &placement {
            Some(p) => Some(crate::host::Pinned::to(p.client_cpu, &cpus)?),
            None => None,
        };
        let irqs = plan.as_ref().map(|p| p.irqs.as_slice()).unwrap_or_default();
        let before = counts_now(irqs).ok();
        let mut cold = time_reads(&mut reads, cfg.samples, |i| {
            on_progress(0.25 + share * (k as f64 + i as f64 / cfg.samples as f64));
        })?;
        let after = counts_now(irqs).ok();
        drop(pin);
        let mut read = cold.rung(
            RungId::Storage {
                op: StorageOp::RandomRead,
            },
            &method,
            Some(where_.clone()),
        )?;
        read.caveat = caveat;
        read.placement = placement.map(|p| Placement {
            interrupts: match (&before, &after) {
                (Some(b), Some(a)) => fired(b, a),
                _ => Vec::new(),
            },
            ..p
        });
        read.no_irq_placement = why;
        rungs.push(read);
    }

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

    const INTERRUPTS: &str = "\
           CPU0       CPU1       
 24:          1          0  IO-APIC   5-edge      ACPI:Ged
 35:          0          1 PCI-MSIX-0000:00:02.0   0-edge      virtio1-config
 36:          3       9633 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0
 39:       1293          0 PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0
NMI:          0          0   Non-maskable interrupts
LOC:      71710      85366   Local timer interrupts
ERR:          0
";

    #[test]
    fn a_device_s_interrupts_are_summed_per_cpu() {
        let irqs = ["35".to_string(), "36".to_string()];
        assert_eq!(irq_counts(INTERRUPTS, &irqs), Some(vec![(0, 3), (1, 9634)]));
        assert_eq!(
            irq_counts(INTERRUPTS, &["39".into()]),
            Some(vec![(0, 1293), (1, 0)])
        );
        // Lines of other devices and the named counters (NMI, LOC) are not ours.
        assert_eq!(
            irq_counts(INTERRUPTS, &["99".into()]),
            Some(vec![(0, 0), (1, 0)])
        );
        assert_eq!(irq_counts("garbage\n 36: 1 2", &irqs), None);
        assert_eq!(irq_counts("", &irqs), None);
    }

    #[test]
    fn the_interrupt_s_cpu_is_where_the_count_rose_most() {
        let before = [(0, 3), (1, 9634)];
        let after = [(0, 5), (1, 9734)];
        let f = fired(&before, &after);
        assert_eq!(
            f,
            vec![
                CpuCount { cpu: 0, count: 2 },
                CpuCount { cpu: 1, count: 100 }
            ]
        );
        assert_eq!(busiest(&f), Some(1));
        assert_eq!(busiest(&fired(&after, &after)), None);
        // A CPU missing before (hot-plugged) counts from zero.
        assert_eq!(fired(&[], &[(2, 7)]), vec![CpuCount { cpu: 2, count: 7 }]);
    }

    #[test]
    fn ram_filesystems_are_recognised() {
        assert!(is_ram_fs("tmpfs") && is_ram_fs("ramfs"));
        assert!(!is_ram_fs("ext4") && !is_ram_fs("xfs"));
    }
}
