//! `ladder report` and `ladder compare`: redraw a run folder, or set runs side by side,
//! from their `run.json` alone.

use super::{finish, stdout_line};
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::record::{utc_now, Run};
use crate::report;
use std::path::Path;

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

pub(super) fn compare(common: &Common, run_dirs: &[std::path::PathBuf]) -> Result<()> {
    let runs = run_dirs
        .iter()
        .map(|d| {
            Ok(report::compare::Named {
                name: d
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| d.display().to_string()),
                run: load_dir(d)?,
            })
        })
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
