//! The lecture's speed table beside what this machine measured: one row per rung with
//! the claim, the measurement and its method, the ratio and a plain verdict; then the
//! lecture's own comparisons recomputed.

use crate::record::ladder::{Comparison, LadderKey, LadderRow};
use crate::record::memory::{Level, LevelName, PageKind};
use crate::record::placement::{Placement, PlacementKind};
use crate::record::rung::Rung;
use crate::record::rung::{Engine, Family, Query, RedisOp, RungId, Spacing, StorageOp, Transport};
use crate::record::Run;

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

/// The lecture's figure for `rung` ("Database"...), ns.
pub fn claim(rung: &str) -> f64 {
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

fn row(key: LadderKey, m: Result<Measured, String>) -> LadderRow {
    let claim_ns = claim(key.lecture_rung());
    match m {
        Ok(m) => {
            let ratio = m.p50 / claim_ns;
            LadderRow {
                key,
                rung: key.name(),
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
            key,
            rung: key.name(),
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

fn memory_level(run: &Run, name: LevelName) -> Result<Measured, String> {
    let mem = run
        .memory
        .as_ref()
        .ok_or_else(|| reason(run, Family::Memory, "the memory sweep did not run"))?;
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
        PageKind::Small => "4 KiB pages",
        PageKind::Huge => "2 MiB pages",
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
/// placement, and one CPU last. Storage reads likewise: away from the device
/// interrupt's CPU (where most of an application's threads are) before on it.
fn placement_rank(r: &Rung) -> u8 {
    match r.placement.as_ref().map(|p| p.kind) {
        Some(PlacementKind::CrossCpu | PlacementKind::OtherThanIrq) => 0,
        Some(PlacementKind::ClientOnly) => 1,
        None => 2,
        Some(PlacementKind::SameCpu | PlacementKind::IrqCpu) => 3,
    }
}

/// The placement a row of rank 0 is set beside: one CPU for a service, the
/// interrupt's CPU for storage reads.
fn partner(kind: PlacementKind) -> PlacementKind {
    match kind {
        PlacementKind::OtherThanIrq => PlacementKind::IrqCpu,
        _ => PlacementKind::SameCpu,
    }
}

/// The row whose identity satisfies `want`, in the placement closest to a networked
/// service.
fn find(run: &Run, want: impl Fn(&RungId) -> bool) -> Option<&Rung> {
    run.rungs
        .iter()
        .filter(|r| want(&r.id))
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
                let want = r.placement.as_ref().map(|p| partner(p.kind));
                run.rungs
                    .iter()
                    .find(|s| s.id == r.id && s.placement.as_ref().map(|p| p.kind) == want)
            })
            .flatten()
            .map(|s| s.p50_ns),
    })
    .ok_or_else(why)
}

/// Why a family was not measured: its skip reason, or `default`.
fn reason(run: &Run, family: Family, default: &str) -> String {
    run.skipped
        .iter()
        .find(|s| s.family == family)
        .map(|s| s.reason.clone())
        .unwrap_or_else(|| default.to_string())
}

/// The Redis GET the ladder uses: a hit, back-to-back, over TCP where it ran.
fn redis_get(run: &Run) -> Option<&Rung> {
    let get = |tcp: bool| {
        move |id: &RungId| {
            matches!(id, RungId::Redis {
                op: RedisOp::GetHit,
                transport,
                spacing: Spacing::BackToBack,
            } if !tcp || *transport == Transport::Tcp)
        }
    };
    find(run, get(true)).or_else(|| find(run, get(false)))
}

/// The database rows: PostgreSQL over TCP where it ran, else PostgreSQL, else SQLite.
fn database(run: &Run, wanted: Query) -> Option<&Rung> {
    let sql = |engine: Engine, tcp: bool| {
        move |id: &RungId| {
            matches!(id, RungId::Sql { engine: e, query, transport }
                if *e == engine && *query == wanted && (!tcp || *transport == Transport::Tcp))
        }
    };
    find(run, sql(Engine::Postgres, true))
        .or_else(|| find(run, sql(Engine::Postgres, false)))
        .or_else(|| find(run, sql(Engine::Sqlite, false)))
}

/// Builds the ladder rows from a run.
pub fn rows(run: &Run) -> Vec<LadderRow> {
    let measured = |r: Option<&Rung>, family: Family, default: &str| {
        distribution(run, r, || reason(run, family, default))
    };
    let ssd = find(run, |id| {
        *id == RungId::Storage {
            op: StorageOp::RandomRead,
        }
    });
    let db = "the database rung did not run";
    let cold = "not measured cold: only a managed server is restarted for it (a user's \
                is measured warm), and evicting a file from the page cache needs Linux";
    vec![
        row(LadderKey::L1, memory_level(run, LevelName::L1D)),
        row(LadderKey::L2, memory_level(run, LevelName::L2)),
        row(LadderKey::L3, memory_level(run, LevelName::L3)),
        row(LadderKey::Ram, memory_level(run, LevelName::Ram)),
        row(
            LadderKey::Redis,
            measured(redis_get(run), Family::Redis, "the Redis rung did not run"),
        ),
        row(
            LadderKey::Ssd,
            measured(ssd, Family::Ssd, "the storage rung did not run"),
        ),
        row(
            LadderKey::DbPointLookup,
            measured(database(run, Query::PointLookup), Family::Db, db),
        ),
        row(
            LadderKey::DbExpensiveQuery,
            measured(database(run, Query::Aggregate), Family::Db, db),
        ),
        row(
            LadderKey::DbPointLookupCold,
            measured(database(run, Query::PointLookupCold), Family::Db, cold),
        ),
        row(
            LadderKey::DbExpensiveQueryCold,
            measured(database(run, Query::AggregateCold), Family::Db, cold),
        ),
        row(
            LadderKey::ExternalApi,
            measured(
                find(run, |id| *id == RungId::Http),
                Family::Http,
                "pass --http-url",
            ),
        ),
    ]
}

/// The lecture's comparisons, recomputed from the ladder rows.
pub fn comparisons(rows: &[LadderRow]) -> Vec<Comparison> {
    let get = |key: LadderKey| rows.iter().find(|r| r.key == key);
    let compare = |name: &str, slow: LadderKey, fast: LadderKey| {
        let (s, f) = (get(slow), get(fast));
        let lecture = claim(slow.lecture_rung()) / claim(fast.lecture_rung());
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
            LadderKey::DbPointLookup,
            LadderKey::Redis,
        ),
        compare(
            "Redis vs a cold database point lookup",
            LadderKey::DbPointLookupCold,
            LadderKey::Redis,
        ),
        compare(
            "Redis vs the expensive query (the lecture's \"500x\")",
            LadderKey::DbExpensiveQuery,
            LadderKey::Redis,
        ),
        compare(
            "Redis vs the expensive query, cold",
            LadderKey::DbExpensiveQueryCold,
            LadderKey::Redis,
        ),
        compare("RAM vs L1", LadderKey::Ram, LadderKey::L1),
        compare("SSD vs RAM", LadderKey::Ssd, LadderKey::Ram),
    ]
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
        for key in LadderKey::ALL {
            assert!(claim(key.lecture_rung()) > 0.0, "{key:?}");
        }
        assert_eq!(
            LadderKey::DbExpensiveQuery.name(),
            "Database (expensive query)"
        );
    }

    /// A committed version-1 run, converted on load.
    fn committed(path: &str) -> Run {
        Run::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    #[test]
    fn typed_rows_reproduce_the_ladder_version_1_wrote() {
        for path in [
            "tests/fixtures/run-a/run.json",
            "results/2026-11-26-vm/run.json",
        ] {
            let run = committed(path);
            let typed = rows(&run);
            // Rows the version did not have (the cold database rows) are not measured.
            for new in &typed {
                match run.ladder.iter().find(|old| old.key == new.key) {
                    Some(old) => {
                        assert_eq!(new.rung, old.rung, "{path}");
                        assert_eq!(new.measured_ns, old.measured_ns, "{path}: {}", old.rung);
                        assert_eq!(new.method, old.method, "{path}: {}", old.rung);
                    }
                    None => assert_eq!(new.measured_ns, None, "{path}: {}", new.rung),
                }
            }
            assert_eq!(typed.len(), run.ladder.len() + 2, "{path}");
            let typed_comparisons = comparisons(&typed);
            for old in &run.comparisons {
                let new = typed_comparisons
                    .iter()
                    .find(|c| c.name == old.name)
                    .unwrap_or_else(|| panic!("{path}: {} gone", old.name));
                assert_eq!(new.basis, old.basis, "{path}");
                // JSON keeps the last bit of a float only approximately.
                let (a, b) = (new.measured_factor, old.measured_factor);
                assert!(a.zip(b).is_none_or(|(a, b)| (a / b - 1.0).abs() < 1e-12));
                assert_eq!(a.is_some(), b.is_some(), "{path}: {}", old.name);
            }
        }
    }

    #[test]
    fn every_row_is_found_by_identity_after_any_relabelling() {
        for (path, filled) in [
            ("results/2026-11-26-vm/run.json", 8),
            ("tests/fixtures/run-a/run.json", 6),
        ] {
            let run = committed(path);
            let before = rows(&run);
            let mut relabelled = run.clone();
            for (i, r) in relabelled.rungs.iter_mut().enumerate() {
                r.rung = format!("rung {i}");
                r.method = format!("method {i}");
            }
            for s in &mut relabelled.skipped {
                s.rung = "renamed".into();
            }
            let after = rows(&relabelled);
            let measured = after.iter().filter(|r| r.measured_ns.is_some()).count();
            assert_eq!(measured, filled, "{path}: {after:?}");
            for (b, a) in before.iter().zip(&after) {
                assert_eq!(
                    (b.key, b.measured_ns, b.p99_ns),
                    (a.key, a.measured_ns, a.p99_ns),
                    "{path}"
                );
                assert_eq!(b.verdict, a.verdict, "{path}");
            }
            // A measured service row shows the (relabelled) method it was found by.
            let memory = [LadderKey::L1, LadderKey::L2, LadderKey::L3, LadderKey::Ram];
            for row in after.iter().filter(|r| !memory.contains(&r.key)) {
                if row.measured_ns.is_some() {
                    assert!(row.method.starts_with("method "), "{path}: {row:?}");
                }
            }
        }
    }

    #[test]
    fn a_skipped_database_gives_its_reason_in_the_database_rows() {
        let mut run = committed("results/2026-11-26-vm/run.json");
        run.rungs.retain(|r| r.id.family() != Family::Db);
        run.skipped.push(crate::record::rung::Skipped::all(
            Family::Db,
            "skipped with --skip",
        ));
        let skipped = rows(&run);
        for key in [LadderKey::DbPointLookup, LadderKey::DbExpensiveQuery] {
            let row = skipped.iter().find(|r| r.key == key).unwrap();
            assert_eq!(row.verdict, "not measured: skipped with --skip");
        }
        // PostgreSQL missing while SQLite ran: the SQLite rows stand in.
        let mut run = committed("results/2026-11-26-vm/run.json");
        run.rungs.retain(|r| {
            !matches!(
                r.id,
                RungId::Sql {
                    engine: Engine::Postgres,
                    ..
                }
            )
        });
        run.skipped.push(crate::record::rung::Skipped {
            family: Family::Db,
            rung: "postgres".into(),
            reason: "PostgreSQL is not installed".into(),
        });
        let point = rows(&run)
            .into_iter()
            .find(|r| r.key == LadderKey::DbPointLookup)
            .unwrap();
        assert_eq!(point.method, "SQLite prepared PK lookup");
    }
}
