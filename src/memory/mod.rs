//! The memory ladder: buffers, pointer chains, the chase kernel, the size sweep and
//! level detection.

pub mod buffer;
pub mod chain;
pub mod chase;
pub mod kernels;
pub mod levels;
pub mod patterns;

pub use buffer::PageKind;
pub use chain::Order;

use crate::counters::{CounterGroup, Reading};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::measure::{per_op_ns, Summary, TrialPolicy};
use buffer::Buffer;
use serde::{Deserialize, Serialize};
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

/// What to sweep and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// Smallest working set, bytes.
    pub min_bytes: u64,
    /// Largest working set, bytes.
    pub max_bytes: u64,
    /// Grid points per octave.
    pub per_octave: u32,
    /// Page sizes to sweep with, one series each.
    pub pages: Vec<PageKind>,
    /// Chain order.
    pub order: Order,
    /// The CPU the measuring thread is pinned to.
    pub cpu: usize,
    /// Trials per point.
    pub trials: usize,
    /// Shortest trial, milliseconds.
    pub min_trial_ms: f64,
    /// Seed of the chain orders.
    pub seed: u64,
    /// Bytes between nodes.
    pub node_bytes: u64,
    /// Whether `node_bytes` was assumed ([`NODE_BYTES`]) because the host's line size
    /// is unknown.
    #[serde(default)]
    pub node_bytes_assumed: bool,
    /// TLB-local window, bytes.
    pub window_bytes: u64,
    /// Perf counters read around each timed trial, by perf's names.
    #[serde(default)]
    pub counters: Vec<String>,
}

impl SweepConfig {
    /// The trial policy this configuration asks for.
    pub fn policy(&self) -> TrialPolicy {
        TrialPolicy {
            trials: self.trials,
            min_trial: std::time::Duration::from_secs_f64(self.min_trial_ms / 1e3),
        }
    }
}

/// One measured working-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryPoint {
    /// Working-set size, bytes.
    pub size_bytes: u64,
    /// Page size obtained: "4k", "2m", or "mixed" (checked in /proc/self/smaps).
    pub pages: String,
    /// Page size asked for.
    pub pages_requested: PageKind,
    /// Share of the buffer on huge pages, where smaps could be read.
    pub huge_fraction: Option<f64>,
    /// Fastest trial, ns per access (the architectural figure).
    pub ns_per_access: f64,
    /// Median trial, ns per access (the typical figure).
    pub ns_median: f64,
    /// 99th-percentile trial, ns per access.
    pub ns_p99: f64,
    /// Coefficient of variation over the trials.
    pub cv: f64,
    /// Fastest trial in core cycles per access (null when the clock is unknown).
    pub cycles_per_access: Option<f64>,
    /// Trials taken.
    pub trials: usize,
    /// Perf counter readings per access over the timed trials.
    #[serde(default)]
    pub counters: BTreeMap<String, Reading>,
}

/// The memory section of a run: configuration, every point, detected levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySection {
    /// What was swept.
    pub config: SweepConfig,
    /// Every measured point, series after series.
    pub points: Vec<MemoryPoint>,
    /// Detected levels, per page-size series.
    pub levels: Vec<levels::Level>,
}

impl MemorySection {
    /// The points of one page-size series.
    pub fn series(&self, pages: PageKind) -> impl Iterator<Item = &MemoryPoint> {
        self.points
            .iter()
            .filter(move |p| p.pages_requested == pages)
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

/// The page size a buffer got, from its share on huge pages: "2m", "4k", "mixed", or
/// where nothing was checked, what the platform says ("unknown" where smaps could not
/// be read; "superpages not requested" on macOS).
pub fn pages_obtained(huge_fraction: Option<f64>) -> &'static str {
    match huge_fraction {
        Some(f) if f >= 0.9 => "2m",
        Some(f) if f <= 0.1 => "4k",
        Some(_) => "mixed",
        None => crate::platform::PAGES_UNCHECKED,
    }
}

/// Measures one working set: builds the chain, checks the pages obtained, warms up,
/// then times the trials.
pub fn measure_point(
    size: u64,
    pages: PageKind,
    cfg: &SweepConfig,
    clock_ghz: Option<f64>,
    counters: &mut CounterGroup,
) -> Result<MemoryPoint> {
    let mut chain = Chain::new(
        size,
        cfg.node_bytes as usize,
        pages,
        cfg.order,
        cfg.seed ^ size,
    )?;
    let huge_fraction = chain.huge_fraction();
    let obtained = pages_obtained(huge_fraction);
    chain.chase((chain.nodes() as u64).min(MAX_WARMUP_STEPS));
    let trials = per_op_ns(
        |steps| chain.chase(steps),
        FIRST_STEPS,
        cfg.policy(),
        counters,
    );
    drop(chain);
    let s = Summary::of(&trials)
        .ok_or_else(|| Error::Internal(format!("no valid trials at {size} bytes")))?;
    Ok(MemoryPoint {
        size_bytes: size,
        pages: obtained.to_string(),
        pages_requested: pages,
        huge_fraction,
        ns_per_access: s.min,
        ns_median: s.median,
        ns_p99: s.p99,
        cv: s.cv,
        cycles_per_access: clock_ghz.map(|g| s.min * g),
        trials: s.n,
        counters: counters.take().into_iter().collect(),
    })
}

/// Runs the sweep on the calling thread (pinned first) and detects the levels of each
/// series. `on_point` is told after every point (for progress).
pub fn sweep(
    cfg: &SweepConfig,
    host: &Host,
    mut on_point: impl FnMut(&MemoryPoint),
) -> Result<MemorySection> {
    crate::host::pin_to(cfg.cpu, &host.cpus)?;
    let sizes = grid(cfg.min_bytes, cfg.max_bytes, cfg.per_octave);
    let cache_sizes: Vec<u64> = host.data_caches().iter().map(|c| c.size_bytes).collect();
    let mut points = Vec::new();
    let mut found = Vec::new();
    let mut counters = CounterGroup::open(&cfg.counters);
    for &pages in &cfg.pages {
        let mut series = Vec::with_capacity(sizes.len());
        for &size in &sizes {
            crate::signal::check()?;
            let point = measure_point(size, pages, cfg, host.clock_ghz, &mut counters)?;
            on_point(&point);
            series.push(point);
        }
        let xs: Vec<u64> = series.iter().map(|p| p.size_bytes).collect();
        let ys: Vec<f64> = series.iter().map(|p| p.ns_per_access).collect();
        found.extend(
            levels::detect(&xs, &ys, &cache_sizes, host.clock_ghz)
                .into_iter()
                .map(|l| levels::Level {
                    pages: Some(pages),
                    ..l
                }),
        );
        points.extend(series);
    }
    Ok(MemorySection {
        config: cfg.clone(),
        points,
        levels: found,
    })
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
