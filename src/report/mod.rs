//! From one Run record to what people read: the terminal table, report.md, CSV files,
//! and the results folder that holds them. A report never measures.

pub mod cache_lab;
pub mod compare;
pub mod cores;
pub mod counters;
mod csv_out;
mod host;
pub mod load;
mod markdown;
pub mod patterns;
mod persistence;
mod table;
pub mod web;
pub mod writer;

pub use csv_out::{ladder_csv, memory_csv};
pub use markdown::markdown;
pub use table::terminal;

use crate::error::{Error, Result};
use crate::memory::levels::Level;
use crate::record::host::Host;
use crate::record::placement::{NoIrqPlacement, PlacementKind};
use crate::record::Run;
use crate::units::format_size;
use std::fs;
use std::path::{Path, PathBuf};

/// A sentence comparing a detected level with what sysfs reports and with what its
/// microarchitecture documents. A capacity within one grid step (of a grid with
/// `per_octave` points per octave) of the grid point nearest the sysfs size is a match:
/// the grid cannot say more.
pub fn level_note(level: &Level, mem: &crate::memory::MemorySection, host: &Host) -> String {
    let mut note = size_note(level, mem, host);
    if let Some(doubt) = level.doubt {
        note.push_str("; ");
        note.push_str(&doubt_note(level, doubt, host));
    }
    note
}

fn size_note(level: &Level, mem: &crate::memory::MemorySection, host: &Host) -> String {
    if !level.detected {
        return "not detected: the curve shows no plateau for this level".into();
    }
    if level.is_ram() {
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
    let step = 1.0 / f64::from(mem.config.per_octave.max(1));
    if octaves.abs() <= 1.5 * step + 1e-9 {
        "matches sysfs".into()
    } else if octaves < 0.0 {
        format!(
            "effective capacity {} is {:.1}x smaller than sysfs says ({}): {}",
            format_size(found),
            2f64.powf(-octaves),
            format_size(sysfs),
            smaller_because(level, mem, host)
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

/// Which of the measurable causes of a cache smaller than sysfs apply to this run.
fn smaller_because(level: &Level, mem: &crate::memory::MemorySection, host: &Host) -> String {
    let mut causes = Vec::new();
    let level_no = match level.name {
        crate::record::memory::LevelName::Cache(n) => u32::from(n),
        _ => 0,
    };
    let shared = host
        .caches
        .iter()
        .find(|c| c.level == level_no && c.holds_data())
        .map(|c| c.shared_cpus.as_str())
        .filter(|cpus| crate::units::parse_cpu_list(cpus).is_some_and(|l| l.len() > 1));
    if let Some(cpus) = shared {
        causes.push(format!("it is shared by CPUs {cpus}"));
    }
    if host.virtualized {
        causes.push("this is a VM, so CPUs of other guests share the physical cache too".into());
    }
    if let Some(steal) = mem
        .disturbance
        .as_ref()
        .and_then(|d| d.steal_fraction)
        .filter(|&f| f >= 0.01)
    {
        causes.push(format!(
            "the hypervisor took {:.0}% of the measuring CPU (steal)",
            steal * 100.0
        ));
    }
    if causes.is_empty() {
        "nothing this run can see explains it (a busy SMT sibling or a partitioned cache \
         can)"
            .into()
    } else {
        causes.join("; ")
    }
}

/// The doubt the microarchitecture's documented cycles cast on a level, in words.
fn doubt_note(level: &Level, doubt: crate::record::memory::LevelDoubt, host: &Host) -> String {
    use crate::record::memory::LevelDoubt;
    let uarch = host.uarch.as_deref().unwrap_or("this CPU");
    let cycles = level.latency_cycles.unwrap_or(0.0);
    match doubt {
        LevelDoubt::FarFromDocumented => format!(
            "{cycles:.1} cycles is far from every level {uarch} documents: likely a stretch of \
             a transition or partial hits in a cache others share, not the cache itself"
        ),
        LevelDoubt::NearerTo { level: other } => format!(
            "{cycles:.1} cycles matches the {other} that {uarch} documents better than its \
             {}",
            level.name
        ),
    }
}

/// The CPU's identity and microarchitecture in words: "Zen 3 (x86 family 25 model 1
/// stepping 1)", "unknown microarchitecture (arm implementer 0x41 part 0xd4f)".
pub fn cpu_identity(h: &Host) -> String {
    let id = h.cpu_id.as_ref().map(|id| {
        let num = |v: Option<u32>| v.map_or("?".into(), |v| v.to_string());
        let hex = |v: Option<u32>| v.map_or("?".into(), |v| format!("{v:#x}"));
        let mut s = match (id.implementer, id.cpufamily) {
            (Some(_), _) => format!(
                "arm implementer {} part {}",
                hex(id.implementer),
                hex(id.part)
            ),
            (None, Some(f)) => format!("hw.cpufamily {f:#x}"),
            (None, None) => format!(
                "{} family {} model {} stepping {}",
                id.vendor,
                num(id.family),
                num(id.model),
                num(id.stepping)
            ),
        };
        if let Some(m) = &id.microcode {
            s.push_str(&format!(", microcode {m}"));
        }
        s
    });
    match (&h.uarch, id) {
        (Some(u), Some(id)) => format!("{u} ({id})"),
        (None, Some(id)) => format!("not in the microarchitecture table ({id})"),
        (_, None) => "unknown (the OS does not identify the CPU)".into(),
    }
}

/// A level's cycles with what its microarchitecture documents: "12.6 (Zen 3: 12)".
fn cycles_cell(level: &Level, host: &Host) -> String {
    let Some(c) = level.latency_cycles else {
        return "—".into();
    };
    // The short name: "Emerald Rapids", not "Emerald Rapids (Raptor Cove)".
    let short = host
        .uarch
        .as_deref()
        .map(|u| u.split(" (").next().unwrap_or(u));
    match (level.documented_cycles, short) {
        (Some((lo, hi)), Some(u)) if lo == hi => format!("{c:.1} ({u}: {lo})"),
        (Some((lo, hi)), Some(u)) => format!("{c:.1} ({u}: {lo}-{hi})"),
        _ => format!("{c:.1}"),
    }
}

/// L1 latencies in cycles further than this from a whole number point at a disturbed
/// clock calibration (a load-to-use latency is a whole number of cycles).
const CYCLES_OFF_WHOLE: f64 = 0.15;

/// What else a reader of the memory section needs to know, one sentence each: how much
/// the hypervisor took, which stretches of the curve were unstable between rounds,
/// which capacities moved between rounds, whether the sweep reached RAM, and whether
/// the L1 cycle count suggests a disturbed clock.
pub fn memory_lines(mem: &crate::memory::MemorySection, host: &crate::host::Host) -> Vec<String> {
    let mut lines = Vec::new();
    let c = &mem.config;
    if let Some(d) = &mem.disturbance {
        let steal = d
            .steal_fraction
            .map_or("an unknown share".into(), |f| format!("{:.1}%", f * 100.0));
        let switches = d
            .involuntary_switches
            .map_or("an unknown number of".into(), |n| n.to_string());
        lines.push(format!(
            "The hypervisor took {steal} of CPU {} during the sweep (steal time); the \
             measuring thread was descheduled {switches} times against its will.",
            c.cpu
        ));
    }
    for &pages in &c.pages {
        let series: Vec<&crate::memory::MemoryPoint> = mem.series(pages).collect();
        let stretches: Vec<String> = series
            .chunk_by(|a, b| a.unstable == b.unstable)
            .filter(|s| s[0].unstable)
            .map(|stretch| {
                let worst = stretch
                    .iter()
                    .filter_map(|p| p.round_spread)
                    .fold(0f64, f64::max);
                let (first, last) = (stretch[0].size_bytes, stretch[stretch.len() - 1].size_bytes);
                if first == last {
                    format!("{} ({:.0}%)", format_size(first), worst * 100.0)
                } else {
                    format!(
                        "{} to {} (up to {:.0}%)",
                        format_size(first),
                        format_size(last),
                        worst * 100.0
                    )
                }
            })
            .collect();
        if !stretches.is_empty() {
            lines.push(format!(
                "Unstable ({pages} pages), where the rounds differ beyond their own noise: {}; \
                 the figures there come from the rounds that agree.",
                stretches.join(", ")
            ));
        }
    }
    for l in mem.levels.iter().filter(|l| l.varies(c.per_octave, 1.5)) {
        if let Some((lo, hi)) = l.size_range_bytes {
            lines.push(format!(
                "{} capacity varies between rounds: {} to {} (a cache shared with other \
                 tenants, or pages placed differently each round).",
                l.name,
                format_size(lo),
                format_size(hi)
            ));
        }
    }
    let llc = host.last_level_cache_bytes();
    let ram_found = mem.levels.iter().any(|l| l.is_ram() && l.detected);
    if !ram_found && !crate::memory::reaches_past_caches(c.max_bytes, llc) {
        lines.push(match llc {
            Some(llc) => format!(
                "RAM not reached: the sweep ended at {}, short of twice the last-level cache \
                 ({} by sysfs); raise --max to measure it.",
                format_size(c.max_bytes),
                format_size(llc)
            ),
            None => format!(
                "RAM not found: the sweep ended at {} and the host reports no cache sizes.",
                format_size(c.max_bytes)
            ),
        });
    }
    if let Some(cycles) = mem
        .levels
        .iter()
        .find(|l| l.name == crate::memory::LevelName::L1D)
        .and_then(|l| l.latency_cycles)
    {
        if (cycles - cycles.round()).abs() > CYCLES_OFF_WHOLE {
            lines.push(format!(
                "L1d reads {cycles:.2} cycles, far from a whole number: the clock calibration \
                 was probably disturbed (its trials spread {}); trust the ns figures.",
                host.clock_spread
                    .map_or("by an unknown amount".into(), |s| format!(
                        "by {:.1}%",
                        s * 100.0
                    ))
            ));
        }
    }
    lines
}

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
        .prefix(&crate::clean::out_temp_prefix("probe"))
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
    crate::clean::run_dir(parent, &crate::clean::out_temp_prefix("tmp"))
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
        let marker = tmp.path().join(crate::clean::MARKER);
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
    publish(tmp, run_dir_names(out, date, "compare"))
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
        if entry.file_name() == crate::clean::MARKER {
            continue;
        }
        let target = dir.join(entry.file_name());
        fs::rename(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

/// What `ladder report --reanalyse` changed, one line per level: "L2: 10.6 ns (609
/// KiB) -> 4.26 ns (220 KiB)", "L1d: unchanged (1.36 ns)".
pub fn level_changes(before: &[Level], after: &[Level]) -> Vec<String> {
    let show = |l: Option<&Level>| match l.filter(|l| l.detected) {
        None => "not detected".to_string(),
        Some(l) => {
            let ns = l
                .latency_ns
                .map(crate::units::format_ns)
                .unwrap_or_default();
            match l.size_bytes {
                Some(b) => format!("{ns} ({})", format_size(b)),
                None => ns,
            }
        }
    };
    let mut keys: Vec<(
        Option<crate::record::memory::PageKind>,
        crate::record::memory::LevelName,
    )> = Vec::new();
    for l in before.iter().chain(after) {
        if !keys.contains(&(l.pages, l.name)) {
            keys.push((l.pages, l.name));
        }
    }
    keys.into_iter()
        .map(|(pages, name)| {
            let find = |ls: &[Level]| -> Option<Level> {
                ls.iter()
                    .find(|l| l.pages == pages && l.name == name)
                    .cloned()
            };
            let (old, new) = (show(find(before).as_ref()), show(find(after).as_ref()));
            let label = match pages {
                Some(p) => format!("{name} ({p} pages)"),
                None => name.to_string(),
            };
            if old == new {
                format!("{label}: unchanged, {new}")
            } else {
                format!("{label}: {old} -> {new}")
            }
        })
        .collect()
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
pub fn level_rows(mem: &crate::memory::MemorySection, host: &Host) -> Vec<[String; 7]> {
    let dash = || "—".to_string();
    mem.levels
        .iter()
        .map(|l| {
            [
                l.name.to_string(),
                l.pages.map(|p| p.to_string()).unwrap_or_else(dash),
                l.latency_ns
                    .map(crate::units::format_ns)
                    .unwrap_or_else(dash),
                cycles_cell(l, host),
                l.size_bytes.map(format_size).unwrap_or_else(dash),
                l.sysfs_size_bytes.map(format_size).unwrap_or_else(dash),
                level_note(l, mem, host),
            ]
        })
        .collect()
}

/// One line about the host: CPU, clock, hypervisor, pages.
pub fn host_line(run: &Run) -> String {
    let h = &run.host;
    format!(
        "{}{} · {} CPUs · clock {} · {} · page {} · THP {}",
        h.cpu_model.as_deref().unwrap_or("unknown CPU"),
        h.uarch
            .as_deref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default(),
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
            .clone()
            .or_else(|| h.huge_pages_note.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| "unavailable".into()),
    )
}

/// Header of the comparison-rung table.
pub const RUNG_HEADER: [&str; 7] = ["rung", "method", "samples", "p50", "p90", "p99", "max"];

/// One row per measured operation: the table shared by the terminal and report.md.
pub fn rung_rows(rungs: &[crate::record::rung::Rung]) -> Vec<[String; 7]> {
    use crate::units::format_ns;
    rungs
        .iter()
        .map(|r| {
            [
                r.rung.clone(),
                match &r.placement {
                    Some(p) => format!("{} [{}]", r.method, p.label()),
                    None => r.method.clone(),
                },
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

/// A caveat in words.
fn caveat(c: crate::record::rung::Caveat) -> &'static str {
    match c {
        crate::record::rung::Caveat::DirectIoRefused => {
            "O_DIRECT was refused, so the reads went through the page cache \
             (POSIX_FADV_RANDOM), each read's block dropped from it after the read \
             (POSIX_FADV_DONTNEED)"
        }
    }
}

/// Why storage reads could not be placed beside the device's interrupt, in words.
fn no_irq_placement(why: NoIrqPlacement) -> &'static str {
    match why {
        NoIrqPlacement::NotShown => "this OS does not show interrupts per CPU",
        NoIrqPlacement::OneCpu => {
            "this process may use one CPU, so there is no other CPU to compare with"
        }
        NoIrqPlacement::NoDevice => {
            "no single block device under this filesystem (network, overlay, RAM or a \
             volume over several devices)"
        }
        NoIrqPlacement::NoDeviceIrq => "the device's interrupt lines are not listed",
        NoIrqPlacement::NoneFired => {
            "none of the device's interrupts fired during the probe reads (polled \
             completions?)"
        }
        NoIrqPlacement::IrqCpuNotAllowed => "the interrupt lands on a CPU this process may not use",
    }
}

/// "1 (100 of 102)": where a row's device interrupts fired.
fn interrupts_text(p: &crate::record::placement::Placement) -> String {
    let total: u64 = p.interrupts.iter().map(|c| c.count).sum();
    let parts: Vec<String> = p
        .interrupts
        .iter()
        .map(|c| format!("{} on CPU {}", c.count, c.cpu))
        .collect();
    match total {
        0 => "none counted".into(),
        _ => parts.join(", "),
    }
}

/// The storage reads beside the device's interrupt and away from it, one sentence per
/// pair of rows; or why they could not be placed.
fn storage_placement_lines(rungs: &[crate::record::rung::Rung]) -> Vec<String> {
    use crate::units::format_ns;
    let mut lines = Vec::new();
    let kind = |r: &&crate::record::rung::Rung| r.placement.as_ref().map(|p| p.kind);
    let on = rungs
        .iter()
        .find(|r| kind(r) == Some(PlacementKind::IrqCpu));
    let off = rungs
        .iter()
        .find(|r| kind(r) == Some(PlacementKind::OtherThanIrq));
    if let (Some(on), Some(off)) = (on, off) {
        let (pon, poff) = (on.placement.as_ref(), off.placement.as_ref());
        let (Some(pon), Some(poff)) = (pon, poff) else {
            return lines;
        };
        let gap = off.p50_ns - on.p50_ns;
        lines.push(format!(
            "{}: p50 {} pinned on CPU {}, where the device's completion interrupt lands \
             (device interrupts during those reads: {}); {} pinned on CPU {} ({}): {} {} \
             per read away from the interrupt's CPU. The ladder uses the other-CPU figure, \
             where most of an application's threads run.",
            on.rung,
            format_ns(on.p50_ns),
            pon.client_cpu,
            interrupts_text(pon),
            format_ns(off.p50_ns),
            poff.client_cpu,
            interrupts_text(poff),
            if gap >= 0.0 {
                "waking the reader across CPUs costs"
            } else {
                "it is faster by"
            },
            format_ns(gap.abs()),
        ));
        // A device with a queue per CPU completes where the read was submitted.
        let most = poff
            .interrupts
            .iter()
            .max_by_key(|c| c.count)
            .map(|c| c.cpu);
        if most == Some(poff.client_cpu) {
            lines.push(format!(
                "{}: the reads on CPU {} completed on CPU {} too: the device has a queue \
                 per CPU (or per group of CPUs) here, so neither row woke another CPU",
                on.rung, poff.client_cpu, poff.client_cpu
            ));
        }
    }
    for r in rungs {
        if let Some(why) = r.no_irq_placement {
            let line = format!(
                "{}: the uncached reads ran where the OS put them, not placed beside the \
                 device's completion interrupt: {}",
                r.rung,
                no_irq_placement(why)
            );
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    lines
}

/// The distinct notes of the rungs (device, fallbacks, the storage reads' placement),
/// one line each.
pub fn rung_notes(rungs: &[crate::record::rung::Rung]) -> Vec<String> {
    let mut notes: Vec<String> = storage_placement_lines(rungs);
    for r in rungs {
        let note = match (&r.note, r.caveat.map(caveat)) {
            (Some(n), Some(c)) => Some(format!("{n}; {c}")),
            (n, c) => n.clone().or(c.map(str::to_string)),
        };
        if let Some(n) = note {
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
                match (r.measured_ns, &r.placement, r.same_cpu_ns) {
                    (None, _, _) => dash(),
                    (Some(_), Some(p), Some(same)) => format!(
                        "{} [{}; {}: {}]",
                        r.method,
                        p.label(),
                        match p.kind {
                            PlacementKind::OtherThanIrq => "on the interrupt's CPU",
                            _ => "same CPU",
                        },
                        format_ns(same)
                    ),
                    (Some(_), Some(p), None) => format!("{} [{}]", r.method, p.label()),
                    (Some(_), None, _) => r.method.clone(),
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

/// One sentence per service row of the ladder measured in both placements: what the
/// cross-CPU wake-up costs here, and why it may differ elsewhere; or, on a one-CPU
/// host, that only one placement exists.
pub fn placement_lines(run: &Run) -> Vec<String> {
    use crate::units::format_ns;
    let mut lines: Vec<String> = run
        .ladder
        .iter()
        // Storage rows are worded with the rungs (see `rung_notes`).
        .filter(|r| r.placement.as_ref().map(|p| p.kind) != Some(PlacementKind::OtherThanIrq))
        .filter_map(|r| {
            let (cross, same) = (r.measured_ns?, r.same_cpu_ns?);
            let where_ = if run.host.virtualized {
                "this is a VM, where waking another CPU goes through the hypervisor; on bare \
                 metal it is typically a few µs"
            } else {
                "on this machine"
            };
            let gap = if cross >= same {
                format!(
                    "a cross-CPU wake-up costs {} per round trip ({where_})",
                    format_ns(cross - same)
                )
            } else {
                format!(
                    "different CPUs are faster here by {}: client and server overlap their work \
                     instead of taking turns on one CPU, and waking the other CPU is cheap",
                    format_ns(same - cross)
                )
            };
            Some(format!(
                "{}: {} with client and server on different CPUs, {} on one CPU: {gap}. The \
                 table uses the different-CPUs figure; spaced requests (1 ms, 10 ms apart) pay \
                 wake-ups too.",
                r.rung,
                format_ns(cross),
                format_ns(same),
            ))
        })
        .collect();
    let one_cpu = run.host.cpus.len() == 1
        && run.rungs.iter().any(|r| {
            r.placement.as_ref().map(|p| p.kind)
                == Some(crate::record::placement::PlacementKind::SameCpu)
        });
    if one_cpu {
        lines.push(
            "One CPU here: client and server could only share it, so the service rows are the \
             software path alone, without the cross-CPU wake-up a deployment pays."
                .into(),
        );
    }
    lines
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
    fn a_typed_caveat_is_worded_beside_the_note_and_an_old_text_note_still_shows() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a/run.json");
        let run = Run::load(&path).unwrap();
        let mut ssd = run.rungs[0].clone();
        assert_eq!(ssd.caveat, None, "an old record loads without one");
        let old = rung_notes(std::slice::from_ref(&ssd));
        assert_eq!(old, ["ssd: ext4 on /dev/vda (/)"]);
        ssd.caveat = Some(crate::record::rung::Caveat::DirectIoRefused);
        let json = serde_json::to_string(&ssd).unwrap();
        assert!(json.contains(r#""caveat":"direct-io-refused""#), "{json}");
        let notes = rung_notes(&[ssd]);
        assert!(notes[0].starts_with("ssd: ext4 on /dev/vda (/); O_DIRECT was refused"));
        assert!(!notes[0].contains("fsync"), "{}", notes[0]);
    }

    #[test]
    fn storage_reads_on_and_off_the_interrupt_s_cpu_are_worded_and_the_ladder_takes_off() {
        use crate::record::placement::{CpuCount, Placement};
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a/run.json");
        let mut run = Run::load(&path).unwrap();
        let ssd = run.rungs[0].clone();
        let placed = |kind, cpu, p50_ns| {
            let mut r = ssd.clone();
            r.p50_ns = p50_ns;
            r.placement = Some(Placement {
                kind,
                client_cpu: cpu,
                server_cpus: Some(vec![1]),
                interrupts: vec![CpuCount { cpu: 1, count: 500 }],
            });
            r
        };
        run.rungs = vec![
            placed(PlacementKind::IrqCpu, 1, 40_000.0),
            placed(PlacementKind::OtherThanIrq, 0, 53_000.0),
        ];
        let notes = rung_notes(&run.rungs);
        assert!(
            notes[0].contains("p50 40.0 µs pinned on CPU 1, where the device's completion")
                && notes[0].contains("53.0 µs pinned on CPU 0 (500 on CPU 1)")
                && notes[0].contains("costs 13.0 µs per read"),
            "{}",
            notes[0]
        );
        run.ladder = crate::ladder::rows(&run);
        let row = run.ladder.iter().find(|r| r.rung == "SSD").unwrap();
        assert_eq!(
            (row.measured_ns, row.same_cpu_ns),
            (Some(53_000.0), Some(40_000.0))
        );
        let cells = ladder_rows(&run);
        let cell = cells.iter().find(|c| c[0] == "SSD").unwrap();
        assert!(
            cell[4].contains("[CPU 0, device interrupt on CPU 1; on the interrupt's CPU: 40.0 µs]"),
            "{}",
            cell[4]
        );
        assert!(!notes.iter().any(|l| l.contains("a queue per CPU")));
        // A device with a queue per CPU: the other CPU's reads completed on it.
        let mut queues = run.rungs.clone();
        queues[1].placement.as_mut().unwrap().interrupts = vec![CpuCount { cpu: 0, count: 500 }];
        assert!(rung_notes(&queues)
            .iter()
            .any(|l| l.contains("the reads on CPU 0 completed on CPU 0 too")));
        // The services' sentence about client and server is not said of a disk.
        assert!(placement_lines(&run).iter().all(|l| !l.starts_with("SSD")));
        // Unplaced reads say why.
        let mut unplaced = ssd.clone();
        unplaced.no_irq_placement = Some(NoIrqPlacement::OneCpu);
        let json = serde_json::to_string(&unplaced).unwrap();
        assert!(json.contains(r#""no_irq_placement":"one-cpu""#), "{json}");
        let notes = rung_notes(&[unplaced]);
        assert!(notes[0].contains("ran where the OS put them") && notes[0].contains("one CPU,"));
    }

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

    #[test]
    fn ratios_keep_three_significant_digits() {
        assert_eq!(format_ratio(1.0904), "1.09");
        assert_eq!(format_ratio(0.1724), "0.172");
        assert_eq!(format_ratio(0.000_492_3), "0.000492");
        assert_eq!(format_ratio(2033.4), "2033");
    }
}
