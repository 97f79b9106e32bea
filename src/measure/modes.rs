//! Modes of a set of repeated measurements: where the values fall into groups far
//! apart (a VM's pair of vCPUs that moved between physical cores during the run reads
//! 25 ns for a while, then 122 ns), one median of the mixture describes neither group.
//!
//! The finder works on the logarithm of the values (a step is a ratio, the same for
//! 2 ns as for 200 ns): sort them, cut wherever two neighbours differ by more than
//! [`GAP_RATIO`], and keep as a mode each group holding at least [`MIN_SHARE`] of the
//! values (and at least two). Smaller groups are outliers, not modes (one burst that a
//! timer interrupt hit). Where no group qualifies, all the values are one mode.

use super::median;

/// Neighbours (sorted) further apart than this ratio start a new group: 1.25, well
/// past the few percent that repeated bursts of one placement spread over.
pub const GAP_RATIO: f64 = 1.25;

/// The smallest share of the values a group must hold to be a mode.
pub const MIN_SHARE: f64 = 0.1;

/// One mode: its median, and how many values fall in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mode {
    /// The median of the mode's values.
    pub median: f64,
    /// How many values it holds.
    pub count: usize,
    /// Its share of all the (finite, positive) values.
    pub share: f64,
}

/// The modes of `values` (finite positive values only), fastest first; empty for none.
pub fn modes(values: &[f64]) -> Vec<Mode> {
    let mut v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let mode = |g: &[f64]| Mode {
        median: median(g),
        count: g.len(),
        share: g.len() as f64 / n as f64,
    };
    let cut = GAP_RATIO.ln();
    let mut groups: Vec<&[f64]> = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || v[i].ln() - v[i - 1].ln() > cut {
            groups.push(&v[start..i]);
            start = i;
        }
    }
    let least = ((MIN_SHARE * n as f64).ceil() as usize).max(2);
    let found: Vec<Mode> = groups
        .into_iter()
        .filter(|g| g.len() >= least)
        .map(mode)
        .collect();
    if found.is_empty() {
        vec![mode(&v)]
    } else {
        found
    }
}

/// The mode holding the most values (the faster of a tie): where the measurement
/// spent most of its time.
pub fn main_mode(modes: &[Mode]) -> Option<Mode> {
    modes
        .iter()
        .copied()
        .reduce(|best, m| if m.count > best.count { m } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` values spread ±`jitter` (a fraction) around `centre`, deterministically.
    fn around(centre: f64, jitter: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| centre * (1.0 + jitter * (((i * 7919) % 101) as f64 / 50.0 - 1.0)))
            .collect()
    }

    #[test]
    fn one_placement_with_noise_is_one_mode() {
        let m = modes(&around(25.0, 0.05, 40));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!((m[0].median - 25.0).abs() < 1.0);
        assert_eq!(m[0].count, 40);
        assert_eq!(m[0].share, 1.0);
    }

    #[test]
    fn a_pair_that_moved_shows_both_placements_fastest_first() {
        let mut v = around(122.0, 0.03, 14);
        v.extend(around(25.0, 0.04, 26));
        let m = modes(&v);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!((m[0].median - 25.0).abs() < 1.0 && m[0].count == 26);
        assert!((m[1].median - 122.0).abs() < 4.0 && m[1].count == 14);
        assert!((m[0].share + m[1].share - 1.0).abs() < 1e-12);
        assert_eq!(main_mode(&m).unwrap().count, 26);
    }

    #[test]
    fn a_lone_slow_burst_is_an_outlier_not_a_mode() {
        let mut v = around(40.0, 0.05, 39);
        v.push(400.0);
        let m = modes(&v);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].count, 39);
        assert!((m[0].median - 40.0).abs() < 2.0);
    }

    #[test]
    fn three_placements_are_three_modes() {
        let mut v = around(20.0, 0.02, 10);
        v.extend(around(60.0, 0.02, 10));
        v.extend(around(120.0, 0.02, 10));
        let medians: Vec<f64> = modes(&v).iter().map(|m| m.median.round()).collect();
        assert_eq!(medians, [20.0, 60.0, 120.0]);
    }

    #[test]
    fn scattered_values_and_nothing_at_all() {
        // No group of two: all the values are one mode.
        let m = modes(&[10.0, 100.0, 1000.0]);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].count, m[0].median), (3, 100.0));
        assert!(modes(&[]).is_empty());
        assert!(modes(&[f64::NAN, -1.0, 0.0]).is_empty());
        assert_eq!(main_mode(&[]), None);
    }

    #[test]
    fn ties_go_to_the_faster_mode() {
        let mut v = around(30.0, 0.01, 5);
        v.extend(around(90.0, 0.01, 5));
        assert!((main_mode(&modes(&v)).unwrap().median - 30.0).abs() < 1.0);
    }
}
