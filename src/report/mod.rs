//! From one Run record to what people read. Each part of a run is a [`Section`]
//! (`section.rs` holds the seam and the ordered list; each section is the file of its
//! name); this file writes the results folder that holds the outputs, whole or not at
//! all. A report never measures.

pub mod baseline;
pub mod cache_lab;
pub mod compare;
pub mod cores;
pub mod counters;
pub mod db_sizes;
pub mod host;
pub mod ladder;
pub mod load;
pub mod memory;
pub mod openmetrics;
pub mod patterns;
mod persistence;
pub mod rungs;
mod section;
pub mod web;
pub mod writer;

pub use section::{terminal, Section, SECTIONS};

use crate::error::{Error, Result};
use crate::record::Run;
use std::fs;
use std::path::{Path, PathBuf};

/// The run folder names to try under `out`, in order: `<date>-<host>`, then `-2`,
/// `-3`...
pub fn run_dir_names(out: &Path, date: &str, host: &str) -> impl Iterator<Item = PathBuf> {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("{date}-{host}");
    let out = out.to_path_buf();
    (1u32..).map(move |n| match n {
        1 => out.join(&base),
        n => out.join(format!("{base}-{n}")),
    })
}

/// Checks before any measuring that `out` exists or can be made, and is writable.
pub fn check_writable(out: &Path) -> Result<()> {
    let unwritable =
        |e: std::io::Error| Error::Input(format!("--out {} is not writable: {e}", out.display()));
    fs::create_dir_all(out).map_err(unwritable)?;
    tempfile::Builder::new()
        .prefix(&crate::ownership::out_temp_prefix("probe"))
        .tempfile_in(out)
        .map_err(unwritable)?;
    Ok(())
}

/// Writes every file of a run folder into `dir`: run.json (unless `with_record` is false:
/// it is the source), report.md, the sections' data files and charts.
fn write_files(run: &Run, dir: &Path, with_record: bool) -> Result<()> {
    let (md, files) = section::folder(run, dir)?;
    let mut all = vec![("report.md", md.into_bytes())];
    if with_record {
        let json = serde_json::to_vec_pretty(run)
            .map_err(|e| Error::Internal(format!("cannot serialise the run: {e}")))?;
        all.push(("run.json", json));
    }
    for (name, bytes) in all.into_iter().chain(files) {
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

/// A hidden temp folder inside `parent`, removed on drop unless kept.
fn staging(parent: &Path) -> Result<tempfile::TempDir> {
    crate::ownership::run_dir(parent, &crate::ownership::out_temp_prefix("tmp"))
}

/// Writes a whole run folder under `out` or nothing: files go to a hidden temp folder
/// first, which is renamed into place at the end. Returns the folder.
pub fn write_run_dir(run: &Run, out: &Path, date: &str) -> Result<PathBuf> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tmp = staging(out)?;
    write_files(run, tmp.path(), true)?;
    publish(tmp, run_dir_names(out, date, &run.host.hostname))
}

/// Moves a finished staging folder to the first of `names` that this run can claim:
/// the name is taken with an exclusive create (two runs never get the same one, and a
/// folder that exists, empty or not, is never replaced), then the staging folder is
/// renamed over the empty folder just made. Nothing is published after a signal.
fn publish(tmp: tempfile::TempDir, names: impl Iterator<Item = PathBuf>) -> Result<PathBuf> {
    for dir in names.take(10_000) {
        crate::signal::check()?;
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
        // The run's marker stays behind: the folder is the user's once published.
        let marker = tmp.path().join(crate::ownership::MARKER);
        fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
        let tmp_path = tmp.keep();
        return match fs::rename(&tmp_path, &dir) {
            Ok(()) => Ok(dir),
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp_path);
                let _ = fs::remove_dir(&dir);
                Err(Error::io(&dir, e))
            }
        };
    }
    Err(Error::Internal("no free run folder name".into()))
}

/// Writes a comparison folder under `out` (whole or not at all): compare.md and the
/// overlaid latency and ladder charts. Returns the folder.
pub fn write_compare_dir(runs: &[compare::Named], out: &Path, date: &str) -> Result<PathBuf> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tmp = staging(out)?;
    write_compare_files(runs, tmp.path())?;
    publish(tmp, run_dir_names(out, date, "compare"))
}

/// compare.md and the overlaid latency curves and ladders of `runs`, into `dir`.
fn write_compare_files(runs: &[compare::Named], dir: &Path) -> Result<()> {
    let md = compare::compare_markdown(runs);
    let p = dir.join("compare.md");
    fs::write(&p, md).map_err(|e| Error::io(&p, e))?;
    let labelled: Vec<crate::plot::Labelled> = runs
        .iter()
        .map(|r| crate::plot::Labelled {
            label: r.name.clone(),
            run: &r.run,
        })
        .collect();
    crate::plot::memory::latency_chart(&labelled, dir, "latency")?;
    if runs.iter().all(|r| !r.run.ladder.is_empty()) {
        crate::plot::ladder::ladder_chart(&labelled, dir, "ladder")?;
    }
    let records: Vec<&Run> = runs.iter().map(|r| &r.run).collect();
    let history = crate::baseline::history(&records);
    if !history.is_empty() {
        crate::plot::history::history_chart(&history, dir)?;
    }
    Ok(())
}

/// `ladder compare --baseline`'s folder: compare.md and the overlaid curves of every run
/// (the baseline first), baseline.md and baseline.json, and a change chart per run
/// (`change.png`, or `change-1.png`, `change-2.png`... for several).
pub fn write_baseline_dir(
    runs: &[compare::Named],
    comparisons: &[crate::baseline::Comparison],
    thresholds: &crate::baseline::Thresholds,
    out: &Path,
    date: &str,
) -> Result<PathBuf> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tmp = staging(out)?;
    write_compare_files(runs, tmp.path())?;
    let p = tmp.path().join("baseline.md");
    fs::write(&p, baseline::markdown(comparisons, thresholds)).map_err(|e| Error::io(&p, e))?;
    let p = tmp.path().join("baseline.json");
    let json = serde_json::to_string_pretty(comparisons)
        .map_err(|e| Error::Internal(format!("cannot serialise the comparison: {e}")))?;
    fs::write(&p, json + "\n").map_err(|e| Error::io(&p, e))?;
    for (i, c) in comparisons.iter().enumerate() {
        let stem = match comparisons.len() {
            1 => "change".to_string(),
            _ => format!("change-{}", i + 1),
        };
        crate::plot::baseline::change_chart(c, tmp.path(), &stem)?;
    }
    publish(tmp, run_dir_names(out, date, "baseline"))
}

/// Redraws the files of an existing run folder from its record (for `ladder report`):
/// everything is drawn in a temp folder first, then each file is renamed over its old
/// version, so a failure leaves the folder as it was.
pub fn rewrite_run_dir(run: &Run, dir: &Path, with_record: bool) -> Result<()> {
    let tmp = staging(dir)?;
    write_files(run, tmp.path(), with_record)?;
    for entry in fs::read_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))? {
        let entry = entry.map_err(|e| Error::io(tmp.path(), e))?;
        // The staging dir's own marker stays in it (and goes with it).
        if entry.file_name() == crate::ownership::MARKER {
            continue;
        }
        let target = dir.join(entry.file_name());
        fs::rename(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_even_an_empty_folder_is_skipped_never_replaced() {
        let out = tempfile::tempdir().unwrap();
        let names = || run_dir_names(out.path(), "2026-01-01", "h/x");
        let first = names().next().unwrap();
        assert!(first.ends_with("2026-01-01-h_x"));
        fs::create_dir(&first).unwrap();
        let stage = |name: &str| {
            let tmp = staging(out.path()).unwrap();
            fs::write(tmp.path().join("run.json"), name).unwrap();
            tmp
        };
        let second = publish(stage("a"), names()).unwrap();
        let third = publish(stage("b"), names()).unwrap();
        assert!(second.ends_with("2026-01-01-h_x-2"), "{}", second.display());
        assert!(third.ends_with("2026-01-01-h_x-3"), "{}", third.display());
        assert!(
            entries_of(&first).is_empty(),
            "the empty folder was replaced"
        );
        assert_eq!(fs::read_to_string(second.join("run.json")).unwrap(), "a");
        assert_eq!(entries_of(out.path()).len(), 3, "no staging folder is left");
    }

    fn entries_of(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}
