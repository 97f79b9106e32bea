//! From one Run record to what people read: the terminal table, report.md, CSV files,
//! and the results folder that holds them. A report never measures.

mod csv_out;
mod markdown;
mod table;

pub use csv_out::memory_csv;
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
    Ok(files)
}

/// Writes a whole run folder under `out` or nothing: files go to a hidden temp folder
/// first, which is renamed into place at the end. Returns the folder.
pub fn write_run_dir(run: &Run, out: &Path, date: &str) -> Result<PathBuf> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".ladder-run-")
        .tempdir_in(out)
        .map_err(|e| Error::io(out, e))?;
    for (name, bytes) in render_all(run)? {
        let p = tmp.path().join(name);
        fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
    }
    let dir = run_dir_name(out, date, &run.host.hostname);
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, &dir).map_err(|e| {
        let _ = fs::remove_dir_all(&tmp_path);
        Error::io(&dir, e)
    })?;
    Ok(dir)
}

/// Rewrites the files of an existing run folder from its record (for `ladder report`),
/// each file replaced atomically.
pub fn rewrite_run_dir(run: &Run, dir: &Path) -> Result<()> {
    for (name, bytes) in render_all(run)? {
        if name == "run.json" {
            continue;
        }
        let mut f = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        std::io::Write::write_all(&mut f, &bytes).map_err(|e| Error::io(dir, e))?;
        f.persist(dir.join(name))
            .map_err(|e| Error::io(dir.join(name), e.error))?;
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

/// Header of the comparison-rungs table.
pub const RUNG_HEADER: [&str; 7] = ["rung", "method", "samples", "p50", "p90", "p99", "max"];

/// One row per measured comparison rung (storage, Redis, databases...): the table
/// shared by the terminal and report.md.
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

/// One line per rung that could not run: `rung: reason`.
pub fn skipped_lines(run: &Run) -> Vec<String> {
    run.skipped
        .iter()
        .map(|s| format!("{}: {}", s.rung, s.reason))
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
        h.thp.as_deref().unwrap_or("unavailable"),
    )
}
