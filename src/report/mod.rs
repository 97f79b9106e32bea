//! From one Run record to what people read: the terminal table, report.md, CSV files,
//! and the results folder that holds them. A report never measures.

pub mod compare;
pub mod counters;
mod csv_out;
mod markdown;
pub mod patterns;
mod table;

pub use csv_out::{ladder_csv, memory_csv};
pub use markdown::markdown;
pub use table::terminal;

use crate::error::{Error, Result};
use crate::memory::levels::Level;
use crate::record::Run;
use crate::units::format_size;
use std::fs;
use std::path::{Path, PathBuf};

/// A sentence comparing a detected level with what sysfs reports.
pub fn level_note(level: &Level) -> String {
    if !level.detected {
        return "not detected: the curve shows no plateau for this level".into();
    }
    if level.name == "RAM" {
        return "the plateau past the last cache".into();
    }
    let (Some(sysfs), Some(found)) = (level.sysfs_size_bytes, level.size_bytes) else {
        return match (level.sysfs_size_bytes, level.plateau_bytes) {
            (Some(_), Some((_, end))) => format!(
                "plateau runs to the end of the sweep ({}); capacity not bounded",
                format_size(end)
            ),
            _ => "sysfs does not report this level".into(),
        };
    };
    let octaves = (found as f64 / sysfs as f64).log2();
    if octaves.abs() <= 0.3 {
        "matches sysfs".into()
    } else if octaves < 0.0 {
        format!(
            "effective capacity {} is {:.1}x smaller than sysfs says ({}): the cache is shared, \
             partitioned or polluted (on a VM, other guests use it)",
            format_size(found),
            2f64.powf(-octaves),
            format_size(sysfs)
        )
    } else {
        format!(
            "plateau reaches {}, {:.1}x past the sysfs size ({}): a prefetcher or the next \
             level hides the edge",
            format_size(found),
            2f64.powf(octaves),
            format_size(sysfs)
        )
    }
}

/// Picks a fresh run folder under `out`: `<date>-<host>`, then `-2`, `-3`...
pub fn run_dir_name(out: &Path, date: &str, host: &str) -> PathBuf {
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
    let mut n = 1;
    loop {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let p = out.join(name);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// Checks before any measuring that `out` exists or can be made, and is writable.
pub fn check_writable(out: &Path) -> Result<()> {
    let unwritable =
        |e: std::io::Error| Error::Input(format!("--out {} is not writable: {e}", out.display()));
    fs::create_dir_all(out).map_err(unwritable)?;
    tempfile::Builder::new()
        .prefix(".ladder-probe-")
        .tempfile_in(out)
        .map_err(unwritable)?;
    Ok(())
}

/// Every file of a run folder, rendered from the record: (name, contents).
pub fn render_all(run: &Run) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let json = serde_json::to_vec_pretty(run)
        .map_err(|e| Error::Internal(format!("cannot serialise the run: {e}")))?;
    let mut files = vec![
        ("run.json", json),
        ("report.md", markdown(run).into_bytes()),
    ];
    if let Some(mem) = &run.memory {
        files.push(("memory.csv", memory_csv(mem)?));
    }
    if !run.ladder.is_empty() {
        files.push(("ladder.csv", ladder_csv(&run.ladder)?));
    }
    Ok(files)
}

/// Writes every file of a run folder into `dir`: the rendered text files and the
/// plots. With `with_record` false, run.json is left out (it is the source).
fn write_files(run: &Run, dir: &Path, with_record: bool) -> Result<()> {
    for (name, bytes) in render_all(run)? {
        if name == "run.json" && !with_record {
            continue;
        }
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    crate::plot::draw_run(run, dir)?;
    Ok(())
}

/// A hidden temp folder inside `parent`, removed on drop unless kept.
fn staging(parent: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(".ladder-tmp-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))
}

/// Writes a whole run folder under `out` or nothing: files go to a hidden temp folder
/// first, which is renamed into place at the end. Returns the folder.
pub fn write_run_dir(run: &Run, out: &Path, date: &str) -> Result<PathBuf> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tmp = staging(out)?;
    write_files(run, tmp.path(), true)?;
    publish(tmp, &run_dir_name(out, date, &run.host.hostname))
}

/// Renames a finished staging folder to `dir` (removing it if that fails).
fn publish(tmp: tempfile::TempDir, dir: &Path) -> Result<PathBuf> {
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, dir).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp_path);
        Error::io(dir, e)
    })?;
    Ok(dir.to_path_buf())
}

/// Writes a comparison folder under `out` (whole or not at all): compare.md and the
/// overlaid latency and ladder charts. Returns the folder.
pub fn write_compare_dir(runs: &[compare::Named], out: &Path, date: &str) -> Result<PathBuf> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tmp = staging(out)?;
    let md = markdown::compare_markdown(runs);
    let p = tmp.path().join("compare.md");
    fs::write(&p, md).map_err(|e| Error::io(&p, e))?;
    let labelled: Vec<crate::plot::Labelled> = runs
        .iter()
        .map(|r| crate::plot::Labelled {
            label: r.name.clone(),
            run: &r.run,
        })
        .collect();
    crate::plot::latency_chart(&labelled, tmp.path(), "latency")?;
    if runs.iter().all(|r| !r.run.ladder.is_empty()) {
        crate::plot::ladder_chart(&labelled, tmp.path(), "ladder")?;
    }
    publish(tmp, &run_dir_name(out, date, "compare"))
}

/// Redraws the files of an existing run folder from its record (for `ladder report`):
/// everything is drawn in a temp folder first, then each file is renamed over its old
/// version, so a failure leaves the folder as it was.
pub fn rewrite_run_dir(run: &Run, dir: &Path) -> Result<()> {
    let tmp = staging(dir)?;
    write_files(run, tmp.path(), false)?;
    for entry in fs::read_dir(tmp.path()).map_err(|e| Error::io(tmp.path(), e))? {
        let entry = entry.map_err(|e| Error::io(tmp.path(), e))?;
        let target = dir.join(entry.file_name());
        fs::rename(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

/// Header of the levels table.
pub const LEVEL_HEADER: [&str; 7] = [
    "level",
    "pages",
    "latency",
    "cycles",
    "detected size",
    "sysfs size",
    "note",
];

/// One row per detected (or missing) level: the table shared by the terminal and
/// report.md.
pub fn level_rows(mem: &crate::memory::MemorySection) -> Vec<[String; 7]> {
    let dash = || "—".to_string();
    mem.levels
        .iter()
        .map(|l| {
            [
                l.name.clone(),
                l.pages.map(|p| p.to_string()).unwrap_or_else(dash),
                l.latency_ns
                    .map(crate::units::format_ns)
                    .unwrap_or_else(dash),
                l.latency_cycles
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or_else(dash),
                l.size_bytes.map(format_size).unwrap_or_else(dash),
                l.sysfs_size_bytes.map(format_size).unwrap_or_else(dash),
                level_note(l),
            ]
        })
        .collect()
}

/// One line about the host: CPU, clock, hypervisor, pages.
pub fn host_line(run: &Run) -> String {
    let h = &run.host;
    format!(
        "{} · {} CPUs · clock {} · {} · page {} · THP {}",
        h.cpu_model.as_deref().unwrap_or("unknown CPU"),
        h.cpus.len(),
        h.clock_ghz
            .map(|g| format!("{g:.2} GHz (calibrated)"))
            .unwrap_or_else(|| "unknown".into()),
        match (&h.hypervisor, h.virtualized) {
            (Some(v), _) => format!("virtualized ({v})"),
            (None, true) => "virtualized".into(),
            (None, false) => "bare metal".into(),
        },
        format_size(h.page_size),
        h.thp
            .as_deref()
            .or(h.huge_pages_note.as_deref())
            .unwrap_or("unavailable"),
    )
}

/// Header of the comparison-rung table.
pub const RUNG_HEADER: [&str; 7] = ["rung", "method", "samples", "p50", "p90", "p99", "max"];

/// One row per measured operation: the table shared by the terminal and report.md.
pub fn rung_rows(rungs: &[crate::suite::Rung]) -> Vec<[String; 7]> {
    use crate::units::format_ns;
    rungs
        .iter()
        .map(|r| {
            [
                r.rung.clone(),
                r.method.clone(),
                r.samples.to_string(),
                format_ns(r.p50_ns),
                format_ns(r.p90_ns),
                format_ns(r.p99_ns),
                format_ns(r.max_ns),
            ]
        })
        .collect()
}

/// "rung: reason" lines for the rungs that did not run.
pub fn skipped_lines(run: &Run) -> Vec<String> {
    run.skipped
        .iter()
        .map(|s| format!("{}: not measured — {}", s.rung, s.reason))
        .collect()
}

/// The distinct notes of the rungs (device, fallbacks), one line each.
pub fn rung_notes(rungs: &[crate::suite::Rung]) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for r in rungs {
        if let Some(n) = &r.note {
            let line = format!("{}: {n}", r.rung);
            if !notes.contains(&line) {
                notes.push(line);
            }
        }
    }
    notes
}

/// Header of the ladder table.
pub const LADDER_HEADER: [&str; 7] = [
    "rung",
    "lecture says",
    "measured",
    "p99 / median",
    "method",
    "ratio",
    "verdict",
];

/// One row per lecture rung: the table shared by the terminal and report.md.
pub fn ladder_rows(run: &Run) -> Vec<[String; 7]> {
    use crate::units::format_ns;
    let dash = || "—".to_string();
    run.ladder
        .iter()
        .map(|r| {
            [
                r.rung.clone(),
                format!("~{}", crate::units::format_ns_round(r.lecture_claim_ns)),
                r.measured_ns.map(format_ns).unwrap_or_else(dash),
                match (r.p99_ns, r.median_ns) {
                    (Some(p99), _) => format!("p99 {}", format_ns(p99)),
                    (None, Some(median)) => format!("median {}", format_ns(median)),
                    _ => dash(),
                },
                if r.measured_ns.is_some() {
                    r.method.clone()
                } else {
                    dash()
                },
                r.ratio.map(format_ratio).unwrap_or_else(dash),
                r.verdict.clone(),
            ]
        })
        .collect()
}

/// A measured/claim ratio with three significant digits: `1.09`, `0.172`, `0.000492`.
pub fn format_ratio(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

/// One sentence per engine on the lecture's caching patterns.
pub fn caching_lines(run: &Run) -> Vec<String> {
    use crate::units::format_ns;
    run.caching
        .iter()
        .map(|c| {
            let pays = match c.break_even_hit_ratio {
                Some(h) => format!("cache-aside pays off above a {:.0}% hit ratio", h * 100.0),
                None => "a hit costs as much as a direct read, so cache-aside never pays".into(),
            };
            format!(
                "Caching in front of {} (means): hit {} (Redis GET), miss {} (GET + lookup + SET EX), \
                 no cache {} — {pays}; write-through costs {} per update (UPDATE + SET EX)",
                c.engine,
                format_ns(c.hit_ns),
                format_ns(c.miss_ns),
                format_ns(c.direct_ns),
                format_ns(c.write_through_ns)
            )
        })
        .collect()
}

/// One sentence per recomputed comparison.
pub fn comparison_lines(run: &Run) -> Vec<String> {
    use crate::ladder::factor;
    run.comparisons
        .iter()
        .map(|c| match c.measured_factor {
            Some(m) => format!(
                "{}: {} measured (the lecture's numbers give {})",
                c.name,
                factor(m),
                factor(c.lecture_factor)
            ),
            None => format!(
                "{}: not measured (the lecture's numbers give {})",
                c.name,
                factor(c.lecture_factor)
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_three_significant_digits() {
        assert_eq!(format_ratio(1.0904), "1.09");
        assert_eq!(format_ratio(0.1724), "0.172");
        assert_eq!(format_ratio(0.000_492_3), "0.000492");
        assert_eq!(format_ratio(2033.4), "2033");
    }
}
