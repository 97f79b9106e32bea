//! The write side per level: single-thread bandwidth of reads, writes, copies and
//! non-temporal writes at one working set per cache level and in RAM (the widest
//! vectors the CPU offers, as the read kernel of `ladder stride`), and the latency of a
//! store that a dependent load reads back (store forwarding).

use super::increment::{increment, Addressing};
use crate::error::{Error, Result};
use crate::measure::{per_op_ns, Summary, TrialPolicy};
use crate::memory::buffer::Buffer;
use crate::memory::kernels::{stream_copy, stream_read, stream_write, Store, STREAM_BLOCK};
use crate::record::cores::{BandwidthKind, LevelBandwidth};
use crate::record::host::Host;
use crate::record::memory::Isa;
use crate::record::memory::{LevelName, PageKind};

/// One working set per data cache sysfs (or sysctl) reports and one in RAM: half of
/// L1d, then the geometric middle between each cache and the one below it (inside the
/// level, clear of both edges), then `ram_bytes`. Sizes are whole pages of 4 KiB.
pub fn level_sets(host: &Host, ram_bytes: u64) -> Vec<(LevelName, u64)> {
    let page = |b: u64| b.div_ceil(4096).max(1) * 4096;
    let caches = host.data_caches();
    let mut sets: Vec<(LevelName, u64)> = caches
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let size = match i {
                0 => c.size_bytes / 2,
                _ => ((caches[i - 1].size_bytes as f64 * c.size_bytes as f64).sqrt()) as u64,
            };
            (LevelName::Cache(c.level as u8), page(size))
        })
        .collect();
    sets.push((LevelName::Ram, page(ram_bytes)));
    sets
}

fn best(trials: &[f64]) -> Result<f64> {
    Summary::of(trials)
        .map(|s| s.min)
        .ok_or_else(|| Error::Internal("no valid trials".into()))
}

/// GB/s of `kind` over a buffer of `size` bytes (copy: from its first half to its
/// second, counting the bytes read and the bytes written). None for a non-temporal
/// store where this CPU has no kernel for one.
pub fn bandwidth(
    kind: BandwidthKind,
    size: u64,
    isa: Isa,
    policy: TrialPolicy,
) -> Result<Option<f64>> {
    if kind == BandwidthKind::NtStore && !isa.has_nt_store() {
        return Ok(None);
    }
    crate::signal::check()?;
    let len = (size as usize).div_ceil(2 * STREAM_BLOCK) * 2 * STREAM_BLOCK;
    let mut buf = Buffer::new(len, PageKind::Huge)?;
    let p = buf.as_mut_ptr();
    // SAFETY: the buffer holds len bytes; filling faults every page in.
    unsafe { std::ptr::write_bytes(p, 1, len) };
    let half = len / 2;
    // One "step" is one pass over the buffer.
    let op = |passes: u64| match kind {
        // SAFETY (all arms): the buffer holds len bytes, page aligned, a multiple of
        // 1024; the ISA was detected here and NT stores checked above.
        BandwidthKind::Read => {
            unsafe { stream_read(isa, p, len, passes) };
        }
        BandwidthKind::Write => unsafe { stream_write(isa, Store::Plain, p, len, passes, 7) },
        BandwidthKind::NtStore => unsafe {
            stream_write(isa, Store::NonTemporal, p, len, passes, 7)
        },
        BandwidthKind::Copy => unsafe { stream_copy(isa, p, p.add(half), half, passes) },
    };
    let ns_per_pass = best(&per_op_ns(op, 1, policy, &mut ()))?;
    // Copy moves half the buffer: read from one half, written to the other.
    Ok(Some(len as f64 / ns_per_pass))
}

/// Every kind in every level of `sets`, single-threaded on the calling thread.
/// `on_set` is told after each level.
pub fn per_level(
    sets: &[(LevelName, u64)],
    policy: TrialPolicy,
    mut on_set: impl FnMut(),
) -> Result<Vec<LevelBandwidth>> {
    let isa = Isa::detect();
    let mut out = Vec::new();
    for (level, size) in sets {
        for kind in BandwidthKind::ALL {
            if let Some(gbps) = bandwidth(kind, *size, isa, policy)? {
                out.push(LevelBandwidth {
                    level: *level,
                    size_bytes: *size,
                    kind,
                    gbps,
                    isa,
                });
            }
        }
        on_set();
    }
    Ok(out)
}

/// ns per step of a loop that loads a word and stores it back plus one
/// ([`super::increment`]): each load waits for the store before it. With
/// [`Addressing::Indexed`] a step is one store-to-load forwarding; with
/// [`Addressing::Base`] a core that renames memory operands skips the forwarding
/// (about one cycle a step).
pub fn store_reload_ns(addressing: Addressing, policy: TrialPolicy) -> Result<f64> {
    let mut word = 0u64;
    let p: *mut u64 = &mut word;
    let trials = per_op_ns(
        // SAFETY: p points at a live local word this thread alone uses.
        |n| unsafe { increment(p, n, addressing) },
        1 << 16,
        policy,
        &mut (),
    );
    best(&trials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::host::CacheInfo;

    #[test]
    fn working_sets_sit_inside_each_level() {
        let mut host = Host::probe();
        let cache = |level, kind: &str, size| CacheInfo {
            level,
            kind: kind.into(),
            size_bytes: size,
            line_bytes: 64,
            shared_cpus: "0".into(),
        };
        host.caches = vec![
            cache(1, "Data", 32 << 10),
            cache(1, "Instruction", 32 << 10),
            cache(2, "Unified", 512 << 10),
            cache(3, "Unified", 32 << 20),
        ];
        let sets = level_sets(&host, 256 << 20);
        let names: Vec<String> = sets.iter().map(|s| s.0.to_string()).collect();
        assert_eq!(names, ["L1d", "L2", "L3", "RAM"]);
        assert_eq!(sets[0].1, 16 << 10);
        assert_eq!(sets[1].1, 128 << 10);
        assert_eq!(sets[2].1, 4 << 20);
        assert_eq!(sets[3].1, 256 << 20);
        host.caches.clear();
        assert_eq!(level_sets(&host, 1 << 20), vec![(LevelName::Ram, 1 << 20)]);
    }

    #[test]
    fn every_kind_gives_a_rate_or_says_it_has_no_kernel() {
        let isa = Isa::detect();
        for kind in BandwidthKind::ALL {
            let r = bandwidth(kind, 64 << 10, isa, TrialPolicy::QUICK).unwrap();
            match r {
                Some(g) => assert!(g > 0.0 && g.is_finite(), "{kind:?} {g}"),
                None => assert!(kind == BandwidthKind::NtStore && !isa.has_nt_store()),
            }
        }
        for a in [Addressing::Base, Addressing::Indexed] {
            assert!(store_reload_ns(a, TrialPolicy::QUICK).unwrap() > 0.0);
        }
    }
}
