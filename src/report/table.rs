//! The terminal summary printed at the end of a run.

use super::{host_line, level_rows, rung_rows, skipped_lines, LEVEL_HEADER, RUNG_HEADER};
use crate::record::Run;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

/// The end-of-run summary: host line, the memory levels table, the comparison rungs
/// and what was skipped.
pub fn terminal(run: &Run) -> String {
    let mut out = format!("{}\n", host_line(run));
    if let Some(mem) = &run.memory {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(LEVEL_HEADER);
        for row in level_rows(mem) {
            t.add_row(row);
        }
        out.push_str(&format!(
            "memory: {} points, {} order, pinned to CPU {}\n{t}\n",
            mem.points.len(),
            mem.config.order,
            mem.config.cpu
        ));
    }
    if !run.rungs.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(RUNG_HEADER);
        for row in rung_rows(&run.rungs) {
            t.add_row(row);
        }
        out.push_str(&format!("comparison rungs:\n{t}\n"));
    }
    for line in skipped_lines(run) {
        out.push_str(&format!("skipped {line}\n"));
    }
    out
}
