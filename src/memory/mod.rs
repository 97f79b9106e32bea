//! The memory ladder: buffers, pointer chains, the chase kernel, the size sweep and
//! level detection.

pub mod buffer;
pub mod chain;
pub mod chase;
pub mod kernels;
pub mod levels;
#[cfg(test)]
mod levels_bench;
pub mod patterns;
pub mod segment;

use crate::record::memory::{
    Level, LevelName, MemoryPoint, MemorySection, Order, PageKind, PagesObtained, SweepConfig,
};
use crate::record::patterns::WorkingSet;

use crate::counters::{CounterGroup, Reading};
use crate::error::{Error, Result};
use crate::measure::rounds;
use crate::measure::{disturbance, per_op_ns, TrialPolicy};
use crate::record::host::Host;
use buffer::Buffer;
use std::collections::BTreeMap;

/// Bytes between chain nodes where the host's line size is unknown (the sweep's record
/// then says the node size was assumed); elsewhere a node is one line of the host
/// ([`node_bytes`]): 64 B on x86_64 and most Arm cores, 128 B on Apple M-series.
pub const NODE_BYTES: usize = 64;
/// Warm-up steps before timing are capped at this many: a full pass for every size up
/// to 16 MiB. Building the chain already wrote every node, so past that the warm-up
/// only settles the TLB and the page-walk caches.
const MAX_WARMUP_STEPS: u64 = 1 << 18;
/// The first calibration run's length; the trial length grows from here.
const FIRST_STEPS: u64 = 4096;

impl SweepConfig {
    /// The short sweep that finds a host's levels for the experiments built on them
    /// (`ladder stride`, the benches): the quick grid policy, reaching at least 256 MiB
    /// for their RAM sets, 4 points per octave, 6 trials of 2 ms in 3 rounds (two each,
    /// so a round has its own noise to judge by), 4 KiB pages, no counters.
    pub fn level_finding(host: &Host, cpu: usize) -> SweepConfig {
        let available = host.mem_available_bytes;
        let max = default_max_bytes(host.last_level_cache_bytes(), available, true)
            .max(256 << 20)
            .min(available.map_or(u64::MAX, |a| a / 2));
        let (node_bytes, node_bytes_assumed) = node_bytes(host);
        SweepConfig {
            min_bytes: 4096,
            max_bytes: max,
            per_octave: 4,
            pages: vec![PageKind::Small],
            order: Order::TlbLocal,
            cpu,
            trials: 6,
            rounds: 3,
            min_trial_ms: TrialPolicy::QUICK.min_trial.as_secs_f64() * 1e3,
            seed: 0x1e7e1,
            node_bytes,
            node_bytes_assumed,
            window_bytes: chain::WINDOW_BYTES as u64,
            counters: Vec::new(),
        }
    }

    /// The trial policy this configuration asks for.
    pub fn policy(&self) -> TrialPolicy {
        TrialPolicy {
            trials: self.trials,
            min_trial: std::time::Duration::from_secs_f64(self.min_trial_ms / 1e3),
        }
    }
}

/// The chain node size for this host: one cache line as the host says, or
/// [`NODE_BYTES`] and `true` (assumed) where it does not.
pub fn node_bytes(host: &Host) -> (u64, bool) {
    match host.line_bytes {
        Some(line) => (line, false),
        None => (NODE_BYTES as u64, true),
    }
}

/// The working-set sizes of a sweep: `per_octave` geometric steps per doubling from
/// `min` to `max`, each rounded to whole nodes, `max` always included.
pub fn grid(min: u64, max: u64, per_octave: u32) -> Vec<u64> {
    let node = NODE_BYTES as u64;
    let mut sizes = Vec::new();
    let mut k = 0u32;
    loop {
        let s = min as f64 * 2f64.powf(f64::from(k) / f64::from(per_octave.max(1)));
        let s = ((s / node as f64).round() as u64).max(1) * node;
        if s >= max {
            break;
        }
        if sizes.last() != Some(&s) {
            sizes.push(s);
        }
        k += 1;
    }
    sizes.push(max.div_ceil(node) * node);
    sizes
}

/// A pointer chain laid out in its own buffer, ready to chase.
pub struct Chain {
    buf: Buffer,
    at: *const u8,
    nodes: usize,
}

impl Chain {
    /// Builds a chain over `size` bytes (rounded down to whole nodes, at least one):
    /// maps the buffer, writes the chain (which faults every page in) and checks in
    /// debug builds that it is one cycle through every node.
    pub fn new(
        size: u64,
        node_bytes: usize,
        pages: PageKind,
        order: Order,
        seed: u64,
    ) -> Result<Chain> {
        let nodes = (size as usize / node_bytes).max(1);
        let mut buf = Buffer::new(nodes * node_bytes, pages)?;
        let base = buf.as_mut_ptr();
        // SAFETY: the buffer holds nodes * node_bytes bytes, page aligned.
        let at = unsafe { chain::write_chain(base, nodes, node_bytes, order, seed) };
        debug_assert!(
            // SAFETY: the chain was just written into this live buffer.
            unsafe { chain::is_single_cycle(base, at, nodes, node_bytes) },
            "chain over {nodes} nodes is not a single cycle"
        );
        Ok(Chain { buf, at, nodes })
    }

    /// Builds a chain through the given byte offsets of a fresh `len`-byte buffer, in
    /// that order (for layouts the standard orders do not give).
    pub fn from_offsets(len: usize, pages: PageKind, offsets: &[usize]) -> Result<Chain> {
        if let Some(&bad) = offsets.iter().find(|&&o| o % 8 != 0 || o + 8 > len) {
            return Err(Error::Internal(format!(
                "offset {bad} does not fit a {len}-byte buffer"
            )));
        }
        let mut buf = Buffer::new(len, pages)?;
        // SAFETY: offsets were checked against the buffer above (and are distinct by
        // the callers' construction).
        let at = unsafe { chain::link(buf.as_mut_ptr(), offsets.iter().copied()) };
        Ok(Chain {
            buf,
            at,
            nodes: offsets.len(),
        })
    }

    /// Nodes in the chain.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Follows the chain for `steps` dependent loads, continuing where the last call
    /// stopped.
    pub fn chase(&mut self, steps: u64) {
        // SAFETY: `at` always points at a node of this chain, whose buffer we own.
        self.at = unsafe { chase::chase(self.at, steps) };
    }

    /// The share of the buffer on huge pages (see [`Buffer::huge_fraction`]).
    pub fn huge_fraction(&self) -> Option<f64> {
        self.buf.huge_fraction()
    }
}

/// The page size a buffer got, from its share on huge pages, or where nothing was
/// checked, what the platform says (unknown where smaps could not be read; superpages
/// not requested on macOS).
pub fn pages_obtained(huge_fraction: Option<f64>) -> PagesObtained {
    match huge_fraction {
        Some(f) if f >= 0.9 => PagesObtained::Huge,
        Some(f) if f <= 0.1 => PagesObtained::Small,
        Some(_) => PagesObtained::Mixed,
        None => crate::platform::PAGES_UNCHECKED,
    }
}

/// One visit of a working set: builds the chain (a fresh one each round, so the rounds
/// also sample different physical pages), warms up, then times `trials` trials.
struct Visit {
    trials: Vec<f64>,
    huge_fraction: Option<f64>,
    counters: Vec<(String, Reading)>,
}

fn visit(
    size: u64,
    pages: PageKind,
    cfg: &SweepConfig,
    round: u32,
    trials: usize,
    counters: &mut CounterGroup,
) -> Result<Visit> {
    let seed = cfg.seed ^ size ^ (u64::from(round) << 56);
    let mut chain = Chain::new(size, cfg.node_bytes as usize, pages, cfg.order, seed)?;
    let huge_fraction = chain.huge_fraction();
    chain.chase((chain.nodes() as u64).min(MAX_WARMUP_STEPS));
    let policy = TrialPolicy {
        trials,
        ..cfg.policy()
    };
    let trials = per_op_ns(|steps| chain.chase(steps), FIRST_STEPS, policy, counters);
    Ok(Visit {
        trials,
        huge_fraction,
        counters: counters.take(),
    })
}

/// The readings of several rounds as one: totals add up; the per-access figure is the
/// mean of the rounds' (their trials are of about equal length); a counter that failed
/// in any round keeps its reason.
fn merge_counters(visits: &[Visit]) -> BTreeMap<String, Reading> {
    let mut out: BTreeMap<String, Reading> = BTreeMap::new();
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for (name, reading) in visits.iter().flat_map(|v| &v.counters) {
        match (out.get_mut(name), reading) {
            (
                Some(Reading::Counted {
                    per_access,
                    total,
                    multiplexed,
                }),
                Reading::Counted {
                    per_access: p,
                    total: t,
                    multiplexed: m,
                },
            ) => {
                let n = counted.entry(name.clone()).or_insert(1);
                *per_access = (*per_access * *n as f64 + p) / (*n + 1) as f64;
                *n += 1;
                *total += t;
                *multiplexed |= m;
            }
            (Some(Reading::Counted { .. }), other) | (None, other) => {
                out.insert(name.clone(), other.clone());
            }
            (Some(_), _) => {}
        }
    }
    out
}

/// Combines a point's visits into its record.
fn point(
    size: u64,
    pages: PageKind,
    visits: &[Visit],
    clock_ghz: Option<f64>,
) -> Result<MemoryPoint> {
    let rounds: Vec<Vec<f64>> = visits.iter().map(|v| v.trials.clone()).collect();
    let c = rounds::combine(&rounds)
        .ok_or_else(|| Error::Internal(format!("no valid trials at {size} bytes")))?;
    let fractions: Vec<f64> = visits.iter().filter_map(|v| v.huge_fraction).collect();
    let huge_fraction = (fractions.len() == visits.len())
        .then(|| fractions.iter().sum::<f64>() / fractions.len() as f64);
    Ok(MemoryPoint {
        size_bytes: size,
        pages: pages_obtained(huge_fraction),
        pages_requested: pages,
        huge_fraction,
        ns_per_access: c.summary.min,
        ns_median: c.summary.median,
        ns_p99: c.summary.p99,
        cv: c.summary.cv,
        cycles_per_access: clock_ghz.map(|g| c.summary.min * g),
        trials: c.summary.n,
        counters: merge_counters(visits),
        rounds: c.rounds,
        round_spread: (visits.len() > 1).then_some(c.spread),
        unstable: c.unstable,
    })
}

/// The grid indices of round `round`: ascending in even rounds, descending in odd ones,
/// so a slow drift of the host shows as disagreement instead of a tilted curve.
fn round_order(n: usize, round: u32) -> Box<dyn Iterator<Item = usize>> {
    if round.is_multiple_of(2) {
        Box::new(0..n)
    } else {
        Box::new((0..n).rev())
    }
}

/// Runs the sweep on the calling thread (pinned first, its former affinity restored at
/// the end) and detects the levels of each series. The grid is swept `cfg.rounds`
/// times, each point's trials spread over the rounds. `on_point` is told after every
/// visit (for progress) with the working-set size.
pub fn sweep(
    cfg: &SweepConfig,
    host: &Host,
    mut on_point: impl FnMut(u64, PageKind),
) -> Result<MemorySection> {
    let _pin = crate::host::Pinned::to(cfg.cpu, &host.cpus)?;
    let watch = disturbance::Watch::start(cfg.cpu);
    let sizes = grid(cfg.min_bytes, cfg.max_bytes, cfg.per_octave);
    let rounds = cfg.rounds.max(1);
    let split = rounds::split_trials(cfg.trials, rounds as usize);
    let mut points = Vec::new();
    let mut found = Vec::new();
    let mut counters = CounterGroup::open(&cfg.counters);
    for &pages in &cfg.pages {
        let mut visits: Vec<Vec<Visit>> = sizes.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            for i in round_order(sizes.len(), round) {
                crate::signal::check()?;
                let v = visit(
                    sizes[i],
                    pages,
                    cfg,
                    round,
                    split[round as usize],
                    &mut counters,
                )?;
                visits[i].push(v);
                on_point(sizes[i], pages);
            }
        }
        let series: Vec<MemoryPoint> = sizes
            .iter()
            .zip(&visits)
            .map(|(&size, v)| point(size, pages, v, host.clock_ghz))
            .collect::<Result<_>>()?;
        found.extend(series_levels(&series, pages, host));
        points.extend(series);
    }
    Ok(MemorySection {
        config: cfg.clone(),
        points,
        levels: found,
        disturbance: Some(watch.finish()),
        detector_version: Some(levels::DETECTOR_VERSION),
        previous_levels: None,
    })
}

/// The levels of one page-size series on `host`: detected against its sysfs caches and
/// clock, then set beside what its microarchitecture documents. The sweep and
/// [`reanalyse`] both go through here.
fn series_levels(series: &[MemoryPoint], pages: PageKind, host: &Host) -> Vec<Level> {
    let cache_sizes: Vec<u64> = host.data_caches().iter().map(|c| c.size_bytes).collect();
    let mut found = levels::detect_series(series, &cache_sizes, host.clock_ghz, pages);
    crate::uarch::check(&mut found, crate::uarch::of_host(host));
    found
}

/// Detects the levels of a saved sweep again with this version's detector, on the host
/// the record describes (its caches, clock and CPU, which may be another machine's),
/// keeping the levels an earlier detector found in `previous_levels`.
pub fn reanalyse(mem: &mut MemorySection, host: &Host) {
    let version = mem.detector_version.unwrap_or(1);
    let mut found = Vec::new();
    for &pages in &mem.config.pages {
        let series: Vec<MemoryPoint> = mem.series(pages).cloned().collect();
        found.extend(series_levels(&series, pages, host));
    }
    let old = std::mem::replace(&mut mem.levels, found);
    // Reanalysing twice keeps what the earlier detector said, not this one's.
    if version != levels::DETECTOR_VERSION {
        mem.previous_levels = Some(crate::record::memory::PreviousLevels {
            detector_version: version,
            levels: old,
        });
    }
    mem.detector_version = Some(levels::DETECTOR_VERSION);
}

/// The largest working set a sweep covers unless told otherwise: four times the
/// last-level cache sysfs reports, so that the curve ends on RAM however large the
/// host's caches are; at least 64 MiB (512 MiB for a full sweep, which gives the RAM
/// plateau a few octaves); at most half the memory available. Without a reported
/// cache size, 1 GiB.
pub fn default_max_bytes(llc: Option<u64>, available: Option<u64>, quick: bool) -> u64 {
    let floor = if quick { 64 << 20 } else { 512 << 20 };
    let want = llc.map_or(1 << 30, |l| l.saturating_mul(4)).max(floor);
    available.map_or(want, |a| want.min(a / 2))
}

/// The working sets for experiments per level: the middle of each detected cache
/// plateau, a RAM set well past the last cache, and the user's sizes.
pub fn level_working_sets(mem: &MemorySection, user: &[u64], ram_bytes: u64) -> Vec<WorkingSet> {
    let mut sets: Vec<WorkingSet> = mem
        .levels
        .iter()
        .filter(|l| l.detected && !l.is_ram())
        .filter_map(|l| {
            let (lo, hi) = l.plateau_bytes?;
            let middle = ((lo as f64 * hi as f64).sqrt() as u64).div_ceil(4096) * 4096;
            Some(WorkingSet {
                level: l.name,
                size_bytes: middle,
            })
        })
        .collect();
    sets.push(WorkingSet {
        level: LevelName::Ram,
        size_bytes: ram_bytes,
    });
    sets.extend(user.iter().map(|&s| WorkingSet {
        level: LevelName::User,
        size_bytes: s.div_ceil(4096) * 4096,
    }));
    sets
}

/// The RAM working set for experiments built on a sweep: eight times the largest cache
/// capacity the curve shows (the sweep's end where it bounds none), at least 256 MiB
/// (64 MiB when `quick`), at most a quarter of the memory available.
pub fn ram_set_bytes(mem: &MemorySection, available: Option<u64>, quick: bool) -> u64 {
    let llc = mem
        .levels
        .iter()
        .filter(|l| !l.is_ram())
        .filter_map(|l| l.size_bytes)
        .max()
        .unwrap_or(mem.config.max_bytes);
    let floor: u64 = if quick { 64 << 20 } else { 256 << 20 };
    let cap = available.map_or(u64::MAX, |a| a / 4).max(64 << 20);
    llc.saturating_mul(8).max(floor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_the_asked_density_and_ends() {
        let g = grid(4096, 1 << 20, 4);
        assert_eq!(g.first(), Some(&4096));
        assert_eq!(g.last(), Some(&(1 << 20)));
        assert_eq!(g.len(), 8 * 4 + 1);
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert!(g.contains(&(32 << 10)));
        assert!(g.iter().all(|s| s % NODE_BYTES as u64 == 0));
    }

    #[test]
    fn grid_of_one_size_is_that_size() {
        assert_eq!(grid(8192, 8192, 4), vec![8192]);
    }
}
