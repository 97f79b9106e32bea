//! The perf-counter section of report.md: per detected level, misses, instructions and
//! IPC per access at the middle of its plateau, a sentence saying what they show, and
//! sanity cross-checks when hardware counters exist.

use super::writer::Table;
use crate::counters::Reading;
use crate::record::memory::{LevelName, MemoryPoint, MemorySection};
use std::fmt::Write;

fn per(point: &MemoryPoint, name: &str) -> Option<f64> {
    point.counters.get(name).and_then(Reading::per_access)
}

/// The point in the middle of a level's plateau.
fn plateau_point<'a>(
    mem: &'a MemorySection,
    level: &crate::record::memory::Level,
) -> Option<&'a MemoryPoint> {
    let (lo, hi) = level.plateau_bytes?;
    let pages = level.pages.or_else(|| mem.config.pages.first().copied())?;
    let on: Vec<&MemoryPoint> = mem
        .series(pages)
        .filter(|p| p.size_bytes >= lo && p.size_bytes <= hi)
        .collect();
    on.get(on.len() / 2).copied()
}

/// What the counters say about a level, in one sentence.
fn sentence(level: LevelName, p: &MemoryPoint) -> String {
    let l1 = per(p, "L1-dcache-load-misses");
    let llc = per(p, "LLC-load-misses");
    match (level, l1, llc) {
        (LevelName::Ram, _, Some(llc)) if llc >= 0.5 => {
            format!("{level}: {llc:.2} LLC misses/access — the loads went to DRAM")
        }
        (LevelName::L1D, Some(l1), _) if l1 < 0.05 => {
            format!("{level}: {l1:.3} L1 misses/access — the loads were served from L1")
        }
        (_, Some(l1), Some(llc)) if l1 >= 0.5 && llc < 0.1 => format!(
            "{level}: {l1:.2} L1 misses and {llc:.3} LLC misses per access — served by a cache between L1 and DRAM"
        ),
        _ => format!(
            "{level}: {} L1 misses and {} LLC misses per access",
            l1.map_or("?".into(), |v| format!("{v:.2}")),
            llc.map_or("?".into(), |v| format!("{v:.2}"))
        ),
    }
}

/// Cross-checks that only mean something with hardware counters; each failure is a
/// warning line.
pub fn sanity_warnings(mem: &MemorySection, clock_ghz: Option<f64>) -> Vec<String> {
    let mut warnings = Vec::new();
    for level in mem.levels.iter().filter(|l| l.detected) {
        let Some(p) = plateau_point(mem, level) else {
            continue;
        };
        if level.name == LevelName::L1D {
            if let Some(m) = per(p, "L1-dcache-load-misses").filter(|&m| m >= 0.05) {
                warnings.push(format!(
                    "L1-sized point ({} B) shows {m:.3} L1 misses/access, expected below 0.05",
                    p.size_bytes
                ));
            }
        }
        if level.name == LevelName::Ram {
            if let Some(m) = per(p, "LLC-load-misses").filter(|&m| m <= 0.5) {
                warnings.push(format!(
                    "RAM-sized point ({} B) shows {m:.3} LLC misses/access, expected above 0.5",
                    p.size_bytes
                ));
            }
        }
        if let (Some(cycles), Some(ghz)) = (per(p, "cycles"), clock_ghz) {
            let expected = p.ns_median * ghz;
            if (cycles / expected - 1.0).abs() > 0.10 {
                warnings.push(format!(
                    "{}: {cycles:.1} counted cycles/access vs {expected:.1} from latency x calibrated clock (more than 10% apart)",
                    level.name
                ));
            }
        }
    }
    warnings
}

/// The markdown section; empty when no counters were asked for.
pub fn section(mem: &MemorySection, clock_ghz: Option<f64>) -> String {
    if mem.config.counters.is_empty() {
        return String::new();
    }
    let mut md = String::from("\n## Perf counters\n\n");
    let first = mem.points.first();
    let missing: Vec<String> = first
        .map(|p| {
            p.counters
                .iter()
                .filter_map(|(name, r)| match r {
                    Reading::Unsupported { reason } => {
                        Some(format!("{name} unsupported ({reason})"))
                    }
                    Reading::NotPermitted { reason } => {
                        Some(format!("{name} not permitted ({reason})"))
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "Counted only inside the timed trials and divided by the accesses made. A counter \
         that could not be read says why; it is never shown as 0. `*` marks a count the \
         kernel multiplexed and scaled.\n"
    );
    if !missing.is_empty() {
        let _ = writeln!(md, "Not available here: {}.\n", missing.join("; "));
    }
    let names = &mem.config.counters;
    let mut header = vec!["level".to_string(), "pages".to_string(), "size".to_string()];
    header.extend(names.iter().map(|n| format!("{n}/access")));
    header.push("IPC".into());
    let mut rows = Vec::new();
    let mut sentences = Vec::new();
    for level in mem.levels.iter().filter(|l| l.detected) {
        let Some(p) = plateau_point(mem, level) else {
            continue;
        };
        let mut row = vec![
            level.name.to_string(),
            p.pages.to_string(),
            crate::units::format_size(p.size_bytes),
        ];
        row.extend(
            names
                .iter()
                .map(|n| p.counters.get(n).map_or("—".into(), Reading::cell)),
        );
        row.push(match (per(p, "instructions"), per(p, "cycles")) {
            (Some(i), Some(c)) if c > 0.0 => format!("{:.2}", i / c),
            _ => "—".into(),
        });
        rows.push(row);
        sentences.push(sentence(level.name, p));
    }
    md.push_str(&Table::new(header).rows(rows).markdown());
    md.push('\n');
    let any_hardware = mem.points.iter().any(|p| {
        [
            "cycles",
            "instructions",
            "L1-dcache-load-misses",
            "LLC-load-misses",
        ]
        .iter()
        .any(|n| per(p, n).is_some())
    });
    if any_hardware {
        for s in sentences {
            let _ = writeln!(md, "- {s}");
        }
    } else {
        let _ = writeln!(
            md,
            "- No hardware counter could be read here, so the counters cannot say which \
             level served the loads; the software counters show the trials ran undisturbed \
             (no page faults, context switches or migrations inside them) or that they did not."
        );
    }
    for w in sanity_warnings(mem, clock_ghz) {
        let _ = writeln!(md, "- ⚠ {w}");
    }
    md
}

/// Perf counters per operation of the comparison rungs: one column per counter that
/// counted somewhere, and one line naming those that could not.
pub fn rungs_section(rungs: &[crate::record::rung::Rung]) -> String {
    let mut names: Vec<&String> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for r in rungs {
        for (name, reading) in &r.counters {
            match reading {
                Reading::Counted { .. } if !names.contains(&name) => names.push(name),
                Reading::Unsupported { reason } | Reading::NotPermitted { reason } => {
                    let line = format!("{name} ({reason})");
                    if !missing.contains(&line) {
                        missing.push(line);
                    }
                }
                _ => {}
            }
        }
    }
    if names.is_empty() && missing.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\nPerf counters of the measuring thread per operation (client side: the servers run \
         in their own processes):\n\n",
    );
    if !names.is_empty() {
        let header = ["rung".to_string(), "method".to_string()]
            .into_iter()
            .chain(names.iter().map(|n| format!("{n}/op")));
        let rows = rungs.iter().map(|r| {
            [r.rung.clone(), r.method.clone()].into_iter().chain(
                names
                    .iter()
                    .map(|n| r.counters.get(*n).map_or("—".into(), Reading::cell)),
            )
        });
        md.push_str(&Table::new(header).rows(rows).markdown());
        md.push('\n');
    }
    if !missing.is_empty() {
        let _ = writeln!(md, "Not available here: {}.", missing.join("; "));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Run;

    fn fixture() -> Run {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/run-a/run.json");
        Run::load(std::path::Path::new(path)).unwrap()
    }

    fn counted(v: f64) -> Reading {
        Reading::Counted {
            per_access: v,
            total: v * 1e6,
            multiplexed: false,
        }
    }

    /// The fixture's memory section with every point given counter readings that a
    /// machine with a PMU would show: L1 misses and LLC misses by level.
    fn with_hardware(mut mem: MemorySection, clock: f64, cycles_off: f64) -> MemorySection {
        mem.config.counters = [
            "cycles",
            "instructions",
            "L1-dcache-load-misses",
            "LLC-load-misses",
        ]
        .map(String::from)
        .to_vec();
        for p in &mut mem.points {
            let (l1, llc) = if p.size_bytes <= 32 << 10 {
                (0.001, 0.0)
            } else if p.size_bytes <= 8 << 20 {
                (1.0, 0.01)
            } else {
                (1.0, 0.97)
            };
            p.counters.clear();
            p.counters
                .insert("cycles".into(), counted(p.ns_median * clock * cycles_off));
            p.counters.insert("instructions".into(), counted(1.07));
            p.counters
                .insert("L1-dcache-load-misses".into(), counted(l1));
            p.counters.insert("LLC-load-misses".into(), counted(llc));
        }
        mem
    }

    #[test]
    fn present_counters_read_as_sentences_without_warnings() {
        let run = fixture();
        let clock = run.host.clock_ghz.unwrap();
        let mem = with_hardware(run.memory.unwrap(), clock, 1.0);
        let md = section(&mem, Some(clock));
        assert!(
            md.contains("| level | pages | size | cycles/access | instructions/access"),
            "{md}"
        );
        assert!(
            md.contains("L1d: 0.001 L1 misses/access — the loads were served from L1"),
            "{md}"
        );
        assert!(
            md.contains("RAM: 0.97 LLC misses/access — the loads went to DRAM"),
            "{md}"
        );
        assert!(!md.contains('⚠'), "{md}");
        assert!(sanity_warnings(&mem, Some(clock)).is_empty());
    }

    #[test]
    fn rung_counters_show_what_counted_and_name_what_could_not() {
        use crate::record::rung::{RedisOp, RungId, Spacing, Transport};
        let id = RungId::Redis {
            op: RedisOp::GetHit,
            transport: Transport::Tcp,
            spacing: Spacing::BackToBack,
        };
        let mut rung = crate::record::rung::Rung {
            id,
            rung: id.name().to_string(),
            method: "GET".into(),
            samples: 1,
            p50_ns: 1000.0,
            p90_ns: 1000.0,
            p99_ns: 1000.0,
            max_ns: 1000.0,
            min_ns: 1000.0,
            mean_ns: 1000.0,
            note: None,
            caveat: None,
            counters: Default::default(),
            placement: None,
            no_irq_placement: None,
            storage_read_bytes: None,
            histogram: None,
        };
        rung.counters
            .insert("context-switches".into(), counted(1.0));
        rung.counters.insert(
            "cycles".into(),
            Reading::Unsupported {
                reason: "no such PMU".into(),
            },
        );
        let md = rungs_section(&[rung]);
        assert!(
            md.contains("| rung | method | context-switches/op |"),
            "{md}"
        );
        assert!(md.contains("| redis | GET | 1.0000 |"), "{md}");
        assert!(
            md.contains("Not available here: cycles (no such PMU)."),
            "{md}"
        );
        assert_eq!(rungs_section(&[]), "");
    }

    #[test]
    fn failed_cross_checks_become_warnings() {
        let run = fixture();
        let clock = run.host.clock_ghz.unwrap();
        let mem = with_hardware(run.memory.unwrap(), clock, 1.3);
        let warnings = sanity_warnings(&mem, Some(clock));
        assert!(
            warnings.iter().any(|w| w.contains("more than 10% apart")),
            "{warnings:?}"
        );
        assert!(section(&mem, Some(clock)).contains("- ⚠ "));
    }

    #[test]
    fn absent_counters_say_why_and_never_show_zero() {
        let run = fixture();
        let mut mem = run.memory.unwrap();
        mem.config.counters = vec!["cycles".into(), "task-clock".into()];
        for p in &mut mem.points {
            p.counters.clear();
            p.counters.insert(
                "cycles".into(),
                Reading::Unsupported {
                    reason: "no such PMU or event here".into(),
                },
            );
            p.counters.insert("task-clock".into(), counted(p.ns_median));
        }
        let md = section(&mem, run.host.clock_ghz);
        assert!(
            md.contains("cycles unsupported (no such PMU or event here)"),
            "{md}"
        );
        assert!(md.contains("| unsupported |"), "{md}");
        assert!(!md.contains("| 0.0000 |"), "{md}");
        assert!(
            md.contains("No hardware counter could be read here"),
            "{md}"
        );
        assert!(sanity_warnings(&mem, run.host.clock_ghz).is_empty());
    }
}
