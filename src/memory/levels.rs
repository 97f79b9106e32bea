//! Level detection: plateaus and knees of the latency curve, named L1d, L2, L3, RAM.
//!
//! Only the curve decides where the plateaus are. sysfs is used afterwards, to name the
//! plateaus (a monotone match of detected capacities to the reported cache sizes) and
//! to compare: a level the curve does not show is reported as not detected.
//!
//! The steps:
//! 1. Work on log2(size) and ln(latency), smoothed with a median of three so a single
//!    noisy point neither starts nor ends a plateau.
//! 2. An edge whose latency rises faster than [`RISE_PER_OCTAVE`] is a knee; runs of
//!    points between knees are candidate plateaus.
//! 3. A candidate whose latency spans more than [`MAX_SPAN`] is split at its steepest
//!    edge (a slow ramp is not one level); candidates shorter than half an octave are
//!    transition points, not levels.
//! 4. Neighbouring plateaus within [`MERGE_WITHIN`] of each other are one level that
//!    noise cut in two.

use serde::{Deserialize, Serialize};

/// A rise of more than 30% per octave marks a knee.
const RISE_PER_OCTAVE: f64 = 0.262_364_264_467_491; // ln(1.3)
/// A plateau's latency may span at most 35% from its lowest to its highest point.
const MAX_SPAN: f64 = 0.300_104_592_450_338; // ln(1.35)
/// Neighbouring plateaus closer than 12% in latency are merged.
const MERGE_WITHIN: f64 = 0.113_328_685_307_003; // ln(1.12)
/// A plateau must cover at least half an octave.
const MIN_OCTAVES: f64 = 0.5;

/// One detected plateau, as indices into the curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plateau {
    /// Index of the first point.
    pub first: usize,
    /// Index of the last point (inclusive).
    pub last: usize,
    /// Median latency of the plateau's points, ns.
    pub latency_ns: f64,
}

/// A named level of the memory hierarchy, detected or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// "L1d", "L2", "L3", "RAM".
    pub name: String,
    /// Whether the curve shows this level.
    pub detected: bool,
    /// Detected capacity: the largest working set still on the plateau (null for RAM,
    /// for a plateau that runs to the end of the sweep, and when not detected).
    pub size_bytes: Option<u64>,
    /// What sysfs reports for this level (null for RAM or when sysfs is silent).
    pub sysfs_size_bytes: Option<u64>,
    /// Plateau latency (median of its points), ns.
    pub latency_ns: Option<f64>,
    /// Plateau latency in core cycles.
    pub latency_cycles: Option<f64>,
    /// The plateau's smallest and largest working set.
    pub plateau_bytes: Option<(u64, u64)>,
    /// The page size of the series this level was detected in (set by the sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<crate::memory::PageKind>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Finds the plateaus of a latency curve (`sizes` ascending, `ns` the latency at each).
pub fn plateaus(sizes: &[u64], ns: &[f64]) -> Vec<Plateau> {
    let n = sizes.len().min(ns.len());
    if n < 2 {
        return Vec::new();
    }
    let x: Vec<f64> = sizes[..n].iter().map(|&s| (s as f64).log2()).collect();
    let raw: Vec<f64> = ns[..n].iter().map(|v| v.max(1e-9).ln()).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            if i == 0 || i + 1 == n {
                raw[i]
            } else {
                median(&mut [raw[i - 1], raw[i], raw[i + 1]])
            }
        })
        .collect();
    let slope = |i: usize| (y[i + 1] - y[i]) / (x[i + 1] - x[i]).max(1e-9);

    // 2. Runs between rising edges.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for i in 0..n - 1 {
        if slope(i) > RISE_PER_OCTAVE {
            runs.push((start, i));
            start = i + 1;
        }
    }
    runs.push((start, n - 1));

    // 3. Split wide runs at their steepest edge; keep those that are long enough.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    while let Some((a, b)) = runs.pop() {
        let (lo, hi) = y[a..=b]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        if hi - lo > MAX_SPAN && b > a {
            let cut = (a..b)
                .max_by(|&i, &j| slope(i).total_cmp(&slope(j)))
                .unwrap_or(a);
            runs.push((a, cut));
            runs.push((cut + 1, b));
        } else if x[b] - x[a] >= MIN_OCTAVES - 1e-9 && b > a {
            kept.push((a, b));
        }
    }
    kept.sort();

    // 4. Merge neighbours that noise separated.
    let level = |(a, b): (usize, usize)| median(&mut ns[a..=b].to_vec());
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for run in kept {
        if let Some(last) = merged.last_mut() {
            if (level(run).ln() - level(*last).ln()).abs() < MERGE_WITHIN {
                last.1 = run.1;
                continue;
            }
        }
        merged.push(run);
    }
    merged
        .into_iter()
        .map(|(first, last)| Plateau {
            first,
            last,
            latency_ns: level((first, last)),
        })
        .collect()
}

/// Names the plateaus of a curve against the data caches sysfs reports (`cache_sizes`,
/// ascending by level: L1d, L2, L3...). Returns one entry per sysfs level plus RAM,
/// each detected or not; with no sysfs data the plateaus are named in order.
pub fn detect(
    sizes: &[u64],
    ns: &[f64],
    cache_sizes: &[u64],
    clock_ghz: Option<f64>,
) -> Vec<Level> {
    let mut found = plateaus(sizes, ns);
    let n = sizes.len().min(ns.len());
    // The last plateau is RAM when it runs to the end of a sweep that goes well past
    // the largest cache.
    let biggest = cache_sizes.last().copied().unwrap_or(128 << 20);
    let ram = match found.last() {
        Some(p) if n > 0 && p.last == n - 1 && sizes[n - 1] >= 2 * biggest => found.pop(),
        _ => None,
    };

    let names: Vec<String> = if cache_sizes.is_empty() {
        (1..=found.len()).map(level_name).collect()
    } else {
        (1..=cache_sizes.len()).map(level_name).collect()
    };

    // More cache plateaus than cache levels: merge the closest neighbours in latency.
    while found.len() > names.len() {
        let i = (0..found.len() - 1)
            .min_by(|&i, &j| {
                let d = |k: usize| (found[k + 1].latency_ns / found[k].latency_ns).ln();
                d(i).total_cmp(&d(j))
            })
            .unwrap_or(0);
        let next = found.remove(i + 1);
        found[i].last = next.last;
        found[i].latency_ns = median(&mut ns[found[i].first..=found[i].last].to_vec());
    }

    // Capacity: the largest working set whose latency is still below the geometric
    // middle of the step to the next plateau (the knee). The last plateau before the
    // end of the sweep with no level after it has no measurable capacity.
    let caps: Vec<Option<u64>> = (0..found.len())
        .map(|i| {
            let p = &found[i];
            let next = found.get(i + 1).or(ram.as_ref())?;
            let middle = (p.latency_ns * next.latency_ns).sqrt();
            (p.last..=next.first)
                .take_while(|&j| ns[j] <= middle)
                .last()
                .map(|j| sizes[j])
        })
        .collect();
    let assignment = if cache_sizes.is_empty() {
        (0..found.len()).collect()
    } else {
        best_assignment(&found, &caps, cache_sizes, sizes)
    };

    let cycles = |ns: f64| clock_ghz.map(|g| ns * g);
    let describe =
        |name: String, p: Option<&Plateau>, cap: Option<u64>, sysfs: Option<u64>| Level {
            name,
            detected: p.is_some(),
            size_bytes: cap,
            sysfs_size_bytes: sysfs,
            latency_ns: p.map(|p| p.latency_ns),
            latency_cycles: p.and_then(|p| cycles(p.latency_ns)),
            plateau_bytes: p.map(|p| (sizes[p.first], sizes[p.last])),
            pages: None,
        };
    let mut levels: Vec<Level> = names
        .iter()
        .enumerate()
        .map(|(li, name)| {
            let pi = assignment.iter().position(|&a| a == li);
            describe(
                name.clone(),
                pi.map(|pi| &found[pi]),
                pi.and_then(|pi| caps[pi]),
                cache_sizes.get(li).copied(),
            )
        })
        .collect();
    levels.push(describe("RAM".into(), ram.as_ref(), None, None));
    levels
}

fn level_name(level: usize) -> String {
    if level == 1 {
        "L1d".into()
    } else {
        format!("L{level}")
    }
}

/// The monotone matching of plateaus to cache levels that puts each detected capacity
/// nearest (in octaves) to its level's sysfs size. `result[i]` is plateau i's level.
fn best_assignment(
    found: &[Plateau],
    caps: &[Option<u64>],
    cache_sizes: &[u64],
    sizes: &[u64],
) -> Vec<usize> {
    let cost = |pi: usize, level: usize| -> f64 {
        let sysfs = (cache_sizes[level] as f64).log2();
        match caps[pi] {
            Some(cap) => ((cap as f64).log2() - sysfs).abs(),
            // Open-ended: only a lower bound on the capacity is known.
            None => ((sizes[found[pi].first] as f64).log2() - sysfs).max(0.0),
        }
    };
    fn search(
        pi: usize,
        from: usize,
        found: &[Plateau],
        levels: usize,
        cost: &dyn Fn(usize, usize) -> f64,
        chosen: &mut Vec<usize>,
        best: &mut (f64, Vec<usize>),
    ) {
        if pi == found.len() {
            let total: f64 = chosen.iter().enumerate().map(|(i, &l)| cost(i, l)).sum();
            if total < best.0 {
                *best = (total, chosen.clone());
            }
            return;
        }
        for level in from..levels {
            if levels - level < found.len() - pi {
                break;
            }
            chosen.push(level);
            search(pi + 1, level + 1, found, levels, cost, chosen, best);
            chosen.pop();
        }
    }
    let mut best = (f64::INFINITY, Vec::new());
    search(
        0,
        0,
        found,
        cache_sizes.len(),
        &cost,
        &mut Vec::new(),
        &mut best,
    );
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 1024;
    const M: u64 = 1024 * 1024;

    /// 4 points per octave from 4 KiB to `max`.
    fn grid(max: u64) -> Vec<u64> {
        let mut v = Vec::new();
        let mut k = 0;
        loop {
            let s = (4.0 * K as f64 * 2f64.powf(k as f64 / 4.0)).round() as u64;
            if s > max {
                break;
            }
            v.push(s);
            k += 1;
        }
        v
    }

    /// A cache model: each level's step from its latency to the next one's is a
    /// logistic curve in log2(size) centred on the capacity, a quarter octave wide
    /// (physically indexed caches with random page placement smear the edge).
    fn model(sizes: &[u64], levels: &[(u64, f64)], ram: f64) -> Vec<f64> {
        sizes
            .iter()
            .map(|&s| {
                let mut ln_lat = ram.ln();
                for &(cap, l) in levels.iter().rev() {
                    let t = ((s as f64).log2() - (cap as f64).log2()) / 0.12;
                    let miss = 1.0 / (1.0 + (-t).exp());
                    ln_lat = l.ln() + miss * (ln_lat - l.ln());
                }
                ln_lat.exp()
            })
            .collect()
    }

    fn zen(sizes: &[u64]) -> Vec<f64> {
        model(sizes, &[(32 * K, 1.0), (M, 3.5), (32 * M, 12.0)], 95.0)
    }

    const SYSFS: [u64; 3] = [32 * K, M, 32 * M];

    /// A detected capacity at most one quarter-octave grid step from the truth.
    fn within_a_step(found: Option<u64>, truth: u64) {
        let found = found.expect("a capacity");
        let octaves = (found as f64 / truth as f64).log2().abs();
        assert!(octaves <= 0.26, "{found} vs {truth}");
    }

    /// A latency within 3% of the truth.
    fn close(found: Option<f64>, truth: f64) {
        let found = found.expect("a latency");
        assert!((found / truth - 1.0).abs() < 0.03, "{found} vs {truth}");
    }

    fn by_name<'a>(levels: &'a [Level], name: &str) -> &'a Level {
        levels.iter().find(|l| l.name == name).unwrap()
    }

    #[test]
    fn clean_curve_gives_four_levels_at_the_right_sizes() {
        let sizes = grid(512 * M);
        let levels = detect(&sizes, &zen(&sizes), &SYSFS, Some(3.0));
        let names: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["L1d", "L2", "L3", "RAM"]);
        assert!(levels.iter().all(|l| l.detected), "{levels:#?}");
        within_a_step(by_name(&levels, "L1d").size_bytes, 32 * K);
        within_a_step(by_name(&levels, "L2").size_bytes, M);
        within_a_step(by_name(&levels, "L3").size_bytes, 32 * M);
        assert_eq!(by_name(&levels, "RAM").size_bytes, None);
        close(by_name(&levels, "L1d").latency_ns, 1.0);
        close(by_name(&levels, "L1d").latency_cycles, 3.0);
        close(by_name(&levels, "L2").latency_ns, 3.5);
        close(by_name(&levels, "L3").latency_ns, 12.0);
        close(by_name(&levels, "RAM").latency_ns, 95.0);
    }

    #[test]
    fn noisy_curve_gives_the_same_levels() {
        let sizes = grid(512 * M);
        let mut lat = zen(&sizes);
        // Deterministic +-4% noise and one 40% spike inside the L2 plateau.
        for (i, v) in lat.iter_mut().enumerate() {
            *v *= 1.0 + 0.04 * ((i * 7919 % 13) as f64 / 6.0 - 1.0);
        }
        let spike = sizes.iter().position(|&s| s == 256 * K).unwrap();
        lat[spike] *= 1.4;
        let levels = detect(&sizes, &lat, &SYSFS, None);
        assert!(levels.iter().all(|l| l.detected), "{levels:#?}");
        within_a_step(by_name(&levels, "L1d").size_bytes, 32 * K);
        within_a_step(by_name(&levels, "L2").size_bytes, M);
        within_a_step(by_name(&levels, "L3").size_bytes, 32 * M);
    }

    #[test]
    fn a_missing_level_is_reported_not_invented() {
        let sizes = grid(512 * M);
        // No L2: from L1 straight to an L3-like level.
        let lat = model(&sizes, &[(32 * K, 1.0), (32 * M, 12.0)], 95.0);
        let levels = detect(&sizes, &lat, &SYSFS, None);
        assert!(by_name(&levels, "L1d").detected);
        assert!(!by_name(&levels, "L2").detected);
        assert_eq!(by_name(&levels, "L2").latency_ns, None);
        assert_eq!(by_name(&levels, "L2").sysfs_size_bytes, Some(M));
        assert!(by_name(&levels, "L3").detected);
        assert!(by_name(&levels, "RAM").detected);
    }

    #[test]
    fn a_short_sweep_shows_no_ram() {
        let sizes = grid(4 * M);
        let levels = detect(&sizes, &zen(&sizes), &SYSFS, None);
        assert!(by_name(&levels, "L1d").detected);
        assert!(by_name(&levels, "L2").detected);
        assert!(!by_name(&levels, "RAM").detected);
        // The L3 plateau runs to the end of the sweep: its capacity is unknown.
        let l3 = by_name(&levels, "L3");
        assert!(l3.detected);
        assert_eq!(l3.size_bytes, None);
    }

    #[test]
    fn a_prefetch_flattened_region_does_not_become_a_level() {
        let sizes = grid(512 * M);
        let mut lat = zen(&sizes);
        // A prefetcher hides part of the L3 -> RAM transition: from 32 MiB the latency
        // creeps up slowly over two octaves before it reaches DRAM.
        for (i, &s) in sizes.iter().enumerate() {
            if s > 32 * M && s <= 128 * M {
                let t = ((s as f64).log2() - 25.0) / 2.0;
                lat[i] = 12.0 * (1.0 + 0.6 * t);
            }
        }
        let levels = detect(&sizes, &lat, &SYSFS, None);
        let named: Vec<&str> = levels
            .iter()
            .filter(|l| l.detected)
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(named, ["L1d", "L2", "L3", "RAM"], "{levels:#?}");
        let ram = by_name(&levels, "RAM").latency_ns.unwrap();
        assert!(ram > 60.0, "RAM plateau {ram} should be DRAM, not the ramp");
    }

    #[test]
    fn without_sysfs_the_plateaus_are_named_in_order() {
        let sizes = grid(512 * M);
        let levels = detect(&sizes, &zen(&sizes), &[], None);
        let names: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["L1d", "L2", "L3", "RAM"]);
        assert!(levels.iter().all(|l| l.sysfs_size_bytes.is_none()));
    }

    #[test]
    fn a_flat_line_is_one_level() {
        let sizes = grid(64 * K);
        let lat = vec![1.0; sizes.len()];
        let found = plateaus(&sizes, &lat);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].first, found[0].last), (0, sizes.len() - 1));
    }
}
