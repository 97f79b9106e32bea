//! Perf counters through perf-event. A counter that cannot be opened is a value of its
//! own ("unsupported" or "not permitted", with the reason), never a crash and never 0;
//! a counter the kernel never scheduled is "not counted"; a multiplexed one is scaled
//! by time enabled / time running and flagged.
//!
//! A [`CounterGroup`] is opened once per measurement and enabled only around each timed
//! trial, so set-up, warm-up and calibration are not counted.

use crate::measure::TrialHook;
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

impl Availability {
    /// Why a counter is not available ("available" when it is).
    pub fn reason(&self) -> &str {
        match self {
            Availability::Available => "available",
            Availability::Unsupported(why) | Availability::NotPermitted(why) => why,
        }
    }
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

/// What one counter read over a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Reading {
    /// It counted.
    Counted {
        /// Events per access (or per operation), scaled for multiplexing.
        per_access: f64,
        /// Total events, scaled.
        total: f64,
        /// Whether the kernel multiplexed the group (time running < time enabled) and
        /// the count was scaled up.
        multiplexed: bool,
    },
    /// The PMU or event does not exist here.
    Unsupported {
        /// Why.
        reason: String,
    },
    /// The kernel refused to open it.
    NotPermitted {
        /// Why, and what to do.
        reason: String,
    },
    /// It opened but the kernel never scheduled it (time running was 0).
    NotCounted,
}

impl Reading {
    /// The per-access value, where it counted.
    pub fn per_access(&self) -> Option<f64> {
        match self {
            Reading::Counted { per_access, .. } => Some(*per_access),
            _ => None,
        }
    }

    /// A cell for tables and CSV: the value, or why there is none.
    pub fn cell(&self) -> String {
        match self {
            Reading::Counted {
                per_access,
                multiplexed,
                ..
            } => {
                format!("{per_access:.4}{}", if *multiplexed { "*" } else { "" })
            }
            Reading::Unsupported { .. } => "unsupported".into(),
            Reading::NotPermitted { .. } => "not permitted".into(),
            Reading::NotCounted => "not counted".into(),
        }
    }
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
        Some(libc::ENOSYS) => {
            Availability::Unsupported(format!("perf_event_open is not implemented here ({err})"))
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

/// Scales a raw count for multiplexing: `raw * enabled / running`. Returns the value
/// and whether scaling happened; `None` when the counter never ran.
pub fn scale(raw: u64, enabled: u64, running: u64) -> Option<(f64, bool)> {
    if running == 0 {
        return None;
    }
    if running >= enabled {
        Some((raw as f64, false))
    } else {
        Some((raw as f64 * enabled as f64 / running as f64, true))
    }
}

/// The events measured when `--counters` is not given, by perf's names.
pub const DEFAULT_EVENTS: [&str; 9] = [
    "cycles",
    "instructions",
    "L1-dcache-load-misses",
    "LLC-load-misses",
    "dTLB-load-misses",
    "task-clock",
    "page-faults",
    "context-switches",
    "cpu-migrations",
];

/// Checks a `--counters` list: known perf names or raw `rNNNN` (hex); `none` for no
/// counters.
pub fn parse_list(list: &str) -> Result<Vec<String>, String> {
    if list.trim() == "none" {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| {
            if DEFAULT_EVENTS.contains(&n) || raw_code(n).is_some() {
                Ok(n.to_string())
            } else {
                Err(format!(
                    "unknown counter '{n}' (known: {}, or rNNNN for a raw event)",
                    DEFAULT_EVENTS.join(", ")
                ))
            }
        })
        .collect()
}

/// The code of a raw event name `rNNNN` (hex), if it is one.
fn raw_code(name: &str) -> Option<u64> {
    let hex = name.strip_prefix('r')?;
    (!hex.is_empty()).then_some(())?;
    u64::from_str_radix(hex, 16).ok()
}

/// The kind of a named event: the kernel's own events are software, everything else
/// (including raw `rNNNN` codes) is counted by the PMU.
fn kind_of(name: &str) -> EventKind {
    match name {
        "task-clock" | "page-faults" | "context-switches" | "cpu-migrations" => EventKind::Software,
        _ => EventKind::Hardware,
    }
}

/// One counter's running total over a measurement: the scaled sum, whether any read
/// was multiplexed, and whether the kernel ever ran it.
type Totals = (f64, bool, bool);

#[cfg_attr(target_os = "linux", path = "counters/perf.rs")]
#[cfg_attr(not(target_os = "linux"), path = "counters/absent.rs")]
mod backend;

/// Tries to open each default counter on this thread and reports which work (off
/// Linux, each one is "unsupported: no perf_event_open on this OS").
pub fn probe() -> Vec<CounterProbe> {
    DEFAULT_EVENTS
        .iter()
        .map(|&name| CounterProbe {
            name: name.to_string(),
            kind: kind_of(name),
            availability: backend::probe(name),
        })
        .collect()
}

/// A group of counters on the calling thread, enabled only around timed trials. Events
/// that cannot be opened are kept as their reason.
pub struct CounterGroup {
    backend: backend::Group,
    /// Each event and whether it opened.
    members: Vec<(String, Availability)>,
    totals: Vec<Totals>,
    accesses: u64,
}

impl CounterGroup {
    /// Opens the named events (checked with [`parse_list`]) as one group; a member
    /// that cannot be opened keeps its reason.
    pub fn open(names: &[String]) -> CounterGroup {
        let (backend, status) = backend::Group::open(names);
        CounterGroup {
            backend,
            totals: vec![(0.0, false, false); names.len()],
            members: names.iter().cloned().zip(status).collect(),
            accesses: 0,
        }
    }

    /// The readings since the last call, per access, and resets the totals.
    pub fn take(&mut self) -> Vec<(String, Reading)> {
        let accesses = self.accesses.max(1) as f64;
        let out = self
            .members
            .iter()
            .zip(&self.totals)
            .map(|((name, status), &(total, multiplexed, ran))| {
                let reading = match status {
                    Availability::Unsupported(reason) => Reading::Unsupported {
                        reason: reason.clone(),
                    },
                    Availability::NotPermitted(reason) => Reading::NotPermitted {
                        reason: reason.clone(),
                    },
                    Availability::Available if !ran => Reading::NotCounted,
                    Availability::Available => Reading::Counted {
                        per_access: total / accesses,
                        total,
                        multiplexed,
                    },
                };
                (name.clone(), reading)
            })
            .collect();
        self.totals
            .iter_mut()
            .for_each(|t| *t = (0.0, false, false));
        self.accesses = 0;
        out
    }
}

impl TrialHook for CounterGroup {
    fn begin(&mut self) {
        self.backend.begin();
    }

    fn end(&mut self, steps: u64) {
        self.accesses += steps;
        self.backend.end(&mut self.totals);
    }
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

    #[test]
    fn multiplexed_counts_are_scaled_and_flagged() {
        assert_eq!(scale(1000, 10, 10), Some((1000.0, false)));
        assert_eq!(scale(1000, 10, 5), Some((2000.0, true)));
        assert_eq!(scale(300, 90, 30), Some((900.0, true)));
        assert_eq!(scale(0, 10, 0), None);
    }

    #[test]
    fn counter_lists_are_checked() {
        assert_eq!(
            parse_list("cycles, page-faults").unwrap(),
            ["cycles", "page-faults"]
        );
        assert_eq!(parse_list("r01c2").unwrap(), ["r01c2"]);
        assert!(parse_list("none").unwrap().is_empty());
        assert!(parse_list("bogus")
            .unwrap_err()
            .contains("unknown counter 'bogus'"));
        assert!(parse_list("rxyz").is_err());
    }

    #[test]
    fn every_default_counter_is_probed_with_its_kind() {
        let probes = probe();
        assert_eq!(probes.len(), DEFAULT_EVENTS.len());
        assert_eq!(probes[0].kind, EventKind::Hardware);
        let faults = probes.iter().find(|p| p.name == "page-faults").unwrap();
        assert_eq!(faults.kind, EventKind::Software);
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn off_linux_every_counter_reads_unsupported() {
        let mut g = CounterGroup::open(&["cycles".to_string()]);
        match &g.take()[0].1 {
            Reading::Unsupported { reason } => assert!(reason.contains("perf_event_open")),
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
