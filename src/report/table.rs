//! The terminal summary printed at the end of a run.

use super::writer::Table;
use super::{
    caching_lines, comparison_lines, host_line, ladder_rows, level_rows, placement_lines,
    rung_notes, rung_rows, skipped_lines, LADDER_HEADER, LEVEL_HEADER, RUNG_HEADER,
};
use crate::record::Run;
use std::fmt::Write;

/// A terminal table (see [`Table`]).
fn table<const N: usize>(header: [&str; N], rows: Vec<[String; N]>) -> Table {
    Table::new(header).rows(rows)
}

/// The end-of-run summary: host line, memory levels, comparison rungs, the ladder.
pub fn terminal(run: &Run) -> String {
    let mut out = format!("{}\n", host_line(run));
    if let Some(mem) = &run.memory {
        let _ = writeln!(
            out,
            "memory: {} points, {} order, {}\n{}",
            mem.points.len(),
            mem.config.order,
            run.host.pinned_to(mem.config.cpu),
            table(LEVEL_HEADER, level_rows(mem, &run.host))
        );
        for line in super::memory_lines(mem, &run.host) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(p) = &run.patterns {
        let _ = writeln!(out, "access patterns:");
        for line in super::patterns::headline(p)
            .into_iter()
            .chain(super::patterns::notes(p))
        {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(c) = &run.cores {
        let _ = writeln!(out, "between the cores:");
        for line in super::cores::headline(c, &run.host) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(h) = &run.http {
        let _ = writeln!(out, "the web's caches:");
        for line in super::web::headline(h) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(c) = &run.cache_lab {
        let _ = writeln!(out, "cache-lab:");
        for line in super::cache_lab::headline(c) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !run.rungs.is_empty() {
        let _ = writeln!(out, "{}", table(RUNG_HEADER, rung_rows(&run.rungs)));
        for note in rung_notes(&run.rungs)
            .into_iter()
            .chain(super::persistence::lines(&run.rungs))
        {
            let _ = writeln!(out, "  {note}");
        }
    }
    if let Some(load) = &run.load {
        let _ = writeln!(
            out,
            "load (latency from each request's intended start):\n{}",
            table(super::load::HEADER, super::load::rows(load))
        );
        for line in super::load::lines(load) {
            let _ = writeln!(out, "  {line}");
        }
    }
    for line in skipped_lines(run) {
        let _ = writeln!(out, "{line}");
    }
    if !run.ladder.is_empty() {
        let _ = writeln!(
            out,
            "the lecture's table, measured here:\n{}",
            table(LADDER_HEADER, ladder_rows(run))
        );
        for line in placement_lines(run)
            .into_iter()
            .chain(comparison_lines(run))
            .chain(caching_lines(run))
        {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}
