//! CSV files: one row per measured point. Column names are a public interface.

use crate::error::{Error, Result};
use crate::memory::MemorySection;

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

/// `ladder.csv`: rung, lecture_claim_ns, measured_p50_ns, measured_p99_ns,
/// measured_median_ns, ratio, method, verdict.
pub fn ladder_csv(rows: &[crate::record::ladder::LadderRow]) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::Internal(format!("cannot write ladder.csv: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "rung",
        "lecture_claim_ns",
        "measured_p50_ns",
        "measured_p99_ns",
        "measured_median_ns",
        "ratio",
        "method",
        "verdict",
    ])
    .map_err(err)?;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.rung.clone(),
            format!("{}", r.lecture_claim_ns),
            opt(r.measured_ns),
            opt(r.p99_ns),
            opt(r.median_ns),
            r.ratio.map(|x| format!("{x:.6}")).unwrap_or_default(),
            r.method.clone(),
            r.verdict.clone(),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write ladder.csv: {e}")))
}
