//! The model of a latency curve that level detection reads: the curve (ln latency
//! against log2 size) cut into straight segments by dynamic programming, each segment
//! then classed as a plateau (flat within the noise the rounds measured, and long
//! enough for that noise to pin its slope) or a transition (everything else).
//!
//! Why a model and not thresholds on neighbouring points: a busy host shifts a few
//! points of a transition close together, and a rule on neighbours then sees a flat
//! stretch. Fitted as a whole, those points cost the model more as a plateau of their
//! own than as part of the rise, unless the noise the rounds measured there is small
//! enough to prove them flat — and a stretch whose rounds disagree is never proven flat.
//!
//! The steps:
//! 1. Noise per point, in ln(ns): the larger of the rounds' spread at that point (range
//!    over d2, the expected range of that many normal samples; a round more than 15%
//!    slower than the point's figure was held up by a neighbour and is left out, while
//!    a faster one shows the curve itself moving) and the curve's own
//!    scatter around its neighbours (one robust median for the whole curve), never
//!    below a 1% floor (timer and frequency jitter).
//! 2. Optimal segmentation: the cut of the points into runs that minimises the sum over
//!    runs of the squared residuals of a straight-line fit, in units of the curve's
//!    noise (the larger of its scatter and the median rounds' spread), plus a penalty
//!    per run of three parameters' worth of BIC ([`penalty`]). Residuals are in units of
//!    the measured noise, so the penalty is derived from the noise, not a constant in
//!    ns. A run of two points is held flat (a line through two points fits them
//!    exactly, so pairs would come for free). O(n²) runs, each fitted in O(1) from
//!    prefix sums.
//! 3. A run is a plateau when it has at least [`MIN_POINTS`] points and its slope,
//!    fitted again with each point's own noise, is at most [`FLAT_SLOPE`] per octave
//!    with a standard error of at most [`MAX_SLOPE_SE`]: a short run, or one whose
//!    rounds disagree, cannot prove it is flat, so it is a transition.

use crate::measure::median;

/// The smallest noise credited to a point (ln units, about 1%).
pub const NOISE_FLOOR: f64 = 0.01;
/// A plateau rises at most this much per octave (ln units, about 22%): a DRAM plateau
/// with page-walk cost creeps up; a transition between levels climbs 100% and more per
/// octave.
pub const FLAT_SLOPE: f64 = 0.35;
/// The largest standard error of a plateau's slope per octave: the run must be long and
/// quiet enough that its flatness is measured, not assumed.
pub const MAX_SLOPE_SE: f64 = 0.15;
/// A plateau has at least this many points.
pub const MIN_POINTS: usize = 2;

/// A round slower than this factor times the point's figure was held up, not noisy.
const SLOW_ROUND: f64 = 1.15;

/// d2: the expected range of k standard normal samples, k = 2..=8.
const D2: [f64; 7] = [1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847];

/// What a run of the model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Flat within the noise: a candidate level.
    Plateau,
    /// A rise, a wobble or a stretch too short or noisy to call flat.
    Transition,
}

/// One run of consecutive points and its straight-line fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Index of the first point.
    pub first: usize,
    /// Index of the last point (inclusive).
    pub last: usize,
    /// Fitted slope, ln(ns) per octave.
    pub slope: f64,
    /// Standard error of the slope (inflated when the residuals exceed the noise).
    pub slope_se: f64,
    /// Plateau or transition.
    pub kind: Kind,
    /// Evidence the run carries: octaves covered, each weighted by 1/noise² (a long,
    /// quiet plateau carries much; a short stretch of disagreeing rounds little).
    pub strength: f64,
}

/// A curve prepared for the model: log2 sizes, ln latencies and the noise per point.
#[derive(Debug, Clone)]
pub struct Curve {
    /// log2(size in bytes).
    pub x: Vec<f64>,
    /// ln(ns per access).
    pub y: Vec<f64>,
    /// Noise per point, ln units: the curve's scatter or the point's rounds' spread.
    pub sigma: Vec<f64>,
    /// The noise of the curve as a whole, which the segmentation's residuals are
    /// measured in: the larger of the curve's scatter and the median rounds' spread.
    pub sigma_fit: f64,
}

impl Curve {
    /// Prepares `ns` at `sizes`; `rounds[i]` holds point i's per-round latencies (empty
    /// when the sweep had one round or the record does not keep them).
    pub fn new(sizes: &[u64], ns: &[f64], rounds: &[Vec<f64>]) -> Curve {
        let n = sizes.len().min(ns.len());
        let x: Vec<f64> = sizes[..n]
            .iter()
            .map(|&s| (s.max(1) as f64).log2())
            .collect();
        let y: Vec<f64> = ns[..n].iter().map(|v| v.max(1e-9).ln()).collect();
        let scatter = NOISE_FLOOR.max(curve_scatter(&x, &y));
        // A round much slower than the point's figure was held up (a neighbour, a time
        // slice lost to another thread): it says nothing about how well the figure is
        // known. Rounds at or below it say how far the curve itself moves there.
        let spread: Vec<f64> = (0..n)
            .map(|i| {
                rounds.get(i).map_or(0.0, |r| {
                    let near: Vec<f64> = r
                        .iter()
                        .copied()
                        .filter(|&v| v <= ns[i] * SLOW_ROUND)
                        .collect();
                    round_spread(&near)
                })
            })
            .collect();
        let sigma_fit = if spread.is_empty() {
            scatter
        } else {
            scatter.max(median(&spread))
        };
        let sigma = spread.iter().map(|&r| scatter.max(r)).collect();
        Curve {
            x,
            y,
            sigma,
            sigma_fit,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether the curve has no points.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

/// The spread of one point's rounds as a standard deviation in ln units: range / d2.
fn round_spread(rounds: &[f64]) -> f64 {
    let ok: Vec<f64> = rounds
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| v.ln())
        .collect();
    if ok.len() < 2 {
        return 0.0;
    }
    let (lo, hi) = ok
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    (hi - lo) / D2[(ok.len() - 2).min(D2.len() - 1)]
}

/// The curve's own scatter: how far each interior point sits from the line through its
/// two neighbours, as one robust standard deviation for the whole curve. Read from the
/// lower quartile of those deviations: most points lie on plateaus, and the knees and a
/// busy stretch (a third of a short quick sweep) do not move it.
fn curve_scatter(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n < 3 {
        return 0.0;
    }
    let dev: Vec<f64> = (1..n - 1)
        .map(|j| {
            let t = (x[j] - x[j - 1]) / (x[j + 1] - x[j - 1]).max(1e-12);
            (y[j] - (y[j - 1] + t * (y[j + 1] - y[j - 1]))).abs()
        })
        .collect();
    // A point's deviation from the midpoint of two neighbours with its own noise has
    // variance 1.5 sigma²; the lower quartile of |N(0, 1)| is 0.3186.
    let mut dev = dev;
    dev.sort_by(f64::total_cmp);
    dev[dev.len() / 4] / 0.3186 / 1.5f64.sqrt()
}

/// The penalty per run: three parameters (level, slope, the cut) at BIC's ln(n) each.
pub fn penalty(n: usize) -> f64 {
    3.0 * (n.max(2) as f64).ln()
}

/// Weighted sums from the first point, for straight-line fits of any run in O(1).
struct Prefix {
    w: Vec<f64>,
    wx: Vec<f64>,
    wy: Vec<f64>,
    wxx: Vec<f64>,
    wxy: Vec<f64>,
    wyy: Vec<f64>,
}

/// A weighted straight-line fit of one run.
#[derive(Debug, Clone, Copy)]
struct Fit {
    slope: f64,
    slope_se: f64,
    /// Weighted residual sum of squares (chi-square in units of the noise).
    rss: f64,
    /// The same about the weighted mean: what a run of one or two points costs, which
    /// a straight line would fit exactly (so pairs of points would come for free).
    rss_flat: f64,
}

impl Prefix {
    /// Sums with weight 1/sigma² per point.
    fn new(c: &Curve, sigma: impl Fn(usize) -> f64) -> Prefix {
        // Centre x so the sums stay well conditioned.
        let mx = c.x.iter().sum::<f64>() / c.len().max(1) as f64;
        let mut p = Prefix {
            w: vec![0.0],
            wx: vec![0.0],
            wy: vec![0.0],
            wxx: vec![0.0],
            wxy: vec![0.0],
            wyy: vec![0.0],
        };
        for i in 0..c.len() {
            let w = 1.0 / sigma(i).powi(2);
            let (x, y) = (c.x[i] - mx, c.y[i]);
            let push = |v: &mut Vec<f64>, add: f64| v.push(v[v.len() - 1] + add);
            push(&mut p.w, w);
            push(&mut p.wx, w * x);
            push(&mut p.wy, w * y);
            push(&mut p.wxx, w * x * x);
            push(&mut p.wxy, w * x * y);
            push(&mut p.wyy, w * y * y);
        }
        p
    }

    /// The fit of points a..=b.
    fn fit(&self, a: usize, b: usize) -> Fit {
        let d = |v: &[f64]| v[b + 1] - v[a];
        let (s, sx, sy) = (d(&self.w), d(&self.wx), d(&self.wy));
        let cxx = d(&self.wxx) - sx * sx / s;
        let cxy = d(&self.wxy) - sx * sy / s;
        let cyy = d(&self.wyy) - sy * sy / s;
        let k = b - a + 1;
        if k < 2 || cxx <= 1e-12 {
            return Fit {
                slope: 0.0,
                slope_se: f64::INFINITY,
                rss: cyy.max(0.0),
                rss_flat: cyy.max(0.0),
            };
        }
        let slope = cxy / cxx;
        let rss = (cyy - slope * cxy).max(0.0);
        // Residuals larger than the measured noise widen the slope's error too.
        let inflate = if k > 2 {
            (rss / (k - 2) as f64).max(1.0)
        } else {
            1.0
        };
        Fit {
            slope,
            slope_se: (inflate / cxx).sqrt(),
            rss,
            rss_flat: cyy.max(0.0),
        }
    }
}

/// The optimal segmentation of the curve and each run's class.
pub fn segments(c: &Curve) -> Vec<Segment> {
    let n = c.len();
    if n == 0 {
        return Vec::new();
    }
    // Cut with the curve's noise, so a stretch whose rounds disagree cannot hide a
    // knee; prove flatness with each point's own noise, so it cannot pass for a level.
    let prefix = Prefix::new(c, |_| c.sigma_fit);
    let own = Prefix::new(c, |i| c.sigma[i]);
    let lambda = penalty(n);
    // best[j]: the cheapest model of points 0..j; cut[j]: where its last run starts.
    let mut best = vec![0.0f64; n + 1];
    let mut cut = vec![0usize; n + 1];
    for j in 1..=n {
        let (cost, from) = (0..j)
            .map(|i| {
                let fit = prefix.fit(i, j - 1);
                let rss = if j - i > 2 { fit.rss } else { fit.rss_flat };
                (best[i] + rss + lambda, i)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((0.0, 0));
        best[j] = cost;
        cut[j] = from;
    }
    let mut runs = Vec::new();
    let mut j = n;
    while j > 0 {
        runs.push((cut[j], j - 1));
        j = cut[j];
    }
    runs.reverse();
    runs.into_iter()
        .map(|(a, b)| {
            let fit = own.fit(a, b);
            let flat = b + 1 - a >= MIN_POINTS
                && fit.slope.abs() <= FLAT_SLOPE
                && fit.slope_se <= MAX_SLOPE_SE;
            Segment {
                first: a,
                last: b,
                slope: fit.slope,
                slope_se: fit.slope_se,
                kind: if flat {
                    Kind::Plateau
                } else {
                    Kind::Transition
                },
                strength: strength(c, a, b),
            }
        })
        .collect()
}

/// Octaves covered by points a..=b, each point's share weighted by 1/noise².
pub fn strength(c: &Curve, a: usize, b: usize) -> f64 {
    (a..=b)
        .map(|i| {
            // Half the step to each neighbour inside the run: an end point counts its
            // inner half-step only.
            let left = if i > a { c.x[i] - c.x[i - 1] } else { 0.0 };
            let right = if i < b { c.x[i + 1] - c.x[i] } else { 0.0 };
            (left + right) / 2.0 / (c.sigma[i] * c.sigma[i])
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(values: &[(usize, f64)]) -> (Vec<u64>, Vec<f64>) {
        let mut sizes = Vec::new();
        let mut ns = Vec::new();
        let mut k = 0;
        for &(count, v) in values {
            for _ in 0..count {
                sizes.push((4096.0 * 2f64.powf(k as f64 / 4.0)) as u64);
                ns.push(v);
                k += 1;
            }
        }
        (sizes, ns)
    }

    #[test]
    fn a_staircase_is_cut_at_its_steps() {
        let (sizes, ns) = steps(&[(8, 1.0), (8, 3.0), (8, 12.0)]);
        let c = Curve::new(&sizes, &ns, &[]);
        let plateaus: Vec<(usize, usize)> = segments(&c)
            .iter()
            .filter(|s| s.kind == Kind::Plateau)
            .map(|s| (s.first, s.last))
            .collect();
        assert_eq!(plateaus, [(0, 7), (8, 15), (16, 23)]);
    }

    #[test]
    fn disagreeing_rounds_make_a_stretch_too_noisy_to_be_flat() {
        // Five flat points whose rounds disagree by a factor of two (rounds faster than
        // the figure: the curve itself moved, as a shared cache's capacity does) are no
        // plateau; the same points with agreeing rounds are, and so are they when the
        // disagreeing rounds are the slow ones (held up by a neighbour).
        let (sizes, ns) = steps(&[(5, 10.0)]);
        let wild: Vec<Vec<f64>> = ns.iter().map(|&v| vec![v, 0.5 * v, 0.7 * v]).collect();
        let calm: Vec<Vec<f64>> = ns.iter().map(|&v| vec![v, 1.01 * v, v]).collect();
        let held_up: Vec<Vec<f64>> = ns.iter().map(|&v| vec![v, 2.7 * v, v]).collect();
        let kinds = |rounds: &[Vec<f64>]| -> Vec<Kind> {
            segments(&Curve::new(&sizes, &ns, rounds))
                .iter()
                .map(|s| s.kind)
                .collect()
        };
        assert_eq!(kinds(&wild), [Kind::Transition]);
        assert_eq!(kinds(&calm), [Kind::Plateau]);
        assert_eq!(kinds(&held_up), [Kind::Plateau]);
    }

    #[test]
    fn round_spread_is_a_range_over_d2() {
        let s = round_spread(&[1.0, std::f64::consts::E]);
        assert!((s - 1.0 / 1.128).abs() < 1e-9, "{s}");
        assert_eq!(round_spread(&[5.0]), 0.0);
    }

    #[test]
    fn a_quiet_runs_evidence_outweighs_a_noisy_one_of_the_same_length() {
        let (sizes, ns) = steps(&[(6, 10.0)]);
        let quiet = Curve::new(&sizes, &ns, &[]);
        let noisy_rounds: Vec<Vec<f64>> = ns.iter().map(|&v| vec![v, v / 1.6]).collect();
        let noisy = Curve::new(&sizes, &ns, &noisy_rounds);
        assert!(strength(&quiet, 0, 5) > 10.0 * strength(&noisy, 0, 5));
    }
}
