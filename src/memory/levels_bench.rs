//! The test bench of the level detector: every real curve we keep
//! (`tests/fixtures/curves/`, with the truth in `truth.csv`) and synthetic curves from
//! a generator, each with the levels it truly has. The bench runs the detector on all
//! of them and makes one table: per case, the levels found, how many are named right
//! (the detected level of that name lies within 10% of the true latency), the worst
//! latency error and any level the truth does not have. The test asserts the whole
//! table, so a change that mends one curve and breaks another fails.
//!
//! The generator ([`synth`]) draws a hierarchy as a host would show it:
//! - each cache level is a plateau at its latency up to its (effective) capacity, and
//!   the step to the next level is a logistic in log2(size) a fifth of an octave wide
//!   (random physical page placement smears the edge of a physically indexed cache);
//! - past `tlb_from` the latency creeps up by `tlb_per_octave` per octave (page walks
//!   that the TLB-local order does not hide entirely);
//! - an optional shoulder: partial hits between two levels (a neighbour thrashing a
//!   shared cache) over `shoulder` octaves at the geometric middle of the step;
//! - three rounds per point, each with lognormal noise of `noise` (1% to 5%), the point
//!   being the best round; with `spikes`, one point in twelve has one round 40-100%
//!   slow (a neighbour's burst), and one point in twenty-five all rounds 30% slow;
//! - the grid is the sweep's: 4 points per octave from 4 KiB to four times the last
//!   cache (at least 512 MiB), as `ladder memory` sweeps by default.

use super::levels::detect_with_rounds;
use crate::record::memory::{Level, LevelName};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const K: u64 = 1024;
const M: u64 = 1024 * 1024;

/// One case of the bench: a curve, what sysfs says, and the truth.
pub struct Case {
    /// What the case is.
    pub name: String,
    /// Working-set sizes, ascending.
    pub sizes: Vec<u64>,
    /// Best latency per point, ns.
    pub ns: Vec<f64>,
    /// Each point's latency per round (empty when the record has none).
    pub rounds: Vec<Vec<f64>>,
    /// The data caches sysfs (or sysctl) lists, ascending.
    pub sysfs: Vec<u64>,
    /// The true levels in order: name and latency.
    pub truth: Vec<(LevelName, f64)>,
}

/// A hierarchy for the generator.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What it models.
    pub name: &'static str,
    /// (effective capacity, latency ns) per cache level.
    pub levels: Vec<(u64, f64)>,
    /// DRAM latency, ns.
    pub ram_ns: f64,
    /// What sysfs lists (may differ from the effective capacities, or miss a level).
    pub sysfs: Vec<u64>,
    /// Size past which page walks creep in.
    pub tlb_from: u64,
    /// Their cost, as a fraction per octave.
    pub tlb_per_octave: f64,
    /// Octaves of partial hits between the last cache and DRAM (0: none).
    pub shoulder: f64,
}

/// The hierarchies the bench draws: the hosts we have met and the ones users run.
pub fn specs() -> Vec<Spec> {
    let spec = |name, levels: Vec<(u64, f64)>, ram_ns, sysfs: Vec<u64>| Spec {
        name,
        levels,
        ram_ns,
        sysfs,
        tlb_from: 256 * M,
        tlb_per_octave: 0.03,
        shoulder: 0.0,
    };
    vec![
        spec(
            "zen3-like",
            vec![(32 * K, 1.35), (512 * K, 4.0), (24 * M, 15.5)],
            110.0,
            vec![32 * K, 512 * K, 32 * M],
        ),
        spec(
            "zen5-vm-slice",
            vec![(48 * K, 0.89), (M, 3.1), (12 * M, 10.7)],
            130.0,
            vec![48 * K, M, 32 * M],
        ),
        spec(
            "intel-client",
            vec![(48 * K, 1.0), (2 * M, 3.2), (36 * M, 14.0)],
            85.0,
            vec![48 * K, 2 * M, 36 * M],
        ),
        spec(
            "xeon-vm-slice-of-260m",
            vec![(48 * K, 1.66), (2 * M, 5.3), (8 * M, 30.0)],
            125.0,
            vec![48 * K, 2 * M, 260 * M],
        ),
        spec(
            "x3d-96m",
            vec![(32 * K, 0.8), (M, 2.8), (96 * M, 10.5)],
            75.0,
            vec![32 * K, M, 96 * M],
        ),
        spec(
            "apple-like-slc",
            vec![(128 * K, 0.94), (12 * M, 5.5), (48 * M, 22.0)],
            105.0,
            vec![128 * K, 12 * M],
        ),
        spec(
            "lion-cove-like-four-caches",
            vec![(48 * K, 0.75), (192 * K, 1.7), (3 * M, 3.4), (36 * M, 14.0)],
            90.0,
            vec![48 * K, 3 * M, 36 * M],
        ),
        spec(
            "neoverse-like-slc",
            vec![(64 * K, 1.5), (M, 4.4), (32 * M, 30.0)],
            115.0,
            vec![64 * K, M],
        ),
        spec(
            "two-caches",
            vec![(32 * K, 1.3), (2 * M, 4.5)],
            95.0,
            vec![32 * K, 2 * M],
        ),
        spec(
            "smt-sibling-halves-l1-l2",
            vec![(16 * K, 1.35), (256 * K, 4.0), (16 * M, 15.5)],
            110.0,
            vec![32 * K, 512 * K, 32 * M],
        ),
        Spec {
            shoulder: 0.75,
            ..spec(
                "busy-shared-l3-shoulder",
                vec![(32 * K, 1.35), (512 * K, 4.0), (6 * M, 15.5)],
                160.0,
                vec![32 * K, 512 * K, 32 * M],
            )
        },
        Spec {
            tlb_from: 16 * M,
            tlb_per_octave: 0.08,
            ..spec(
                "page-walk-creep",
                vec![(32 * K, 1.1), (M, 3.9), (16 * M, 14.3)],
                140.0,
                vec![32 * K, M, 32 * M],
            )
        },
    ]
}

/// The sweep's grid: 4 points per octave from 4 KiB to `max`.
fn grid(max: u64) -> Vec<u64> {
    (0..)
        .map(|k| (4.0 * K as f64 * 2f64.powf(k as f64 / 4.0)).round() as u64)
        .take_while(|&s| s <= max)
        .collect()
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The noiseless latency of `spec` at `size`.
fn model(spec: &Spec, size: u64) -> f64 {
    let x = (size as f64).log2();
    let mut ln_lat = spec.ram_ns.ln();
    let last = spec.levels.len() - 1;
    for (i, &(cap, lat)) in spec.levels.iter().enumerate().rev() {
        let t = (x - (cap as f64).log2()) / 0.2;
        let miss = 1.0 / (1.0 + (-t).exp());
        let mut beyond = ln_lat;
        if i == last && spec.shoulder > 0.0 {
            // Partial hits: half way (in ln) to DRAM for `shoulder` octaves.
            let end = (cap as f64).log2() + spec.shoulder;
            let t2 = (x - end) / 0.2;
            let miss2 = 1.0 / (1.0 + (-t2).exp());
            let mid = (lat.ln() + ln_lat) / 2.0;
            beyond = mid + miss2 * (ln_lat - mid);
        }
        ln_lat = lat.ln() + miss * (beyond - lat.ln());
    }
    let walk = (x - (spec.tlb_from as f64).log2()).max(0.0) * spec.tlb_per_octave;
    ln_lat.exp() * (1.0 + walk)
}

/// A synthetic case: `spec` at `noise` (a fraction), with or without neighbour spikes.
pub fn synth(spec: &Spec, noise: f64, spikes: bool, seed: u64) -> Case {
    let mut rng = SmallRng::seed_from_u64(seed);
    let last_cache = spec.sysfs.iter().chain(spec.levels.iter().map(|l| &l.0));
    let max = last_cache.max().map_or(512 * M, |&l| (4 * l).max(512 * M));
    let sizes = grid(max);
    let mut ns = Vec::new();
    let mut rounds = Vec::new();
    for (i, &s) in sizes.iter().enumerate() {
        let base = model(spec, s);
        let slow_all = spikes && i % 25 == 17;
        let r: Vec<f64> = (0..3)
            .map(|k| {
                let mut v = base * (noise * normal(&mut rng)).exp();
                if spikes && i % 12 == 5 && k == (i / 12) % 3 {
                    v *= 1.4 + 0.6 * rng.random_range(0.0..1.0);
                }
                if slow_all {
                    v *= 1.3;
                }
                v
            })
            .collect();
        ns.push(r.iter().copied().fold(f64::INFINITY, f64::min));
        rounds.push(r);
    }
    let mut truth: Vec<(LevelName, f64)> = spec
        .levels
        .iter()
        .enumerate()
        .map(|(i, &(_, l))| (LevelName::Cache(i as u8 + 1), l))
        .collect();
    // DRAM's truth is read in the middle (in octaves) of its plateau, from just past
    // the last cache to the end: page walks make it creep.
    let from = spec.levels.last().map_or(4 * K, |l| 3 * l.0 / 2) as f64;
    let middle = (from * max as f64).sqrt() as u64;
    truth.push((LevelName::Ram, model(spec, middle)));
    Case {
        name: format!(
            "{} noise {:.0}%{}",
            spec.name,
            noise * 100.0,
            if spikes { " spikes" } else { "" }
        ),
        sizes,
        ns,
        rounds,
        sysfs: spec.sysfs.clone(),
        truth,
    }
}

/// Every real curve kept in `tests/fixtures/curves/`, with its truth.
pub fn real_cases() -> Vec<Case> {
    let dir = format!("{}/tests/fixtures/curves", env!("CARGO_MANIFEST_DIR"));
    let truth = std::fs::read_to_string(format!("{dir}/truth.csv")).expect("truth.csv");
    truth
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.splitn(7, ',').collect();
            let sysfs = f[1]
                .split(';')
                .map(|k| k.parse::<u64>().expect("sysfs KiB") * K)
                .collect();
            let names = [LevelName::L1D, LevelName::L2, LevelName::L3, LevelName::Ram];
            let truth = names
                .iter()
                .zip(&f[2..6])
                .filter(|(_, v)| !v.is_empty())
                .map(|(&n, v)| (n, v.parse::<f64>().expect("truth ns")))
                .collect();
            let text = std::fs::read_to_string(format!("{dir}/{}.csv", f[0])).expect(f[0]);
            let (mut sizes, mut ns, mut rounds) = (Vec::new(), Vec::new(), Vec::new());
            for row in text.lines().skip(1) {
                let c: Vec<&str> = row.split(',').collect();
                sizes.push(c[0].parse::<u64>().expect("size"));
                ns.push(c[1].parse::<f64>().expect("ns"));
                rounds.push(c.get(2).map_or_else(Vec::new, |r| {
                    r.split(';')
                        .filter(|v| !v.is_empty())
                        .map(|v| v.parse::<f64>().expect("round ns"))
                        .collect()
                }));
            }
            Case {
                name: f[0].to_string(),
                sizes,
                ns,
                rounds,
                sysfs,
                truth,
            }
        })
        .collect()
}

/// One row of the bench's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The case.
    pub name: String,
    /// True levels.
    pub levels: usize,
    /// Levels the detector found.
    pub found: usize,
    /// True levels found under their name within 10% of the true latency.
    pub right: usize,
    /// The largest latency error among the levels found under a true name.
    pub worst: f64,
    /// Detected levels the truth does not have, and true levels found off by > 10%.
    pub wrong: Vec<String>,
}

/// Runs the detector on one case.
pub fn score(case: &Case) -> Row {
    let levels: Vec<Level> =
        detect_with_rounds(&case.sizes, &case.ns, &case.rounds, &case.sysfs, None);
    let detected: Vec<&Level> = levels.iter().filter(|l| l.detected).collect();
    let mut right = 0;
    let mut worst = 0f64;
    let mut wrong = Vec::new();
    for &(name, truth) in &case.truth {
        match detected
            .iter()
            .find(|l| l.name == name)
            .and_then(|l| l.latency_ns)
        {
            Some(ns) => {
                let err = (ns / truth - 1.0).abs();
                worst = worst.max(err);
                if err <= 0.10 {
                    right += 1;
                } else {
                    wrong.push(format!("{name} {ns:.2} (true {truth:.2})"));
                }
            }
            None => wrong.push(format!("{name} missing")),
        }
    }
    for l in &detected {
        if !case.truth.iter().any(|(n, _)| *n == l.name) {
            wrong.push(format!(
                "extra {} {:.2}",
                l.name,
                l.latency_ns.unwrap_or(0.0)
            ));
        }
    }
    Row {
        name: case.name.clone(),
        levels: case.truth.len(),
        found: detected.len(),
        right,
        worst,
        wrong,
    }
}

/// Every case of the bench: the real curves, then each spec at 1%, 3% and 5% noise,
/// quiet and with spikes, two seeds each.
pub fn cases() -> Vec<Case> {
    let mut all = real_cases();
    for (si, spec) in specs().iter().enumerate() {
        for (ni, noise) in [0.01, 0.03, 0.05].into_iter().enumerate() {
            for spikes in [false, true] {
                for seed in 0..2u64 {
                    let seed = seed + 10 * ni as u64 + 100 * si as u64 + 7 * u64::from(spikes);
                    let mut case = synth(spec, noise, spikes, seed);
                    case.name = format!("{} seed {seed}", case.name);
                    all.push(case);
                }
            }
        }
    }
    all
}

/// The table as Markdown, with a totals line.
pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| case | levels | found | named right | worst error | wrong |\n|---|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.1}% | {} |\n",
            r.name,
            r.levels,
            r.found,
            r.right,
            r.worst * 100.0,
            r.wrong.join("; ")
        ));
    }
    let levels: usize = rows.iter().map(|r| r.levels).sum();
    let right: usize = rows.iter().map(|r| r.right).sum();
    let clean = rows.iter().filter(|r| r.wrong.is_empty()).count();
    out.push_str(&format!(
        "\n{} cases, {clean} wholly right; {right} of {levels} levels named right within 10%\n",
        rows.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detector_names_the_levels_of_the_bench() {
        let all = cases();
        let rows: Vec<Row> = all.iter().map(score).collect();
        let table = table(&rows);
        if let Ok(path) = std::env::var("LADDER_BENCH_TABLE") {
            std::fs::write(path, &table).expect("write the bench table");
        }
        // Every real curve wholly right; no case anywhere with a level the truth does
        // not have (a transition or a shoulder named a level); of the synthetic levels,
        // at most 1% missed or off by more than 10% (the hardest: an 8 MiB slice of
        // L3 two octaves past a 2 MiB L2, at 3-5% noise with spikes).
        let real = real_cases().len();
        assert!(rows[..real].iter().all(|r| r.wrong.is_empty()), "{table}");
        assert!(
            rows.iter()
                .all(|r| r.found <= r.levels && !r.wrong.iter().any(|w| w.starts_with("extra"))),
            "{table}"
        );
        let levels: usize = rows[real..].iter().map(|r| r.levels).sum();
        let right: usize = rows[real..].iter().map(|r| r.right).sum();
        assert!(100 * (levels - right) <= levels, "{table}");
    }

    #[test]
    fn the_generator_draws_the_hierarchy_it_is_given() {
        // Noiseless: the plateaus sit at the given latencies, the end on DRAM.
        let spec = &specs()[0];
        let case = synth(spec, 0.0, false, 1);
        let at = |size: u64| {
            let i = case.sizes.iter().position(|&s| s >= size).unwrap();
            case.ns[i]
        };
        assert!((at(8 * K) / 1.35 - 1.0).abs() < 0.01);
        assert!((at(128 * K) / 4.0 - 1.0).abs() < 0.01);
        assert!((at(4 * M) / 15.5 - 1.0).abs() < 0.01);
        assert!((at(128 * M) / 110.0 - 1.0).abs() < 0.01);
        assert_eq!(case.truth.len(), 4);
        // Noise is drawn per round: the rounds of a point differ.
        let noisy = synth(spec, 0.03, false, 1);
        assert!(noisy.rounds.iter().all(|r| r.len() == 3 && r[0] != r[1]));
    }

    #[test]
    fn a_wrong_level_fails_the_score() {
        // The score can fail: the same case judged against a truth one level off.
        let mut case = synth(&specs()[0], 0.01, false, 3);
        assert!(score(&case).wrong.is_empty());
        case.truth[1].1 *= 1.5;
        assert_eq!(score(&case).wrong.len(), 1);
    }
}
