//! What the host is: CPU model, caches (sysfs on Linux, sysctl on macOS), line, page
//! and huge page sizes, THP mode, hypervisor, core kinds (performance / efficiency),
//! calibrated core clock, whether pinning works, which perf counters can be opened.
//! The OS-specific reads are in [`crate::platform`].
//!
//! Everything here is read or measured, never assumed: a fact that cannot be found is
//! `None` and shows as "unknown".

use crate::counters;
use crate::platform;
use crate::record::host::{Host, HostNote, NoAffinity};

impl Host {
    /// Describes this machine (takes about a tenth of a second: the clock calibration).
    pub fn probe() -> Host {
        let cpus = allowed_cpus();
        let clock = calibrate_clock();
        let cache_cpu = cpus.first().copied().unwrap_or(0);
        let caches = platform::caches(cache_cpu);
        let hypervisor = cpuid_hypervisor().or_else(platform::hypervisor);
        let (pinning, pinning_note) = pinning_works(&cpus);
        let cpu_id = platform::cpu_id();
        Host {
            hostname: hostname(),
            cpu_model: platform::cpu_model(),
            line_bytes: caches.iter().find(|c| c.holds_data()).map(|c| c.line_bytes),
            caches,
            page_size: page_size() as u64,
            huge_page_bytes: platform::huge_page_bytes(),
            huge_pages_note: platform::thp()
                .is_none()
                .then_some(HostNote::Fact(platform::NO_HUGE_PAGES)),
            thp: platform::thp(),
            virtualized: hypervisor.is_some() || platform::hypervisor_flag(),
            hypervisor,
            clock_ghz: clock.map(|c| c.0),
            clock_spread: clock.map(|c| c.1),
            counter_hz: counter_hz(),
            pinning,
            pinning_note,
            core_kinds: platform::core_kinds(),
            mem_available_bytes: platform::mem_available(),
            mem_total_bytes: platform::mem_total(),
            numa_nodes: platform::numa_nodes(),
            kernel: kernel(),
            counters: counters::probe(),
            uarch: cpu_id
                .as_ref()
                .and_then(crate::uarch::identify)
                .map(|u| u.name.clone()),
            cpu_id,
            cpus,
        }
    }
}

/// The kernel's name and release from uname ("Linux 6.1.0-26-amd64", "Darwin 24.1.0").
fn kernel() -> Option<String> {
    // SAFETY: utsname is plain data, valid zeroed.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, writable utsname for uname to fill.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname's fields are NUL-terminated within their arrays (and the struct
        // was zeroed before).
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Some(format!("{} {}", field(&u.sysname), field(&u.release)))
}

/// The base page size in bytes (sysconf: 4 KiB on x86_64, 4, 16 or 64 KiB on aarch64).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // POSIX requires _SC_PAGESIZE; a failure is an OS we cannot measure on at all.
    usize::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .expect("sysconf(_SC_PAGESIZE) failed")
}

/// The host name (gethostname), "localhost" where the OS gives none.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its whole length, which is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).trim().to_string())
        .filter(|s| rc == 0 && !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Memory available for working sets in bytes (Linux MemAvailable); null where unknown.
pub fn mem_available() -> Option<u64> {
    platform::mem_available()
}

#[cfg(target_arch = "x86_64")]
// Older Rust (the declared rust-version, 1.89, among them) marks CPUID unsafe.
#[allow(unused_unsafe)]
fn cpuid_hypervisor() -> Option<String> {
    use std::arch::x86_64::__cpuid;
    // Leaf 1 ECX bit 31 says whether the hypervisor leaves exist before we read them.
    // SAFETY: CPUID exists on every x86_64 CPU and only reads identification registers.
    let leaf1 = unsafe { __cpuid(1) };
    if leaf1.ecx & (1 << 31) == 0 {
        return None;
    }
    // SAFETY: as above; the hypervisor leaf exists (bit 31 is set).
    let hv = unsafe { __cpuid(0x4000_0000) };
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
/// affinity is left alone), and why not where the OS has no affinity.
fn pinning_works(cpus: &[usize]) -> (bool, Option<HostNote<NoAffinity>>) {
    let Some(&cpu) = cpus.last() else {
        return (false, None);
    };
    match std::thread::spawn(move || platform::pin_current(cpu)).join() {
        Ok(platform::Pinned::Yes) => (true, None),
        Ok(platform::Pinned::Unsupported(why)) => (false, Some(HostNote::Fact(why))),
        Ok(platform::Pinned::Refused) | Err(_) => (false, None),
    }
}

/// Pins the calling thread to `cpu`; an error names the CPUs that exist. Where the OS
/// has no thread affinity (macOS) this is not an error: the host record says the
/// thread was not pinned.
pub fn pin_to(cpu: usize, cpus: &[usize]) -> crate::Result<()> {
    if !cpus.contains(&cpu) {
        return Err(crate::Error::Input(format!(
            "CPU {cpu} does not exist or is not allowed here (available: {})",
            crate::units::cpu_list(cpus, ", ")
        )));
    }
    match platform::pin_current(cpu) {
        platform::Pinned::Yes | platform::Pinned::Unsupported(_) => Ok(()),
        platform::Pinned::Refused => Err(crate::Error::Unusable(format!(
            "could not pin the measuring thread to CPU {cpu}"
        ))),
    }
}

/// The calling thread pinned to one CPU for as long as this value lives; dropping it
/// gives the thread back the CPUs it was allowed before, so a later phase (and every
/// process it starts) does not inherit the pin by accident.
pub struct Pinned {
    before: Option<platform::Affinity>,
}

impl Pinned {
    /// Pins the calling thread to `cpu` (see [`pin_to`]).
    pub fn to(cpu: usize, cpus: &[usize]) -> crate::Result<Pinned> {
        let before = platform::current_affinity();
        pin_to(cpu, cpus)?;
        Ok(Pinned { before })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(set) = &self.before {
            platform::restore_affinity(set);
        }
    }
}

/// The CPUs this process may run on, as they were at the first call (made at the start
/// of every command, before any thread pins itself): where managed servers go, whatever
/// CPU the thread that starts them is pinned to at the time.
pub fn process_cpus() -> Vec<usize> {
    static PROCESS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    PROCESS.get_or_init(allowed_cpus).clone()
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

/// The generic timer's frequency (CNTFRQ_EL0), which Linux and macOS let user space
/// read.
#[cfg(all(target_arch = "aarch64", any(target_os = "linux", target_os = "macos")))]
pub fn counter_hz() -> Option<u64> {
    let hz: u64;
    // SAFETY: reads a system register that both kernels make readable at EL0; no memory.
    unsafe {
        std::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack));
    }
    (hz > 0).then_some(hz)
}

/// No generic timer register to read on this architecture or OS.
#[cfg(not(all(target_arch = "aarch64", any(target_os = "linux", target_os = "macos"))))]
pub fn counter_hz() -> Option<u64> {
    None
}

/// Without inline assembly for this architecture the clock is unknown.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn calibrate_clock() -> Option<(f64, f64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::host::CoreKind;

    #[test]
    fn the_pinned_core_is_named_with_its_kind() {
        let mut host = Host::probe();
        host.pinning_note = None;
        host.core_kinds = vec![
            CoreKind::new("performance", vec![0, 1], "cpu_core PMU"),
            CoreKind::new("efficiency", vec![2, 3], "cpu_atom PMU"),
        ];
        assert_eq!(host.pinned_to(2), "pinned to CPU 2 (efficiency core)");
        assert_eq!(host.pinned_to(7), "pinned to CPU 7");
        host.pinning_note = Some(HostNote::Fact(NoAffinity::MacosQos));
        assert!(host.pinned_to(0).starts_with("not pinned: macOS"));
        // An older record's sentence is shown as written.
        host.pinning_note = Some(HostNote::Text("not pinned: as stored".into()));
        assert_eq!(host.pinned_to(0), "not pinned: as stored");
    }

    #[test]
    fn sizes_are_read_never_defaulted() {
        assert!(page_size().is_power_of_two());
        let host = Host::probe();
        if let Some(line) = host.line_bytes {
            assert!(line.is_power_of_two(), "{line}");
        }
        if let Some(huge) = host.huge_page_bytes {
            assert!(huge > host.page_size, "{huge}");
        }
        assert!(!host.hostname.is_empty());
    }

    #[test]
    fn a_pin_is_undone_when_it_ends() {
        let before = allowed_cpus();
        let process = process_cpus();
        let Some(&cpu) = before.last() else { return };
        std::thread::spawn(move || {
            let pinned = Pinned::to(cpu, &before).unwrap();
            assert_eq!(allowed_cpus(), vec![cpu]);
            // A pinned thread still places servers on the process's CPUs.
            assert_eq!(process_cpus(), process);
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
