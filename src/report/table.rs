//! The terminal summary printed at the end of a run.

use super::{host_line, level_rows, LEVEL_HEADER};
use crate::record::Run;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

/// The end-of-run summary: host line and the memory levels table.
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
    out
}
