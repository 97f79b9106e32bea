//! False sharing, measured: threads each bump their own counter, with the counters in
//! one cache line, in separate lines, or as one shared atomic counter. A bump is a
//! load, an add and a store of the counter in memory (what `x += 1` on a field the
//! compiler must keep in memory does), written in assembly with an indexed address so
//! the core cannot rename the store and its reload ([`super::increment`]): the padded
//! baseline is then an increment served by the core's cache side (store forwarding,
//! several cycles), not register speed (about one cycle where the core renames memory
//! operands), and the slowdown says what sharing the line costs beside an ordinary
//! in-memory increment. The same two layouts are also timed with an atomic fetch-add
//! on each thread's own counter (`AtomicU64::fetch_add`, C++ `std::atomic` `++`: per-
//! thread statistics counters), whose baseline is an uncontended atomic in L1 and
//! which needs the line exclusively at every step. The shared counter takes an atomic
//! fetch-add, as it must to stay exact.

use super::increment::{increment, Addressing};
use super::on_cpus;
use crate::error::{Error, Result};
use crate::measure::median;
use crate::record::cores::FalseSharing;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The most threads the experiment uses: eight 8-byte counters fill one 64-byte line.
pub const MAX_THREADS: usize = 8;

/// Where the counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One counter per thread, all in one cache line.
    SameLine,
    /// One counter per thread, 128 bytes apart.
    Padded,
    /// One counter for all threads, atomic fetch-add.
    Atomic,
}

#[repr(align(64))]
struct SameLine([AtomicU64; MAX_THREADS]);

#[repr(align(128))]
struct Padded(AtomicU64);

/// How a thread bumps its own counter (the shared counter always takes a fetch-add).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bump {
    /// Load, add, store ([`super::increment`], indexed: not renamed).
    InMemory,
    /// An atomic fetch-add (a locked read-modify-write on x86).
    FetchAdd,
}

/// The counters of one trial, laid out as asked.
enum Counters {
    SameLine(Box<SameLine>),
    Padded(Vec<Padded>),
    Atomic(Box<Padded>),
}

impl Counters {
    fn new(layout: Layout, threads: usize) -> Counters {
        match layout {
            Layout::SameLine => Counters::SameLine(Box::new(SameLine(Default::default()))),
            Layout::Padded => {
                Counters::Padded((0..threads).map(|_| Padded(AtomicU64::new(0))).collect())
            }
            Layout::Atomic => Counters::Atomic(Box::new(Padded(AtomicU64::new(0)))),
        }
    }

    /// Thread `i`'s increment, `n` times.
    fn bump(&self, i: usize, n: u64, bump: Bump) {
        let fetch_add = |c: &AtomicU64| {
            for _ in 0..n {
                c.fetch_add(1, Ordering::Relaxed);
            }
        };
        let own = |c: &AtomicU64| match bump {
            // SAFETY: thread i alone writes counter i until every thread is joined (the
            // others write other words, of the same line or not); the pointer is live.
            Bump::InMemory => unsafe { increment(c.as_ptr(), n, Addressing::Indexed) },
            Bump::FetchAdd => fetch_add(c),
        };
        match self {
            Counters::SameLine(l) => own(&l.0[i]),
            Counters::Padded(v) => own(&v[i].0),
            Counters::Atomic(c) => fetch_add(&c.0),
        }
    }

    /// The counters' final values (one per thread; one in all for the shared counter).
    fn values(&self, threads: usize) -> Vec<u64> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        match self {
            Counters::SameLine(l) => l.0[..threads].iter().map(get).collect(),
            Counters::Padded(v) => v.iter().map(|p| get(&p.0)).collect(),
            Counters::Atomic(c) => vec![get(&c.0)],
        }
    }
}

/// One trial: every thread of `cpus` bumps `n` times (its own counter as `bump` says),
/// all starting together. Returns ns per increment (mean over the threads of each
/// thread's own time / n) and the final counter values.
pub fn trial(layout: Layout, bump: Bump, cpus: &[usize], n: u64) -> Result<(f64, Vec<u64>)> {
    if cpus.is_empty() || cpus.len() > MAX_THREADS {
        return Err(Error::Input(format!(
            "false sharing takes 1 to {MAX_THREADS} threads, not {}",
            cpus.len()
        )));
    }
    let counters = Counters::new(layout, cpus.len());
    let ns = on_cpus(cpus, |i, start| {
        start.wait();
        let t0 = Instant::now();
        counters.bump(i, n, bump);
        t0.elapsed().as_nanos() as f64 / n.max(1) as f64
    })?;
    let mean = ns.iter().sum::<f64>() / ns.len() as f64;
    Ok((mean, counters.values(cpus.len())))
}

/// The three layouts on `cpus` (at most [`MAX_THREADS`] of them are used), `trials`
/// trials of `n` increments per thread each; the median trial of each. None with fewer
/// than two CPUs: one thread shares nothing.
pub fn measure(cpus: &[usize], n: u64, trials: usize) -> Result<Option<FalseSharing>> {
    let cpus = &cpus[..cpus.len().min(MAX_THREADS)];
    if cpus.len() < 2 {
        return Ok(None);
    }
    let of = |layout, bump| -> Result<f64> {
        let mut v = Vec::new();
        for _ in 0..trials.max(1) {
            crate::signal::check()?;
            v.push(trial(layout, bump, cpus, n)?.0);
        }
        Ok(median(&v))
    };
    let same_line_ns = of(Layout::SameLine, Bump::InMemory)?;
    let padded_ns = of(Layout::Padded, Bump::InMemory)?;
    let same_line_fetch_add_ns = Some(of(Layout::SameLine, Bump::FetchAdd)?);
    let padded_fetch_add_ns = Some(of(Layout::Padded, Bump::FetchAdd)?);
    let atomic_ns = of(Layout::Atomic, Bump::FetchAdd)?;
    Ok(Some(FalseSharing {
        threads: cpus.len(),
        cpus: cpus.to_vec(),
        increments: n,
        same_line_ns,
        padded_ns,
        atomic_ns,
        slowdown: same_line_ns / padded_ns,
        same_line_fetch_add_ns,
        padded_fetch_add_ns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpus() -> Vec<usize> {
        let mut c = crate::host::allowed_cpus();
        c.truncate(MAX_THREADS);
        c
    }

    #[test]
    fn every_layout_counts_exactly() {
        let cpus = cpus();
        let n = 100_000;
        for layout in [Layout::SameLine, Layout::Padded] {
            for bump in [Bump::InMemory, Bump::FetchAdd] {
                let (ns, values) = trial(layout, bump, &cpus, n).unwrap();
                assert!(ns > 0.0 && ns.is_finite(), "{layout:?} {bump:?} {ns}");
                assert_eq!(values, vec![n; cpus.len()], "{layout:?} {bump:?}");
            }
        }
        let (_, total) = trial(Layout::Atomic, Bump::FetchAdd, &cpus, n).unwrap();
        assert_eq!(total, vec![n * cpus.len() as u64]);
    }

    #[test]
    fn the_slowdown_is_reported_as_the_ratio_of_the_two_layouts() {
        let cpus = cpus();
        match measure(&cpus, 20_000, 1).unwrap() {
            Some(f) => {
                assert_eq!(f.threads, cpus.len());
                assert!((f.slowdown - f.same_line_ns / f.padded_ns).abs() < 1e-12);
                assert!(f.atomic_ns > 0.0);
                assert!(f.same_line_fetch_add_ns.unwrap() > 0.0);
                assert!(f.padded_fetch_add_ns.unwrap() > 0.0);
            }
            None => assert!(cpus.len() < 2),
        }
        assert_eq!(measure(&cpus[..1], 10, 1).unwrap(), None);
    }

    #[test]
    fn too_many_threads_are_refused() {
        assert!(trial(Layout::Padded, Bump::InMemory, &[0; MAX_THREADS + 1], 1).is_err());
    }
}
