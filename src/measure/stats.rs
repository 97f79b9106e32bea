//! Summary statistics over a set of trials.

use serde::{Deserialize, Serialize};

/// Min, median, p99, mean and coefficient of variation of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values summarised.
    pub n: usize,
    /// The smallest value.
    pub min: f64,
    /// The median (mean of the two middle values for an even count).
    pub median: f64,
    /// The 99th percentile (nearest rank).
    pub p99: f64,
    /// The largest value.
    pub max: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// Standard deviation / mean (0 for a single value).
    pub cv: f64,
}

impl Summary {
    /// Summarises `values`; `None` when there are none or any is not finite.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = median(&sorted);
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let cv = if n > 1 && mean != 0.0 {
            let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            var.sqrt() / mean.abs()
        } else {
            0.0
        };
        Some(Summary {
            n,
            min: sorted[0],
            median,
            p99: percentile_sorted(&sorted, 0.99),
            max: sorted[n - 1],
            mean,
            cv,
        })
    }
}

/// The median of `values` (mean of the two middle values for an even count); NaN for
/// none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of an ascending, non-empty slice; `q` in [0, 1].
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_sample() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        assert_eq!(s.median, 2.5);
        assert_eq!(s.mean, 2.5);
        assert_eq!(s.p99, 4.0);
        assert!((s.cv - (1.6666666666666667f64).sqrt() / 2.5).abs() < 1e-12);
    }

    #[test]
    fn single_value_has_no_spread() {
        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!((s.min, s.median, s.p99, s.cv), (7.0, 7.0, 7.0, 0.0));
    }

    #[test]
    fn empty_or_nan_gives_none() {
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn p99_of_a_hundred_is_the_99th() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(Summary::of(&v).unwrap().p99, 99.0);
    }

    proptest! {
        #[test]
        fn order_statistics_are_ordered(v in prop::collection::vec(-1e6f64..1e6, 1..200)) {
            let s = Summary::of(&v).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.p99 && s.p99 <= s.max);
            prop_assert!(s.min <= s.mean && s.mean <= s.max);
            prop_assert!(s.cv >= 0.0);
        }

        #[test]
        fn summary_ignores_input_order(mut v in prop::collection::vec(0f64..1e3, 1..50)) {
            let a = Summary::of(&v).unwrap();
            v.reverse();
            let b = Summary::of(&v).unwrap();
            prop_assert_eq!(a.min, b.min);
            prop_assert_eq!(a.median, b.median);
            prop_assert_eq!(a.p99, b.p99);
        }
    }
}
