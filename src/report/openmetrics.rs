//! A run as metrics a fleet's Prometheus scrapes: the OpenMetrics text exposition
//! (which Prometheus' own text format reads too: `# UNIT` and `# EOF` are comments
//! there), for node_exporter's textfile collector. Every figure is a gauge in base
//! units (seconds, bytes, bytes per second); a rung's distribution is a summary
//! (p50, p90, p99, sum and count). Every series carries `host` and `cpu` labels.
//!
//! Written atomically ([`write_atomic`]): a collector reading the file while it is
//! written sees the old file or the new one, never half of one.

use crate::error::{Error, Result};
use crate::record::{serde_name, Run};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// One metric family: its samples, written together.
struct Family {
    name: &'static str,
    kind: &'static str,
    unit: &'static str,
    help: &'static str,
    samples: Vec<(String, String, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, unit: &'static str, help: &'static str) -> Self {
        Family {
            name,
            kind,
            unit,
            help,
            samples: Vec::new(),
        }
    }

    /// A sample: a suffix of the name ("", "_sum", "_count"), its labels, its value. A
    /// second sample with the same labels is left out: a collector refuses a whole file
    /// that repeats a series.
    fn add(&mut self, suffix: &str, labels: String, value: f64) {
        let repeated = self
            .samples
            .iter()
            .any(|(s, l, _)| s == suffix && *l == labels);
        if value.is_finite() && !repeated {
            self.samples.push((suffix.to_string(), labels, value));
        }
    }
}

/// A label value escaped as the exposition wants it (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `{host="...",cpu="...",k="v"...}`.
fn labels(base: &[(&str, String)], more: &[(&str, String)]) -> String {
    let all: Vec<String> = base
        .iter()
        .chain(more)
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", all.join(","))
}

/// A sample's value: plain where short ("5000", "0.25"), else in exponent form
/// ("1.68e-9").
fn number(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// The exposition of `run`, ending with `# EOF`.
pub fn openmetrics(run: &Run) -> String {
    let h = &run.host;
    let base = [
        ("host", h.hostname.clone()),
        (
            "cpu",
            h.cpu_model.clone().unwrap_or_else(|| "unknown".into()),
        ),
    ];
    let l = |more: &[(&str, String)]| labels(&base, more);
    let mut info = Family::new(
        "ladder_run_info",
        "gauge",
        "",
        "The run the figures come from: tool version, CPU microarchitecture, kernel (1).",
    );
    info.add(
        "",
        l(&[
            ("version", run.tool_version.clone()),
            ("uarch", h.uarch.clone().unwrap_or_else(|| "unknown".into())),
            (
                "kernel",
                h.kernel.clone().unwrap_or_else(|| "unknown".into()),
            ),
            ("started", run.started_at.clone()),
        ]),
        1.0,
    );
    let mut started = Family::new(
        "ladder_run_start_time_seconds",
        "gauge",
        "seconds",
        "When the run started, Unix time.",
    );
    if let Some(t) = crate::record::unix_seconds(&run.started_at) {
        started.add("", l(&[]), t as f64);
    }
    let mut latency = Family::new(
        "ladder_memory_latency_seconds",
        "gauge",
        "seconds",
        "Plateau latency of a memory level: one dependent load (pointer chase).",
    );
    let mut capacity = Family::new(
        "ladder_memory_capacity_bytes",
        "gauge",
        "bytes",
        "A level's capacity as the latency curve shows it (detected) and as the OS says (sysfs).",
    );
    if let Some(mem) = &run.memory {
        for lv in &mem.levels {
            let name = ("level", lv.name.to_string());
            if let (true, Some(ns)) = (lv.detected, lv.latency_ns) {
                let pages = lv.pages.map_or("unknown".to_string(), |p| p.to_string());
                latency.add("", l(&[name.clone(), ("pages", pages)]), ns * 1e-9);
            }
            for (source, bytes) in [("detected", lv.size_bytes), ("sysfs", lv.sysfs_size_bytes)] {
                if let Some(b) = bytes {
                    capacity.add("", l(&[name.clone(), ("source", source.into())]), b as f64);
                }
            }
        }
    }
    let mut bandwidth = Family::new(
        "ladder_bandwidth_bytes_per_second",
        "gauge",
        "bytes_per_second",
        "Single-thread bandwidth in a memory level, by kind of access.",
    );
    let mut c2c = Family::new(
        "ladder_core_to_core_latency_seconds",
        "gauge",
        "seconds",
        "One-way latency of handing a cache line between two CPUs (half the median round trip).",
    );
    if let Some(cores) = &run.cores {
        for b in &cores.bandwidth {
            bandwidth.add(
                "",
                l(&[
                    ("level", b.level.to_string()),
                    ("kind", serde_name(&b.kind)),
                ]),
                b.gbps * 1e9,
            );
        }
        for p in &cores.pairs {
            c2c.add(
                "",
                l(&[
                    ("cpu_a", p.cpu_a.to_string()),
                    ("cpu_b", p.cpu_b.to_string()),
                    ("relation", serde_name(&p.relation)),
                    ("handoff", serde_name(&p.handoff)),
                ]),
                p.one_way_ns * 1e-9,
            );
        }
    }
    let mut rungs = Family::new(
        "ladder_rung_latency_seconds",
        "summary",
        "seconds",
        "Latency of one operation of a rung (storage, key-value stores, databases, HTTP).",
    );
    for r in &run.rungs {
        let placement = r
            .placement
            .as_ref()
            .map_or("none".into(), |p| serde_name(&p.kind));
        let base = [
            ("rung", r.rung.clone()),
            ("method", r.method.clone()),
            ("placement", placement),
        ];
        for (q, ns) in [("0.5", r.p50_ns), ("0.9", r.p90_ns), ("0.99", r.p99_ns)] {
            let mut with_q = base.to_vec();
            with_q.push(("quantile", q.into()));
            rungs.add("", l(&with_q), ns * 1e-9);
        }
        rungs.add("_sum", l(&base), r.mean_ns * r.samples as f64 * 1e-9);
        rungs.add("_count", l(&base), r.samples as f64);
    }
    let mut out = String::new();
    for f in [info, started, latency, capacity, bandwidth, c2c, rungs] {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        if !f.unit.is_empty() {
            let _ = writeln!(out, "# UNIT {} {}", f.name, f.unit);
        }
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        for (suffix, labels, v) in &f.samples {
            let _ = writeln!(out, "{}{suffix}{labels} {}", f.name, number(*v));
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The folder `path` will be written in: an error (the user's) where it does not exist
/// or `path` is a folder.
pub fn check_target(path: &Path) -> Result<&Path> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "{}: the folder {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::Input(format!(
            "{} is a folder; name a file",
            path.display()
        )));
    }
    Ok(dir)
}

/// Writes `text` to `path` atomically: a temp file in the same folder, synced, then
/// renamed over `path`.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = check_target(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".ladder-openmetrics-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(tmp.path(), e))?;
    // node_exporter runs as another user: the file must be readable by it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
