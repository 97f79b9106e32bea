//! Access patterns beyond the plain sweep (`ladder stride`): stride and line size, read
//! bandwidth per level, TLB cost with 4 KiB and 2 MiB pages, memory-level parallelism,
//! and latency under a streaming load on another core.

use super::kernels::{chase_parallel, stream_read, STREAM_BLOCK};
use super::levels::plateaus;
use super::{buffer::Buffer, Chain, LevelName, Order, PageKind, NODE_BYTES};
use crate::error::{Error, Result};
use crate::measure::{per_op_ns, Summary, TrialPolicy};
use crate::record::memory::Isa;
use crate::record::patterns::{
    Bandwidth, LoadedPoint, PagePoint, ParallelPoint, PatternsSection, ProbePoint, StridePoint,
    StrideSet, TlbPoint, TlbSection, WorkingSet,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct PatternConfig {
    /// One working set per detected level (and any the user named).
    pub sets: Vec<WorkingSet>,
    /// The working set for the TLB orders (the figure is at 1 GiB).
    pub tlb_bytes: u64,
    /// L1d capacity (detected, else sysfs), which sizes the line probe.
    pub l1_bytes: u64,
    /// The measuring CPU.
    pub cpu: usize,
    /// Another CPU for the background stream, if the host has one.
    pub background_cpu: Option<usize>,
    /// Trials per point.
    pub policy: TrialPolicy,
    /// Calibrated clock, for cycles and bytes per cycle.
    pub clock_ghz: Option<f64>,
    /// Seed of every random layout.
    pub seed: u64,
}

/// Strides of the stride experiment: 8 B to 4 KiB.
pub const STRIDES: [u64; 10] = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/// Offsets of the line probe.
pub const PROBE_OFFSETS: [u64; 9] = [8, 16, 32, 64, 128, 256, 512, 1024, 2048];
/// TLB costs below this are noise for knee detection.
const TLB_FLOOR_NS: f64 = 0.5;
/// Chain counts of the parallelism experiment.
pub const CHAINS: [u32; 5] = [1, 2, 4, 8, 16];
/// Background intensities of the loaded-latency experiment.
pub const INTENSITIES: [f64; 4] = [0.0, 0.25, 0.5, 1.0];

fn best(trials: &[f64]) -> Result<f64> {
    Summary::of(trials)
        .map(|s| s.min)
        .ok_or_else(|| Error::Internal("no valid trials".into()))
}

/// ns per access of a chain, fastest trial, after a warm-up pass.
fn time_chain(chain: &mut Chain, policy: TrialPolicy) -> Result<f64> {
    crate::signal::check()?;
    chain.chase((chain.nodes() as u64).min(1 << 18));
    best(&per_op_ns(|s| chain.chase(s), 4096, policy, &mut ()))
}

fn stride_set(set: &WorkingSet, cfg: &PatternConfig) -> Result<StrideSet> {
    let mut points = Vec::new();
    for &s in &STRIDES {
        let nodes = (set.size_bytes / s).max(2);
        let size = nodes * s;
        let seq = time_chain(
            &mut Chain::new(
                size,
                s as usize,
                PageKind::Small,
                Order::Sequential,
                cfg.seed,
            )?,
            cfg.policy,
        )?;
        let rnd = time_chain(
            &mut Chain::new(size, s as usize, PageKind::Small, Order::Random, cfg.seed)?,
            cfg.policy,
        )?;
        points.push(StridePoint {
            stride_bytes: s,
            sequential_ns: seq,
            random_ns: rnd,
        });
    }
    Ok(StrideSet {
        set: set.clone(),
        points,
    })
}

/// The line-size probe. Prefetchers defeat the obvious probe (load one line, then its
/// neighbour, and see whether the second load misses): on a miss they fetch the
/// neighbourhood, so the second load hits whatever the line size. They cannot make L1
/// hold more lines, though. So: one pair of loads in each of `pages` 4 KiB pages, pages
/// in random order, at a random `base` and at `base + offset`. Below the line size a
/// pair touches one line, otherwise two; `pages` is three quarters of the L1 lines
/// (at 64 bytes a line), so one line per page fits in L1 and two do not. The pair cost
/// steps from two L1 hits to L2 accesses at the first offset that leaves the line.
fn line_probe(cfg: &PatternConfig) -> Result<Vec<ProbePoint>> {
    let page = 4096usize;
    let pages = (cfg.l1_bytes as usize / NODE_BYTES * 3 / 4).max(8);
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..pages).collect();
    for i in (1..pages).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let bases: Vec<usize> = order
        .iter()
        .map(|&p| p * page + rng.random_range(0..page / 2 / NODE_BYTES) * NODE_BYTES)
        .collect();
    let mut out = Vec::new();
    for &d in &PROBE_OFFSETS {
        let offsets: Vec<usize> = bases.iter().flat_map(|&b| [b + d as usize, b]).collect();
        // Huge pages where THP allows: the probe's pages then cost no TLB misses.
        let mut chain = Chain::from_offsets(pages * page, PageKind::Huge, &offsets)?;
        out.push(ProbePoint {
            offset_bytes: d,
            ns_per_pair: time_chain(&mut chain, cfg.policy)? * 2.0,
        });
    }
    Ok(out)
}

/// The line size from the probe: the first offset whose pair costs clearly more (15%)
/// than a pair inside one line (the 8-byte offset). Only the first step counts.
pub fn detect_line_size(probe: &[ProbePoint]) -> Option<u64> {
    let same_line = probe.first()?.ns_per_pair;
    probe
        .iter()
        .find(|p| p.ns_per_pair > same_line * 1.15)
        .map(|p| p.offset_bytes)
}

/// The last x of every plateau that has points after it: where the curve steps up.
fn knees(xs: &[u64], ys: &[f64]) -> Vec<u64> {
    plateaus(xs, ys)
        .iter()
        .filter(|p| p.last + 1 < xs.len())
        .map(|p| xs[p.last])
        .collect()
}

fn bandwidth(set: &WorkingSet, cfg: &PatternConfig) -> Result<Bandwidth> {
    crate::signal::check()?;
    let isa = Isa::detect();
    let len = (set.size_bytes as usize).div_ceil(STREAM_BLOCK) * STREAM_BLOCK;
    let mut buf = Buffer::new(len, PageKind::Huge)?;
    let p = buf.as_mut_ptr();
    // SAFETY: the buffer holds len bytes; filling faults every page in.
    unsafe { std::ptr::write_bytes(p, 1, len) };
    let pages = super::pages_obtained(buf.huge_fraction());
    // One "step" is one pass over the buffer.
    // SAFETY: page-aligned buffer of a multiple of 512 bytes; ISA detected at run time.
    let ns_per_pass = best(&per_op_ns(
        |passes| {
            unsafe { stream_read(isa, p, len, passes) };
        },
        1,
        cfg.policy,
        &mut (),
    ))?;
    let gbps = len as f64 / ns_per_pass;
    Ok(Bandwidth {
        level: set.level,
        size_bytes: len as u64,
        read_gbps: gbps,
        bytes_per_cycle: cfg.clock_ghz.map(|g| gbps / g),
        isa,
        pages,
    })
}

fn tlb_point(order: Order, pages: PageKind, size: u64, cfg: &PatternConfig) -> Result<TlbPoint> {
    let mut chain = Chain::new(size, NODE_BYTES, pages, order, cfg.seed)?;
    let obtained = super::pages_obtained(chain.huge_fraction());
    Ok(TlbPoint {
        order,
        pages,
        pages_obtained: obtained,
        size_bytes: size,
        ns_per_access: time_chain(&mut chain, cfg.policy)?,
    })
}

/// One line in each of `pages` 4 KiB pages (random line, random page order).
fn per_page(pages: u64, cfg: &PatternConfig) -> Result<PagePoint> {
    let page = 4096usize;
    let mut rng = SmallRng::seed_from_u64(cfg.seed ^ pages);
    let mut order: Vec<usize> = (0..pages as usize).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let offsets: Vec<usize> = order
        .iter()
        .map(|&p| p * page + rng.random_range(0..page / NODE_BYTES) * NODE_BYTES)
        .collect();
    let mut chain = Chain::from_offsets(pages as usize * page, PageKind::Small, &offsets)?;
    let spread = time_chain(&mut chain, cfg.policy)?;
    drop(chain);
    let mut packed = Chain::new(
        pages * NODE_BYTES as u64,
        NODE_BYTES,
        PageKind::Small,
        Order::Random,
        cfg.seed,
    )?;
    let packed = time_chain(&mut packed, cfg.policy)?;
    Ok(PagePoint {
        pages,
        ns_per_access: spread,
        packed_ns: packed,
        tlb_ns: spread - packed,
    })
}

/// Writes `k` disjoint chains of `nodes` nodes each over a buffer of `k * nodes`
/// line-sized nodes: node i belongs to chain i mod k, and each chain is in TLB-local
/// order. Returns each chain's start.
///
/// # Safety
/// `base` must be valid for writes of `k * nodes * NODE_BYTES` bytes, page aligned.
unsafe fn write_parallel_chains(
    base: *mut u8,
    nodes: usize,
    k: usize,
    seed: u64,
) -> Vec<*const u8> {
    (0..k)
        .map(|c| {
            // SAFETY: chain c uses nodes c, c + k, c + 2k... all inside the buffer.
            unsafe {
                super::chain::write_chain(
                    base.add(c * NODE_BYTES),
                    nodes,
                    NODE_BYTES * k,
                    Order::TlbLocal,
                    seed + c as u64,
                )
            }
        })
        .collect()
}

/// `k` disjoint chains over one buffer, ready to be chased together.
pub struct ParallelChains {
    _buf: Buffer,
    starts: Vec<*const u8>,
}

impl ParallelChains {
    /// Lays `k` (1, 2, 4, 8 or 16) chains over `size` bytes.
    pub fn new(size: u64, k: u32, seed: u64) -> Result<ParallelChains> {
        if !CHAINS.contains(&k) {
            return Err(Error::Input(format!(
                "{k} chains: the kernels exist for {CHAINS:?}"
            )));
        }
        let k = k as usize;
        let nodes = (size as usize / NODE_BYTES / k).max(2);
        let mut buf = Buffer::new(nodes * k * NODE_BYTES, PageKind::Small)?;
        // SAFETY: the buffer holds nodes * k nodes.
        let starts = unsafe { write_parallel_chains(buf.as_mut_ptr(), nodes, k, seed) };
        Ok(ParallelChains { _buf: buf, starts })
    }

    /// `steps` loads on every chain at once (`steps * k` loads in all).
    pub fn chase(&mut self, steps: u64) {
        macro_rules! run {
            ($k:literal) => {{
                let p: [*const u8; $k] = self.starts[..].try_into().expect("one start per chain");
                // SAFETY: the starts point into chains in the buffer this owns.
                let end = unsafe { chase_parallel::<$k>(p, steps) };
                self.starts.copy_from_slice(&end);
            }};
        }
        match self.starts.len() {
            1 => run!(1),
            2 => run!(2),
            4 => run!(4),
            8 => run!(8),
            _ => run!(16),
        }
    }

    /// Chains chased together.
    pub fn chains(&self) -> u32 {
        self.starts.len() as u32
    }
}

/// ns per access over all chains of `k` chains chased together.
fn parallel(set: &WorkingSet, k: u32, cfg: &PatternConfig) -> Result<f64> {
    crate::signal::check()?;
    let mut chains = ParallelChains::new(set.size_bytes, k, cfg.seed)?;
    let trials = per_op_ns(|steps| chains.chase(steps), 1024, cfg.policy, &mut ());
    Ok(best(&trials)? / f64::from(k))
}

/// A background thread streaming reads over its own RAM-sized buffer on `cpu`, busy
/// `intensity` of the time; stopped and joined on drop.
struct Background {
    stop: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    fn start(cpu: usize, intensity: f64, size: usize) -> Result<Background> {
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let mut buf = Buffer::new(size, PageKind::Small)?;
        // SAFETY: the buffer holds size bytes.
        unsafe { std::ptr::write_bytes(buf.as_mut_ptr(), 1, size) };
        let (s, b) = (stop.clone(), bytes.clone());
        let handle = std::thread::spawn(move || {
            crate::platform::pin_current(cpu);
            let isa = Isa::detect();
            let chunk = 1 << 20;
            let p = buf.as_mut_ptr();
            let mut at = 0usize;
            while !s.load(Ordering::Relaxed) {
                let t = Instant::now();
                // SAFETY: at + chunk <= size; aligned; ISA detected.
                unsafe { stream_read(isa, p.add(at), chunk, 1) };
                b.fetch_add(chunk as u64, Ordering::Relaxed);
                at = (at + chunk) % (size - chunk + 1) / STREAM_BLOCK * STREAM_BLOCK;
                let busy = t.elapsed();
                let idle = busy.mul_f64((1.0 - intensity) / intensity);
                let until = Instant::now() + idle;
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            drop(buf);
        });
        Ok(Background {
            stop,
            bytes,
            handle: Some(handle),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn loaded(ram: &WorkingSet, cfg: &PatternConfig) -> Result<Vec<LoadedPoint>> {
    match cfg.background_cpu {
        Some(bg) => loaded_curve(ram.size_bytes, &[bg], 256 << 20, cfg.policy, cfg.seed),
        None => Ok(Vec::new()),
    }
}

/// Loaded latency: the RAM chase over `ram_bytes` on the calling thread while a stream
/// of reads runs on each CPU of `loaders` (over its own buffer of `loader_bytes`), busy
/// a rising share of the time ([`INTENSITIES`]); one point per intensity, with the
/// bandwidth the loaders achieved together.
pub fn loaded_curve(
    ram_bytes: u64,
    loaders: &[usize],
    loader_bytes: usize,
    policy: TrialPolicy,
    seed: u64,
) -> Result<Vec<LoadedPoint>> {
    if loaders.is_empty() {
        return Ok(Vec::new());
    }
    let mut chain = Chain::new(
        ram_bytes,
        NODE_BYTES,
        PageKind::Small,
        Order::TlbLocal,
        seed,
    )?;
    let mut out = Vec::new();
    for &intensity in &INTENSITIES {
        let bg: Vec<Background> = if intensity > 0.0 {
            loaders
                .iter()
                .map(|&cpu| Background::start(cpu, intensity, loader_bytes))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        std::thread::sleep(Duration::from_millis(20));
        let streamed =
            |bg: &[Background]| -> u64 { bg.iter().map(|b| b.bytes.load(Ordering::Relaxed)).sum() };
        let before = streamed(&bg);
        let t = Instant::now();
        let latency = time_chain(&mut chain, policy)?;
        let secs = t.elapsed().as_secs_f64();
        let after = streamed(&bg);
        drop(bg);
        out.push(LoadedPoint {
            intensity,
            background_gbps: (after - before) as f64 / secs / 1e9,
            latency_ns: latency,
        });
    }
    Ok(out)
}

/// Runs every experiment; `on_progress` gets the fraction done.
pub fn run(
    cfg: &PatternConfig,
    sysfs_line: Option<u64>,
    mut on_progress: impl FnMut(f64),
) -> Result<PatternsSection> {
    let ram = cfg
        .sets
        .iter()
        .find(|s| s.level == LevelName::Ram)
        .cloned()
        .ok_or_else(|| Error::Internal("no RAM working set".into()))?;
    // One tick per stride set, bandwidth set and parallel set (every set but L1d), one
    // for the line probe, four TLB orders, two for the per-page curve, three for loaded.
    let parallel_sets = cfg
        .sets
        .iter()
        .filter(|s| s.level != LevelName::L1D)
        .count();
    let steps = (cfg.sets.len() * 2 + parallel_sets + 10) as f64;
    let mut done = 0.0;
    let mut tick = |n: f64| {
        done += n;
        on_progress(done / steps);
    };

    let mut stride = Vec::new();
    for set in &cfg.sets {
        // The stride sets cap the RAM set at 64 MiB: the random layout at 8-byte stride
        // needs an index per node.
        let capped = WorkingSet {
            level: set.level,
            size_bytes: set.size_bytes.min(64 << 20),
        };
        stride.push(stride_set(&capped, cfg)?);
        tick(1.0);
    }
    let line_probe = line_probe(cfg)?;
    tick(1.0);
    let line_size_bytes = detect_line_size(&line_probe);

    let mut bw = Vec::new();
    for set in &cfg.sets {
        bw.push(bandwidth(set, cfg)?);
        tick(1.0);
    }

    let mut orders = Vec::new();
    for pages in [PageKind::Small, PageKind::Huge] {
        for order in [Order::TlbLocal, Order::Random] {
            orders.push(tlb_point(order, pages, cfg.tlb_bytes, cfg)?);
            tick(1.0);
        }
    }
    let penalty = |pages: PageKind| {
        let at = |o: Order| {
            orders
                .iter()
                .find(|p| p.order == o && p.pages == pages)
                .map(|p| p.ns_per_access)
        };
        Some(at(Order::Random)? - at(Order::TlbLocal)?)
    };
    let (tlb_penalty_ns, tlb_penalty_2m_ns) = (penalty(PageKind::Small), penalty(PageKind::Huge));

    let mut per_page_points = Vec::new();
    let mut pages = 8u64;
    while pages <= 16384 {
        per_page_points.push(per_page(pages, cfg)?);
        pages *= 2;
    }
    tick(2.0);
    // Knees of the TLB share alone (floored, so noise around zero is one plateau).
    let xs: Vec<u64> = per_page_points.iter().map(|p| p.pages).collect();
    let ys: Vec<f64> = per_page_points
        .iter()
        .map(|p| p.tlb_ns.max(TLB_FLOOR_NS))
        .collect();
    let reach_entries = knees(&xs, &ys);

    let mut par = Vec::new();
    for set in cfg.sets.iter().filter(|s| s.level != LevelName::L1D) {
        let mut one = None;
        for &k in &CHAINS {
            let ns = parallel(set, k, cfg)?;
            let single = *one.get_or_insert(ns);
            par.push(ParallelPoint {
                level: set.level,
                size_bytes: set.size_bytes,
                chains: k,
                ns_per_access: ns,
                misses_in_flight: single / ns,
            });
        }
        tick(1.0);
    }
    let misses_in_flight = par
        .iter()
        .find(|p| p.level == LevelName::Ram && p.chains == 16)
        .map(|p| p.misses_in_flight);

    let loaded_points = loaded(&ram, cfg)?;
    tick(3.0);

    Ok(PatternsSection {
        line_size_bytes,
        sysfs_line_bytes: sysfs_line,
        tlb_penalty_ns,
        tlb_penalty_2m_ns,
        misses_in_flight,
        stride,
        line_probe,
        bandwidth: bw,
        tlb: TlbSection {
            orders,
            per_page: per_page_points,
            reach_entries,
        },
        parallel: par,
        loaded: loaded_points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(costs: &[f64]) -> Vec<ProbePoint> {
        PROBE_OFFSETS
            .iter()
            .zip(costs)
            .map(|(&d, &c)| ProbePoint {
                offset_bytes: d,
                ns_per_pair: c,
            })
            .collect()
    }

    #[test]
    fn line_size_is_where_the_second_load_starts_to_miss() {
        // Same line up to 32 B: miss + hit; from 64 B: two misses.
        let p = probe(&[
            101.0, 100.0, 102.0, 190.0, 200.0, 201.0, 199.0, 200.0, 202.0,
        ]);
        assert_eq!(detect_line_size(&p), Some(64));
        // A 128-byte line with an adjacent-line prefetcher blurring 128 a little.
        let p = probe(&[60.0, 61.0, 60.0, 62.0, 150.0, 170.0, 171.0, 170.0, 172.0]);
        assert_eq!(detect_line_size(&p), Some(128));
    }

    #[test]
    fn parallel_chains_are_disjoint_and_cover_the_buffer() {
        use crate::memory::chain::is_single_cycle;
        for k in [1usize, 2, 4, 8, 16] {
            let nodes = 1000;
            let mut buf = Buffer::new(nodes * k * NODE_BYTES, PageKind::Small).unwrap();
            let base = buf.as_mut_ptr();
            // SAFETY: the buffer holds nodes * k nodes.
            let starts = unsafe { write_parallel_chains(base, nodes, k, 7) };
            let mut owner = vec![usize::MAX; nodes * k];
            for (c, &start) in starts.iter().enumerate() {
                // SAFETY: chain c lives in the buffer with stride k nodes.
                assert!(unsafe {
                    is_single_cycle(base.add(c * NODE_BYTES), start, nodes, NODE_BYTES * k)
                });
                let mut p = start;
                for _ in 0..nodes {
                    let i = (p as usize - base as usize) / NODE_BYTES;
                    assert_eq!(owner[i], usize::MAX, "node {i} in two chains");
                    owner[i] = c;
                    // SAFETY: p is a node of the chain.
                    p = unsafe { *(p as *const *const u8) };
                }
            }
            assert!(
                owner.iter().all(|&o| o != usize::MAX),
                "k={k}: a node in no chain"
            );
        }
    }

    #[test]
    fn a_flat_probe_detects_nothing() {
        let p = probe(&[100.0, 101.0, 99.0, 100.0, 102.0, 100.0, 101.0, 100.0, 99.0]);
        assert_eq!(detect_line_size(&p), None);
    }

    #[test]
    fn tlb_reach_shows_as_knees_of_the_per_page_curve() {
        // 64 L1 entries, 2048 L2 entries: three plateaus.
        let xs: Vec<u64> = (3..=14).map(|e| 1u64 << e).collect();
        let ys: Vec<f64> = xs
            .iter()
            .map(|&p| {
                if p <= 64 {
                    1.0
                } else if p <= 2048 {
                    3.0
                } else {
                    20.0
                }
            })
            .collect();
        let found = plateaus(&xs, &ys);
        let reach: Vec<u64> = found
            .iter()
            .take(found.len() - 1)
            .map(|p| xs[p.last])
            .collect();
        assert_eq!(reach, [64, 2048]);
    }
}
