//! The host's fixed facts in words (`ladder host`, the report's host line, "pinned to"),
//! and two sections: the host line, and the caches as sysfs reports them.

use super::writer::md_table;
use super::Section;
use crate::record::host::{Host, HostNote, NoAffinity, NoHugePages};
use crate::record::Run;
use crate::units::format_size;
use std::fmt;

/// The host line that opens the terminal summary and report.md; the CPU row of `ladder
/// compare`.
pub struct HostFacts;

impl Section for HostFacts {
    fn present(&self, _run: &Run) -> bool {
        true
    }

    fn terminal(&self, run: &Run) -> String {
        format!("{}\n", host_line(run))
    }

    fn markdown(&self, run: &Run) -> String {
        format!("{}\n\n", host_line(run))
    }

    fn compare_rows(&self, runs: &[&Run]) -> Vec<Vec<String>> {
        let cpu = |h: &Host| {
            let model = h.cpu_model.clone().unwrap_or_else(|| "unknown".into());
            match &h.uarch {
                Some(u) => format!("{model} ({u})"),
                None => model,
            }
        };
        vec![std::iter::once("CPU".to_string())
            .chain(runs.iter().map(|r| cpu(&r.host)))
            .collect()]
    }
}

/// The caches as sysfs reports them (report.md only).
pub struct SysfsCaches;

impl Section for SysfsCaches {
    fn present(&self, run: &Run) -> bool {
        !run.host.caches.is_empty()
    }

    fn markdown(&self, run: &Run) -> String {
        let rows = run.host.caches.iter().map(|c| {
            vec![
                c.name(),
                format_size(c.size_bytes),
                format!("{} B", c.line_bytes),
                c.shared_cpus.clone(),
            ]
        });
        format!(
            "Caches as sysfs reports them:\n\n{}\n",
            md_table(&["cache", "size", "line", "shared by CPUs"], rows)
        )
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

impl fmt::Display for NoAffinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoAffinity::MacosQos => {
                "not pinned: macOS has no thread affinity (QoS user-interactive)"
            }
            NoAffinity::Unsupported => {
                "not pinned: thread affinity is unsupported on this platform"
            }
        })
    }
}

impl fmt::Display for NoHugePages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoHugePages::ThpUnavailable => "THP unavailable",
            NoHugePages::SuperpagesNotRequested => "superpages not requested",
            NoHugePages::Unsupported => "huge pages unsupported on this platform",
        })
    }
}

impl<T: fmt::Display> fmt::Display for HostNote<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostNote::Fact(fact) => fact.fmt(f),
            HostNote::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fact_is_stored_as_a_name_and_an_old_sentence_loads_as_written() {
        let fact = HostNote::Fact(NoAffinity::MacosQos);
        let text = serde_json::to_string(&fact).unwrap();
        assert_eq!(text, "\"macos_qos\"");
        assert_eq!(
            serde_json::from_str::<HostNote<NoAffinity>>(&text).unwrap(),
            fact
        );
        let old = "not pinned: macOS has no thread affinity (QoS user-interactive)";
        let loaded: HostNote<NoAffinity> =
            serde_json::from_str(&serde_json::to_string(old).unwrap()).unwrap();
        assert_eq!(loaded, HostNote::Text(old.into()));
        // The fact is worded as the old records said it.
        assert_eq!(fact.to_string(), old);
        let thp: HostNote<NoHugePages> = serde_json::from_str("\"thp_unavailable\"").unwrap();
        assert_eq!(thp.to_string(), "THP unavailable");
    }
}
