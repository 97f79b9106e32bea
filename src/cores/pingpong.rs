//! Core-to-core latency: two threads pinned to two CPUs hand one cache line back and
//! forth, and the round trips are timed in batches (multichase `pingpong`, nviennot's
//! core-to-core-latency and clamchowder's CoherencyLatency do the same dance).
//!
//! The shared word counts turns: the starting thread moves it from an even value to the
//! next odd one, the answering thread from odd to even. With [`Handoff::Cas`] each side
//! spins on a compare-and-swap until it wins the word; with [`Handoff::Store`] it spins
//! on plain loads until the word is its turn, then stores the next value. Neither spin
//! uses a pause hint, which would add its own latency to every handoff.

use super::on_cpus;
use crate::error::{Error, Result};
use crate::measure::Summary;
use crate::record::cores::{CpuPlace, Handoff, PairLatency};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The shared word, alone in its cache line and the line beside it (128 bytes), so the
/// adjacent-line prefetcher drags nothing else along.
#[repr(align(128))]
struct Line(AtomicU64);

/// How many round trips a pair is timed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairPlan {
    /// Timed samples (one batch each), after one untimed batch.
    pub samples: u32,
    /// Round trips per batch: a sample is the batch's mean, long enough that the
    /// timer's own cost is small beside it.
    pub round_trips: u32,
}

/// Waits until the word holds `want` (plain loads), then stores `next`.
fn store_turn(line: &AtomicU64, want: u64, next: u64) {
    while line.load(Ordering::Acquire) != want {}
    line.store(next, Ordering::Release);
}

/// Spins on a compare-and-swap from `want` to `next` until it succeeds.
fn cas_turn(line: &AtomicU64, want: u64, next: u64) {
    while line
        .compare_exchange(want, next, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {}
}

/// The round trips between `a` (which starts each one) and `b`: one value per sample,
/// the mean round trip of its batch in ns.
pub fn round_trips(a: usize, b: usize, handoff: Handoff, plan: PairPlan) -> Result<Vec<f64>> {
    if a == b {
        return Err(Error::Input(format!(
            "a ping-pong needs two CPUs, got CPU {a} twice"
        )));
    }
    let line = Line(AtomicU64::new(0));
    let word = &line.0;
    let turn = match handoff {
        Handoff::Cas => cas_turn,
        Handoff::Store => store_turn,
    };
    let batch = u64::from(plan.round_trips.max(1));
    let total = (u64::from(plan.samples.max(1)) + 1) * batch;
    let mut out = on_cpus(&[a, b], |i, start| {
        start.wait();
        let mut samples = Vec::new();
        if i == 1 {
            for t in 0..total {
                turn(word, 2 * t + 1, 2 * t + 2);
            }
            return samples;
        }
        for s in 0..total / batch {
            let t0 = Instant::now();
            for r in 0..batch {
                let t = s * batch + r;
                turn(word, 2 * t, 2 * t + 1);
                // The round trip ends when the answer arrives.
                while word.load(Ordering::Acquire) != 2 * t + 2 {}
            }
            let ns = t0.elapsed().as_nanos() as f64 / batch as f64;
            // The first batch warms the line and the threads up.
            if s > 0 {
                samples.push(black_box(ns));
            }
        }
        samples
    })?;
    Ok(out.swap_remove(0))
}

/// The median and p99 of one pair's samples as a record entry.
fn entry(
    a: usize,
    b: usize,
    handoff: Handoff,
    places: &[CpuPlace],
    ns: &[f64],
) -> Result<PairLatency> {
    let s = Summary::of(ns).ok_or_else(|| Error::Internal("a pair gave no samples".into()))?;
    Ok(PairLatency {
        cpu_a: a,
        cpu_b: b,
        relation: super::topology::relation(places, a, b),
        handoff,
        one_way_ns: s.median / 2.0,
        round_trip_ns: s.median,
        p99_ns: s.p99,
    })
}

/// The ordered pairs of distinct CPUs of `cpus`, row by row.
pub fn ordered_pairs(cpus: &[usize]) -> Vec<(usize, usize)> {
    cpus.iter()
        .flat_map(|&a| cpus.iter().filter(move |&&b| b != a).map(move |&b| (a, b)))
        .collect()
}

/// Every ordered pair of distinct CPUs, with each handoff: one entry each. `on_pair` is
/// told after each pair (for progress).
pub fn matrix(
    cpus: &[usize],
    places: &[CpuPlace],
    handoffs: &[Handoff],
    plan: PairPlan,
    mut on_pair: impl FnMut(usize, usize),
) -> Result<Vec<PairLatency>> {
    let mut out = Vec::new();
    for (a, b) in ordered_pairs(cpus) {
        for &h in handoffs {
            crate::signal::check()?;
            out.push(entry(a, b, h, places, &round_trips(a, b, h, plan)?)?);
        }
        on_pair(a, b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: PairPlan = PairPlan {
        samples: 5,
        round_trips: 20,
    };

    fn two_cpus() -> Option<(usize, usize)> {
        let cpus = crate::host::allowed_cpus();
        Some((*cpus.first()?, *cpus.get(1)?))
    }

    #[test]
    fn a_ping_pong_completes_with_one_value_per_sample() {
        let Some((a, b)) = two_cpus() else { return };
        for h in [Handoff::Cas, Handoff::Store] {
            let ns = round_trips(a, b, h, PLAN).unwrap();
            assert_eq!(ns.len(), PLAN.samples as usize, "{h:?}");
            assert!(ns.iter().all(|v| v.is_finite() && *v > 0.0), "{ns:?}");
        }
    }

    #[test]
    fn one_cpu_twice_is_refused() {
        assert!(round_trips(0, 0, Handoff::Cas, PLAN).is_err());
    }

    #[test]
    fn every_ordered_pair_is_filled_exactly_once_per_handoff() {
        let Some((a, b)) = two_cpus() else { return };
        let cpus = [a, b];
        let mut seen = Vec::new();
        let m = matrix(&cpus, &[], &[Handoff::Cas, Handoff::Store], PLAN, |x, y| {
            seen.push((x, y))
        })
        .unwrap();
        assert_eq!(seen, vec![(a, b), (b, a)]);
        assert_eq!(m.len(), 4);
        for (x, y) in ordered_pairs(&cpus) {
            for h in [Handoff::Cas, Handoff::Store] {
                let n = m
                    .iter()
                    .filter(|p| (p.cpu_a, p.cpu_b, p.handoff) == (x, y, h))
                    .count();
                assert_eq!(n, 1, "{x}->{y} {h:?}");
            }
        }
        assert!(m.iter().all(|p| p.cpu_a != p.cpu_b));
        assert!(m
            .iter()
            .all(|p| p.p99_ns >= p.round_trip_ns && p.one_way_ns * 2.0 == p.round_trip_ns));
    }

    #[test]
    fn pairs_of_many_cpus_are_all_ordered_pairs() {
        let p = ordered_pairs(&[0, 1, 2, 3]);
        assert_eq!(p.len(), 12);
        assert!(p.contains(&(3, 0)) && p.contains(&(0, 3)));
        assert!(ordered_pairs(&[5]).is_empty());
    }
}
