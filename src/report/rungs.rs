//! The comparison rungs section: one row per measured operation (a distribution, not a
//! mean), the notes on each (device, fallbacks, placement, persistence), the rungs that
//! did not run and why, and their counters.

use super::writer::{md_table, Table};
use super::Section;
use crate::record::placement::{NoIrqPlacement, PlacementKind};
use crate::record::Run;
use std::fmt::Write;

/// The comparison rungs section.
pub struct ComparisonRungs;

impl Section for ComparisonRungs {
    fn present(&self, run: &Run) -> bool {
        !run.rungs.is_empty() || !run.skipped.is_empty()
    }

    fn terminal(&self, run: &Run) -> String {
        let mut out = String::new();
        if !run.rungs.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                Table::new(RUNG_HEADER).rows(rung_rows(&run.rungs))
            );
            for note in notes(&run.rungs) {
                let _ = writeln!(out, "  {note}");
            }
        }
        for line in skipped_lines(run) {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    fn markdown(&self, run: &Run) -> String {
        let mut md = String::from(
            "\n## Comparison rungs\n\nEach row is a distribution of single operations \
             (hdrhistogram), not a mean.\n\n",
        );
        md.push_str(&md_table(&RUNG_HEADER, rung_rows(&run.rungs)));
        md.push('\n');
        for line in notes(&run.rungs).into_iter().chain(skipped_lines(run)) {
            let _ = writeln!(md, "- {line}");
        }
        md.push_str(&super::counters::rungs_section(&run.rungs));
        md
    }
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

/// The lines under the rungs' table: their notes, Redis persistence, cold vs warm.
fn notes(rungs: &[crate::record::rung::Rung]) -> Vec<String> {
    rung_notes(rungs)
        .into_iter()
        .chain(super::persistence::lines(rungs))
        .chain(cold_lines(rungs))
        .collect()
}

/// One sentence per database engine and transport measured cold: each query warm and
/// cold, with what it read from the storage device.
fn cold_lines(rungs: &[crate::record::rung::Rung]) -> Vec<String> {
    use crate::record::rung::{Query, Rung, RungId};
    let sql = |r: &Rung| match r.id {
        RungId::Sql {
            engine,
            query,
            transport,
        } => Some((engine, query, transport)),
        _ => None,
    };
    let read = |r: &Rung| match r.storage_read_bytes {
        Some(b) => format!(
            "{} from the device per query",
            crate::units::format_size(b as u64)
        ),
        None => "device reads unknown".into(),
    };
    let mut lines = Vec::new();
    for cold in rungs {
        let Some((engine, Query::PointLookupCold, transport)) = sql(cold) else {
            continue;
        };
        let place = cold.placement.as_ref().map(|p| p.kind);
        let find = |q: Query| {
            rungs.iter().find(|r| {
                sql(r) == Some((engine, q, transport))
                    && r.placement.as_ref().map(|p| p.kind) == place
            })
        };
        let pair = |name: &str, warm: Query, cold: Query| match (find(warm), find(cold)) {
            (Some(w), Some(c)) => Some(format!(
                "{name} {} warm ({}) vs {} cold ({})",
                crate::units::format_ns(w.p50_ns),
                read(w),
                crate::units::format_ns(c.p50_ns),
                read(c)
            )),
            _ => None,
        };
        let parts: Vec<String> = [
            pair("PK lookup", Query::PointLookup, Query::PointLookupCold),
            pair("aggregate", Query::Aggregate, Query::AggregateCold),
        ]
        .into_iter()
        .flatten()
        .collect();
        let who = match transport {
            crate::record::rung::Transport::Embedded => cold.rung.clone(),
            t => format!("{} over {t}", cold.rung),
        };
        lines.push(format!(
            "Cold vs warm, {who} (p50): {}. Cold: {} samples, each on a fresh session with the \
             tables in no cache, the statement prepared first.",
            parts.join("; "),
            cold.samples
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ladder::{ladder_rows, placement_lines};
    use std::path::Path;

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
}
