//! Between the cores and on the write side (`ladder cores`): core-to-core latency for
//! every ordered pair of CPUs ([`pingpong`]), annotated with where the CPUs sit
//! ([`topology`]); false sharing ([`false_sharing`]); bandwidth of reads, writes, copies
//! and non-temporal writes per level ([`write`]); read bandwidth with 1..N threads and
//! the RAM latency while other CPUs stream ([`scaling`], and the loaded-latency curve of
//! [`crate::memory::patterns`]). Every experiment returns numbers and typed facts; the
//! words are in `report::cores`.

pub mod false_sharing;
pub mod increment;
pub mod pingpong;
pub mod scaling;
pub mod topology;
pub mod write;

use crate::error::{Error, Result};
use crate::measure::TrialPolicy;
use crate::record::cores::{CoresSection, Handoff};
use crate::record::host::Host;
use increment::Addressing;
use pingpong::PairPlan;
use std::sync::Barrier;
use std::time::Duration;

/// Runs `work(i, start)` on one scoped thread per CPU of `cpus` (thread `i` pinned to
/// `cpus[i]`), and returns what each returned, in order. Every thread must wait on
/// `start` once, so all of them begin together. Where the OS has no thread affinity the
/// threads run unpinned; a CPU the OS refuses is an error (after every thread ended).
pub fn on_cpus<T: Send>(
    cpus: &[usize],
    work: impl Fn(usize, &Barrier) -> T + Sync,
) -> Result<Vec<T>> {
    let start = Barrier::new(cpus.len());
    let joined: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = cpus
            .iter()
            .enumerate()
            .map(|(i, &cpu)| {
                let (start, work) = (&start, &work);
                s.spawn(move || (crate::platform::pin_current(cpu), work(i, start)))
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut out = Vec::new();
    for (r, &cpu) in joined.into_iter().zip(cpus) {
        match r {
            Ok((crate::platform::Pinned::Refused, _)) => {
                return Err(Error::Unusable(format!(
                    "could not pin a thread to CPU {cpu}"
                )))
            }
            Ok((_, v)) => out.push(v),
            Err(_) => return Err(Error::Internal(format!("the thread on CPU {cpu} panicked"))),
        }
    }
    Ok(out)
}

/// What `ladder cores` runs.
#[derive(Debug, Clone)]
pub struct CoresConfig {
    /// The CPUs to measure (the matrix covers every ordered pair of them).
    pub cpus: Vec<usize>,
    /// Samples, bursts and round trips per pair.
    pub plan: PairPlan,
    /// Increments per thread in each false-sharing trial.
    pub increments: u64,
    /// False-sharing trials per layout.
    pub sharing_trials: usize,
    /// Trials of each bandwidth point and of the loaded latency.
    pub policy: TrialPolicy,
    /// Working set in RAM.
    pub ram_bytes: u64,
    /// Length of one scaling trial.
    pub scaling_trial: Duration,
    /// Seed of the chase order.
    pub seed: u64,
}

/// The work units of a run of `cfg` (for progress): one per pair, per bandwidth level,
/// per scaling point, and a few for false sharing and loaded latency.
fn units(cfg: &CoresConfig, levels: usize) -> f64 {
    let n = cfg.cpus.len();
    (n * n.saturating_sub(1)) as f64
        + 4.0 * levels as f64
        + 2.0 * scaling::thread_counts(n).len() as f64
        + 8.0
}

/// Runs every experiment; `on_progress` gets the fraction done.
pub fn measure(
    cfg: &CoresConfig,
    host: &Host,
    mut on_progress: impl FnMut(f64),
) -> Result<CoresSection> {
    let places: Vec<_> = cfg
        .cpus
        .iter()
        .map(|&c| crate::platform::cpu_place(c))
        .collect();
    let sets = write::level_sets(host, cfg.ram_bytes);
    let total = units(cfg, sets.len());
    let mut done = 0.0;
    let mut tick = |n: f64| {
        done += n;
        on_progress(done / total);
    };
    let handoffs = [Handoff::Cas, Handoff::Store];
    let n = cfg.cpus.len();
    let bursts = cfg
        .plan
        .bursts_for(n * n.saturating_sub(1) * handoffs.len());
    // One unit of progress per pair, shared by its bursts.
    let per_burst = 1.0 / (f64::from(bursts) * handoffs.len() as f64);
    let pairs = pingpong::matrix(&cfg.cpus, &places, &handoffs, cfg.plan, || tick(per_burst))?;
    let false_sharing = false_sharing::measure(&cfg.cpus, cfg.increments, cfg.sharing_trials)?;
    tick(4.0);
    // The single-thread experiments and the chase run on the last CPU, the loaders on
    // the others.
    let (&chase_cpu, loaders) = cfg
        .cpus
        .split_last()
        .ok_or_else(|| Error::Input("no CPU to measure on".into()))?;
    let pinned = crate::host::Pinned::to(chase_cpu, &host.cpus)?;
    let bandwidth = write::per_level(&sets, cfg.policy, || tick(4.0))?;
    let store_forward_ns = Some(write::store_reload_ns(Addressing::Indexed, cfg.policy)?);
    let renamed_reload_ns = Some(write::store_reload_ns(Addressing::Base, cfg.policy)?);
    let scaling =
        scaling::read_scaling(&cfg.cpus, cfg.ram_bytes, cfg.scaling_trial, 3, || tick(2.0))?;
    // Each loader streams its share of the RAM set (at least 4 MiB, past its 1 MiB
    // bursts), so many CPUs do not multiply the memory taken.
    let loader_bytes = (cfg.ram_bytes as usize / loaders.len().max(1)).max(4 << 20);
    let loaded = crate::memory::patterns::loaded_curve(
        cfg.ram_bytes,
        loaders,
        loader_bytes,
        cfg.policy,
        cfg.seed,
    )?;
    drop(pinned);
    tick(4.0);
    let isa = crate::record::memory::Isa::detect();
    Ok(CoresSection {
        cpus: cfg.cpus.clone(),
        topology: places,
        samples_per_pair: bursts * cfg.plan.burst_samples,
        round_trips_per_sample: cfg.plan.round_trips,
        bursts_per_pair: bursts,
        spread_ms: cfg.plan.spread.as_millis() as u64,
        pairs,
        false_sharing,
        bandwidth,
        no_nt_store: (!isa.has_nt_store()).then_some(isa),
        store_forward_ns,
        renamed_reload_ns,
        scaling,
        ram_bytes: cfg.ram_bytes,
        loaded,
        chase_cpu: (!loaders.is_empty()).then_some(chase_cpu),
    })
}
