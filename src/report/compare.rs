//! `ladder compare`: several runs side by side — the memory levels and the ladder rows
//! as one table, and the curves and ladders overlaid in one picture each.

use super::writer::Table;
use crate::record::Run;
use crate::units::format_ns;

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
    let mut rows: Vec<Vec<String>> = Vec::new();
    let cell = |v: Option<f64>| v.map(format_ns).unwrap_or_else(|| "—".into());

    rows.push(
        std::iter::once("CPU".to_string())
            .chain(runs.iter().map(|r| {
                let h = &r.run.host;
                let model = h.cpu_model.clone().unwrap_or_else(|| "unknown".into());
                match &h.uarch {
                    Some(u) => format!("{model} ({u})"),
                    None => model,
                }
            }))
            .collect(),
    );
    let mut level_names = Vec::new();
    for r in runs {
        for l in r.run.memory.iter().flat_map(|m| m.levels.iter()) {
            if !level_names.contains(&l.name) {
                level_names.push(l.name);
            }
        }
    }
    for name in &level_names {
        let mut row = vec![format!("{name} latency")];
        row.extend(runs.iter().map(|r| {
            cell(
                r.run
                    .memory
                    .iter()
                    .flat_map(|m| m.levels.iter())
                    .find(|l| &l.name == name && l.detected)
                    .and_then(|l| l.latency_ns),
            )
        }));
        rows.push(row);
    }
    let mut rungs = Vec::new();
    for r in runs {
        // The memory rows of the ladder repeat the levels above.
        for l in r
            .run
            .ladder
            .iter()
            .filter(|l| l.p99_ns.is_some() || l.median_ns.is_none())
        {
            if !rungs.contains(&l.key) {
                rungs.push(l.key);
            }
        }
    }
    for key in rungs {
        let mut row = vec![format!("{} p50", key.name())];
        row.extend(runs.iter().map(|r| {
            cell(
                r.run
                    .ladder
                    .iter()
                    .find(|l| l.key == key)
                    .and_then(|l| l.measured_ns),
            )
        }));
        rows.push(row);
    }
    let cores: Vec<_> = runs.iter().map(|r| &r.run.cores).collect();
    rows.extend(super::cores::compare_rows(&cores));
    Table::new(header).rows(rows)
}
