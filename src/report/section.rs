//! The one seam between a run record and what people read. Each part of a run (the host,
//! the lecture's table, memory, access patterns, the cores, the web, cache-lab, the
//! comparison rungs, load) implements [`Section`] once, in the report file of its name;
//! [`SECTIONS`] lists them in report order, and every renderer walks that list: the
//! terminal summary, report.md, the run folder's data files and charts, and `ladder
//! compare`'s table. A new section is one file and one line in the list.

use crate::error::Result;
use crate::record::Run;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What one section contributes to each output; every part is optional.
pub trait Section: Sync {
    /// Whether the run holds this section.
    fn present(&self, run: &Run) -> bool;

    /// Its part of the terminal summary, whole lines (empty: none).
    fn terminal(&self, _run: &Run) -> String {
        String::new()
    }

    /// Its part of report.md (empty: none).
    fn markdown(&self, _run: &Run) -> String {
        String::new()
    }

    /// The data files it adds to the run folder: (name, contents).
    fn files(&self, _run: &Run) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(Vec::new())
    }

    /// The charts it draws into `dir`, each as PNG and SVG.
    fn charts(&self, _run: &Run, _dir: &Path) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }

    /// Its rows in `ladder compare`'s table: a label, then one cell per run.
    fn compare_rows(&self, _runs: &[&Run]) -> Vec<Vec<String>> {
        Vec::new()
    }

    /// The run's summary: report.md shows it in list order (near the top), the terminal
    /// last, where it stays on screen.
    fn is_summary(&self) -> bool {
        false
    }
}

/// A data file of the run folder: its name and contents.
pub type DataFile = (&'static str, Vec<u8>);

/// Every section, in report order.
pub static SECTIONS: [&dyn Section; 11] = [
    &super::host::HostFacts,
    &super::ladder::LectureTable,
    &super::host::SysfsCaches,
    &super::memory::MemoryHierarchy,
    &super::cache_lab::CacheLab,
    &super::patterns::AccessPatterns,
    &super::cores::BetweenCores,
    &super::web::WebCaches,
    &super::rungs::ComparisonRungs,
    &super::db_sizes::DatabaseSizes,
    &super::load::FixedRateLoad,
];

/// The sections `run` holds, in report order.
fn present(run: &Run) -> impl Iterator<Item = &'static dyn Section> + '_ {
    SECTIONS.iter().copied().filter(move |s| s.present(run))
}

/// The terminal summary: every section's lines, the summary last.
pub fn terminal(run: &Run) -> String {
    let (summary, rest): (Vec<_>, Vec<_>) = present(run).partition(|s| s.is_summary());
    rest.into_iter()
        .chain(summary)
        .map(|s| s.terminal(run))
        .collect()
}

/// A run folder's report.md and data files, every section visited once and in order
/// (its words, its data files, its charts drawn into `dir`): report.md is a title and
/// the command, then each section's part.
pub fn folder(run: &Run, dir: &Path) -> Result<(String, Vec<DataFile>)> {
    let mut md = String::new();
    let _ = writeln!(md, "# latency-ladder run on {}\n", run.host.hostname);
    let _ = writeln!(
        md,
        "`ladder {}` · {} · ladder {} · {:.1} s\n",
        run.command, run.started_at, run.tool_version, run.wall_seconds
    );
    let mut files = Vec::new();
    for s in present(run) {
        md.push_str(&s.markdown(run));
        files.extend(s.files(run)?);
        s.charts(run, dir)?;
    }
    Ok((md, files))
}

/// Every section's rows for `ladder compare`, in order.
pub fn compare_rows(runs: &[&Run]) -> Vec<Vec<String>> {
    SECTIONS
        .iter()
        .filter(|s| runs.iter().any(|r| s.present(r)))
        .flat_map(|s| s.compare_rows(runs))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Run {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a/run.json");
        Run::load(&path).unwrap()
    }

    #[test]
    fn every_present_section_speaks_and_the_summary_ends_the_terminal() {
        let run = fixture();
        let shown: Vec<&dyn Section> = present(&run).collect();
        // The fixture has memory, rungs and the ladder at least.
        assert!(shown.len() >= 4, "{}", shown.len());
        for s in &shown {
            assert!(
                !s.terminal(&run).is_empty() || !s.markdown(&run).is_empty(),
                "a present section says nothing"
            );
        }
        let text = terminal(&run);
        let table = text.find("the lecture's table").unwrap();
        let memory = text.find("memory:").unwrap();
        assert!(memory < table, "{text}");
        let dir = tempfile::tempdir().unwrap();
        let (md, _) = folder(&run, dir.path()).unwrap();
        let (md_table, md_memory) = (
            md.find("## The lecture's table").unwrap(),
            md.find("## Memory hierarchy").unwrap(),
        );
        assert!(md_table < md_memory);
    }

    #[test]
    fn an_absent_section_adds_nothing() {
        let mut run = fixture();
        let dir = tempfile::tempdir().unwrap();
        let (before, _) = folder(&run, dir.path()).unwrap();
        run.memory = None;
        let (after, files) = folder(&run, dir.path()).unwrap();
        assert!(before.contains("## Memory hierarchy") && !after.contains("## Memory hierarchy"));
        assert!(files.iter().all(|(n, _)| *n != "memory.csv"));
    }
}
