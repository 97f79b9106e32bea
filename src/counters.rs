//! Perf counters through perf-event. A counter that cannot be opened is a value of its
//! own ("unsupported" or "not permitted", with the reason), never a crash and never 0.

use serde::{Deserialize, Serialize};
use std::io;

/// Whether a counter can be opened here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Availability {
    /// The counter opened.
    Available,
    /// The PMU or the event does not exist (ENOENT, EOPNOTSUPP, ENODEV).
    Unsupported(String),
    /// The kernel refused (EACCES, EPERM): perf_event_paranoid or capabilities.
    NotPermitted(String),
}

/// Software or hardware event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Counted by the kernel (task-clock, page-faults...).
    Software,
    /// Counted by the CPU's PMU (cycles, cache misses...).
    Hardware,
}

/// One probed counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterProbe {
    /// perf's name for the event.
    pub name: String,
    /// Software or hardware.
    pub kind: EventKind,
    /// Whether it opened, and why not.
    pub availability: Availability,
}

/// perf_event_paranoid, where the kernel exposes it.
fn paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Classifies an error from opening a counter.
pub fn classify(err: &io::Error) -> Availability {
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
            Availability::Unsupported(format!("no such PMU or event here ({err})"))
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let level = paranoid()
                .map(|p| format!("perf_event_paranoid is {p}"))
                .unwrap_or_else(|| "perf_event_paranoid is unreadable".into());
            Availability::NotPermitted(format!(
                "{level}; run as root or `sysctl kernel.perf_event_paranoid=1`"
            ))
        }
        _ => Availability::Unsupported(err.to_string()),
    }
}

#[cfg(target_os = "linux")]
mod events {
    use super::EventKind;
    use perf_event::events::{Cache, CacheOp, CacheResult, Event, Hardware, Software, WhichCache};

    /// The events the tool knows by perf's names.
    pub fn known() -> Vec<(&'static str, EventKind, Event)> {
        let miss = |which| {
            Event::from(Cache {
                which,
                operation: CacheOp::READ,
                result: CacheResult::MISS,
            })
        };
        vec![
            ("cycles", EventKind::Hardware, Hardware::CPU_CYCLES.into()),
            (
                "instructions",
                EventKind::Hardware,
                Hardware::INSTRUCTIONS.into(),
            ),
            (
                "L1-dcache-load-misses",
                EventKind::Hardware,
                miss(WhichCache::L1D),
            ),
            ("LLC-load-misses", EventKind::Hardware, miss(WhichCache::LL)),
            (
                "dTLB-load-misses",
                EventKind::Hardware,
                miss(WhichCache::DTLB),
            ),
            (
                "task-clock",
                EventKind::Software,
                Software::TASK_CLOCK.into(),
            ),
            (
                "page-faults",
                EventKind::Software,
                Software::PAGE_FAULTS.into(),
            ),
            (
                "context-switches",
                EventKind::Software,
                Software::CONTEXT_SWITCHES.into(),
            ),
            (
                "cpu-migrations",
                EventKind::Software,
                Software::CPU_MIGRATIONS.into(),
            ),
        ]
    }
}

/// Tries to open each known counter on this thread and reports which work.
#[cfg(target_os = "linux")]
pub fn probe() -> Vec<CounterProbe> {
    events::known()
        .into_iter()
        .map(|(name, kind, event)| CounterProbe {
            name: name.to_string(),
            kind,
            availability: match perf_event::Builder::new().kind(event).build() {
                Ok(_) => Availability::Available,
                Err(e) => classify(&e),
            },
        })
        .collect()
}

/// perf-event is Linux only.
#[cfg(not(target_os = "linux"))]
pub fn probe() -> Vec<CounterProbe> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pmu_is_unsupported_and_refusal_is_not_permitted() {
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        assert!(matches!(classify(&enoent), Availability::Unsupported(_)));
        let eopnotsupp = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        assert!(matches!(
            classify(&eopnotsupp),
            Availability::Unsupported(_)
        ));
        let eacces = io::Error::from_raw_os_error(libc::EACCES);
        match classify(&eacces) {
            Availability::NotPermitted(why) => assert!(why.contains("perf_event_paranoid")),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn software_counters_open_here() {
        let probes = probe();
        let task_clock = probes.iter().find(|p| p.name == "task-clock").unwrap();
        assert_eq!(task_clock.availability, Availability::Available);
    }
}
