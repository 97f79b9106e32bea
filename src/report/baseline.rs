//! `ladder compare --baseline`'s words: per run, what changed on the host, then one
//! table row per figure (baseline, run, change with its interval, verdict), and a line
//! counting the verdicts.

use super::writer::Table;
use crate::baseline::{Comparison, FigureKind, Row, Thresholds};
use crate::units::format_ns;
use std::fmt::Write;

/// A figure in its unit: "14.3 ns", "278 GB/s".
fn figure(r: &Row, v: f64) -> String {
    if r.unit == "ns" {
        format_ns(v)
    } else {
        format!("{v:.1} {}", r.unit)
    }
}

/// "+3.1% [+1.2, +5.0]": the change and its 95% interval, in percent.
pub fn change(r: &Row) -> String {
    let pct = |x: f64| format!("{:+.1}", x * 100.0);
    match r.interval {
        Some([lo, hi]) => format!("{}% [{}, {}]", pct(r.change), pct(lo), pct(hi)),
        None => format!("{}% (no interval)", pct(r.change)),
    }
}

/// The comparison's table: kind, figure, baseline, run, change, verdict.
pub fn table(c: &Comparison) -> Table {
    Table::new([
        "kind",
        "figure",
        &c.baseline,
        &c.run,
        "change [95% CI]",
        "verdict",
    ])
    .rows(c.rows.iter().map(|r| {
        [
            r.kind.title().to_string(),
            r.label.clone(),
            figure(r, r.baseline),
            figure(r, r.run),
            change(r),
            r.verdict.words(),
        ]
    }))
}

/// "3 slower, 1 faster, 40 no change beyond noise, 0 not comparable".
pub fn summary(c: &Comparison) -> String {
    let [faster, slower, same, apart] = c.counts();
    format!(
        "{} against {}: {slower} slower, {faster} faster, {same} no change beyond noise, \
         {apart} not comparable",
        c.run, c.baseline
    )
}

/// The lines above a comparison's table: the host's changes, what is only in one run.
fn context(c: &Comparison) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(why) = &c.not_comparable {
        lines.push(format!("Not comparable: {why}."));
    }
    for h in &c.host_changes {
        lines.push(format!("Host changed: {h}."));
    }
    let only = |what: &str, v: &[String]| match v.len() {
        0 => None,
        n if n <= 4 => Some(format!("Only in {what}: {}.", v.join("; "))),
        n => Some(format!(
            "Only in {what}: {n} figures ({}...).",
            v[..3].join("; ")
        )),
    };
    lines.extend(only(&c.baseline, &c.only_in_baseline));
    lines.extend(only(&c.run, &c.only_in_run));
    lines
}

/// The terminal text of every comparison.
pub fn terminal(cs: &[Comparison]) -> String {
    let mut s = String::new();
    for c in cs {
        for line in context(c) {
            let _ = writeln!(s, "{line}");
        }
        let _ = writeln!(s, "{}\n{}\n", table(c), summary(c));
    }
    s
}

/// baseline.md: the method, then each comparison.
pub fn markdown(cs: &[Comparison], thresholds: &Thresholds) -> String {
    let mut md = String::from("# latency-ladder: runs against a baseline\n\n");
    let limits: Vec<String> = FigureKind::ALL
        .iter()
        .map(|k| format!("{} {:.0}%", k.title(), thresholds.0[k] * 100.0))
        .collect();
    let _ = writeln!(
        md,
        "Each change is the run's figure over the baseline's, with a 95% interval from a \
         bootstrap ({} resamples) of each run's own repetitions: a memory level's round \
         bests inside its plateau, a core pair's bursts, a rung's samples (its stored \
         histogram); bandwidths keep one figure per run and get no interval. A change is \
         *slower* or *faster* only when its whole interval lies beyond the noise \
         threshold: {}.\n",
        crate::baseline::bootstrap::DRAWS,
        limits.join(", ")
    );
    for c in cs {
        let _ = writeln!(
            md,
            "## {} against {}\n\nStarted {} and {}.\n",
            c.run, c.baseline, c.started_at[1], c.started_at[0]
        );
        for line in context(c) {
            let _ = writeln!(md, "- {line}");
        }
        let _ = writeln!(md, "\n{}\n{}.\n", table(c).markdown(), summary(c));
    }
    md
}
