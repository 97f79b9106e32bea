//! Scaling with cores: aggregate read bandwidth at the RAM set with 1, 2, 4... N threads,
//! one per CPU, each streaming its own slice of one buffer for a fixed time.

use super::on_cpus;
use crate::error::Result;
use crate::memory::buffer::Buffer;
use crate::memory::kernels::{stream_read, STREAM_BLOCK};
use crate::record::cores::ScalingPoint;
use crate::record::memory::Isa;
use crate::record::memory::PageKind;
use std::time::{Duration, Instant};

/// The thread counts measured on `n` CPUs: powers of two, then `n` itself.
pub fn thread_counts(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |k| Some(k * 2))
        .take_while(|&k| k < n)
        .collect();
    if n > 0 {
        v.push(n);
    }
    v
}

/// A buffer address that threads may share (each reads its own slice).
#[derive(Clone, Copy)]
struct Shared(*const u8);
// SAFETY: the buffer outlives the scoped threads, which only read it.
unsafe impl Sync for Shared {}

impl Shared {
    /// The address `offset` bytes in.
    fn at(&self, offset: usize) -> *const u8 {
        self.0.wrapping_add(offset)
    }
}

/// Read bandwidth of `threads` threads on the first CPUs of `cpus` over `ram_bytes`:
/// the best of `trials` trials of `duration` each, GB/s of all threads together.
/// `on_point` is told after each thread count.
pub fn read_scaling(
    cpus: &[usize],
    ram_bytes: u64,
    duration: Duration,
    trials: usize,
    mut on_point: impl FnMut(),
) -> Result<Vec<ScalingPoint>> {
    let isa = Isa::detect();
    let len = (ram_bytes as usize).div_ceil(STREAM_BLOCK) * STREAM_BLOCK;
    let mut buf = Buffer::new(len, PageKind::Huge)?;
    // SAFETY: the buffer holds len bytes; filling faults every page in.
    unsafe { std::ptr::write_bytes(buf.as_mut_ptr(), 1, len) };
    let base = Shared(buf.as_mut_ptr());
    let mut out = Vec::new();
    for k in thread_counts(cpus.len()) {
        let slice = len / k / STREAM_BLOCK * STREAM_BLOCK;
        let mut best: f64 = 0.0;
        for _ in 0..trials.max(1) {
            crate::signal::check()?;
            let per_thread = on_cpus(&cpus[..k], |i, start| {
                start.wait();
                let t0 = Instant::now();
                let mut bytes = 0u64;
                while t0.elapsed() < duration {
                    // SAFETY: slice i lies inside the buffer, 512-byte aligned, a
                    // multiple of 512 bytes long; the ISA was detected here.
                    unsafe { stream_read(isa, base.at(i * slice), slice, 1) };
                    bytes += slice as u64;
                }
                (bytes, t0.elapsed().as_secs_f64())
            })?;
            let bytes: u64 = per_thread.iter().map(|t| t.0).sum();
            let secs = per_thread.iter().map(|t| t.1).fold(0.0, f64::max);
            best = best.max(bytes as f64 / secs / 1e9);
        }
        out.push(ScalingPoint {
            threads: k,
            cpus: cpus[..k].to_vec(),
            read_gbps: best,
        });
        on_point();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_are_powers_of_two_then_all() {
        assert_eq!(thread_counts(1), vec![1]);
        assert_eq!(thread_counts(2), vec![1, 2]);
        assert_eq!(thread_counts(6), vec![1, 2, 4, 6]);
        assert_eq!(thread_counts(8), vec![1, 2, 4, 8]);
        assert!(thread_counts(0).is_empty());
    }

    #[test]
    fn every_thread_count_gives_a_rate() {
        let cpus = crate::host::allowed_cpus();
        let pts = read_scaling(&cpus, 8 << 20, Duration::from_millis(5), 1, || {}).unwrap();
        assert_eq!(
            pts.iter().map(|p| p.threads).collect::<Vec<_>>(),
            thread_counts(cpus.len())
        );
        assert!(pts
            .iter()
            .all(|p| p.read_gbps > 0.0 && p.cpus.len() == p.threads));
    }
}
