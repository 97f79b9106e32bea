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

#[cfg(target_os = "linux")]
mod sys {
    use super::{raw_code, EventKind};
    use perf_event::events::{Cache, CacheOp, CacheResult, Event, Hardware, Software, WhichCache};
    use perf_event::Builder;

    fn known(name: &str) -> Option<(EventKind, Event)> {
        let miss = |which| {
            Event::from(Cache {
                which,
                operation: CacheOp::READ,
                result: CacheResult::MISS,
            })
        };
        Some(match name {
            "cycles" => (EventKind::Hardware, Hardware::CPU_CYCLES.into()),
            "instructions" => (EventKind::Hardware, Hardware::INSTRUCTIONS.into()),
            "L1-dcache-load-misses" => (EventKind::Hardware, miss(WhichCache::L1D)),
            "LLC-load-misses" => (EventKind::Hardware, miss(WhichCache::LL)),
            "dTLB-load-misses" => (EventKind::Hardware, miss(WhichCache::DTLB)),
            "task-clock" => (EventKind::Software, Software::TASK_CLOCK.into()),
            "page-faults" => (EventKind::Software, Software::PAGE_FAULTS.into()),
            "context-switches" => (EventKind::Software, Software::CONTEXT_SWITCHES.into()),
            "cpu-migrations" => (EventKind::Software, Software::CPU_MIGRATIONS.into()),
            _ => return None,
        })
    }

    /// The kind of a named event (raw events are hardware).
    pub fn kind_of(name: &str) -> EventKind {
        known(name).map_or(EventKind::Hardware, |(k, _)| k)
    }

    /// A builder for a named event (known perf name or raw rNNNN). Software events
    /// count in the kernel too: a context switch or a migration happens there, and
    /// counting user space only would show them as 0.
    pub fn builder<'a>(name: &str) -> Builder<'a> {
        match (known(name), raw_code(name)) {
            (Some((EventKind::Software, event)), _) => {
                let mut b = Builder::new().kind(event);
                b.include_kernel();
                b
            }
            (Some((_, event)), _) => Builder::new().kind(event),
            (None, Some(code)) => {
                let mut b = Builder::new();
                let attrs = b.attrs_mut();
                // PERF_TYPE_RAW in linux/perf_event.h: a stable kernel ABI value.
                attrs.type_ = 4;
                attrs.config = code;
                b
            }
            (None, None) => unreachable!("names are checked by parse_list"),
        }
    }
}

/// Tries to open each default counter on this thread and reports which work.
#[cfg(target_os = "linux")]
pub fn probe() -> Vec<CounterProbe> {
    DEFAULT_EVENTS
        .iter()
        .map(|&name| CounterProbe {
            name: name.to_string(),
            kind: sys::kind_of(name),
            availability: match sys::builder(name).build() {
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

/// A group of counters on the calling thread, enabled only around timed trials. Events
/// that cannot be opened are kept as their reason.
pub struct CounterGroup {
    #[cfg(target_os = "linux")]
    group: Option<perf_event::Group>,
    #[cfg(target_os = "linux")]
    members: Vec<(String, Result<perf_event::Counter, Availability>)>,
    totals: Vec<(f64, bool, bool)>,
    accesses: u64,
}

impl CounterGroup {
    /// Opens the named events (checked with [`parse_list`]) as one group.
    ///
    /// perf-event 0.4 counts a group member before the kernel accepts it, and its
    /// `Group::read` then expects one value too many; so a member that fails to open
    /// is recorded with its reason and the group is built again without it.
    #[cfg(target_os = "linux")]
    pub fn open(names: &[String]) -> CounterGroup {
        let mut failed: Vec<(String, Availability)> = Vec::new();
        let (group, opened) = loop {
            let mut group = match names.is_empty() {
                true => None,
                false => perf_event::Group::new().ok(),
            };
            let Some(g) = &mut group else {
                let why = Availability::Unsupported("perf_event_open is not available here".into());
                failed.extend(names.iter().map(|n| (n.clone(), why.clone())));
                break (None, Vec::new());
            };
            let mut opened = Vec::new();
            let mut retry = false;
            for name in names
                .iter()
                .filter(|n| !failed.iter().any(|(f, _)| f == *n))
            {
                match sys::builder(name).group(g).build() {
                    Ok(c) => opened.push((name.clone(), c)),
                    Err(e) => {
                        failed.push((name.clone(), classify(&e)));
                        retry = true;
                        break;
                    }
                }
            }
            if !retry {
                break (group, opened);
            }
        };
        let mut opened = opened.into_iter();
        let members = names
            .iter()
            .map(|name| {
                let counter = match failed.iter().find(|(f, _)| f == name) {
                    Some((_, why)) => Err(why.clone()),
                    None => Ok(opened.next().expect("every name opened or failed").1),
                };
                (name.clone(), counter)
            })
            .collect::<Vec<_>>();
        CounterGroup {
            totals: vec![(0.0, false, false); members.len()],
            group,
            members,
            accesses: 0,
        }
    }

    /// No perf-event off Linux: every counter is unsupported.
    #[cfg(not(target_os = "linux"))]
    pub fn open(names: &[String]) -> CounterGroup {
        let _ = names;
        CounterGroup {
            totals: Vec::new(),
            accesses: 0,
        }
    }

    /// The readings since the last call, per access, and resets the totals.
    pub fn take(&mut self) -> Vec<(String, Reading)> {
        let accesses = self.accesses.max(1) as f64;
        #[cfg(target_os = "linux")]
        let out = self
            .members
            .iter()
            .zip(&self.totals)
            .map(|((name, counter), &(total, multiplexed, ran))| {
                let reading = match counter {
                    Err(Availability::Unsupported(reason)) => Reading::Unsupported {
                        reason: reason.clone(),
                    },
                    Err(Availability::NotPermitted(reason)) => Reading::NotPermitted {
                        reason: reason.clone(),
                    },
                    Err(Availability::Available) | Ok(_) if !ran => Reading::NotCounted,
                    _ => Reading::Counted {
                        per_access: total / accesses,
                        total,
                        multiplexed,
                    },
                };
                (name.clone(), reading)
            })
            .collect();
        #[cfg(not(target_os = "linux"))]
        let out = Vec::new();
        self.totals
            .iter_mut()
            .for_each(|t| *t = (0.0, false, false));
        self.accesses = 0;
        out
    }
}

impl TrialHook for CounterGroup {
    fn begin(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(g) = &mut self.group {
            let _ = g.reset();
            let _ = g.enable();
        }
    }

    fn end(&mut self, steps: u64) {
        self.accesses += steps;
        #[cfg(target_os = "linux")]
        if let Some(g) = &mut self.group {
            let _ = g.disable();
            let Ok(counts) = g.read() else { return };
            let (enabled, running) = (counts.time_enabled(), counts.time_running());
            for ((_, counter), t) in self.members.iter().zip(self.totals.iter_mut()) {
                let Ok(c) = counter else { continue };
                let raw = counts.get(c).copied().unwrap_or(0);
                if let Some((v, scaled)) = scale(raw, enabled, running) {
                    *t = (t.0 + v, t.1 || scaled, true);
                }
            }
        }
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

    #[cfg(target_os = "linux")]
    #[test]
    fn software_counters_open_here() {
        let probes = probe();
        let task_clock = probes.iter().find(|p| p.name == "task-clock").unwrap();
        assert_eq!(task_clock.availability, Availability::Available);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn page_faults_count_the_pages_a_fresh_buffer_touches() {
        use crate::memory::buffer::{Buffer, PageKind};
        let mut g = CounterGroup::open(&["page-faults".to_string(), "cycles".to_string()]);
        let pages = 2048;
        let page = crate::host::page_size();
        let mut buf = Buffer::new(pages * page, PageKind::Small).unwrap();
        let p = buf.as_mut_ptr();
        g.begin();
        for i in 0..pages {
            // SAFETY: i * page < len, inside the mapping.
            unsafe { p.add(i * page).write_volatile(1) };
        }
        g.end(pages as u64);
        let readings = g.take();
        let faults = readings[0].1.per_access().expect("page-faults counted");
        assert!(faults >= 0.9, "{faults} faults per page");
        // Hardware cycles: counted where a PMU exists, a reason where not; never 0.
        match &readings[1].1 {
            Reading::Counted { total, .. } => assert!(*total > 0.0),
            Reading::Unsupported { reason } | Reading::NotPermitted { reason } => {
                assert!(!reason.is_empty())
            }
            Reading::NotCounted => {}
        }
    }
}
