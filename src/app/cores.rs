//! `ladder cores`: core-to-core latency, false sharing, the write side per level,
//! scaling with cores and loaded latency, written as one run folder; and the short form
//! of the same that `ladder run` adds after the memory ladder.

use super::preset::{CoresPreset, Preset};
use super::{write_and_print, Recorder};
use crate::cli::{Common, CoresArgs};
use crate::cores::{self, CoresConfig};
use crate::error::{Error, Result};
use crate::progress::Phase;
use crate::record::cores::CoresSection;
use crate::record::host::Host;
use crate::units::{cpu_list, format_size};

/// The RAM working set: four times the last-level cache, at least 256 MiB (64 MiB for
/// the short form), at most a quarter of the memory available.
fn ram_bytes(host: &Host, small: bool) -> u64 {
    let floor: u64 = if small { 64 << 20 } else { 256 << 20 };
    let want = host
        .last_level_cache_bytes()
        .map_or(floor, |l| l.saturating_mul(4))
        .max(floor);
    host.mem_available_bytes
        .map_or(want, |a| want.min(a / 4))
        .max(16 << 20)
}

/// The checked configuration: `cpus` (default: every CPU this process may use) must all
/// be allowed here.
pub(super) fn cores_config(
    cpus: Option<&[usize]>,
    samples: Option<u32>,
    preset: &CoresPreset,
    host: &Host,
) -> Result<CoresConfig> {
    let cpus = cpus.map_or_else(|| host.cpus.clone(), <[usize]>::to_vec);
    if let Some(bad) = cpus.iter().find(|c| !host.cpus.contains(c)) {
        return Err(Error::Input(format!(
            "--cpus: CPU {bad} does not exist or is not allowed here (available: {})",
            cpu_list(&host.cpus, ", ")
        )));
    }
    if cpus.is_empty() {
        return Err(Error::Unusable("no CPU is available to measure on".into()));
    }
    let ram_bytes = ram_bytes(host, preset.small_ram);
    if host.mem_available_bytes.is_some_and(|a| ram_bytes * 2 > a) {
        return Err(Error::Unusable(format!(
            "the cores experiments need twice {} of memory and {} is available",
            format_size(ram_bytes),
            format_size(host.mem_available_bytes.unwrap_or(0))
        )));
    }
    let mut plan = preset.plan;
    if let Some(s) = samples {
        plan.samples = s;
    }
    Ok(CoresConfig {
        cpus,
        plan,
        increments: preset.increments,
        sharing_trials: preset.sharing_trials,
        policy: preset.policy,
        ram_bytes,
        scaling_trial: preset.scaling_trial,
        seed: crate::cli::DEFAULT_SEED,
    })
}

/// Runs the experiments under a progress bar.
pub(super) fn cores_with_progress(
    cfg: &CoresConfig,
    host: &Host,
    quiet: bool,
) -> Result<CoresSection> {
    let phase = Phase::fractional("cores", quiet);
    cores::measure(cfg, host, |f| phase.set_fraction(f))
}

pub(super) fn execute(common: &Common, args: &CoresArgs) -> Result<()> {
    let rec = Recorder::start();
    let preset = &Preset::of(common.quick).cores;
    let cfg = cores_config(
        args.cpus.as_ref().map(|c| c.0.as_slice()),
        args.samples,
        preset,
        &rec.host,
    )?;
    crate::report::check_writable(&common.out)?;
    let section = cores_with_progress(&cfg, &rec.host, common.quiet)?;
    let mut run = rec.record("cores", None, Vec::new(), Vec::new());
    run.cores = Some(section);
    write_and_print(common, &run)
}
