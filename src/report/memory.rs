//! The memory hierarchy section: the levels found on the latency curve (each compared
//! with sysfs and with what its microarchitecture documents), what a reader needs to know
//! beside them, every point, the counters, memory.csv and the latency chart.

use super::writer::{md_table, Table};
use super::Section;
use crate::error::{Error, Result};
use crate::plot::Labelled;
use crate::record::host::Host;
use crate::record::memory::Level;
use crate::record::memory::MemorySection;
use crate::record::Run;
use crate::units::{format_ns, format_size};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The memory hierarchy section.
pub struct MemoryHierarchy;

impl Section for MemoryHierarchy {
    fn present(&self, run: &Run) -> bool {
        run.memory.is_some()
    }

    fn terminal(&self, run: &Run) -> String {
        let Some(mem) = &run.memory else {
            return String::new();
        };
        let mut out = format!(
            "memory: {} points, {} order, {}\n{}\n",
            mem.points.len(),
            mem.config.order,
            run.host.pinned_to(mem.config.cpu),
            Table::new(LEVEL_HEADER).rows(level_rows(mem, &run.host))
        );
        for line in memory_lines(mem, &run.host) {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    fn markdown(&self, run: &Run) -> String {
        let Some(mem) = &run.memory else {
            return String::new();
        };
        let mut md = String::new();
        let c = &mem.config;
        let _ = writeln!(md, "## Memory hierarchy\n");
        let _ = writeln!(
            md,
            "Pointer chase, {} order, {}-byte nodes{}, {} to {} at {} points per octave, \
             {} trials of at least {} ms per point {}, {}. Latency is the fastest trial of \
             the rounds that agree; levels are found from the curve alone and only then \
             compared with sysfs.\n",
            c.order,
            c.node_bytes,
            if c.node_bytes_assumed {
                " (assumed: the line size is unknown)"
            } else {
                ""
            },
            format_size(c.min_bytes),
            format_size(c.max_bytes),
            c.per_octave,
            c.trials,
            c.min_trial_ms,
            match c.rounds {
                0 | 1 => "in one round".to_string(),
                n => format!("spread over {n} rounds"),
            },
            run.host.pinned_to(c.cpu)
        );
        let _ = writeln!(md, "![Latency curve](latency.png)\n");
        md.push_str(&md_table(&LEVEL_HEADER, level_rows(mem, &run.host)));
        for line in memory_lines(mem, &run.host) {
            let _ = writeln!(md, "\n{line}");
        }
        let _ = writeln!(
            md,
            "\n<details><summary>All {} points</summary>\n",
            mem.points.len()
        );
        md.push_str(&md_table(
            &[
                "size", "pages", "min", "median", "p99", "cv", "cycles", "rounds",
            ],
            mem.points.iter().map(|p| {
                vec![
                    format_size(p.size_bytes),
                    p.pages.to_string(),
                    format_ns(p.ns_per_access),
                    format_ns(p.ns_median),
                    format_ns(p.ns_p99),
                    format!("{:.1}%", p.cv * 100.0),
                    p.cycles_per_access
                        .map(|c| format!("{c:.1}"))
                        .unwrap_or_else(|| "—".into()),
                    match (p.round_spread, p.unstable) {
                        (Some(s), true) => format!("{:.0}% apart, unstable", s * 100.0),
                        (Some(s), false) => format!("{:.0}% apart", s * 100.0),
                        (None, _) => "—".into(),
                    },
                ]
            }),
        ));
        md.push_str("\n</details>\n");
        md.push_str(&super::counters::section(mem, run.host.clock_ghz));
        md
    }

    fn files(&self, run: &Run) -> Result<Vec<(&'static str, Vec<u8>)>> {
        run.memory
            .as_ref()
            .map_or(Ok(Vec::new()), |m| Ok(vec![("memory.csv", memory_csv(m)?)]))
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        let one = [Labelled {
            label: String::new(),
            run,
        }];
        crate::plot::memory::latency_chart(&one, dir, "latency")
    }

    /// One row per level name any run found: its plateau latency in each.
    fn compare_rows(&self, runs: &[&Run]) -> Vec<Vec<String>> {
        let mut names = Vec::new();
        for r in runs {
            for l in r.memory.iter().flat_map(|m| m.levels.iter()) {
                if !names.contains(&l.name) {
                    names.push(l.name);
                }
            }
        }
        names
            .into_iter()
            .map(|name| {
                std::iter::once(format!("{name} latency"))
                    .chain(runs.iter().map(|r| {
                        r.memory
                            .iter()
                            .flat_map(|m| m.levels.iter())
                            .find(|l| l.name == name && l.detected)
                            .and_then(|l| l.latency_ns)
                            .map_or_else(|| "—".into(), format_ns)
                    }))
                    .collect()
            })
            .collect()
    }
}

/// A sentence comparing a detected level with what sysfs reports and with what its
/// microarchitecture documents. A capacity within one grid step (of a grid with
/// `per_octave` points per octave) of the grid point nearest the sysfs size is a match:
/// the grid cannot say more.
pub fn level_note(level: &Level, mem: &MemorySection, host: &Host) -> String {
    let mut note = size_note(level, mem, host);
    if let Some(doubt) = level.doubt {
        note.push_str("; ");
        note.push_str(&doubt_note(level, doubt, host));
    }
    note
}

fn size_note(level: &Level, mem: &MemorySection, host: &Host) -> String {
    if !level.detected {
        return "not detected: the curve shows no plateau for this level".into();
    }
    if level.is_ram() {
        return "the plateau past the last cache".into();
    }
    let (Some(sysfs), Some(found)) = (level.sysfs_size_bytes, level.size_bytes) else {
        return match (level.sysfs_size_bytes, level.plateau_bytes) {
            (Some(_), Some((_, end))) => format!(
                "plateau runs to the end of the sweep ({}); capacity not bounded",
                format_size(end)
            ),
            _ => "sysfs does not report this level".into(),
        };
    };
    let octaves = (found as f64 / sysfs as f64).log2();
    let step = 1.0 / f64::from(mem.config.per_octave.max(1));
    if octaves.abs() <= 1.5 * step + 1e-9 {
        "matches sysfs".into()
    } else if octaves < 0.0 {
        format!(
            "effective capacity {} is {:.1}x smaller than sysfs says ({}): {}",
            format_size(found),
            2f64.powf(-octaves),
            format_size(sysfs),
            smaller_because(level, mem, host)
        )
    } else {
        format!(
            "plateau reaches {}, {:.1}x past the sysfs size ({}): a prefetcher or the next \
             level hides the edge",
            format_size(found),
            2f64.powf(octaves),
            format_size(sysfs)
        )
    }
}

/// Which of the measurable causes of a cache smaller than sysfs apply to this run.
fn smaller_because(level: &Level, mem: &MemorySection, host: &Host) -> String {
    let mut causes = Vec::new();
    let level_no = match level.name {
        crate::record::memory::LevelName::Cache(n) => u32::from(n),
        _ => 0,
    };
    let shared = host
        .caches
        .iter()
        .find(|c| c.level == level_no && c.holds_data())
        .map(|c| c.shared_cpus.as_str())
        .filter(|cpus| crate::units::parse_cpu_list(cpus).is_some_and(|l| l.len() > 1));
    if let Some(cpus) = shared {
        causes.push(format!("it is shared by CPUs {cpus}"));
    }
    if host.virtualized {
        causes.push("this is a VM, so CPUs of other guests share the physical cache too".into());
    }
    if let Some(steal) = mem
        .disturbance
        .as_ref()
        .and_then(|d| d.steal_fraction)
        .filter(|&f| f >= 0.01)
    {
        causes.push(format!(
            "the hypervisor took {:.0}% of the measuring CPU (steal)",
            steal * 100.0
        ));
    }
    if causes.is_empty() {
        "nothing this run can see explains it (a busy SMT sibling or a partitioned cache \
         can)"
            .into()
    } else {
        causes.join("; ")
    }
}

/// The doubt the microarchitecture's documented cycles cast on a level, in words.
fn doubt_note(level: &Level, doubt: crate::record::memory::LevelDoubt, host: &Host) -> String {
    use crate::record::memory::LevelDoubt;
    let uarch = host.uarch.as_deref().unwrap_or("this CPU");
    let cycles = level.latency_cycles.unwrap_or(0.0);
    match doubt {
        LevelDoubt::FarFromDocumented => format!(
            "{cycles:.1} cycles is far from every level {uarch} documents: likely a stretch of \
             a transition or partial hits in a cache others share, not the cache itself"
        ),
        LevelDoubt::NearerTo { level: other } => format!(
            "{cycles:.1} cycles matches the {other} that {uarch} documents better than its \
             {}",
            level.name
        ),
    }
}

/// A level's cycles with what its microarchitecture documents: "12.6 (Zen 3: 12)".
fn cycles_cell(level: &Level, host: &Host) -> String {
    let Some(c) = level.latency_cycles else {
        return "—".into();
    };
    // The short name: "Emerald Rapids", not "Emerald Rapids (Raptor Cove)".
    let short = host
        .uarch
        .as_deref()
        .map(|u| u.split(" (").next().unwrap_or(u));
    match (level.documented_cycles, short) {
        (Some((lo, hi)), Some(u)) if lo == hi => format!("{c:.1} ({u}: {lo})"),
        (Some((lo, hi)), Some(u)) => format!("{c:.1} ({u}: {lo}-{hi})"),
        _ => format!("{c:.1}"),
    }
}

/// L1 latencies in cycles further than this from a whole number point at a disturbed
/// clock calibration (a load-to-use latency is a whole number of cycles).
const CYCLES_OFF_WHOLE: f64 = 0.15;

/// What else a reader of the memory section needs to know, one sentence each: how much
/// the hypervisor took, which stretches of the curve were unstable between rounds,
/// which capacities moved between rounds, whether the sweep reached RAM, and whether
/// the L1 cycle count suggests a disturbed clock.
pub fn memory_lines(mem: &MemorySection, host: &Host) -> Vec<String> {
    let mut lines = Vec::new();
    let c = &mem.config;
    if let Some(d) = &mem.disturbance {
        let steal = d
            .steal_fraction
            .map_or("an unknown share".into(), |f| format!("{:.1}%", f * 100.0));
        let switches = d
            .involuntary_switches
            .map_or("an unknown number of".into(), |n| n.to_string());
        lines.push(format!(
            "The hypervisor took {steal} of CPU {} during the sweep (steal time); the \
             measuring thread was descheduled {switches} times against its will.",
            c.cpu
        ));
    }
    for &pages in &c.pages {
        let series: Vec<&crate::record::memory::MemoryPoint> = mem.series(pages).collect();
        let stretches: Vec<String> = series
            .chunk_by(|a, b| a.unstable == b.unstable)
            .filter(|s| s[0].unstable)
            .map(|stretch| {
                let worst = stretch
                    .iter()
                    .filter_map(|p| p.round_spread)
                    .fold(0f64, f64::max);
                let (first, last) = (stretch[0].size_bytes, stretch[stretch.len() - 1].size_bytes);
                if first == last {
                    format!("{} ({:.0}%)", format_size(first), worst * 100.0)
                } else {
                    format!(
                        "{} to {} (up to {:.0}%)",
                        format_size(first),
                        format_size(last),
                        worst * 100.0
                    )
                }
            })
            .collect();
        if !stretches.is_empty() {
            lines.push(format!(
                "Unstable ({pages} pages), where the rounds differ beyond their own noise: {}; \
                 the figures there come from the rounds that agree.",
                stretches.join(", ")
            ));
        }
    }
    for l in mem.levels.iter().filter(|l| l.varies(c.per_octave, 1.5)) {
        if let Some((lo, hi)) = l.size_range_bytes {
            lines.push(format!(
                "{} capacity varies between rounds: {} to {} (a cache shared with other \
                 tenants, or pages placed differently each round).",
                l.name,
                format_size(lo),
                format_size(hi)
            ));
        }
    }
    let llc = host.last_level_cache_bytes();
    let ram_found = mem.levels.iter().any(|l| l.is_ram() && l.detected);
    if !ram_found && !crate::record::memory::reaches_past_caches(c.max_bytes, llc) {
        lines.push(match llc {
            Some(llc) => format!(
                "RAM not reached: the sweep ended at {}, short of twice the last-level cache \
                 ({} by sysfs); raise --max to measure it.",
                format_size(c.max_bytes),
                format_size(llc)
            ),
            None => format!(
                "RAM not found: the sweep ended at {} and the host reports no cache sizes.",
                format_size(c.max_bytes)
            ),
        });
    }
    if let Some(cycles) = mem
        .levels
        .iter()
        .find(|l| l.name == crate::record::memory::LevelName::L1D)
        .and_then(|l| l.latency_cycles)
    {
        if (cycles - cycles.round()).abs() > CYCLES_OFF_WHOLE {
            lines.push(format!(
                "L1d reads {cycles:.2} cycles, far from a whole number: the clock calibration \
                 was probably disturbed (its trials spread {}); trust the ns figures.",
                host.clock_spread
                    .map_or("by an unknown amount".into(), |s| format!(
                        "by {:.1}%",
                        s * 100.0
                    ))
            ));
        }
    }
    lines
}

/// What `ladder report --reanalyse` changed, one line per level: "L2: 10.6 ns (609
/// KiB) -> 4.26 ns (220 KiB)", "L1d: unchanged (1.36 ns)".
pub fn level_changes(before: &[Level], after: &[Level]) -> Vec<String> {
    let show = |l: Option<&Level>| match l.filter(|l| l.detected) {
        None => "not detected".to_string(),
        Some(l) => {
            let ns = l
                .latency_ns
                .map(crate::units::format_ns)
                .unwrap_or_default();
            match l.size_bytes {
                Some(b) => format!("{ns} ({})", format_size(b)),
                None => ns,
            }
        }
    };
    let mut keys: Vec<(
        Option<crate::record::memory::PageKind>,
        crate::record::memory::LevelName,
    )> = Vec::new();
    for l in before.iter().chain(after) {
        if !keys.contains(&(l.pages, l.name)) {
            keys.push((l.pages, l.name));
        }
    }
    keys.into_iter()
        .map(|(pages, name)| {
            let find = |ls: &[Level]| -> Option<Level> {
                ls.iter()
                    .find(|l| l.pages == pages && l.name == name)
                    .cloned()
            };
            let (old, new) = (show(find(before).as_ref()), show(find(after).as_ref()));
            let label = match pages {
                Some(p) => format!("{name} ({p} pages)"),
                None => name.to_string(),
            };
            if old == new {
                format!("{label}: unchanged, {new}")
            } else {
                format!("{label}: {old} -> {new}")
            }
        })
        .collect()
}

/// Header of the levels table.
pub const LEVEL_HEADER: [&str; 7] = [
    "level",
    "pages",
    "latency",
    "cycles",
    "detected size",
    "sysfs size",
    "note",
];

/// One row per detected (or missing) level: the table shared by the terminal and
/// report.md.
pub fn level_rows(mem: &MemorySection, host: &Host) -> Vec<[String; 7]> {
    let dash = || "—".to_string();
    mem.levels
        .iter()
        .map(|l| {
            [
                l.name.to_string(),
                l.pages.map(|p| p.to_string()).unwrap_or_else(dash),
                l.latency_ns
                    .map(crate::units::format_ns)
                    .unwrap_or_else(dash),
                cycles_cell(l, host),
                l.size_bytes.map(format_size).unwrap_or_else(dash),
                l.sysfs_size_bytes.map(format_size).unwrap_or_else(dash),
                level_note(l, mem, host),
            ]
        })
        .collect()
}

/// `memory.csv`: size_bytes, pages, pages_requested, ns_per_access, ns_median, ns_p99,
/// cv, cycles_per_access, huge_fraction, round_spread, unstable, then
/// `<counter>_per_access` for each perf counter (a number, or unsupported / not
/// permitted / not counted).
pub fn memory_csv(mem: &MemorySection) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::Internal(format!("cannot write memory.csv: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "size_bytes",
        "pages",
        "pages_requested",
        "ns_per_access",
        "ns_median",
        "ns_p99",
        "cv",
        "cycles_per_access",
        "huge_fraction",
        "round_spread",
        "unstable",
    ]
    .map(String::from)
    .to_vec();
    header.extend(
        mem.config
            .counters
            .iter()
            .map(|c| format!("{c}_per_access")),
    );
    w.write_record(&header).map_err(err)?;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for p in &mem.points {
        let mut row = vec![
            p.size_bytes.to_string(),
            p.pages.to_string(),
            p.pages_requested.to_string(),
            format!("{:.4}", p.ns_per_access),
            format!("{:.4}", p.ns_median),
            format!("{:.4}", p.ns_p99),
            format!("{:.4}", p.cv),
            opt(p.cycles_per_access),
            opt(p.huge_fraction),
            opt(p.round_spread),
            p.unstable.to_string(),
        ];
        row.extend(mem.config.counters.iter().map(|c| {
            p.counters.get(c).map_or_else(String::new, |r| match r {
                crate::counters::Reading::Counted { per_access, .. } => format!("{per_access:.6}"),
                other => other.cell(),
            })
        }));
        w.write_record(&row).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write memory.csv: {e}")))
}
