//! `ladder compare`: several runs side by side — the memory levels and the ladder rows
//! as one table, and the curves and ladders overlaid in one picture each.

use super::writer::Table;
use crate::record::Run;
use std::fmt::Write;

/// A run and the name it goes by in the comparison (its folder name).
pub struct Named {
    /// Column title.
    pub name: String,
    /// The record.
    pub run: Run,
}

/// The side-by-side table: a header (what, then one column per run) and rows.
pub fn compare_table(runs: &[Named]) -> Table {
    let mut header = vec!["what".to_string()];
    header.extend(runs.iter().map(|r| r.name.clone()));
    let records: Vec<&Run> = runs.iter().map(|r| &r.run).collect();
    Table::new(header).rows(super::section::compare_rows(&records))
}

/// compare.md: each run's host line, then the table.
pub fn compare_markdown(runs: &[Named]) -> String {
    let mut md = String::from("# latency-ladder comparison\n\n");
    for r in runs {
        let _ = writeln!(md, "- **{}**: {}", r.name, super::host::host_line(&r.run));
    }
    md.push('\n');
    md.push_str(&compare_table(runs).markdown());
    md.push_str("\nMemory levels are plateau latencies (fastest trials); ladder rows are p50s.\n");
    md
}
