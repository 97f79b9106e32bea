//! The cores section (`ladder cores`, and the short form in `ladder run`) of report.md,
//! the terminal and `ladder compare`: words and tables from the record alone.

use super::writer::Table;
use crate::host::Host;
use crate::measure::median;
use crate::record::cores::{BandwidthKind, CoresSection, Handoff, PairLatency, Relation};
use crate::record::memory::LevelName;
use crate::units::{format_ns, format_size};
use std::fmt::Write;

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
    match &c.false_sharing {
        Some(f) => lines.push(format!(
            "false sharing ({} threads): {} per increment with the counters in one line, {} \
             padded apart — {:.1}x slower; one shared atomic counter {}",
            f.threads,
            format_ns(f.same_line_ns),
            format_ns(f.padded_ns),
            f.slowdown,
            format_ns(f.atomic_ns)
        )),
        None => lines.push("false sharing: not measured, it needs two CPUs".into()),
    }
    for (level, size) in levels(c) {
        let cells: Vec<String> = crate::cores::write::KINDS
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
        let cycles = host
            .clock_ghz
            .map_or(String::new(), |g| format!(", {:.1} cycles", ns * g));
        lines.push(format!(
            "store latency: hidden by the store buffer; a store read back by a dependent \
             load (store forwarding) takes {}{cycles}",
            format_ns(ns)
        ));
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
         back and forth: with a compare-and-swap (CAS) each side spins until it wins the \
         word; with store/load each spins on loads until it is its turn, then stores. \
         {} samples per pair and handoff, each the mean of {} round trips; one-way is half \
         the median round trip, p99 is over the samples.\n\n\
         ![Core-to-core latency](cores.png)\n",
        c.samples_per_pair, c.round_trips_per_sample
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
             relaxed load and store of the thread's own counter; the shared counter takes an \
             atomic fetch-add); ns per increment per thread, median trial.\n",
            f.threads,
            crate::units::cpu_list(&f.cpus, ", "),
            f.increments
        );
        table(
            &mut md,
            &["counters", "ns per increment", "against padded"],
            [
                ("own counters, one cache line", f.same_line_ns),
                ("own counters, 128 B apart", f.padded_ns),
                ("one shared atomic counter", f.atomic_ns),
            ]
            .iter()
            .map(|(what, ns)| {
                vec![
                    what.to_string(),
                    format_ns(*ns),
                    format!("{:.1}x", ns / f.padded_ns),
                ]
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
                crate::cores::write::KINDS
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
pub fn compare_rows(runs: &[&Option<CoresSection>]) -> Vec<Vec<String>> {
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
    use crate::memory::kernels::Isa;
    use crate::record::cores::LevelBandwidth;

    fn section(write: f64, nt: f64) -> CoresSection {
        let pair = |a, b, relation, handoff, ns: f64| PairLatency {
            cpu_a: a,
            cpu_b: b,
            relation,
            handoff,
            one_way_ns: ns,
            round_trip_ns: 2.0 * ns,
            p99_ns: 3.0 * ns,
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
    fn missing_parts_are_said_not_zeroed() {
        let mut c = section(5.0, 9.0);
        c.pairs.clear();
        c.cpus = vec![0];
        let host = crate::host::Host::probe();
        let lines = headline(&c, &host);
        assert!(lines.iter().any(|l| l.contains("a pair needs two")));
        assert!(lines
            .iter()
            .any(|l| l.contains("false sharing: not measured")));
    }
}
