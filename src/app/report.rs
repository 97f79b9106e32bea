//! `ladder report` and `ladder compare`: redraw a run folder, or set runs side by side,
//! from their `run.json` alone.

use super::{finish, stdout_line};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::record::{utc_now, Run};
use crate::report;
use std::path::{Path, PathBuf};

/// Loads the record of a run folder; a missing folder is the user's error.
fn load_dir(run_dir: &Path) -> Result<Run> {
    if !run_dir.is_dir() {
        return Err(Error::Input(format!(
            "{} is not a run folder",
            run_dir.display()
        )));
    }
    Run::load(&run_dir.join("run.json"))
}

/// A run folder's record and the name it goes by (the folder's name).
fn named(d: &Path) -> Result<report::compare::Named> {
    Ok(report::compare::Named {
        name: d
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| d.display().to_string()),
        run: load_dir(d)?,
    })
}

pub(super) fn compare(common: &Common, run_dirs: &[PathBuf]) -> Result<()> {
    if run_dirs.len() < 2 {
        return Err(Error::Input(
            "compare needs two run folders or more, or --baseline RUN_DIR and one or more".into(),
        ));
    }
    let runs = run_dirs
        .iter()
        .map(|d| named(d))
        .collect::<Result<Vec<_>>>()?;
    report::check_writable(&common.out)?;
    let (_, date) = utc_now();
    let dir = report::write_compare_dir(&runs, &common.out, &date)?;
    if common.json {
        let records: Vec<&Run> = runs.iter().map(|r| &r.run).collect();
        let json = serde_json::to_string_pretty(&records)
            .map_err(|e| Error::Internal(format!("cannot serialise the runs: {e}")))?;
        return stdout_line(&json);
    }
    let table = report::compare::compare_table(&runs);
    stdout_line(&format!("{table}\nresults: {}", dir.display()))
}

/// `ladder compare --baseline`: each run judged against the baseline, figure by figure;
/// exit 1 when a figure is slower beyond its noise threshold.
pub(super) fn against_baseline(
    common: &Common,
    baseline: &Path,
    run_dirs: &[PathBuf],
    threshold: Option<&str>,
) -> Result<()> {
    use crate::baseline::{compare, Thresholds};
    let thresholds = match threshold {
        Some(t) => Thresholds::parse(t).map_err(Error::Input)?,
        None => Thresholds::defaults(),
    };
    let base = named(baseline)?;
    let runs = run_dirs
        .iter()
        .map(|d| named(d))
        .collect::<Result<Vec<_>>>()?;
    let comparisons: Vec<_> = runs
        .iter()
        .map(|r| compare((&base.name, &base.run), (&r.name, &r.run), &thresholds))
        .collect();
    if let Some(c) = comparisons.iter().find(|c| c.rows.is_empty()) {
        return Err(Error::Input(format!(
            "{} and {} have no figure in common (no memory sweep, cores or rungs in both)",
            c.baseline, c.run
        )));
    }
    report::check_writable(&common.out)?;
    let (_, date) = utc_now();
    let mut all = vec![base];
    all.extend(runs);
    let dir = report::write_baseline_dir(&all, &comparisons, &thresholds, &common.out, &date)?;
    if common.json {
        let json = serde_json::to_string_pretty(&comparisons)
            .map_err(|e| Error::Internal(format!("cannot serialise the comparison: {e}")))?;
        stdout_line(&json)?;
    } else {
        stdout_line(&format!(
            "{}results: {}",
            report::baseline::terminal(&comparisons),
            dir.display()
        ))?;
    }
    let slower: usize = comparisons.iter().map(|c| c.counts()[1]).sum();
    if slower > 0 {
        return Err(Error::Regressed(format!(
            "{slower} figure(s) slower than the baseline {} beyond noise (see {})",
            all[0].name,
            dir.join("baseline.md").display()
        )));
    }
    Ok(())
}

/// `ladder export`: the run's figures as OpenMetrics text, on stdout or in a file.
pub(super) fn export(run_dir: &Path, output: Option<&Path>) -> Result<()> {
    let run = load_dir(run_dir)?;
    let text = report::openmetrics::openmetrics(&run);
    match output {
        Some(path) => report::openmetrics::write_atomic(path, &text),
        None => stdout_line(text.trim_end()),
    }
}

pub(super) fn redraw(common: &Common, run_dir: &Path, reanalyse: bool) -> Result<()> {
    let mut run = load_dir(run_dir)?;
    if reanalyse {
        let host = run.host.clone();
        let Some(mem) = run.memory.as_mut() else {
            return Err(Error::Input(format!(
                "{}: the run has no memory sweep to reanalyse",
                run_dir.display()
            )));
        };
        let before = mem.levels.clone();
        crate::memory::reanalyse(mem, &host);
        let changes = report::memory::level_changes(&before, &mem.levels);
        if !run.ladder.is_empty() {
            run.ladder = crate::ladder::rows(&run);
            run.comparisons = crate::ladder::comparisons(&run.ladder);
        }
        report::rewrite_run_dir(&run, run_dir, true)?;
        // With --json stdout holds the record alone; the changes go to stderr.
        let text = changes.join("\n");
        if common.json {
            eprintln!("{text}");
        } else {
            stdout_line(&text)?;
        }
    } else {
        report::rewrite_run_dir(&run, run_dir, false)?;
    }
    finish(common, &run, run_dir)
}
