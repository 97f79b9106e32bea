//! The lecture's speed table beside what this machine measured: one row per rung with
//! the claim, the measurement and its method, the ratio and a plain verdict; then the
//! lecture's own comparisons recomputed.

use crate::memory::levels::Level;
use crate::memory::MemorySection;
use crate::record::Run;
use crate::suite::placement::{Placement, PlacementKind};
use crate::suite::Rung;
use serde::{Deserialize, Serialize};

/// One row of the lecture's table, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderRow {
    /// The rung as the lecture names it ("L1 CPU cache", "Redis"...).
    pub rung: String,
    /// What the lecture says, ns.
    pub lecture_claim_ns: f64,
    /// What was measured, ns: the p50 of a distribution, or a memory level's plateau
    /// (fastest trials). Null when not measured.
    pub measured_ns: Option<f64>,
    /// The p99 of a distribution (null for memory levels).
    pub p99_ns: Option<f64>,
    /// For memory levels: the plateau of the median trials.
    pub median_ns: Option<f64>,
    /// How it was measured ("random chase, 4 KiB pages", "O_DIRECT 4K QD1"...), or why
    /// it was not.
    pub method: String,
    /// measured / claim.
    pub ratio: Option<f64>,
    /// "3.2x faster than the lecture says", "about what the lecture says"...
    pub verdict: String,
    /// Where client and server ran for the measured figure (service rungs): different
    /// CPUs where the run measured both placements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::suite::placement::Placement>,
    /// The same operation's p50 with client and server on one CPU, shown beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_cpu_ns: Option<f64>,
}

/// One of the lecture's comparisons ("Redis is 500x faster than a database query"),
/// recomputed from the measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What is compared with what.
    pub name: String,
    /// The factor the lecture's numbers give.
    pub lecture_factor: f64,
    /// The factor measured here (null when either side was not measured).
    pub measured_factor: Option<f64>,
    /// The two measurements used.
    pub basis: String,
}

/// A readable factor: one decimal below 10, whole numbers above.
pub fn factor(x: f64) -> String {
    if x >= 9.95 {
        format!("{x:.0}x")
    } else {
        format!("{x:.1}x")
    }
}

/// The plain verdict for a measured/claim ratio.
pub fn verdict(ratio: f64) -> String {
    if (0.8..=1.25).contains(&ratio) {
        "about what the lecture says".into()
    } else if ratio < 1.0 {
        format!("{} faster than the lecture says", factor(1.0 / ratio))
    } else {
        format!("{} slower than the lecture says", factor(ratio))
    }
}

const NS: f64 = 1.0;
const US: f64 = 1e3;
const MS: f64 = 1e6;

/// The lecture's table: rung name, claim in ns.
pub const LECTURE: [(&str, f64); 7] = [
    ("L1 CPU cache", NS),
    ("L2/L3 CPU cache", 10.0 * NS),
    ("RAM", 100.0 * NS),
    ("Redis", 100.0 * US),
    ("SSD", 100.0 * US),
    ("Database", 50.0 * MS),
    ("External API", 200.0 * MS),
];

fn claim(rung: &str) -> f64 {
    LECTURE
        .iter()
        .find(|(name, _)| *name == rung)
        .map(|(_, c)| *c)
        .expect("every ladder row names a lecture rung")
}

/// A measured value and where it came from.
struct Measured {
    p50: f64,
    p99: Option<f64>,
    median: Option<f64>,
    method: String,
    placement: Option<Placement>,
    same_cpu: Option<f64>,
}

fn row(rung: &str, label: Option<&str>, m: Result<Measured, String>) -> LadderRow {
    let claim_ns = claim(rung);
    let name = match label {
        Some(l) => format!("{rung} ({l})"),
        None => rung.to_string(),
    };
    match m {
        Ok(m) => {
            let ratio = m.p50 / claim_ns;
            LadderRow {
                rung: name,
                lecture_claim_ns: claim_ns,
                measured_ns: Some(m.p50),
                p99_ns: m.p99,
                median_ns: m.median,
                method: m.method,
                ratio: Some(ratio),
                verdict: verdict(ratio),
                placement: m.placement,
                same_cpu_ns: m.same_cpu,
            }
        }
        Err(why) => LadderRow {
            rung: name,
            lecture_claim_ns: claim_ns,
            measured_ns: None,
            p99_ns: None,
            median_ns: None,
            method: why.clone(),
            ratio: None,
            verdict: format!("not measured: {why}"),
            placement: None,
            same_cpu_ns: None,
        },
    }
}

fn memory_level(mem: Option<&MemorySection>, name: &str) -> Result<Measured, String> {
    let mem = mem.ok_or("the memory sweep did not run")?;
    let pages = *mem.config.pages.first().ok_or("no page size was swept")?;
    let level: &Level = mem
        .levels
        .iter()
        .find(|l| l.name == name && l.pages.is_none_or(|p| p == pages))
        .ok_or(format!("no {name} in the sweep"))?;
    let p50 = level
        .latency_ns
        .ok_or(format!("{name} not detected in the curve"))?;
    let (lo, hi) = level.plateau_bytes.unwrap_or((0, u64::MAX));
    let mut medians: Vec<f64> = mem
        .series(pages)
        .filter(|p| p.size_bytes >= lo && p.size_bytes <= hi)
        .map(|p| p.ns_median)
        .collect();
    medians.sort_by(f64::total_cmp);
    let pages_text = match pages {
        crate::memory::PageKind::Small => "4 KiB pages",
        crate::memory::PageKind::Huge => "2 MiB pages",
    };
    Ok(Measured {
        p50,
        p99: None,
        median: medians.get(medians.len() / 2).copied(),
        method: format!("{name} plateau, {} chase, {pages_text}", mem.config.order),
        placement: None,
        same_cpu: None,
    })
}

/// How well a row's placement stands for a networked service: client and server on
/// different CPUs first, then a user's server (client placed only), then rows without
/// placement, and one CPU last.
fn placement_rank(r: &Rung) -> u8 {
    match r.placement.as_ref().map(|p| p.kind) {
        Some(PlacementKind::CrossCpu) => 0,
        Some(PlacementKind::ClientOnly) => 1,
        None => 2,
        Some(PlacementKind::SameCpu) => 3,
    }
}

/// The rung of `rung` whose method satisfies `pick`, in the placement closest to a
/// networked service.
fn find<'a>(run: &'a Run, rung: &str, pick: impl Fn(&str) -> bool) -> Option<&'a Rung> {
    run.rungs
        .iter()
        .filter(|r| r.rung == rung && pick(&r.method))
        .min_by_key(|r| placement_rank(r))
}

fn distribution(
    run: &Run,
    r: Option<&Rung>,
    why: impl FnOnce() -> String,
) -> Result<Measured, String> {
    r.map(|r| Measured {
        p50: r.p50_ns,
        p99: Some(r.p99_ns),
        median: None,
        method: r.method.clone(),
        placement: r.placement.clone(),
        same_cpu: (placement_rank(r) == 0)
            .then(|| {
                run.rungs.iter().find(|s| {
                    s.rung == r.rung
                        && s.method == r.method
                        && s.placement.as_ref().map(|p| p.kind) == Some(PlacementKind::SameCpu)
                })
            })
            .flatten()
            .map(|s| s.p50_ns),
    })
    .ok_or_else(why)
}

/// Why a rung was not measured: its skip reason, or `default`.
fn reason(run: &Run, rungs: &[&str], default: &str) -> String {
    run.skipped
        .iter()
        .find(|s| rungs.contains(&s.rung.as_str()))
        .map(|s| s.reason.clone())
        .unwrap_or_else(|| default.to_string())
}

/// The Redis GET the ladder uses: a hit over TCP, back-to-back.
fn redis_get(run: &Run) -> Option<&Rung> {
    find(run, "redis", |m| {
        m.starts_with("GET hit over TCP, back-to-back")
    })
    .or_else(|| {
        find(run, "redis", |m| {
            m.starts_with("GET hit") && m.ends_with("back-to-back")
        })
    })
}

/// The database rows: PostgreSQL over TCP where it ran, else SQLite.
fn database(run: &Run, expensive: bool) -> Option<&Rung> {
    let wanted = |m: &str| {
        if expensive {
            m.contains("expensive")
        } else {
            m.contains("PK lookup") && !m.contains("first query")
        }
    };
    find(run, "postgres", |m| wanted(m) && m.contains("TCP"))
        .or_else(|| find(run, "postgres", wanted))
        .or_else(|| find(run, "sqlite", wanted))
}

/// Builds the ladder rows from a run.
pub fn rows(run: &Run) -> Vec<LadderRow> {
    let mem = run.memory.as_ref();
    let ssd = find(run, "ssd", |m| m.contains("read"));
    vec![
        row("L1 CPU cache", None, memory_level(mem, "L1d")),
        row("L2/L3 CPU cache", Some("L2"), memory_level(mem, "L2")),
        row("L2/L3 CPU cache", Some("L3"), memory_level(mem, "L3")),
        row("RAM", None, memory_level(mem, "RAM")),
        row(
            "Redis",
            None,
            distribution(run, redis_get(run), || {
                reason(run, &["redis"], "the Redis rung did not run")
            }),
        ),
        row(
            "SSD",
            None,
            distribution(run, ssd, || {
                reason(run, &["ssd"], "the storage rung did not run")
            }),
        ),
        row(
            "Database",
            Some("point lookup"),
            distribution(run, database(run, false), || {
                reason(
                    run,
                    &["postgres", "sqlite"],
                    "the database rung did not run",
                )
            }),
        ),
        row(
            "Database",
            Some("expensive query"),
            distribution(run, database(run, true), || {
                reason(
                    run,
                    &["postgres", "sqlite"],
                    "the database rung did not run",
                )
            }),
        ),
        row(
            "External API",
            None,
            distribution(run, find(run, "http", |_| true), || {
                reason(run, &["http"], "pass --http-url")
            }),
        ),
    ]
}

/// The lecture's comparisons, recomputed from the ladder rows.
pub fn comparisons(rows: &[LadderRow]) -> Vec<Comparison> {
    let get = |name: &str| rows.iter().find(|r| r.rung == name);
    let compare = |name: &str, slow: &str, fast: &str| {
        let (s, f) = (get(slow), get(fast));
        let lecture = claim(strip(slow)) / claim(strip(fast));
        let measured = match (s.and_then(|r| r.measured_ns), f.and_then(|r| r.measured_ns)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let shown = |r: &LadderRow| match &r.placement {
            Some(p) => format!("{} [{}]", r.method, p.label()),
            None => r.method.clone(),
        };
        let basis = match (s, f) {
            (Some(s), Some(f)) if measured.is_some() => format!("{} / {}", shown(s), shown(f)),
            _ => "not measured".into(),
        };
        Comparison {
            name: name.to_string(),
            lecture_factor: lecture,
            measured_factor: measured,
            basis,
        }
    };
    vec![
        compare(
            "Redis vs a database point lookup",
            "Database (point lookup)",
            "Redis",
        ),
        compare(
            "Redis vs the expensive query (the lecture's \"500x\")",
            "Database (expensive query)",
            "Redis",
        ),
        compare("RAM vs L1", "RAM", "L1 CPU cache"),
        compare("SSD vs RAM", "SSD", "RAM"),
    ]
}

/// "Database (point lookup)" -> "Database".
fn strip(name: &str) -> &str {
    name.split(" (").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_plainly() {
        assert_eq!(verdict(1.0), "about what the lecture says");
        assert_eq!(verdict(1.2), "about what the lecture says");
        assert_eq!(verdict(0.25), "4.0x faster than the lecture says");
        assert_eq!(verdict(1.0 / 500.0), "500x faster than the lecture says");
        assert_eq!(verdict(3.04), "3.0x slower than the lecture says");
        assert_eq!(verdict(14.0), "14x slower than the lecture says");
    }

    #[test]
    fn the_lecture_table_is_complete() {
        let names: Vec<&str> = LECTURE.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "L1 CPU cache",
                "L2/L3 CPU cache",
                "RAM",
                "Redis",
                "SSD",
                "Database",
                "External API"
            ]
        );
        assert_eq!(claim("Redis") / claim("L1 CPU cache"), 100_000.0);
        assert_eq!(strip("Database (expensive query)"), "Database");
    }
}
