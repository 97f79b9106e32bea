//! report.md: the run as a document people paste into their own reports.

use super::writer::Table;
use super::{
    caching_lines, comparison_lines, host_line, ladder_rows, level_rows, placement_lines,
    rung_notes, rung_rows, skipped_lines, LADDER_HEADER, LEVEL_HEADER, RUNG_HEADER,
};
use crate::record::Run;
use crate::units::{format_ns, format_size};
use std::fmt::Write;

/// A Markdown table (see [`Table`]).
pub(super) fn table<R: IntoIterator<Item = String>>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> String {
    Table::new(header.iter().copied()).rows(rows).markdown()
}

/// Renders report.md from the record alone.
pub fn markdown(run: &Run) -> String {
    let mut md = String::new();
    let h = &run.host;
    let _ = writeln!(md, "# latency-ladder run on {}\n", h.hostname);
    let _ = writeln!(
        md,
        "`ladder {}` · {} · ladder {} · {:.1} s\n",
        run.command, run.started_at, run.tool_version, run.wall_seconds
    );
    let _ = writeln!(md, "{}\n", host_line(run));
    if !run.ladder.is_empty() {
        let _ = writeln!(md, "## The lecture's table, measured\n");
        let _ = writeln!(
            md,
            "Each row: what the lecture claims, what this machine measured (p50 of a \
             distribution, or a memory level's plateau from the fastest trials), how, and the \
             ratio measured / claim.\n"
        );
        md.push_str(&table(&LADDER_HEADER, ladder_rows(run)));
        md.push('\n');
        for line in placement_lines(run)
            .into_iter()
            .chain(comparison_lines(run))
            .chain(caching_lines(run))
        {
            let _ = writeln!(md, "- {line}");
        }
        let _ = writeln!(md, "\n![The ladder: lecture vs measured](ladder.png)\n");
    }
    if !h.caches.is_empty() {
        let _ = writeln!(md, "Caches as sysfs reports them:\n");
        md.push_str(&table(
            &["cache", "size", "line", "shared by CPUs"],
            h.caches.iter().map(|c| {
                vec![
                    c.name(),
                    format_size(c.size_bytes),
                    format!("{} B", c.line_bytes),
                    c.shared_cpus.clone(),
                ]
            }),
        ));
        md.push('\n');
    }
    if let Some(mem) = &run.memory {
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
        md.push_str(&table(&LEVEL_HEADER, level_rows(mem, &run.host)));
        for line in super::memory_lines(mem, &run.host) {
            let _ = writeln!(md, "\n{line}");
        }
        let _ = writeln!(
            md,
            "\n<details><summary>All {} points</summary>\n",
            mem.points.len()
        );
        md.push_str(&table(
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
    }
    if let Some(c) = &run.cache_lab {
        md.push_str(&super::cache_lab::section(c));
    }
    if let Some(p) = &run.patterns {
        md.push_str(&super::patterns::section(p));
    }
    if let Some(c) = &run.cores {
        md.push_str(&super::cores::section(c, &run.host));
    }
    if let Some(h) = &run.http {
        md.push_str(&super::web::section(h));
    }
    if !run.rungs.is_empty() || !run.skipped.is_empty() {
        let _ = writeln!(md, "\n## Comparison rungs\n");
        let _ = writeln!(
            md,
            "Each row is a distribution of single operations (hdrhistogram), not a mean.\n"
        );
        md.push_str(&table(&RUNG_HEADER, rung_rows(&run.rungs)));
        md.push('\n');
        for line in rung_notes(&run.rungs)
            .into_iter()
            .chain(super::persistence::lines(&run.rungs))
            .chain(skipped_lines(run))
        {
            let _ = writeln!(md, "- {line}");
        }
        md.push_str(&super::counters::rungs_section(&run.rungs));
    }
    if let Some(load) = &run.load {
        let _ = writeln!(
            md,
            "\n## Load at a fixed rate\n\nOpen-loop: each request has an intended start; \
             latency counts from it (coordinated omission corrected), the uncorrected p99 \
             (from the actual send) beside it. Server CPU from /proc of the servers we \
             started.\n"
        );
        md.push_str(&table(
            &super::load::HEADER,
            super::load::rows(load).into_iter().map(|r| r.to_vec()),
        ));
        md.push('\n');
        for line in super::load::lines(load) {
            let _ = writeln!(md, "- {}", line.trim_start());
        }
        if load.runs.iter().any(|r| !r.per_second.is_empty()) {
            let _ = writeln!(md, "\n![load over time](load.png)");
        }
        if !super::load::rate_curves(load).is_empty() {
            let _ = writeln!(md, "\n![latency against rate](load-rate.png)");
        }
    }
    md
}

/// compare.md: the side-by-side table of several runs.
pub fn compare_markdown(runs: &[super::compare::Named]) -> String {
    let table = super::compare::compare_table(runs);
    let mut md = String::from("# latency-ladder comparison\n\n");
    for r in runs {
        let _ = writeln!(md, "- **{}**: {}", r.name, host_line(&r.run));
    }
    md.push('\n');
    md.push_str(&table.markdown());
    md.push_str("\nMemory levels are plateau latencies (fastest trials); ladder rows are p50s.\n");
    md
}
