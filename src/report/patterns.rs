//! The access-pattern section (`ladder stride`) of report.md and the terminal.

use super::writer::terminal_block;
use super::writer::Table;
use super::Section;
use crate::error::Result;
use crate::record::memory::{LevelName, PageKind, PagesObtained};
use crate::record::patterns::{PatternsSection, StridePoint};
use crate::record::Run;
use crate::units::{format_ns, format_size};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The access-patterns section.
pub struct AccessPatterns;

impl Section for AccessPatterns {
    fn present(&self, run: &Run) -> bool {
        run.patterns.is_some()
    }

    fn terminal(&self, run: &Run) -> String {
        run.patterns.as_ref().map_or_else(String::new, |p| {
            terminal_block("access patterns:", headline(p).into_iter().chain(notes(p)))
        })
    }

    fn markdown(&self, run: &Run) -> String {
        run.patterns.as_ref().map_or_else(String::new, section)
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        run.patterns.as_ref().map_or(Ok(Vec::new()), |p| {
            crate::plot::patterns::pattern_charts(p, dir)
        })
    }
}

/// The headline figures, one line each (terminal and report).
pub fn headline(p: &PatternsSection) -> Vec<String> {
    let ns = |v: Option<f64>| v.map_or("not measured".to_string(), format_ns);
    let mut lines = vec![
        format!(
            "line size: {} (sysfs: {})",
            p.line_size_bytes
                .map_or("not detected".into(), |l| format!("{l} B")),
            p.sysfs_line_bytes
                .map_or("unknown".into(), |l| format!("{l} B"))
        ),
        format!(
            "page-walk penalty (random minus TLB-local): {} with 4 KiB pages, {} with 2 MiB pages",
            ns(p.tlb_penalty_ns),
            ns(p.tlb_penalty_2m_ns)
        ),
        format!(
            "misses in flight at RAM with 16 chains: {}",
            p.misses_in_flight
                .map_or("not measured".into(), |m| format!("{m:.1}"))
        ),
    ];
    lines.extend(p.bandwidth.iter().map(|b| {
        format!(
            "read bandwidth {} ({}): {:.1} GB/s{} with {:?} loads, {} pages",
            b.level,
            format_size(b.size_bytes),
            b.read_gbps,
            b.bytes_per_cycle
                .map_or(String::new(), |c| format!(", {c:.1} B/cycle")),
            b.isa,
            b.pages
        )
    }));
    lines
}

/// What the figures show, one sentence each, worded from the record alone (so
/// `ladder report` re-words an old run): the line size against sysfs, what 2 MiB pages
/// do to the page-walk penalty, how much of the RAM latency the prefetcher hides, and
/// why loaded latency is missing where it is.
pub fn notes(p: &PatternsSection) -> Vec<String> {
    let mut notes = Vec::new();
    match (p.line_size_bytes, p.sysfs_line_bytes) {
        (Some(l), Some(s)) if l == s => notes.push(format!("line size {l} B, as sysfs says")),
        (Some(l), Some(s)) => notes.push(format!("line size {l} B detected; sysfs says {s} B")),
        (None, _) => notes.push("the line probe shows no step: line size not detected".into()),
        (Some(l), None) => notes.push(format!("line size {l} B (sysfs does not say)")),
    }
    if let (Some(small), Some(huge)) = (p.tlb_penalty_ns, p.tlb_penalty_2m_ns) {
        let huge_obtained = p
            .tlb
            .orders
            .iter()
            .filter(|t| t.pages == PageKind::Huge)
            .all(|t| t.pages_obtained == PagesObtained::Huge);
        if !huge_obtained {
            notes.push(
                "2 MiB pages could not be had for every TLB chain (THP refused or fragmented \
                 memory)"
                    .into(),
            );
        }
        if huge > 0.5 * small {
            notes.push(format!(
                "2 MiB pages do not remove the random-order penalty here ({huge:.0} ns of {small:.0} ns \
                 remains): in a guest the host may back memory with 4 KiB pages, so the combined \
                 translation is still cached per 4 KiB; part of the gap can also be DRAM row \
                 locality, which the TLB-local order keeps and a fully random one loses"
            ));
        } else {
            notes.push(format!(
                "2 MiB pages cut the page-walk penalty from {small:.0} ns to {huge:.0} ns"
            ));
        }
    }
    if let Some(ram) = p.stride.iter().find(|s| s.set.level == LevelName::Ram) {
        let hidden = |q: &StridePoint| 1.0 - q.sequential_ns / q.random_ns;
        let line = p.line_size_bytes.unwrap_or(64);
        if let Some(at_line) = ram.points.iter().find(|q| q.stride_bytes == line) {
            let reach = ram
                .points
                .iter()
                .filter(|q| hidden(q) >= 0.5)
                .map(|q| q.stride_bytes)
                .max();
            notes.push(format!(
                "in RAM the prefetcher hides {:.0}% of the latency at a {} B stride ({:.1} ns in \
                 address order against {:.0} ns in random order){}",
                hidden(at_line) * 100.0,
                at_line.stride_bytes,
                at_line.sequential_ns,
                at_line.random_ns,
                reach.map_or(String::new(), |r| format!(
                    ", and at least half of it up to a {r} B stride"
                ))
            ));
        }
    }
    if p.loaded.is_empty() {
        notes.push("loaded latency needs a second CPU; this host has one".into());
    }
    notes
}

/// Appends a Markdown table and a blank line.
fn table(md: &mut String, header: Vec<String>, rows: Vec<Vec<String>>) {
    md.push_str(&Table::new(header).rows(rows).markdown());
    md.push('\n');
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The markdown section.
pub fn section(p: &PatternsSection) -> String {
    let mut md = String::from("\n## Access patterns\n\n");
    for line in headline(p) {
        let _ = writeln!(md, "- {line}");
    }
    for note in notes(p) {
        let _ = writeln!(md, "- {note}");
    }

    let _ = writeln!(
        md,
        "\n### Stride\n\nns per access of a dependent chase over nodes one stride apart: in \
         address order (a prefetcher can follow it) and in random order (it cannot).\n\n\
         ![Stride](stride.png)\n"
    );
    let mut header = vec!["stride".to_string()];
    for s in &p.stride {
        header.push(format!(
            "{} {} sequential",
            s.set.level,
            format_size(s.set.size_bytes)
        ));
        header.push("random".into());
    }
    let rows = p
        .stride
        .first()
        .map(|first| {
            (0..first.points.len())
                .map(|i| {
                    let mut row = vec![format!("{} B", first.points[i].stride_bytes)];
                    for s in &p.stride {
                        row.push(format_ns(s.points[i].sequential_ns));
                        row.push(format_ns(s.points[i].random_ns));
                    }
                    row
                })
                .collect()
        })
        .unwrap_or_default();
    table(&mut md, header, rows);

    let _ = writeln!(
        md,
        "Line probe: a load at base + offset and one at base in each of a set of pages \
         sized so that one line per page fits in L1 and two do not; the pair cost steps up \
         at the first offset that leaves the line.\n"
    );
    table(
        &mut md,
        strings(&["offset", "ns per pair"]),
        p.line_probe
            .iter()
            .map(|q| vec![format!("{} B", q.offset_bytes), format_ns(q.ns_per_pair)])
            .collect(),
    );

    let _ = writeln!(md, "### Bandwidth\n");
    table(
        &mut md,
        strings(&[
            "level",
            "working set",
            "read GB/s",
            "bytes/cycle",
            "loads",
            "pages",
        ]),
        p.bandwidth
            .iter()
            .map(|b| {
                vec![
                    b.level.to_string(),
                    format_size(b.size_bytes),
                    format!("{:.1}", b.read_gbps),
                    b.bytes_per_cycle.map_or("—".into(), |c| format!("{c:.1}")),
                    format!("{:?}", b.isa),
                    b.pages.to_string(),
                ]
            })
            .collect(),
    );

    let _ = writeln!(md, "### TLB\n");
    table(
        &mut md,
        strings(&[
            "order",
            "pages asked",
            "pages obtained",
            "working set",
            "ns/access",
        ]),
        p.tlb
            .orders
            .iter()
            .map(|t| {
                vec![
                    t.order.to_string(),
                    t.pages.to_string(),
                    t.pages_obtained.to_string(),
                    format_size(t.size_bytes),
                    format_ns(t.ns_per_access),
                ]
            })
            .collect(),
    );
    let _ = writeln!(
        md,
        "One access per 4 KiB page against the same lines packed into few pages; the \
         difference is the TLB's share. Steps at: {}.\n",
        if p.tlb.reach_entries.is_empty() {
            "none found".to_string()
        } else {
            p.tlb
                .reach_entries
                .iter()
                .map(|e| format!("{e} pages (reach {})", format_size(e * 4096)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    table(
        &mut md,
        strings(&["pages", "spread", "packed", "TLB share"]),
        p.tlb
            .per_page
            .iter()
            .map(|q| {
                vec![
                    q.pages.to_string(),
                    format_ns(q.ns_per_access),
                    format_ns(q.packed_ns),
                    format_ns(q.tlb_ns),
                ]
            })
            .collect(),
    );

    let _ = writeln!(
        md,
        "### Parallel chains\n\nIndependent chains interleaved in one loop; misses in flight = \
         one chain's latency / time per access (Little's law).\n\n![Parallel chains](parallel.png)\n"
    );
    table(
        &mut md,
        strings(&["level", "chains", "ns/access", "misses in flight"]),
        p.parallel
            .iter()
            .map(|q| {
                vec![
                    format!("{} ({})", q.level, format_size(q.size_bytes)),
                    q.chains.to_string(),
                    format_ns(q.ns_per_access),
                    format!("{:.1}", q.misses_in_flight),
                ]
            })
            .collect(),
    );

    let _ = writeln!(md, "### Loaded latency\n");
    if p.loaded.is_empty() {
        let _ = writeln!(md, "Not measured: it needs a second CPU.\n");
    } else {
        let _ = writeln!(
            md,
            "The RAM chase on one CPU while another streams reads for a share of the time.\n"
        );
        table(
            &mut md,
            strings(&["background duty", "background GB/s", "chase latency"]),
            p.loaded
                .iter()
                .map(|q| {
                    vec![
                        format!("{:.0}%", q.intensity * 100.0),
                        format!("{:.1}", q.background_gbps),
                        format_ns(q.latency_ns),
                    ]
                })
                .collect(),
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section as an older ladder wrote it, with its sentences in `notes`.
    const OLD: &str = r#"{
        "line_size_bytes": 64, "sysfs_line_bytes": 64,
        "tlb_penalty_ns": 40.0, "tlb_penalty_2m_ns": 5.0, "misses_in_flight": 6.0,
        "stride": [{"set": {"level": "RAM", "size_bytes": 67108864}, "points": [
            {"stride_bytes": 64, "sequential_ns": 10.0, "random_ns": 100.0},
            {"stride_bytes": 128, "sequential_ns": 60.0, "random_ns": 100.0}]}],
        "line_probe": [], "bandwidth": [],
        "tlb": {"orders": [], "per_page": [], "reach_entries": []},
        "parallel": [], "loaded": [],
        "notes": ["a sentence an older version wrote"]
    }"#;

    #[test]
    fn an_old_section_loads_and_is_reworded_from_its_figures() {
        let p: PatternsSection = serde_json::from_str(OLD).unwrap();
        assert_eq!(
            notes(&p),
            [
                "line size 64 B, as sysfs says",
                "2 MiB pages cut the page-walk penalty from 40 ns to 5 ns",
                "in RAM the prefetcher hides 90% of the latency at a 64 B stride (10.0 ns in \
                 address order against 100 ns in random order), and at least half of it up to a \
                 64 B stride",
                "loaded latency needs a second CPU; this host has one",
            ]
        );
        let md = section(&p);
        assert!(md.contains("- line size 64 B, as sysfs says"), "{md}");
        assert!(!md.contains("older version"), "{md}");
    }
}
