//! Measuring in rounds: a sweep visits every point several times, seconds apart, and
//! spreads each point's trials over the visits. A neighbour's burst on a shared host
//! lasts long enough to spoil every trial taken back to back, but rarely every round;
//! so the rounds are compared, the ones that agree are kept, and a point whose rounds
//! disagree beyond its own noise is marked unstable instead of trusted.

use super::{median, Summary};
use serde::{Deserialize, Serialize};

/// The smallest disagreement between rounds that can mark a point unstable: 10%. Each
/// round builds its chain on fresh physical pages, and near a cache's capacity or in
/// DRAM that alone moves a point by 5-10% (seen on two VMs); a neighbour's burst is
/// larger.
const MIN_TOLERANCE: f64 = 0.10;
/// Rounds may differ by this many times the point's own trial-to-trial noise.
const NOISE_MULTIPLE: f64 = 3.0;

/// One round's trials at one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundStat {
    /// The fastest trial of the round, ns per access.
    pub best_ns: f64,
    /// The median trial of the round, ns per access.
    pub median_ns: f64,
    /// Trials in the round.
    pub trials: usize,
    /// Whether the round agreed with the point's other rounds (and was used).
    pub agrees: bool,
}

/// A point's rounds, combined.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    /// Statistics over the trials of the agreeing rounds.
    pub summary: Summary,
    /// Every round, with whether it agreed.
    pub rounds: Vec<RoundStat>,
    /// The largest round best over the smallest, minus one (0 with one round).
    pub spread: f64,
    /// Whether some round disagreed with the others beyond the point's noise.
    pub unstable: bool,
}

/// How `total` trials split over `rounds` rounds: as evenly as possible, the earlier
/// rounds taking the remainder, and at least one trial in every round.
pub fn split_trials(total: usize, rounds: usize) -> Vec<usize> {
    let rounds = rounds.max(1);
    let total = total.max(rounds);
    (0..rounds)
        .map(|r| total / rounds + usize::from(r < total % rounds))
        .collect()
}

/// Combines the trials of each round (ns per access). The reference is the median of
/// the round bests; a round agrees when its best is within the tolerance of it, the
/// tolerance being the larger of 10% and three times the median within-round noise
/// (median trial over best trial). `None` when a round is empty or not finite.
pub fn combine(rounds: &[Vec<f64>]) -> Option<Combined> {
    let stats: Vec<Summary> = rounds
        .iter()
        .map(|r| Summary::of(r))
        .collect::<Option<_>>()?;
    if stats.is_empty() {
        return None;
    }
    let bests: Vec<f64> = stats.iter().map(|s| s.min).collect();
    let reference = median(&bests);
    let noise = median(
        &stats
            .iter()
            .map(|s| s.median / s.min - 1.0)
            .collect::<Vec<_>>(),
    );
    let tolerance = MIN_TOLERANCE.max(NOISE_MULTIPLE * noise);
    let agrees: Vec<bool> = bests
        .iter()
        .map(|b| (b / reference - 1.0).abs() <= tolerance)
        .collect();
    // With two rounds (or an even count) the reference sits between them; where no
    // round is within reach of it, keep them all rather than none.
    let any = agrees.iter().any(|&a| a);
    let kept: Vec<f64> = rounds
        .iter()
        .zip(&agrees)
        .filter(|(_, &a)| a || !any)
        .flat_map(|(r, _)| r.iter().copied())
        .collect();
    let (lo, hi) = bests
        .iter()
        .fold((f64::INFINITY, 0f64), |(l, h), &b| (l.min(b), h.max(b)));
    Some(Combined {
        summary: Summary::of(&kept)?,
        rounds: stats
            .iter()
            .zip(&agrees)
            .map(|(s, &a)| RoundStat {
                best_ns: s.min,
                median_ns: s.median,
                trials: s.n,
                agrees: a || !any,
            })
            .collect(),
        spread: hi / lo - 1.0,
        unstable: !any || agrees.iter().any(|&a| !a),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trials_spread_over_rounds() {
        assert_eq!(split_trials(7, 3), vec![3, 2, 2]);
        assert_eq!(split_trials(9, 3), vec![3, 3, 3]);
        assert_eq!(split_trials(2, 3), vec![1, 1, 1]);
        assert_eq!(split_trials(5, 1), vec![5]);
        assert_eq!(split_trials(5, 0), vec![5]);
    }

    #[test]
    fn agreeing_rounds_give_a_stable_point() {
        let c = combine(&[vec![5.0, 5.1, 5.05], vec![5.02, 5.2], vec![4.98, 5.0]]).unwrap();
        assert!(!c.unstable);
        assert!(c.rounds.iter().all(|r| r.agrees));
        assert_eq!(c.summary.n, 7);
        assert_eq!(c.summary.min, 4.98);
        assert!(c.spread < 0.01);
    }

    #[test]
    fn a_neighbours_burst_in_one_round_is_outvoted() {
        // The middle round ran while another guest thrashed the cache: 3x slower.
        let c = combine(&[vec![5.0, 5.1], vec![15.0, 15.2], vec![5.05, 5.0]]).unwrap();
        assert!(c.unstable);
        assert_eq!(
            c.rounds.iter().map(|r| r.agrees).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(c.summary.n, 4);
        assert!(c.summary.median < 5.2);
        assert!((c.spread - 2.0).abs() < 1e-9);
    }

    #[test]
    fn noisy_trials_widen_the_tolerance() {
        // Each round's trials already spread by ~10%, so 13% between rounds is noise.
        let c = combine(&[vec![10.0, 11.0, 11.5], vec![11.3, 12.0, 12.6]]).unwrap();
        assert!(!c.unstable, "{c:?}");
    }

    #[test]
    fn an_empty_or_broken_round_gives_nothing() {
        assert!(combine(&[]).is_none());
        assert!(combine(&[vec![1.0], vec![]]).is_none());
        assert!(combine(&[vec![f64::NAN]]).is_none());
    }

    proptest! {
        #[test]
        fn kept_trials_are_a_subset_and_the_best_is_a_real_trial(
            rounds in proptest::collection::vec(
                proptest::collection::vec(0.5f64..500.0, 1..5), 1..5)
        ) {
            let c = combine(&rounds).unwrap();
            let all: Vec<f64> = rounds.iter().flatten().copied().collect();
            prop_assert!(all.contains(&c.summary.min));
            prop_assert!(c.summary.n <= all.len());
            prop_assert!(c.rounds.iter().any(|r| r.agrees));
            if c.rounds.iter().any(|r| !r.agrees) {
                prop_assert!(c.unstable);
            }
            prop_assert!(c.spread >= 0.0);
        }
    }
}
