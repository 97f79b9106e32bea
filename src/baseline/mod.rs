//! `ladder compare --baseline`: is this machine still the machine it was? Every figure
//! present in a baseline run and in a later run — a memory level's latency, a
//! single-thread bandwidth, a core-to-core one-way latency, a rung's median — as the
//! change between them with a 95% confidence interval drawn from each run's own
//! repetitions, and a verdict: faster, slower, no change beyond noise, or not
//! comparable (and why).
//!
//! The intervals are a bootstrap ([`bootstrap`]): each run's figure is re-estimated
//! from a resample of its own repetitions 2,000 times and the change's interval is the
//! 2.5th to 97.5th percentile of the ratios. What is resampled per kind of figure:
//!
//! - a memory level: the best trial of every round at every size inside the level's
//!   plateau (the figure: their median);
//! - a core-to-core pair: the one-way latency of each burst (their median);
//! - a rung: its samples, from the histogram run.json keeps (the figure: the median);
//! - a bandwidth: one figure per run, no repetitions kept: no interval, the noise
//!   threshold alone decides.
//!
//! A change is a verdict only when its whole interval lies beyond the noise threshold
//! of its kind ([`FigureKind::default_threshold`], measured on repeated identical runs,
//! or `--threshold`).

pub mod bootstrap;

use crate::record::host::Host;
use crate::record::memory::{LevelName, MemorySection};
use crate::record::rung::{RungId, Spacing};
use crate::record::{serde_name, Run};
use bootstrap::Spread;
use serde::Serialize;
use std::collections::BTreeMap;

/// The kinds of figure compared, each with its own noise threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FigureKind {
    /// A memory level's plateau latency.
    Level,
    /// A single-thread bandwidth in one level.
    Bandwidth,
    /// A core-to-core one-way latency.
    CorePair,
    /// A rung's median latency (back-to-back, pipelined, or one query at a time).
    Rung,
    /// A key-value rung's median with the client sleeping between commands (1 ms,
    /// 10 ms): the wake-up of an idle CPU, which varies most from run to run.
    SpacedRung,
}

impl FigureKind {
    /// Every kind, in the order of the tables.
    pub const ALL: [FigureKind; 5] = [
        FigureKind::Level,
        FigureKind::Bandwidth,
        FigureKind::CorePair,
        FigureKind::Rung,
        FigureKind::SpacedRung,
    ];

    /// The change, as a fraction, that repeated identical runs on one host stay within:
    /// the largest seen between four back-to-back default runs on the development
    /// machine (a 2-vCPU KVM guest, 2026-12-05), rounded up; the figures are in
    /// docs/baseline.md. A quieter host can ask for less with `--threshold`.
    pub fn default_threshold(self) -> f64 {
        match self {
            FigureKind::Level => 0.12,
            FigureKind::Bandwidth => 0.12,
            FigureKind::CorePair => 0.25,
            FigureKind::Rung => 0.65,
            FigureKind::SpacedRung => 3.0,
        }
    }

    /// The name `--threshold` takes: "level", "bandwidth", "core-pair", "rung",
    /// "spaced-rung".
    pub fn flag_name(self) -> &'static str {
        match self {
            FigureKind::Level => "level",
            FigureKind::Bandwidth => "bandwidth",
            FigureKind::CorePair => "core-pair",
            FigureKind::Rung => "rung",
            FigureKind::SpacedRung => "spaced-rung",
        }
    }

    /// "memory level", for tables.
    pub fn title(self) -> &'static str {
        match self {
            FigureKind::Level => "memory level",
            FigureKind::Bandwidth => "bandwidth",
            FigureKind::CorePair => "core to core",
            FigureKind::Rung => "rung",
            FigureKind::SpacedRung => "rung, spaced",
        }
    }
}

/// The noise threshold of each kind, as a fraction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds(pub BTreeMap<FigureKind, f64>);

impl Thresholds {
    /// The measured defaults.
    pub fn defaults() -> Thresholds {
        Thresholds(
            FigureKind::ALL
                .iter()
                .map(|&k| (k, k.default_threshold()))
                .collect(),
        )
    }

    /// The defaults changed by `--threshold`'s text, in percent: "10" for every kind,
    /// or "rung=20,level=5" for the kinds named.
    pub fn parse(text: &str) -> Result<Thresholds, String> {
        let mut t = Thresholds::defaults();
        let percent = |v: &str| -> Result<f64, String> {
            match v.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && (0.0..=1000.0).contains(&p) => Ok(p / 100.0),
                _ => Err(format!(
                    "--threshold {text}: {v} is not a percentage from 0 to 1000"
                )),
            }
        };
        if !text.contains('=') {
            let all = percent(text)?;
            t.0.values_mut().for_each(|v| *v = all);
            return Ok(t);
        }
        for part in text.split(',') {
            let (kind, value) = part.split_once('=').unwrap_or((part, ""));
            let k = FigureKind::ALL
                .into_iter()
                .find(|k| k.flag_name() == kind.trim())
                .ok_or_else(|| {
                    let names: Vec<&str> = FigureKind::ALL.iter().map(|k| k.flag_name()).collect();
                    format!(
                        "--threshold {text}: {kind:?} is not a kind of figure ({})",
                        names.join(", ")
                    )
                })?;
            t.0.insert(k, percent(value)?);
        }
        Ok(t)
    }

    fn of(&self, kind: FigureKind) -> f64 {
        self.0
            .get(&kind)
            .copied()
            .unwrap_or(kind.default_threshold())
    }
}

/// One figure of one run, with what it needs to be compared.
pub struct Figure {
    /// What matches it across runs: "level/L2", "rung/redis/GET hit over TCP/same-cpu".
    pub key: String,
    /// Its kind.
    pub kind: FigureKind,
    /// For readers: "L2 latency".
    pub label: String,
    /// The conditions it was measured under that must match to compare ("pages" "4k").
    pub setup: Vec<(&'static str, String)>,
    /// The figure (ns, or GB/s for bandwidths).
    pub value: f64,
    /// Whether a smaller figure is better (latencies) or a larger (bandwidths).
    pub lower_is_better: bool,
    /// The run's own repetitions, for the interval.
    pub spread: Spread,
}

/// Every figure of `run` that can be compared.
pub fn figures(run: &Run) -> Vec<Figure> {
    let mut out = Vec::new();
    if let Some(mem) = &run.memory {
        out.extend(level_figures(mem));
    }
    if let Some(cores) = &run.cores {
        for b in &cores.bandwidth {
            out.push(Figure {
                key: format!("bandwidth/{}/{}", b.level, serde_name(&b.kind)),
                kind: FigureKind::Bandwidth,
                label: format!("{} {} bandwidth", b.level, serde_name(&b.kind)),
                setup: vec![("ISA", serde_name(&b.isa))],
                value: b.gbps,
                lower_is_better: false,
                spread: Spread::None,
            });
        }
        for p in &cores.pairs {
            let (value, spread) = if p.burst_one_way_ns.is_empty() {
                (p.one_way_ns, Spread::None)
            } else {
                let v = p.burst_one_way_ns.clone();
                (crate::measure::median(&v), Spread::Values(v))
            };
            out.push(Figure {
                key: format!("core/{}-{}/{}", p.cpu_a, p.cpu_b, serde_name(&p.handoff)),
                kind: FigureKind::CorePair,
                label: format!(
                    "CPU {} <-> {} one-way ({})",
                    p.cpu_a,
                    p.cpu_b,
                    serde_name(&p.handoff)
                ),
                setup: vec![("relation", serde_name(&p.relation))],
                value,
                lower_is_better: true,
                spread,
            });
        }
    }
    for r in &run.rungs {
        let placement = r.placement.as_ref().map(|p| serde_name(&p.kind));
        let spread = r
            .decode_histogram()
            .map_or(Spread::None, |h| Spread::histogram(&h));
        let mut setup = Vec::new();
        if let Some(v) = r.note.as_deref().and_then(server_version) {
            setup.push(("server", v));
        }
        let spaced = matches!(
            r.id,
            RungId::Redis {
                spacing: Spacing::Gap { .. },
                ..
            } | RungId::Memcached {
                spacing: Spacing::Gap { .. },
                ..
            }
        );
        out.push(Figure {
            key: format!(
                "rung/{}/{}/{}",
                r.rung,
                r.method,
                placement.as_deref().unwrap_or("-")
            ),
            kind: if spaced {
                FigureKind::SpacedRung
            } else {
                FigureKind::Rung
            },
            label: match &placement {
                Some(p) => format!("{} ({p})", r.method),
                None => r.method.clone(),
            },
            setup,
            value: r.p50_ns,
            lower_is_better: true,
            spread,
        });
    }
    out
}

/// The memory levels: each detected level's plateau, the best trial of every round at
/// every size inside it.
fn level_figures(mem: &MemorySection) -> Vec<Figure> {
    let mut out = Vec::new();
    for l in mem.levels.iter().filter(|l| l.detected) {
        let (Some(latency), Some((lo, hi))) = (l.latency_ns, l.plateau_bytes) else {
            continue;
        };
        let values: Vec<f64> = mem
            .points
            .iter()
            .filter(|p| p.size_bytes >= lo && p.size_bytes <= hi)
            .filter(|p| l.pages.is_none_or(|k| p.pages_requested == k))
            .flat_map(|p| {
                if p.rounds.is_empty() {
                    vec![p.ns_per_access]
                } else {
                    p.rounds.iter().map(|r| r.best_ns).collect()
                }
            })
            .collect();
        let (value, spread) = if values.len() >= 2 {
            (crate::measure::median(&values), Spread::Values(values))
        } else {
            (latency, Spread::None)
        };
        let mut setup = Vec::new();
        if let Some(p) = l.pages {
            setup.push(("pages", p.to_string()));
        }
        out.push(Figure {
            key: format!("level/{}", l.name),
            kind: FigureKind::Level,
            label: match l.name {
                LevelName::Ram => "RAM latency".into(),
                n => format!("{n} latency"),
            },
            setup,
            value,
            lower_is_better: true,
            spread,
        });
    }
    out
}

/// One run's figure in a history: the Unix time the run started, the figure (ns), its
/// 95% interval.
pub type HistoryPoint = (i64, f64, Option<(f64, f64)>);

/// One memory level across runs of one host: a point per run that has the level.
pub struct LevelHistory {
    /// "L2 latency".
    pub label: String,
    /// The runs' figures, in the order given.
    pub points: Vec<HistoryPoint>,
}

/// Each memory level's latency over `runs` (in the order given), for the history chart;
/// empty unless every run has a memory sweep, a start time, and the first run's CPU.
pub fn history(runs: &[&Run]) -> Vec<LevelHistory> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let same_host = runs.iter().all(|r| {
        r.memory.is_some()
            && crate::record::unix_seconds(&r.started_at).is_some()
            && different_cpu(&first.host, &r.host).is_none()
    });
    if runs.len() < 2 || !same_host {
        return Vec::new();
    }
    let mut rng = bootstrap::rng();
    let mut out: Vec<LevelHistory> = Vec::new();
    for r in runs {
        let at = crate::record::unix_seconds(&r.started_at).unwrap_or(0);
        for f in r.memory.as_ref().map(level_figures).unwrap_or_default() {
            let point = (at, f.value, bootstrap::interval(&f.spread, &mut rng));
            match out.iter_mut().find(|h| h.label == f.label) {
                Some(h) => h.points.push(point),
                None => out.push(LevelHistory {
                    label: f.label,
                    points: vec![point],
                }),
            }
        }
    }
    for h in &mut out {
        h.points.sort_by_key(|p| p.0);
    }
    out
}

/// The server's version in a rung's note: "15.18" from "... server 15.18 (Debian ...)",
/// "3.50.2" from "SQLite 3.50.2 (bundled)".
fn server_version(note: &str) -> Option<String> {
    let words: Vec<&str> = note.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let named = matches!(w[0], "server" | "SQLite" | "redis-server" | "memcached");
        let version = w[1].trim_end_matches([',', ';', ')']);
        (named && version.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .then(|| format!("{} {version}", w[0]))
    })
}

/// A verdict on one figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict", content = "why")]
pub enum Verdict {
    /// Better beyond the noise threshold, the whole interval beyond it.
    Faster,
    /// Worse beyond the noise threshold, the whole interval beyond it.
    Slower,
    /// Within the noise threshold, or an interval that reaches into it.
    NoChange,
    /// Measured under different conditions: which.
    NotComparable(String),
}

impl Verdict {
    /// For tables.
    pub fn words(&self) -> String {
        match self {
            Verdict::Faster => "faster".into(),
            Verdict::Slower => "slower".into(),
            Verdict::NoChange => "no change beyond noise".into(),
            Verdict::NotComparable(why) => format!("not comparable: {why}"),
        }
    }
}

/// One figure of both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What matched it.
    pub key: String,
    /// Its kind.
    pub kind: FigureKind,
    /// For readers.
    pub label: String,
    /// The baseline's figure (ns, GB/s for bandwidths).
    pub baseline: f64,
    /// The run's figure.
    pub run: f64,
    /// "ns" or "GB/s".
    pub unit: &'static str,
    /// run / baseline - 1.
    pub change: f64,
    /// The 95% interval of the change (2.5th and 97.5th percentiles of the bootstrap);
    /// absent where a run kept no repetitions of the figure.
    pub interval: Option<[f64; 2]>,
    /// The noise threshold applied, as a fraction.
    pub threshold: f64,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// A run against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The baseline's name (its folder).
    pub baseline: String,
    /// The run's name.
    pub run: String,
    /// The baseline's start time, then the run's.
    pub started_at: [String; 2],
    /// What differs between the two hosts that does not make them incomparable
    /// (microcode, kernel, memory...), "what: before -> after".
    pub host_changes: Vec<String>,
    /// Why the two hosts cannot be compared at all (a different CPU), where so.
    pub not_comparable: Option<String>,
    /// One row per figure in both runs.
    pub rows: Vec<Row>,
    /// Figures only the baseline has.
    pub only_in_baseline: Vec<String>,
    /// Figures only the run has.
    pub only_in_run: Vec<String>,
}

impl Comparison {
    /// Whether any figure got slower beyond its threshold.
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.verdict == Verdict::Slower)
    }

    /// How many rows have each verdict: faster, slower, no change, not comparable.
    pub fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for r in &self.rows {
            c[match r.verdict {
                Verdict::Faster => 0,
                Verdict::Slower => 1,
                Verdict::NoChange => 2,
                Verdict::NotComparable(_) => 3,
            }] += 1;
        }
        c
    }
}

/// The CPU's identity: vendor, family and model (x86), MIDR implementer and part (Arm),
/// cpufamily (macOS), with the microarchitecture's name where known; None where the
/// record does not say (older records).
pub fn cpu_identity(h: &Host) -> Option<String> {
    let id = h.cpu_id.as_ref()?;
    let mut parts = vec![id.vendor.clone()];
    let fields = [
        ("family", id.family),
        ("model", id.model),
        ("implementer", id.implementer),
        ("part", id.part),
        ("cpufamily", id.cpufamily),
    ];
    parts.extend(
        fields
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} {v}"))),
    );
    Some(match &h.uarch {
        Some(u) => format!("{u} ({})", parts.join(" ")),
        None => parts.join(" "),
    })
}

/// Why two hosts' figures cannot be compared at all: a different CPU, by identity where
/// both records have one; else (older records) by model name and data caches, so that
/// two "AMD EPYC" guests of different generations are two CPUs.
fn different_cpu(a: &Host, b: &Host) -> Option<String> {
    match (cpu_identity(a), cpu_identity(b)) {
        (Some(x), Some(y)) => (x != y).then(|| format!("different CPU: {x} vs {y}")),
        _ => {
            let name = |h: &Host| {
                format!(
                    "{} ({})",
                    h.cpu_model.as_deref().unwrap_or("unknown"),
                    data_caches(h)
                )
            };
            let (x, y) = (name(a), name(b));
            (x != y).then(|| format!("different CPU: {x} vs {y}"))
        }
    }
}

/// "L1d 32 KiB, L2 1 MiB, L3 32 MiB": the data caches as the OS describes them.
fn data_caches(h: &Host) -> String {
    let caches: Vec<String> = h
        .data_caches()
        .iter()
        .map(|c| format!("{} {}", c.name(), crate::units::format_size(c.size_bytes)))
        .collect();
    match caches.is_empty() {
        true => "caches unknown".into(),
        false => caches.join(", "),
    }
}

/// What differs between two hosts without making them incomparable.
fn host_changes(a: &Host, b: &Host) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |what: &str, x: Option<String>, y: Option<String>| {
        if x != y {
            let show = |v: Option<String>| v.unwrap_or_else(|| "unknown".into());
            out.push(format!("{what}: {} -> {}", show(x), show(y)));
        }
    };
    let micro = |h: &Host| h.cpu_id.as_ref().and_then(|c| c.microcode.clone());
    diff("microcode", micro(a), micro(b));
    let stepping = |h: &Host| {
        h.cpu_id
            .as_ref()
            .and_then(|c| c.stepping.map(|s| s.to_string()))
    };
    diff("stepping", stepping(a), stepping(b));
    diff("caches", Some(data_caches(a)), Some(data_caches(b)));
    diff("kernel", a.kernel.clone(), b.kernel.clone());
    diff("hypervisor", a.hypervisor.clone(), b.hypervisor.clone());
    let gib = |h: &Host| h.mem_total_bytes.map(crate::units::format_size);
    diff("memory", gib(a), gib(b));
    diff(
        "NUMA nodes",
        a.numa_nodes.as_ref().map(|n| n.len().to_string()),
        b.numa_nodes.as_ref().map(|n| n.len().to_string()),
    );
    diff(
        "CPUs",
        Some(a.cpus.len().to_string()),
        Some(b.cpus.len().to_string()),
    );
    diff(
        "host name",
        Some(a.hostname.clone()),
        Some(b.hostname.clone()),
    );
    diff("THP", a.thp.clone(), b.thp.clone());
    out
}

/// `run` against `baseline`: every figure in both, its change with an interval and a
/// verdict.
pub fn compare(
    (base_name, base): (&str, &Run),
    (run_name, run): (&str, &Run),
    thresholds: &Thresholds,
) -> Comparison {
    let not_comparable = different_cpu(&base.host, &run.host);
    let mut rng = bootstrap::rng();
    let before = figures(base);
    let after = figures(run);
    let mut rows = Vec::new();
    let mut only_in_baseline = Vec::new();
    for a in &before {
        let Some(b) = after.iter().find(|b| b.key == a.key) else {
            only_in_baseline.push(a.label.clone());
            continue;
        };
        let threshold = thresholds.of(a.kind);
        let change = b.value / a.value - 1.0;
        let interval = bootstrap::ratio_interval(&a.spread, &b.spread, &mut rng)
            .map(|(lo, hi)| [lo - 1.0, hi - 1.0]);
        let setup_differs = a
            .setup
            .iter()
            .zip(&b.setup)
            .find(|(x, y)| x != y)
            .map(|(x, y)| format!("{} {} vs {}", x.0, x.1, y.1));
        let verdict = match (&not_comparable, setup_differs) {
            (Some(_), _) => Verdict::NotComparable("different CPU".into()),
            (None, Some(why)) => Verdict::NotComparable(why),
            (None, None) => {
                let [lo, hi] = interval.unwrap_or([change, change]);
                let (up, down) = (lo > threshold, hi < -threshold / (1.0 + threshold));
                match (up, down, a.lower_is_better) {
                    (true, _, true) | (_, true, false) => Verdict::Slower,
                    (true, _, false) | (_, true, true) => Verdict::Faster,
                    _ => Verdict::NoChange,
                }
            }
        };
        rows.push(Row {
            key: a.key.clone(),
            kind: a.kind,
            label: a.label.clone(),
            baseline: a.value,
            run: b.value,
            unit: if a.kind == FigureKind::Bandwidth {
                "GB/s"
            } else {
                "ns"
            },
            change,
            interval,
            threshold,
            verdict,
        });
    }
    rows.sort_by_key(|r| r.kind);
    let only_in_run = after
        .iter()
        .filter(|b| before.iter().all(|a| a.key != b.key))
        .map(|b| b.label.clone())
        .collect();
    Comparison {
        baseline: base_name.into(),
        run: run_name.into(),
        started_at: [base.started_at.clone(), run.started_at.clone()],
        host_changes: host_changes(&base.host, &run.host),
        not_comparable,
        rows,
        only_in_baseline,
        only_in_run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_one_percentage_or_one_per_kind() {
        let all = Thresholds::parse("10").unwrap();
        assert!(all.0.values().all(|&v| v == 0.1));
        let some = Thresholds::parse("rung=20, level=5").unwrap();
        assert_eq!(some.of(FigureKind::Rung), 0.2);
        assert_eq!(some.of(FigureKind::Level), 0.05);
        assert_eq!(
            some.of(FigureKind::CorePair),
            FigureKind::CorePair.default_threshold()
        );
        for bad in ["-5", "ten", "rung=", "cache=5", "rung=2000", "NaN"] {
            assert!(Thresholds::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_epyc_guests_of_different_generations_are_two_cpus() {
        // Records from before cpu_id: the model string alone says "AMD EPYC" for both.
        let mut zen4 = crate::app::tests::fixture_host();
        zen4.cpu_model = Some("AMD EPYC".into());
        zen4.cpu_id = None;
        let mut zen1 = zen4.clone();
        assert_eq!(different_cpu(&zen4, &zen1), None);
        let l2 = zen1.caches.iter_mut().find(|c| c.level == 2).unwrap();
        l2.size_bytes /= 2;
        let why = different_cpu(&zen4, &zen1).unwrap();
        assert!(why.starts_with("different CPU: AMD EPYC (L1d"), "{why}");
        // With CPUID on both sides, family and model decide; a new stepping does not.
        let id = crate::record::host::CpuId {
            vendor: "AuthenticAMD".into(),
            family: Some(25),
            model: Some(1),
            stepping: Some(1),
            ..Default::default()
        };
        let (mut a, mut b) = (zen4.clone(), zen4);
        a.cpu_id = Some(id.clone());
        b.cpu_id = Some(crate::record::host::CpuId {
            stepping: Some(2),
            ..id.clone()
        });
        assert_eq!(different_cpu(&a, &b), None);
        assert!(host_changes(&a, &b).contains(&"stepping: 1 -> 2".to_string()));
        b.cpu_id = Some(crate::record::host::CpuId {
            family: Some(26),
            ..id
        });
        assert!(different_cpu(&a, &b).is_some());
    }

    #[test]
    fn server_versions_are_read_from_notes() {
        assert_eq!(
            server_version("managed PostgreSQL 15 (pid 1): server 15.18 (Debian), fsync on")
                .as_deref(),
            Some("server 15.18")
        );
        assert_eq!(
            server_version("SQLite 3.50.2 (bundled), defaults").as_deref(),
            Some("SQLite 3.50.2")
        );
        assert_eq!(server_version("ext4 on /dev/vda (/)"), None);
    }
}
