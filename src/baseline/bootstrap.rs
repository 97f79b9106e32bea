//! The bootstrap behind `ladder compare --baseline`'s intervals: each run's figure is
//! re-estimated from a resample of its own repetitions, [`DRAWS`] times, and the
//! change's 95% interval is the 2.5th to 97.5th percentile of the ratios of the two.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// Resamples per comparison of one figure.
pub const DRAWS: usize = 2000;

/// The generator of every interval: seeded, so a comparison gives the same intervals
/// each time it is drawn.
pub fn rng() -> SmallRng {
    SmallRng::seed_from_u64(0x1adde7)
}

/// A run's repetitions of one figure.
pub enum Spread {
    /// Repetitions kept as values (a level's round bests, a pair's bursts); the figure
    /// is their median.
    Values(Vec<f64>),
    /// A rung's samples as a histogram: (value, samples up to and including it), in
    /// order; the figure is the median.
    Histogram(Vec<(f64, u64)>),
    /// No repetitions kept: no interval.
    None,
}

impl Spread {
    /// A histogram's cumulative counts.
    pub fn histogram(h: &hdrhistogram::Histogram<u64>) -> Spread {
        let mut total = 0;
        let cdf = h
            .iter_recorded()
            .map(|v| {
                total += v.count_at_value();
                (h.highest_equivalent(v.value_iterated_to()) as f64, total)
            })
            .collect::<Vec<_>>();
        if total < 2 {
            return Spread::None;
        }
        Spread::Histogram(cdf)
    }

    /// The median of one resample.
    fn draw(&self, rng: &mut SmallRng) -> Option<f64> {
        match self {
            Spread::Values(v) if v.len() >= 2 => {
                let s: Vec<f64> = (0..v.len())
                    .map(|_| v[rng.random_range(0..v.len())])
                    .collect();
                Some(crate::measure::median(&s))
            }
            Spread::Histogram(cdf) => {
                // The median of n draws from the samples is the sample at a rank that is
                // Binomial(n, 1/2) around n/2: drawn from its normal approximation
                // (n is in the thousands), without drawing n samples each time.
                let n = cdf.last()?.1 as f64;
                let z: f64 = rng.sample(StandardNormal);
                let rank = (n / 2.0 + z * n.sqrt() / 2.0).clamp(1.0, n).ceil() as u64;
                let i = cdf.partition_point(|&(_, c)| c < rank);
                cdf.get(i).map(|&(v, _)| v)
            }
            _ => None,
        }
    }
}

/// The 95% interval of one run's figure (the 2.5th and 97.5th percentiles of the
/// resampled medians); None where the run kept no repetitions.
pub fn interval(spread: &Spread, rng: &mut SmallRng) -> Option<(f64, f64)> {
    let medians = (0..DRAWS)
        .map(|_| spread.draw(rng))
        .collect::<Option<Vec<f64>>>()?;
    Some(central_95(medians))
}

/// The 95% interval of `after / before` (the 2.5th and 97.5th percentiles of the
/// resampled ratios); None where either run kept no repetitions.
pub fn ratio_interval(before: &Spread, after: &Spread, rng: &mut SmallRng) -> Option<(f64, f64)> {
    let mut ratios = Vec::with_capacity(DRAWS);
    for _ in 0..DRAWS {
        let (a, b) = (before.draw(rng)?, after.draw(rng)?);
        if a > 0.0 {
            ratios.push(b / a);
        }
    }
    if ratios.len() < DRAWS / 2 {
        return None;
    }
    Some(central_95(ratios))
}

/// The 2.5th and 97.5th percentiles of non-empty `draws`.
fn central_95(mut draws: Vec<f64>) -> (f64, f64) {
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| crate::measure::percentile_sorted(&draws, q);
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(values: &[f64]) -> Spread {
        Spread::Values(values.to_vec())
    }

    #[test]
    fn the_same_repetitions_give_an_interval_around_one() {
        let v: Vec<f64> = (0..30).map(|i| 10.0 + (i % 7) as f64 * 0.1).collect();
        let (lo, hi) = ratio_interval(&spread(&v), &spread(&v), &mut rng()).unwrap();
        assert!(lo < 1.0 && hi > 1.0, "{lo} {hi}");
        assert!(hi - lo < 0.1, "{lo} {hi}");
    }

    #[test]
    fn scaled_repetitions_give_an_interval_that_excludes_one() {
        let v: Vec<f64> = (0..30).map(|i| 10.0 + (i % 7) as f64 * 0.1).collect();
        let slower: Vec<f64> = v.iter().map(|x| x * 1.3).collect();
        let (lo, hi) = ratio_interval(&spread(&v), &spread(&slower), &mut rng()).unwrap();
        assert!(lo > 1.2 && hi < 1.4, "{lo} {hi}");
    }

    #[test]
    fn a_histogram_median_is_resampled_near_its_rank() {
        let mut h =
            hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(1000 + v).unwrap();
        }
        let s = Spread::histogram(&h);
        let mut r = rng();
        // The median is 6000; its rank moves by sqrt(n)/2 = 50 samples per standard
        // deviation, so its 95% interval is about 6000 -+ 98.
        let (lo, hi) = interval(&s, &mut r).unwrap();
        assert!((5870.0..5930.0).contains(&lo), "{lo} {hi}");
        assert!((6070.0..6130.0).contains(&hi), "{lo} {hi}");
        assert!(ratio_interval(&s, &Spread::None, &mut r).is_none());
    }
}
