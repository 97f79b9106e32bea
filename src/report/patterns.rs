//! The access-pattern section (`ladder stride`) of report.md and the terminal.

use crate::memory::patterns::PatternsSection;
use crate::units::{format_ns, format_size};
use std::fmt::Write;

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

fn table(md: &mut String, header: &[String], rows: Vec<Vec<String>>) {
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let _ = writeln!(md, "|{}", " --- |".repeat(header.len()));
    for r in rows {
        let _ = writeln!(md, "| {} |", r.join(" | "));
    }
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
    for note in &p.notes {
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
    table(&mut md, &header, rows);

    let _ = writeln!(
        md,
        "Line probe: a load at base + offset and one at base in each of a set of pages \
         sized so that one line per page fits in L1 and two do not; the pair cost steps up \
         at the first offset that leaves the line.\n"
    );
    table(
        &mut md,
        &strings(&["offset", "ns per pair"]),
        p.line_probe
            .iter()
            .map(|q| vec![format!("{} B", q.offset_bytes), format_ns(q.ns_per_pair)])
            .collect(),
    );

    let _ = writeln!(md, "### Bandwidth\n");
    table(
        &mut md,
        &strings(&[
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
                    b.level.clone(),
                    format_size(b.size_bytes),
                    format!("{:.1}", b.read_gbps),
                    b.bytes_per_cycle.map_or("—".into(), |c| format!("{c:.1}")),
                    format!("{:?}", b.isa),
                    b.pages.clone(),
                ]
            })
            .collect(),
    );

    let _ = writeln!(md, "### TLB\n");
    table(
        &mut md,
        &strings(&[
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
                    t.pages_obtained.clone(),
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
        &strings(&["pages", "spread", "packed", "TLB share"]),
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
        &strings(&["level", "chains", "ns/access", "misses in flight"]),
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
            &strings(&["background duty", "background GB/s", "chase latency"]),
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
