//! The cores section (`ladder cores`, and the short form in `ladder run`) of report.md,
//! the terminal and `ladder compare`: words and tables from the record alone.

use super::writer::terminal_block;
use super::writer::Table;
use super::Section;
use crate::error::Result;
use crate::measure::median;
use crate::record::cores::{BandwidthKind, CoresSection, Handoff, PairLatency, Relation};
use crate::record::host::Host;
use crate::record::memory::LevelName;
use crate::record::Run;
use crate::units::{format_ns, format_size};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The between-the-cores section.
pub struct BetweenCores;

impl Section for BetweenCores {
    fn present(&self, run: &Run) -> bool {
        run.cores.is_some()
    }

    fn terminal(&self, run: &Run) -> String {
        run.cores.as_ref().map_or_else(String::new, |c| {
            terminal_block("between the cores:", headline(c, &run.host))
        })
    }

    fn markdown(&self, run: &Run) -> String {
        run.cores
            .as_ref()
            .map_or_else(String::new, |c| section(c, &run.host))
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        run.cores
            .as_ref()
            .map_or(Ok(Vec::new()), |c| crate::plot::cores::cores_charts(c, dir))
    }

    fn compare_rows(&self, runs: &[&Run]) -> Vec<Vec<String>> {
        let cores: Vec<&Option<CoresSection>> = runs.iter().map(|r| &r.cores).collect();
        rows_for_compare(&cores)
    }
}

/// The matrix is tabulated pair by pair up to this many CPUs; past it, the heat map
/// and run.json hold the pairs.
const TABLE_CPUS: usize = 16;

fn handoff_name(h: Handoff) -> &'static str {
    match h {
        Handoff::Cas => "CAS",
        Handoff::Store => "store/load",
    }
}

fn kind_name(k: BandwidthKind) -> &'static str {
    match k {
        BandwidthKind::Read => "read",
        BandwidthKind::Write => "write",
        BandwidthKind::Copy => "copy",
        BandwidthKind::NtStore => "NT store",
    }
}

/// How many modes, in words.
fn count_word(n: usize) -> String {
    match n {
        2 => "two".into(),
        3 => "three".into(),
        4 => "four".into(),
        n => n.to_string(),
    }
}

/// The modes of a pair, "25.0 ns (60% of bursts) and 122 ns (40%)".
fn modes_text(p: &PairLatency) -> String {
    let parts: Vec<String> = p
        .modes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let of = if i == 0 { " of bursts" } else { "" };
            format!("{} ({:.0}%{of})", format_ns(m.one_way_ns), m.share * 100.0)
        })
        .collect();
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.concat(),
    }
}

/// One sentence per pair whose bursts fell into more than one mode: the pair moved
/// between placements (a VM's vCPUs between physical cores) while it was measured.
pub fn moved_lines(c: &CoresSection) -> Vec<String> {
    c.pairs
        .iter()
        .filter(|p| p.modes.len() > 1)
        .map(|p| {
            format!(
                "CPU {} → {} ({}): this pair moved between {} placements during the run: {}; \
                 its figure is the placement it spent most bursts in",
                p.cpu_a,
                p.cpu_b,
                handoff_name(p.handoff),
                count_word(p.modes.len()),
                modes_text(p)
            )
        })
        .collect()
}

/// Per relation and handoff: the pairs' count and the median of their one-way medians.
pub fn relation_groups(c: &CoresSection) -> Vec<(Relation, Handoff, usize, f64)> {
    let mut keys: Vec<(Relation, Handoff)> = Vec::new();
    for p in &c.pairs {
        if !keys.contains(&(p.relation, p.handoff)) {
            keys.push((p.relation, p.handoff));
        }
    }
    keys.sort_by_key(|&(r, h)| (r, h == Handoff::Store));
    keys.into_iter()
        .map(|(r, h)| {
            let v: Vec<f64> = c
                .pairs
                .iter()
                .filter(|p| p.relation == r && p.handoff == h)
                .map(|p| p.one_way_ns)
                .collect();
            (r, h, v.len(), median(&v))
        })
        .collect()
}

/// The gbps of `kind` at `level`, where measured.
fn gbps(c: &CoresSection, level: LevelName, kind: BandwidthKind) -> Option<f64> {
    c.bandwidth
        .iter()
        .find(|b| b.level == level && b.kind == kind)
        .map(|b| b.gbps)
}

/// Levels in the order measured.
fn levels(c: &CoresSection) -> Vec<(LevelName, u64)> {
    let mut v: Vec<(LevelName, u64)> = Vec::new();
    for b in &c.bandwidth {
        if !v.iter().any(|l| l.0 == b.level) {
            v.push((b.level, b.size_bytes));
        }
    }
    v
}

/// The write-allocate sentence: plain stores against non-temporal stores in RAM.
fn write_allocate_line(c: &CoresSection) -> Option<String> {
    let (w, nt) = (
        gbps(c, LevelName::Ram, BandwidthKind::Write)?,
        gbps(c, LevelName::Ram, BandwidthKind::NtStore)?,
    );
    let r = nt / w;
    let figures = format!("plain stores {w:.1} GB/s, non-temporal stores {nt:.1} GB/s");
    Some(if r > 1.15 {
        format!(
            "Write-allocate in RAM: {figures} ({r:.1}x). A plain store to a line that is not \
             cached first reads that line from memory (a read for ownership), so a plain \
             write moves up to twice the bytes it writes; streaming stores skip the read.{}",
            if r > 2.2 {
                " More than 2x says more than that read is at play: the write-back of the \
                 evicted lines shares the bus with those reads (and a VM adds its own)."
            } else {
                ""
            }
        )
    } else if r < 0.87 {
        format!(
            "Write-allocate in RAM: {figures}: streaming stores are slower here, so the \
             read a plain store makes first costs less than going around the caches \
             (common on VMs and some server parts)."
        )
    } else {
        format!(
            "Write-allocate in RAM: {figures}, within 15% of each other: the read a plain \
             store makes first does not show here."
        )
    })
}

/// No core we know returns an L1 data-cache load in fewer cycles (load-to-use: 4 on
/// Zen and Skylake-class cores, 5 on Golden Cove, 3 on a few Arm cores with simple
/// addressing); an in-memory figure below it did not go through the cache.
const L1_LOAD_CYCLES: f64 = 4.0;

/// "4.0 ns (7.5 cycles)", or the ns alone where the clock is unknown.
fn timed(ns: f64, host: &Host) -> String {
    match host.clock_ghz {
        Some(g) => format!("{} ({:.1} cycles)", format_ns(ns), ns * g),
        None => format_ns(ns),
    }
}

/// A sentence where an in-memory increment took fewer cycles than an L1 load: the core
/// kept the value out of the cache (it renamed the store and its reload), so the
/// figure is register speed, not a cache access.
fn below_l1_line(what: &str, ns: f64, host: &Host) -> Option<String> {
    let cycles = ns * host.clock_ghz?;
    (cycles < L1_LOAD_CYCLES).then(|| {
        format!(
            "{what} takes {cycles:.1} cycles, below an L1 load ({L1_LOAD_CYCLES:.0}+ cycles): \
             the core renamed the store and its reload (memory renaming) instead of going \
             through the cache, so it is register speed, and a ratio against it is not a \
             ratio against a cache access"
        )
    })
}

/// The renamed form beside store forwarding proper: what memory renaming saves here.
fn renamed_text(forward_ns: f64, renamed: Option<f64>, host: &Host) -> String {
    match renamed {
        Some(r) if r < 0.6 * forward_ns => format!(
            "; the same store and reload through one base register take {}: the core \
             renames that form (memory renaming) and skips the forwarding",
            timed(r, host)
        ),
        Some(r) => format!(
            "; the same through one base register takes {}: no memory renaming seen here",
            timed(r, host)
        ),
        None => String::new(),
    }
}

/// The headline figures, one line each (terminal and report).
pub fn headline(c: &CoresSection, host: &Host) -> Vec<String> {
    let mut lines = Vec::new();
    if c.pairs.is_empty() {
        lines.push(format!(
            "core-to-core: not measured, {} CPU given (a pair needs two)",
            c.cpus.len()
        ));
    }
    for (r, h, n, ns) in relation_groups(c) {
        lines.push(format!(
            "core-to-core {} one-way, {} ({n} pairs): median {}",
            handoff_name(h),
            r.label(),
            format_ns(ns)
        ));
    }
    lines.extend(moved_lines(c));
    if c.bursts_per_pair == 0 && !c.pairs.is_empty() {
        lines.push(
            "core-to-core: recorded by an older ladder, which timed each pair in one block \
             and whose CAS handoff waited on plain loads between its compare-and-swaps \
             (about 12-14 ns more per hop than the standard CAS ping-pong)"
                .into(),
        );
    }
    match &c.false_sharing {
        Some(f) => {
            let t = |ns| timed(ns, host);
            lines.push(format!(
                "false sharing ({} threads): {} per increment with the counters in one line, \
                 {} padded apart — {:.1}x slower; one shared atomic counter {}",
                f.threads,
                t(f.same_line_ns),
                t(f.padded_ns),
                f.slowdown,
                t(f.atomic_ns)
            ));
            if let (Some(same), Some(padded)) = (f.same_line_fetch_add_ns, f.padded_fetch_add_ns) {
                let atomic = same / padded;
                let why = if f.slowdown < 1.5 && atomic > 2.0 {
                    ": the plain stores wait in the store buffer while the line travels, so \
                     the loop hardly notices; an atomic needs the line at every step"
                } else {
                    ""
                };
                lines.push(format!(
                    "false sharing with an atomic fetch-add on each own counter: {} in one \
                     line, {} padded apart — {atomic:.1}x slower{why}",
                    t(same),
                    t(padded),
                ));
            }
            lines.extend(below_l1_line(
                "false sharing: the padded baseline",
                f.padded_ns,
                host,
            ));
        }
        None => lines.push("false sharing: not measured, it needs two CPUs".into()),
    }
    for (level, size) in levels(c) {
        let cells: Vec<String> = BandwidthKind::ALL
            .iter()
            .filter_map(|&k| gbps(c, level, k).map(|g| format!("{} {g:.1}", kind_name(k))))
            .collect();
        lines.push(format!(
            "bandwidth {level} ({}), GB/s: {}",
            format_size(size),
            cells.join(", ")
        ));
    }
    lines.extend(write_allocate_line(c));
    if let Some(isa) = c.no_nt_store {
        lines.push(format!(
            "non-temporal stores: unsupported here (no streaming-store kernel for {isa:?})"
        ));
    }
    if let Some(ns) = c.store_forward_ns {
        lines.push(format!(
            "store latency: hidden by the store buffer; a store read back by a dependent \
             load (store forwarding) takes {}{}",
            timed(ns, host),
            renamed_text(ns, c.renamed_reload_ns, host)
        ));
        if c.renamed_reload_ns.is_none() {
            lines.extend(below_l1_line("store forwarding", ns, host));
        }
    }
    if let (Some(one), Some(all)) = (c.scaling.first(), c.scaling.last()) {
        let steps: Vec<String> = c
            .scaling
            .iter()
            .map(|s| format!("{} {:.1}", s.threads, s.read_gbps))
            .collect();
        lines.push(format!(
            "read bandwidth at RAM ({}) by threads, GB/s: {} ({:.1}x from 1 to {})",
            format_size(c.ram_bytes),
            steps.join(", "),
            all.read_gbps / one.read_gbps,
            all.threads
        ));
    }
    if let (Some(idle), Some(busy)) = (c.loaded.first(), c.loaded.last()) {
        lines.push(format!(
            "loaded latency (RAM chase on CPU {}): {} idle, {} while {} other CPU(s) stream \
             {:.1} GB/s",
            c.chase_cpu.map_or("?".into(), |c| c.to_string()),
            format_ns(idle.latency_ns),
            format_ns(busy.latency_ns),
            c.cpus.len().saturating_sub(1),
            busy.background_gbps
        ));
    }
    if host.virtualized {
        lines.push(format!(
            "this is a VM{}: the topology is the one the hypervisor shows the guest, and a \
             vCPU may move between physical cores, so relations and pair latencies describe \
             the guest's view",
            host.hypervisor
                .as_deref()
                .map_or(String::new(), |h| format!(" ({h})"))
        ));
    }
    if let Some(note) = &host.pinning_note {
        lines.push(format!("threads not pinned: {note}"));
    }
    lines
}

/// Appends a Markdown table (see [`Table`]) and a blank line.
fn table(md: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    md.push_str(&Table::new(header.iter().copied()).rows(rows).markdown());
    md.push('\n');
}

fn pair_row(p: &PairLatency) -> Vec<String> {
    vec![
        p.cpu_a.to_string(),
        p.cpu_b.to_string(),
        p.relation.label().into(),
        handoff_name(p.handoff).into(),
        format_ns(p.one_way_ns),
        format_ns(p.round_trip_ns),
        format_ns(p.p99_ns),
        match p.modes.len() {
            0 => "—".into(),
            1 => "one".into(),
            _ => modes_text(p),
        },
    ]
}

/// The markdown section.
pub fn section(c: &CoresSection, host: &Host) -> String {
    let mut md = String::from("\n## Between the cores\n\n");
    for line in headline(c, host) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "\n### Core-to-core latency\n\nTwo threads pinned to two CPUs hand one cache line \
         back and forth: with a compare-and-swap (CAS, the standard method) each side spins \
         on a compare-and-swap from the other's value to its own; with store/load (a plain \
         flag's handoff) each spins on loads until it is its turn, then stores. {} samples \
         per pair and handoff, each the mean of {} round trips{}; one-way is half the \
         median round trip, p99 is over the samples. Where a pair's bursts fall into \
         groups far apart, the pair moved between placements while it was measured: the \
         table gives the group it spent most bursts in and lists the others.\n\n\
         ![Core-to-core latency](cores.png)\n",
        c.samples_per_pair,
        c.round_trips_per_sample,
        match c.bursts_per_pair {
            0 => String::new(),
            b => format!(
                ", taken in {b} bursts spread over at least {} ms",
                c.spread_ms
            ),
        }
    );
    table(
        &mut md,
        &["relation", "handoff", "pairs", "one-way (median of pairs)"],
        relation_groups(c).into_iter().map(|(r, h, n, ns)| {
            vec![
                r.label().into(),
                handoff_name(h).into(),
                n.to_string(),
                format_ns(ns),
            ]
        }),
    );
    if c.cpus.len() <= TABLE_CPUS {
        table(
            &mut md,
            &[
                "from",
                "to",
                "relation",
                "handoff",
                "one-way",
                "round trip",
                "p99",
                "placements seen",
            ],
            c.pairs.iter().map(pair_row),
        );
    } else {
        let _ = writeln!(
            md,
            "{} pairs: see the heat map and run.json.\n",
            c.pairs.len()
        );
    }
    let _ = writeln!(md, "Where each CPU sits (sysfs):\n");
    let opt = |v: Option<u32>| v.map_or("—".into(), |v| v.to_string());
    table(
        &mut md,
        &[
            "CPU",
            "core's CPUs",
            "last-level cache's CPUs",
            "package",
            "NUMA node",
        ],
        c.topology.iter().map(|t| {
            vec![
                t.cpu.to_string(),
                crate::units::cpu_list(&t.core_cpus, ","),
                match t.llc_level {
                    Some(l) => format!("L{l}: {}", crate::units::cpu_list(&t.llc_cpus, ",")),
                    None => "—".into(),
                },
                opt(t.package),
                opt(t.node),
            ]
        }),
    );
    if let Some(f) = &c.false_sharing {
        let _ = writeln!(
            md,
            "### False sharing\n\n{} threads on CPUs {}, {} increments each per trial (a \
             load, add and store of the thread's own counter in memory, addressed so the \
             core cannot rename it: the padded row is an increment through the store \
             buffer and L1, not register speed; the shared counter takes an atomic \
             fetch-add); ns per increment per thread, median trial.\n",
            f.threads,
            crate::units::cpu_list(&f.cpus, ", "),
            f.increments
        );
        table(
            &mut md,
            &[
                "counters",
                "ns per increment",
                "cycles",
                "against padded (same bump)",
            ],
            [
                (
                    "own counters, one cache line",
                    Some(f.same_line_ns),
                    f.padded_ns,
                ),
                ("own counters, 128 B apart", Some(f.padded_ns), f.padded_ns),
                (
                    "own atomic counters (fetch-add), one cache line",
                    f.same_line_fetch_add_ns,
                    f.padded_fetch_add_ns.unwrap_or(f64::NAN),
                ),
                (
                    "own atomic counters (fetch-add), 128 B apart",
                    f.padded_fetch_add_ns,
                    f.padded_fetch_add_ns.unwrap_or(f64::NAN),
                ),
                ("one shared atomic counter", Some(f.atomic_ns), f.padded_ns),
            ]
            .iter()
            .filter_map(|&(what, ns, base)| {
                let ns = ns?;
                Some(vec![
                    what.to_string(),
                    format_ns(ns),
                    host.clock_ghz
                        .map_or("—".into(), |g| format!("{:.1}", ns * g)),
                    format!("{:.1}x", ns / base),
                ])
            }),
        );
    }
    let _ = writeln!(
        md,
        "### Bandwidth per level\n\nOne thread, the widest vectors this CPU offers ({}), \
         best trial, GB/s. Copy counts the bytes read and the bytes written; the working \
         set is split between source and destination.\n",
        c.bandwidth
            .first()
            .map_or("none measured".into(), |b| format!("{:?}", b.isa))
    );
    table(
        &mut md,
        &["level", "working set", "read", "write", "copy", "NT store"],
        levels(c).into_iter().map(|(level, size)| {
            let mut row = vec![level.to_string(), format_size(size)];
            row.extend(
                BandwidthKind::ALL
                    .iter()
                    .map(|&k| gbps(c, level, k).map_or("—".into(), |g| format!("{g:.1}"))),
            );
            row
        }),
    );
    if !c.scaling.is_empty() || !c.loaded.is_empty() {
        let _ = writeln!(
            md,
            "### Scaling with cores\n\n![Loaded latency and scaling](loaded.png)\n"
        );
        table(
            &mut md,
            &["threads", "CPUs", "read GB/s at RAM"],
            c.scaling.iter().map(|s| {
                vec![
                    s.threads.to_string(),
                    crate::units::cpu_list(&s.cpus, ","),
                    format!("{:.1}", s.read_gbps),
                ]
            }),
        );
        table(
            &mut md,
            &["loaders busy", "their bandwidth GB/s", "RAM chase latency"],
            c.loaded.iter().map(|l| {
                vec![
                    format!("{:.0}%", l.intensity * 100.0),
                    format!("{:.1}", l.background_gbps),
                    format_ns(l.latency_ns),
                ]
            }),
        );
    }
    md
}

/// The rows `ladder compare` adds for runs with a cores section.
fn rows_for_compare(runs: &[&Option<CoresSection>]) -> Vec<Vec<String>> {
    if runs.iter().all(|c| c.is_none()) {
        return Vec::new();
    }
    let dash = || "—".to_string();
    let row = |what: &str, f: &dyn Fn(&CoresSection) -> Option<String>| {
        let mut r = vec![what.to_string()];
        r.extend(
            runs.iter()
                .map(|c| c.as_ref().and_then(f).unwrap_or_else(dash)),
        );
        r
    };
    let cas = |c: &CoresSection| {
        let v: Vec<f64> = c
            .pairs
            .iter()
            .filter(|p| p.handoff == Handoff::Cas)
            .map(|p| p.one_way_ns)
            .collect();
        (!v.is_empty()).then(|| format_ns(median(&v)))
    };
    let bw = |level: LevelName, kind| {
        move |c: &CoresSection| gbps(c, level, kind).map(|g| format!("{g:.1} GB/s"))
    };
    vec![
        row("core-to-core CAS one-way (median of pairs)", &cas),
        row("false sharing slowdown", &|c| {
            c.false_sharing
                .as_ref()
                .map(|f| format!("{:.1}x", f.slowdown))
        }),
        row("L1d write", &bw(LevelName::L1D, BandwidthKind::Write)),
        row("RAM write", &bw(LevelName::Ram, BandwidthKind::Write)),
        row("RAM NT store", &bw(LevelName::Ram, BandwidthKind::NtStore)),
        row("RAM read, all threads", &|c| {
            c.scaling
                .last()
                .map(|s| format!("{:.1} GB/s ({} threads)", s.read_gbps, s.threads))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::cores::{LevelBandwidth, PairMode};
    use crate::record::memory::Isa;

    fn section(write: f64, nt: f64) -> CoresSection {
        let pair = |a, b, relation, handoff, ns: f64| PairLatency {
            cpu_a: a,
            cpu_b: b,
            relation,
            handoff,
            one_way_ns: ns,
            round_trip_ns: 2.0 * ns,
            p99_ns: 3.0 * ns,
            burst_one_way_ns: vec![ns; 3],
            modes: vec![PairMode {
                one_way_ns: ns,
                bursts: 3,
                share: 1.0,
            }],
        };
        let bw = |kind, gbps| LevelBandwidth {
            level: LevelName::Ram,
            size_bytes: 1 << 28,
            kind,
            gbps,
            isa: Isa::Avx2,
        };
        CoresSection {
            cpus: vec![0, 1, 2],
            topology: Vec::new(),
            samples_per_pair: 10,
            round_trips_per_sample: 4,
            bursts_per_pair: 3,
            spread_ms: 20,
            pairs: vec![
                pair(0, 1, Relation::SameCore, Handoff::Cas, 10.0),
                pair(1, 0, Relation::SameCore, Handoff::Cas, 20.0),
                pair(0, 2, Relation::OtherSocket, Handoff::Cas, 100.0),
                pair(0, 2, Relation::OtherSocket, Handoff::Store, 150.0),
            ],
            false_sharing: None,
            bandwidth: vec![
                bw(BandwidthKind::Write, write),
                bw(BandwidthKind::NtStore, nt),
            ],
            no_nt_store: None,
            store_forward_ns: None,
            renamed_reload_ns: None,
            scaling: Vec::new(),
            ram_bytes: 1 << 28,
            loaded: Vec::new(),
            chase_cpu: None,
        }
    }

    #[test]
    fn pairs_are_grouped_by_relation_then_handoff() {
        let g = relation_groups(&section(1.0, 1.0));
        assert_eq!(
            g,
            vec![
                (Relation::SameCore, Handoff::Cas, 2, 15.0),
                (Relation::OtherSocket, Handoff::Cas, 1, 100.0),
                (Relation::OtherSocket, Handoff::Store, 1, 150.0),
            ]
        );
    }

    #[test]
    fn write_allocate_is_worded_from_the_measured_ratio() {
        let line = |w, nt| write_allocate_line(&section(w, nt)).unwrap();
        assert!(line(5.0, 9.0).contains("read for ownership"));
        assert!(!line(5.0, 9.0).contains("More than 2x"));
        assert!(line(5.0, 20.0).contains("More than 2x"));
        assert!(line(9.0, 5.0).contains("slower here"));
        assert!(line(5.0, 5.2).contains("does not show here"));
        let mut none = section(5.0, 5.0);
        none.bandwidth.pop();
        assert_eq!(write_allocate_line(&none), None);
    }

    #[test]
    fn a_pair_that_moved_is_said_with_both_placements() {
        let mut c = section(5.0, 9.0);
        assert!(moved_lines(&c).is_empty());
        c.pairs[0].modes = vec![
            PairMode {
                one_way_ns: 25.0,
                bursts: 6,
                share: 0.6,
            },
            PairMode {
                one_way_ns: 122.0,
                bursts: 4,
                share: 0.4,
            },
        ];
        let lines = moved_lines(&c);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains(
                "this pair moved between two placements during the run: 25.0 ns (60% of \
                 bursts) and 122 ns (40%)"
            ),
            "{}",
            lines[0]
        );
        let host = crate::record::host::Host::probe();
        assert!(headline(&c, &host).contains(&lines[0]));
        assert!(super::section(&c, &host).contains("25.0 ns (60% of bursts) and 122 ns (40%)"));
    }

    #[test]
    fn old_records_say_how_they_were_measured() {
        let mut c = section(5.0, 9.0);
        let host = crate::record::host::Host::probe();
        let older = |c: &CoresSection| {
            headline(c, &host)
                .iter()
                .any(|l| l.contains("older ladder"))
        };
        assert!(!older(&c));
        c.bursts_per_pair = 0;
        assert!(older(&c));
    }

    #[test]
    fn a_baseline_below_an_l1_load_is_said_with_its_cycles() {
        let mut host = crate::record::host::Host::probe();
        host.clock_ghz = Some(3.0);
        let mut c = section(5.0, 9.0);
        c.false_sharing = Some(crate::record::cores::FalseSharing {
            threads: 2,
            cpus: vec![0, 1],
            increments: 10,
            same_line_ns: 9.0,
            padded_ns: 0.36,
            atomic_ns: 20.0,
            slowdown: 9.0 / 0.36,
            same_line_fetch_add_ns: Some(60.0),
            padded_fetch_add_ns: Some(6.0),
        });
        let said = |c: &CoresSection, host: &Host, what: &str| {
            headline(c, host).iter().any(|l| l.contains(what))
        };
        assert!(said(&c, &host, "0.36 ns (1.1 cycles) padded apart"));
        assert!(said(
            &c,
            &host,
            "padded baseline takes 1.1 cycles, below an L1 load"
        ));
        assert!(said(
            &c,
            &host,
            "fetch-add on each own counter: 60.0 ns (180.0 cycles)"
        ));
        assert!(said(
            &c,
            &host,
            "6.00 ns (18.0 cycles) padded apart — 10.0x slower"
        ));
        // An increment through the cache is not flagged.
        c.false_sharing.as_mut().unwrap().padded_ns = 2.5;
        assert!(said(&c, &host, "(7.5 cycles) padded apart"));
        assert!(!said(&c, &host, "below an L1 load"));
        // Store forwarding beside the renamed form.
        c.store_forward_ns = Some(2.5);
        c.renamed_reload_ns = Some(0.34);
        assert!(said(
            &c,
            &host,
            "(7.5 cycles); the same store and reload through one base"
        ));
        assert!(said(&c, &host, "memory renaming"));
        c.renamed_reload_ns = Some(2.4);
        assert!(said(&c, &host, "no memory renaming seen here"));
        // An older record's renamed figure is flagged; without a clock nothing is.
        c.renamed_reload_ns = None;
        c.store_forward_ns = Some(0.38);
        assert!(said(
            &c,
            &host,
            "store forwarding takes 1.1 cycles, below an L1 load"
        ));
        host.clock_ghz = None;
        assert!(!said(&c, &host, "below an L1 load"));
    }

    #[test]
    fn missing_parts_are_said_not_zeroed() {
        let mut c = section(5.0, 9.0);
        c.pairs.clear();
        c.cpus = vec![0];
        let host = crate::record::host::Host::probe();
        let lines = headline(&c, &host);
        assert!(lines.iter().any(|l| l.contains("a pair needs two")));
        assert!(lines
            .iter()
            .any(|l| l.contains("false sharing: not measured")));
    }
}
