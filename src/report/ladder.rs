//! The lecture's table, measured: one row per rung of the lecture's ladder (its claim,
//! the figure measured here, how, the ratio and a verdict), the sentences under it
//! (placement, the recomputed comparisons, caching), ladder.csv and the ladder chart. The
//! run's summary: report.md opens with it, the terminal ends with it.

use super::writer::{md_table, Table};
use super::Section;
use crate::error::{Error, Result};
use crate::plot::Labelled;
use crate::record::placement::PlacementKind;
use crate::record::Run;
use crate::units::format_ns;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The lecture's table section.
pub struct LectureTable;

/// The sentences under the table: placement, the comparisons, caching.
fn notes(run: &Run) -> Vec<String> {
    placement_lines(run)
        .into_iter()
        .chain(comparison_lines(run))
        .chain(super::db_sizes::crossing_lines(&run.db_sizes))
        .chain(caching_lines(run))
        .collect()
}

impl Section for LectureTable {
    fn present(&self, run: &Run) -> bool {
        !run.ladder.is_empty()
    }

    fn is_summary(&self) -> bool {
        true
    }

    fn terminal(&self, run: &Run) -> String {
        let mut out = format!(
            "the lecture's table, measured here:\n{}\n",
            Table::new(LADDER_HEADER).rows(ladder_rows(run))
        );
        for line in notes(run) {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    fn markdown(&self, run: &Run) -> String {
        let mut md = String::from(
            "## The lecture's table, measured\n\nEach row: what the lecture claims, what this \
             machine measured (p50 of a distribution, or a memory level's plateau from the \
             fastest trials), how, and the ratio measured / claim.\n\n",
        );
        md.push_str(&md_table(&LADDER_HEADER, ladder_rows(run)));
        md.push('\n');
        for line in notes(run) {
            let _ = writeln!(md, "- {line}");
        }
        md.push_str("\n![The ladder: lecture vs measured](ladder.png)\n\n");
        md
    }

    fn files(&self, run: &Run) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("ladder.csv", ladder_csv(&run.ladder)?)])
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        let one = [Labelled {
            label: String::new(),
            run,
        }];
        crate::plot::ladder::ladder_chart(&one, dir, "ladder")
    }

    /// One row per measured service rung (the memory rows repeat the levels).
    fn compare_rows(&self, runs: &[&Run]) -> Vec<Vec<String>> {
        let mut keys = Vec::new();
        for r in runs {
            for l in r
                .ladder
                .iter()
                .filter(|l| l.p99_ns.is_some() || l.median_ns.is_none())
            {
                if !keys.contains(&l.key) {
                    keys.push(l.key);
                }
            }
        }
        keys.into_iter()
            .map(|key| {
                std::iter::once(format!("{} p50", key.name()))
                    .chain(runs.iter().map(|r| {
                        r.ladder
                            .iter()
                            .find(|l| l.key == key)
                            .and_then(|l| l.measured_ns)
                            .map_or_else(|| "—".into(), format_ns)
                    }))
                    .collect()
            })
            .collect()
    }
}

/// Header of the ladder table.
pub const LADDER_HEADER: [&str; 7] = [
    "rung",
    "lecture says",
    "measured",
    "p99 / median",
    "method",
    "ratio",
    "verdict",
];

/// One row per lecture rung: the table shared by the terminal and report.md.
pub fn ladder_rows(run: &Run) -> Vec<[String; 7]> {
    let dash = || "—".to_string();
    run.ladder
        .iter()
        .map(|r| {
            [
                r.rung.clone(),
                format!("~{}", crate::units::format_ns_round(r.lecture_claim_ns)),
                r.measured_ns.map(format_ns).unwrap_or_else(dash),
                match (r.p99_ns, r.median_ns) {
                    (Some(p99), _) => format!("p99 {}", format_ns(p99)),
                    (None, Some(median)) => format!("median {}", format_ns(median)),
                    _ => dash(),
                },
                match (r.measured_ns, &r.placement, r.same_cpu_ns) {
                    (None, _, _) => dash(),
                    (Some(_), Some(p), Some(same)) => format!(
                        "{} [{}; {}: {}]",
                        r.method,
                        p.label(),
                        match p.kind {
                            PlacementKind::OtherThanIrq => "on the interrupt's CPU",
                            _ => "same CPU",
                        },
                        format_ns(same)
                    ),
                    (Some(_), Some(p), None) => format!("{} [{}]", r.method, p.label()),
                    (Some(_), None, _) => r.method.clone(),
                },
                r.ratio.map(format_ratio).unwrap_or_else(dash),
                r.verdict.clone(),
            ]
        })
        .collect()
}

/// A measured/claim ratio with three significant digits: `1.09`, `0.172`, `0.000492`.
pub fn format_ratio(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

/// One sentence per service row of the ladder measured in both placements: what the
/// cross-CPU wake-up costs here, and why it may differ elsewhere; or, on a one-CPU
/// host, that only one placement exists.
pub fn placement_lines(run: &Run) -> Vec<String> {
    let mut lines: Vec<String> = run
        .ladder
        .iter()
        // Storage rows are worded with the rungs (see `rung_notes`).
        .filter(|r| r.placement.as_ref().map(|p| p.kind) != Some(PlacementKind::OtherThanIrq))
        .filter_map(|r| {
            let (cross, same) = (r.measured_ns?, r.same_cpu_ns?);
            let where_ = if run.host.virtualized {
                "this is a VM, where waking another CPU goes through the hypervisor; on bare \
                 metal it is typically a few µs"
            } else {
                "on this machine"
            };
            let gap = if cross >= same {
                format!(
                    "a cross-CPU wake-up costs {} per round trip ({where_})",
                    format_ns(cross - same)
                )
            } else {
                format!(
                    "different CPUs are faster here by {}: client and server overlap their work \
                     instead of taking turns on one CPU, and waking the other CPU is cheap",
                    format_ns(same - cross)
                )
            };
            Some(format!(
                "{}: {} with client and server on different CPUs, {} on one CPU: {gap}. The \
                 table uses the different-CPUs figure; spaced requests (1 ms, 10 ms apart) pay \
                 wake-ups too.",
                r.rung,
                format_ns(cross),
                format_ns(same),
            ))
        })
        .collect();
    let one_cpu = run.host.cpus.len() == 1
        && run.rungs.iter().any(|r| {
            r.placement.as_ref().map(|p| p.kind)
                == Some(crate::record::placement::PlacementKind::SameCpu)
        });
    if one_cpu {
        lines.push(
            "One CPU here: client and server could only share it, so the service rows are the \
             software path alone, without the cross-CPU wake-up a deployment pays."
                .into(),
        );
    }
    lines
}

/// One sentence per engine on the lecture's caching patterns.
pub fn caching_lines(run: &Run) -> Vec<String> {
    run.caching
        .iter()
        .map(|c| {
            let pays = match c.break_even_hit_ratio {
                Some(h) => format!("cache-aside pays off above a {:.0}% hit ratio", h * 100.0),
                None => "a hit costs as much as a direct read, so cache-aside never pays".into(),
            };
            format!(
                "Caching in front of {} (means): hit {} (Redis GET), miss {} (GET + lookup + SET EX), \
                 no cache {} — {pays}; write-through costs {} per update (UPDATE + SET EX)",
                c.engine,
                format_ns(c.hit_ns),
                format_ns(c.miss_ns),
                format_ns(c.direct_ns),
                format_ns(c.write_through_ns)
            )
        })
        .collect()
}

/// One sentence per recomputed comparison.
pub fn comparison_lines(run: &Run) -> Vec<String> {
    use crate::ladder::factor;
    run.comparisons
        .iter()
        .map(|c| match c.measured_factor {
            Some(m) => format!(
                "{}: {} measured (the lecture's numbers give {})",
                c.name,
                factor(m),
                factor(c.lecture_factor)
            ),
            None => format!(
                "{}: not measured (the lecture's numbers give {})",
                c.name,
                factor(c.lecture_factor)
            ),
        })
        .collect()
}

/// `ladder.csv`: rung, lecture_claim_ns, measured_p50_ns, measured_p99_ns,
/// measured_median_ns, ratio, method, verdict.
pub fn ladder_csv(rows: &[crate::record::ladder::LadderRow]) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::Internal(format!("cannot write ladder.csv: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "rung",
        "lecture_claim_ns",
        "measured_p50_ns",
        "measured_p99_ns",
        "measured_median_ns",
        "ratio",
        "method",
        "verdict",
    ])
    .map_err(err)?;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.rung.clone(),
            format!("{}", r.lecture_claim_ns),
            opt(r.measured_ns),
            opt(r.p99_ns),
            opt(r.median_ns),
            r.ratio.map(|x| format!("{x:.6}")).unwrap_or_default(),
            r.method.clone(),
            r.verdict.clone(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write ladder.csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_three_significant_digits() {
        assert_eq!(format_ratio(1.0904), "1.09");
        assert_eq!(format_ratio(0.1724), "0.172");
        assert_eq!(format_ratio(0.000_492_3), "0.000492");
        assert_eq!(format_ratio(2033.4), "2033");
    }
}
