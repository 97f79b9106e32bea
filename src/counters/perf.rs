//! The Linux backend of [`super::CounterGroup`]: perf_event_open through perf-event.

use super::{classify, kind_of, raw_code, scale, Availability, EventKind, Totals};
use perf_event::events::{Cache, CacheOp, CacheResult, Event, Hardware, Software, WhichCache};
use perf_event::{Builder, Counter};

/// perf-event's event for one of perf's names, where it is one we know.
fn known(name: &str) -> Option<Event> {
    let miss = |which| {
        Event::from(Cache {
            which,
            operation: CacheOp::READ,
            result: CacheResult::MISS,
        })
    };
    Some(match name {
        "cycles" => Hardware::CPU_CYCLES.into(),
        "instructions" => Hardware::INSTRUCTIONS.into(),
        "L1-dcache-load-misses" => miss(WhichCache::L1D),
        "LLC-load-misses" => miss(WhichCache::LL),
        "dTLB-load-misses" => miss(WhichCache::DTLB),
        "task-clock" => Software::TASK_CLOCK.into(),
        "page-faults" => Software::PAGE_FAULTS.into(),
        "context-switches" => Software::CONTEXT_SWITCHES.into(),
        "cpu-migrations" => Software::CPU_MIGRATIONS.into(),
        _ => return None,
    })
}

/// A builder for a named event (known perf name or raw rNNNN). Software events count
/// in the kernel too: a context switch or a migration happens there, and counting user
/// space only would show them as 0.
fn builder<'a>(name: &str) -> Builder<'a> {
    match (known(name), raw_code(name)) {
        (Some(event), _) if kind_of(name) == EventKind::Software => {
            let mut b = Builder::new().kind(event);
            b.include_kernel();
            b
        }
        (Some(event), _) => Builder::new().kind(event),
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

/// Whether one counter opens on this thread.
pub fn probe(name: &str) -> Availability {
    match builder(name).build() {
        Ok(_) => Availability::Available,
        Err(e) => classify(&e),
    }
}

/// The opened perf group, one slot per name (`None` where it did not open).
pub struct Group {
    group: Option<perf_event::Group>,
    counters: Vec<Option<Counter>>,
}

impl Group {
    /// Opens the names as one group and says, per name, whether it opened.
    ///
    /// perf-event 0.4 counts a group member before the kernel accepts it, and its
    /// `Group::read` then expects one value too many; so a member that fails to open
    /// is recorded with its reason and the group is built again without it.
    pub fn open(names: &[String]) -> (Group, Vec<Availability>) {
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
                match builder(name).group(g).build() {
                    Ok(c) => opened.push(c),
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
        let (counters, status) = names
            .iter()
            .map(|name| match failed.iter().find(|(f, _)| f == name) {
                Some((_, why)) => (None, why.clone()),
                None => (
                    Some(opened.next().expect("every name opened or failed")),
                    Availability::Available,
                ),
            })
            .unzip();
        (Group { group, counters }, status)
    }

    /// Resets and enables the group before a timed trial.
    pub fn begin(&mut self) {
        if let Some(g) = &mut self.group {
            let _ = g.reset();
            let _ = g.enable();
        }
    }

    /// Disables the group after a trial and adds each counter's scaled count to its
    /// slot in `totals`.
    pub fn end(&mut self, totals: &mut [Totals]) {
        let Some(g) = &mut self.group else { return };
        let _ = g.disable();
        let Ok(counts) = g.read() else { return };
        let (enabled, running) = (counts.time_enabled(), counts.time_running());
        for (counter, t) in self.counters.iter().zip(totals.iter_mut()) {
            let Some(c) = counter else { continue };
            let raw = counts.get(c).copied().unwrap_or(0);
            if let Some((v, scaled)) = scale(raw, enabled, running) {
                *t = (t.0 + v, t.1 || scaled, true);
            }
        }
    }
}
