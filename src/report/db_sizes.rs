//! The database taken apart: what a warm point lookup is made of (db-split.png), and
//! the expensive query over a ladder of table sizes (a table of p50 per size, warm and
//! cold, per engine and transport; where it crosses the lecture's 50 ms; db-sizes.csv
//! and db-sizes.png).

use super::writer::{md_table, terminal_block, Table};
use super::Section;
use crate::error::{Error, Result};
use crate::plot::db_sizes::{db_sizes_chart, db_split_chart, sizes_label, split_label};
use crate::record::db::{LookupSplit, QuerySizes};
use crate::record::Run;
use crate::units::{format_count, format_ns};
use std::path::{Path, PathBuf};

/// The size-ladder section.
pub struct DatabaseSizes;

/// The lecture's database figure, ns.
fn lecture_ns() -> f64 {
    crate::ladder::claim("Database")
}

/// The table: one row per size, a warm and a cold column per engine and transport.
fn table(sizes: &[QuerySizes]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = vec!["orders".to_string()];
    for s in sizes {
        let label = sizes_label(s);
        header.push(format!("{label} warm"));
        header.push(format!("{label} cold"));
    }
    let mut orders: Vec<u64> = sizes
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.orders))
        .collect();
    orders.sort_unstable();
    orders.dedup();
    let rows = orders
        .into_iter()
        .map(|n| {
            let mut row = vec![format_count(n as f64)];
            for s in sizes {
                let p = s.points.iter().find(|p| p.orders == n);
                row.push(p.map_or("—".into(), |p| format_ns(p.warm_p50_ns)));
                row.push(p.and_then(|p| p.cold_p50_ns).map_or("—".into(), format_ns));
            }
            row
        })
        .collect();
    (header, rows)
}

/// Where each engine's query crosses the lecture's 50 ms, one sentence each.
pub fn crossing_lines(sizes: &[QuerySizes]) -> Vec<String> {
    let lecture = lecture_ns();
    let at = |s: &QuerySizes, cold: bool| {
        let top = s.points.last()?;
        let top_ns = if cold {
            top.cold_p50_ns?
        } else {
            top.warm_p50_ns
        };
        Some(match s.crossing(lecture, cold) {
            Some(n) => format!("at ~{} orders", format_count(n)),
            None if top_ns < lecture => format!(
                "not within {} orders ({} there)",
                format_count(top.orders as f64),
                format_ns(top_ns)
            ),
            None => format!(
                "below {} orders ({} there)",
                format_count(s.points[0].orders as f64),
                format_ns(s.points[0].warm_p50_ns)
            ),
        })
    };
    sizes
        .iter()
        .map(|s| {
            let cold = at(s, true).map_or(String::new(), |c| format!(", cold {c}"));
            format!(
                "{}: the expensive query crosses the lecture's {} warm {}{cold}",
                sizes_label(s),
                format_ns(lecture),
                at(s, false).unwrap_or_default()
            )
        })
        .collect()
}

/// One sentence per transport: what a warm point lookup is made of.
pub fn split_lines(splits: &[LookupSplit]) -> Vec<String> {
    splits
        .iter()
        .map(|s| {
            format!(
                "{}: a warm PK lookup takes {} = the bare round trip {} (SELECT 1) + \
                 execution in the server {} + the rest {} (bind, protocol, the row); \
                 unprepared, planning would add {} ({} samples each)",
                split_label(s),
                format_ns(s.total_ns),
                format_ns(s.round_trip_ns),
                format_ns(s.execution_ns),
                format_ns(s.rest_ns()),
                format_ns(s.planning_ns),
                s.samples
            )
        })
        .collect()
}

/// db-sizes.csv: engine, transport, orders, warm and cold p50 (ns) and samples.
fn sizes_csv(sizes: &[QuerySizes]) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::Internal(format!("cannot write db-sizes.csv: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "engine",
        "transport",
        "orders",
        "warm_p50_ns",
        "warm_samples",
        "cold_p50_ns",
        "cold_samples",
    ])
    .map_err(err)?;
    for s in sizes {
        for p in &s.points {
            w.write_record([
                format!("{:?}", s.engine).to_lowercase(),
                s.transport.to_string(),
                p.orders.to_string(),
                format!("{:.0}", p.warm_p50_ns),
                p.warm_samples.to_string(),
                p.cold_p50_ns.map(|v| format!("{v:.0}")).unwrap_or_default(),
                p.cold_samples.to_string(),
            ])
            .map_err(err)?;
        }
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write db-sizes.csv: {e}")))
}

impl Section for DatabaseSizes {
    fn present(&self, run: &Run) -> bool {
        !run.db_sizes.is_empty() || !run.db_split.is_empty()
    }

    fn terminal(&self, run: &Run) -> String {
        let mut out = String::new();
        if !run.db_split.is_empty() {
            out.push_str(&terminal_block(
                "what a warm point lookup is made of:",
                split_lines(&run.db_split),
            ));
        }
        if !run.db_sizes.is_empty() {
            let (header, rows) = table(&run.db_sizes);
            out.push_str(&terminal_block(
                "the expensive query by size (p50; each size the first N orders):",
                crossing_lines(&run.db_sizes),
            ));
            out.push_str(&format!("{}\n", Table::new(header).rows(rows)));
        }
        out
    }

    fn markdown(&self, run: &Run) -> String {
        let mut md = String::new();
        if !run.db_split.is_empty() {
            md.push_str(
                "\n## What a warm point lookup is made of\n\n\
                 ![What a warm point lookup is made of](db-split.png)\n\n",
            );
            for line in split_lines(&run.db_split) {
                md.push_str(&format!("- {line}\n"));
            }
        }
        if run.db_sizes.is_empty() {
            return md;
        }
        let (header, rows) = table(&run.db_sizes);
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        md.push_str(
            "\n## The expensive query by size\n\nThe aggregate JOIN over the first N orders \
             of one data set (p50; cold: each sample on a fresh session with the tables in \
             no cache).\n\n![The expensive query by size](db-sizes.png)\n\n",
        );
        md.push_str(&md_table(&header, rows));
        md.push('\n');
        for line in crossing_lines(&run.db_sizes) {
            md.push_str(&format!("- {line}\n"));
        }
        md
    }

    fn files(&self, run: &Run) -> Result<Vec<(&'static str, Vec<u8>)>> {
        if run.db_sizes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![("db-sizes.csv", sizes_csv(&run.db_sizes)?)])
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        if !run.db_split.is_empty() {
            files.extend(db_split_chart(&run.db_split, dir)?);
        }
        if !run.db_sizes.is_empty() {
            files.extend(db_sizes_chart(&run.db_sizes, lecture_ns(), dir)?);
        }
        Ok(files)
    }
}
