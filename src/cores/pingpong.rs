//! Core-to-core latency: two threads pinned to two CPUs hand one cache line back and
//! forth, and the round trips are timed in batches (nviennot's core-to-core-latency,
//! multichase `pingpong` and clamchowder's CoherencyLatency do the same dance).
//!
//! The shared word counts turns: the starting thread moves it from an even value to the
//! next odd one, the answering thread from odd to even. With [`Handoff::Cas`] (the
//! standard method) each side spins on a compare-and-swap from the other's value to
//! its own, so each hop is one request for the line in exclusive state. With
//! [`Handoff::Store`] each side spins on plain loads until the word is its turn, then
//! stores the next value: the line comes shared to the reader first, exclusive at the
//! store. Neither spin uses a pause hint, which would add its own latency to every
//! handoff. One-way is half the round trip.
//!
//! A pair is sampled in short bursts spread over the whole measurement, not in one
//! block: a VM's pair of vCPUs moves between physical cores while we measure, and the
//! bursts then fall into modes ([`crate::measure::modes`]) the record keeps. Every
//! burst starts both threads, runs one untimed sample while they warm up (the answering
//! thread may still be waking from the start barrier), then times its samples; a
//! sample is long enough (hundreds of round trips) that the timer, or one interrupt,
//! is small beside it. Short and long runs take samples of the same length and only
//! differ in how many bursts they take.

use super::on_cpus;
use crate::error::{Error, Result};
use crate::measure::modes::{main_mode, modes};
use crate::measure::{median, Summary};
use crate::record::cores::{CpuPlace, Handoff, PairLatency, PairMode};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The shared word, alone in its cache line and the line beside it (128 bytes), so the
/// adjacent-line prefetcher drags nothing else along.
#[repr(align(128))]
struct Line(AtomicU64);

/// How a pair is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairPlan {
    /// Timed samples per pair and handoff, in all (split into bursts).
    pub samples: u32,
    /// Timed samples per burst (after one untimed warm-up sample).
    pub burst_samples: u32,
    /// Round trips per sample: a sample is the batch's mean.
    pub round_trips: u32,
    /// The bursts of every pair are spread over at least this long.
    pub spread: Duration,
}

/// The most bursts a whole matrix takes (10 to 20 s on a busy 2-vCPU guest, where a
/// burst with its two thread starts costs 1 to 2 ms): past it, each pair and handoff
/// gets fewer bursts, never fewer than [`MIN_BURSTS`].
pub const MAX_MATRIX_BURSTS: u32 = 10_000;

/// The fewest bursts a pair and handoff gets, however many CPUs there are.
pub const MIN_BURSTS: u32 = 4;

impl PairPlan {
    /// Bursts per pair and handoff: enough for `samples` timed samples.
    pub fn bursts(&self) -> u32 {
        self.samples.max(1).div_ceil(self.burst_samples.max(1))
    }

    /// Bursts per pair and handoff for a matrix of `jobs` pairs and handoffs: as
    /// [`PairPlan::bursts`], cut where the matrix would pass [`MAX_MATRIX_BURSTS`] (many
    /// CPUs), to no fewer than [`MIN_BURSTS`]. Every burst keeps its length.
    pub fn bursts_for(&self, jobs: usize) -> u32 {
        let fit = MAX_MATRIX_BURSTS / u32::try_from(jobs.max(1)).unwrap_or(u32::MAX);
        self.bursts().min(fit.max(MIN_BURSTS))
    }
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

/// One burst between `a` (which starts each round trip and times) and `b`: one untimed
/// sample, then `samples` timed ones; returns the mean round trip of each timed
/// sample's batch of `round_trips`, ns.
pub fn burst(
    a: usize,
    b: usize,
    handoff: Handoff,
    samples: u32,
    round_trips: u32,
) -> Result<Vec<f64>> {
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
    let batch = u64::from(round_trips.max(1));
    let batches = u64::from(samples.max(1)) + 1;
    let mut out = on_cpus(&[a, b], |i, start| {
        start.wait();
        let mut timed = Vec::new();
        if i == 1 {
            for t in 0..batches * batch {
                turn(word, 2 * t + 1, 2 * t + 2);
            }
            return timed;
        }
        for s in 0..batches {
            // From one won turn to the next is one round trip: the answer arrived.
            let t0 = Instant::now();
            for t in s * batch..(s + 1) * batch {
                turn(word, 2 * t, 2 * t + 1);
            }
            let ns = t0.elapsed().as_nanos() as f64 / batch as f64;
            // The first batch warms the line and the threads up.
            if s > 0 {
                timed.push(black_box(ns));
            }
        }
        timed
    })?;
    Ok(out.swap_remove(0))
}

/// The record entry of one pair and handoff from its bursts (each burst's round trips,
/// ns): one-way is half the median round trip of the main mode's bursts.
fn entry(
    (a, b, handoff): (usize, usize, Handoff),
    places: &[CpuPlace],
    bursts: &[Vec<f64>],
) -> Result<PairLatency> {
    let all: Vec<f64> = bursts.iter().flatten().copied().collect();
    let s = Summary::of(&all).ok_or_else(|| Error::Internal("a pair gave no samples".into()))?;
    let burst_one_way_ns: Vec<f64> = bursts.iter().map(|b| median(b) / 2.0).collect();
    let found = modes(&burst_one_way_ns);
    let main = main_mode(&found).ok_or_else(|| Error::Internal("a pair gave no bursts".into()))?;
    Ok(PairLatency {
        cpu_a: a,
        cpu_b: b,
        relation: super::topology::relation(places, a, b),
        handoff,
        one_way_ns: main.median,
        round_trip_ns: 2.0 * main.median,
        p99_ns: s.p99,
        burst_one_way_ns,
        modes: found
            .iter()
            .map(|m| PairMode {
                one_way_ns: m.median,
                bursts: m.count,
                share: m.share,
            })
            .collect(),
    })
}

/// The ordered pairs of distinct CPUs of `cpus`, row by row.
pub fn ordered_pairs(cpus: &[usize]) -> Vec<(usize, usize)> {
    cpus.iter()
        .flat_map(|&a| cpus.iter().filter(move |&&b| b != a).map(move |&b| (a, b)))
        .collect()
}

/// Every ordered pair of distinct CPUs, with each handoff: one entry each. The bursts
/// go round robin over the pairs and handoffs, [`PairPlan::bursts_for`] rounds, each
/// round starting no sooner than its share of [`PairPlan::spread`]. `on_burst` is told
/// after each burst (for progress).
pub fn matrix(
    cpus: &[usize],
    places: &[CpuPlace],
    handoffs: &[Handoff],
    plan: PairPlan,
    mut on_burst: impl FnMut(),
) -> Result<Vec<PairLatency>> {
    let jobs: Vec<(usize, usize, Handoff)> = ordered_pairs(cpus)
        .into_iter()
        .flat_map(|(a, b)| handoffs.iter().map(move |&h| (a, b, h)))
        .collect();
    let rounds = plan.bursts_for(jobs.len());
    let gap = plan.spread / rounds;
    let mut got: Vec<Vec<Vec<f64>>> = vec![Vec::new(); jobs.len()];
    for round in 0..rounds {
        let t0 = Instant::now();
        for (job, bursts) in jobs.iter().zip(&mut got) {
            crate::signal::check()?;
            let (a, b, h) = *job;
            bursts.push(burst(a, b, h, plan.burst_samples, plan.round_trips)?);
            on_burst();
        }
        if round + 1 < rounds && !jobs.is_empty() {
            std::thread::sleep(gap.saturating_sub(t0.elapsed()));
        }
    }
    jobs.iter()
        .zip(&got)
        .map(|(&job, bursts)| entry(job, places, bursts))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: PairPlan = PairPlan {
        samples: 6,
        burst_samples: 2,
        round_trips: 20,
        spread: Duration::from_millis(20),
    };

    fn two_cpus() -> Option<(usize, usize)> {
        let cpus = crate::host::allowed_cpus();
        Some((*cpus.first()?, *cpus.get(1)?))
    }

    #[test]
    fn a_burst_completes_with_one_value_per_timed_sample() {
        let Some((a, b)) = two_cpus() else {
            println!("SKIP one CPU: no pair");
            return;
        };
        for h in [Handoff::Cas, Handoff::Store] {
            let ns = burst(a, b, h, 5, 20).unwrap();
            assert_eq!(ns.len(), 5, "{h:?}");
            assert!(ns.iter().all(|v| v.is_finite() && *v > 0.0), "{ns:?}");
        }
    }

    #[test]
    fn one_cpu_twice_is_refused() {
        assert!(burst(0, 0, Handoff::Cas, 1, 1).is_err());
    }

    #[test]
    fn bursts_cover_the_samples_asked_for() {
        assert_eq!(PLAN.bursts(), 3);
        let odd = PairPlan { samples: 7, ..PLAN };
        assert_eq!(odd.bursts(), 4);
    }

    #[test]
    fn many_cpus_take_fewer_bursts_each_but_never_too_few() {
        let plan = PairPlan {
            samples: 200,
            burst_samples: 5,
            ..PLAN
        };
        assert_eq!(plan.bursts_for(4), 40);
        // 32 CPUs: 992 ordered pairs, two handoffs.
        assert_eq!(plan.bursts_for(1984), MAX_MATRIX_BURSTS / 1984);
        assert!(1984 * plan.bursts_for(1984) <= MAX_MATRIX_BURSTS);
        // 256 CPUs.
        assert_eq!(plan.bursts_for(130_560), MIN_BURSTS);
    }

    #[test]
    fn every_ordered_pair_is_filled_exactly_once_per_handoff() {
        let Some((a, b)) = two_cpus() else {
            println!("SKIP one CPU: no pair");
            return;
        };
        let cpus = [a, b];
        let mut calls = 0;
        let m = matrix(&cpus, &[], &[Handoff::Cas, Handoff::Store], PLAN, || {
            calls += 1
        })
        .unwrap();
        assert_eq!(calls, 4 * PLAN.bursts());
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
        for p in &m {
            assert_ne!(p.cpu_a, p.cpu_b);
            assert_eq!(p.burst_one_way_ns.len(), PLAN.bursts() as usize);
            assert!(p.one_way_ns * 2.0 == p.round_trip_ns);
            let bursts: usize = p.modes.iter().map(|m| m.bursts).sum();
            assert!(bursts <= p.burst_one_way_ns.len() && !p.modes.is_empty());
            assert!(p.modes.iter().any(|m| m.one_way_ns == p.one_way_ns));
        }
    }

    #[test]
    fn a_pair_that_moved_is_recorded_with_both_modes() {
        let near = vec![50.0, 51.0, 49.0];
        let far = vec![244.0, 246.0, 245.0];
        let bursts = [
            near.clone(),
            far.clone(),
            near.clone(),
            near,
            far.clone(),
            far,
        ];
        let mut more = bursts.to_vec();
        more.push(vec![52.0, 50.0]);
        let p = entry((0, 1, Handoff::Cas), &[], &more).unwrap();
        assert_eq!(p.modes.len(), 2, "{:?}", p.modes);
        assert_eq!((p.modes[0].one_way_ns, p.modes[0].bursts), (25.0, 4));
        assert_eq!((p.modes[1].one_way_ns, p.modes[1].bursts), (122.5, 3));
        // The figure is the mode the pair spent most bursts in, not the mixture's
        // median.
        assert_eq!(p.one_way_ns, 25.0);
        assert_eq!(p.burst_one_way_ns[1], 122.5);
    }

    #[test]
    fn pairs_of_many_cpus_are_all_ordered_pairs() {
        let p = ordered_pairs(&[0, 1, 2, 3]);
        assert_eq!(p.len(), 12);
        assert!(p.contains(&(3, 0)) && p.contains(&(0, 3)));
        assert!(ordered_pairs(&[5]).is_empty());
    }
}
