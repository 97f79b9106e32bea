//! `ladder memory`: the pointer-chase sweep and its levels; also the sweep `run` and
//! `stride` start from.

use super::preset::Preset;
use super::{measuring_cpu, Recorder};
use crate::cli::{Common, MemoryArgs};
use crate::error::{Error, Result};
use crate::memory;
use crate::progress::Phase;
use crate::record::host::Host;
use crate::record::memory::SweepConfig;
use crate::report;
use crate::units::format_size;

/// Plans the sweep of `ladder memory` (and of `ladder run`) for `host`: the flags, else
/// the preset's defaults and a grid that ends past the host's last-level cache; every
/// error here is the user's.
pub fn plan(args: &MemoryArgs, quick: bool, host: &Host) -> Result<SweepConfig> {
    let preset = Preset::of(quick);
    let available = host.mem_available_bytes;
    let max = args.max.unwrap_or_else(|| {
        memory::default_max_bytes(host.last_level_cache_bytes(), available, preset.quick)
    });
    let (node_bytes, node_bytes_assumed) = memory::node_bytes(host);
    if args.min < node_bytes {
        return Err(Error::Input(format!(
            "--min {} is smaller than one {node_bytes}-byte node",
            args.min
        )));
    }
    if args.min > max {
        return Err(Error::Input(format!(
            "--min {} is larger than --max {}",
            format_size(args.min),
            format_size(max)
        )));
    }
    if let Some(a) = available {
        if max > a {
            return Err(Error::Input(format!(
                "--max {} is more than the {} of memory available",
                format_size(max),
                format_size(a)
            )));
        }
    }
    let per_octave = args.per_octave.unwrap_or(preset.per_octave);
    if per_octave == 0 {
        return Err(Error::Input("--per-octave must be at least 1".into()));
    }
    let policy = preset.sweep_policy;
    let trials = args.trials.unwrap_or(policy.trials);
    if trials == 0 {
        return Err(Error::Input("--trials must be at least 1".into()));
    }
    let cpu = measuring_cpu(args.cpu.as_ref(), host)?;
    Ok(SweepConfig {
        min_bytes: args.min,
        max_bytes: max,
        rounds: args.rounds.unwrap_or(preset.rounds),
        per_octave,
        pages: args.pages.kinds(),
        order: args.order,
        cpu,
        trials,
        min_trial_ms: policy.min_trial.as_secs_f64() * 1e3,
        seed: args.seed,
        node_bytes,
        node_bytes_assumed,
        window_bytes: memory::chain::WINDOW_BYTES as u64,
        counters: args.counters.clone().map(|c| c.0).unwrap_or_else(|| {
            crate::counters::DEFAULT_EVENTS
                .iter()
                .map(|s| s.to_string())
                .collect()
        }),
    })
}

/// Work units for the progress bar: a point costs its trials plus a share for building
/// and warming a large buffer.
fn point_units(size: u64) -> u64 {
    4 + size / (8 << 20)
}

/// The memory sweep with its progress bar.
pub(super) fn sweep_with_progress(
    cfg: &SweepConfig,
    host: &Host,
    quiet: bool,
) -> Result<crate::record::memory::MemorySection> {
    let sizes = memory::grid(cfg.min_bytes, cfg.max_bytes, cfg.per_octave);
    let total: u64 = sizes.iter().map(|&s| point_units(s)).sum::<u64>()
        * cfg.pages.len() as u64
        * u64::from(cfg.rounds.max(1));
    let phase = Phase::new("memory", total, quiet);
    memory::sweep(cfg, host, |size, pages| {
        phase.advance(point_units(size), format!("{} {pages}", format_size(size)))
    })
}

pub(super) fn execute(common: &Common, args: &MemoryArgs, command: &str) -> Result<()> {
    let rec = Recorder::start();
    let cfg = plan(args, common.quick, &rec.host)?;
    report::check_writable(&common.out)?;
    let section = sweep_with_progress(&cfg, &rec.host, common.quiet)?;
    rec.finish(common, command, Some(section), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::{args, fixture_host};

    fn memory(flags: &[&str]) -> MemoryArgs {
        args(flags)
    }

    #[test]
    fn the_grid_ends_at_four_times_the_last_level_cache() {
        let max = |host: &Host, quick: bool| plan(&memory(&[]), quick, host).unwrap().max_bytes;
        let mut host = fixture_host();
        // 32 MiB L3: 128 MiB for a quick sweep; a full one keeps its 512 MiB floor.
        assert_eq!(max(&host, true), 128 << 20);
        assert_eq!(max(&host, false), 512 << 20);
        // A 256 MiB L3 (a big server's): 1 GiB either way.
        host.caches.last_mut().unwrap().size_bytes = 256 << 20;
        assert_eq!(max(&host, true), 1 << 30);
        assert_eq!(max(&host, false), 1 << 30);
        // 1 MiB L2 last: the floors decide.
        host.caches.retain(|c| c.level < 3);
        assert_eq!(max(&host, true), 64 << 20);
        assert_eq!(max(&host, false), 512 << 20);
    }

    #[test]
    fn quick_takes_the_quick_preset_and_a_flag_wins() {
        let host = fixture_host();
        let quick = plan(&memory(&[]), true, &host).unwrap();
        let full = plan(&memory(&[]), false, &host).unwrap();
        assert_eq!((quick.per_octave, quick.rounds), (2, 2));
        assert_eq!((full.per_octave, full.rounds), (4, 3));
        assert!(quick.trials < full.trials);
        let told = plan(&memory(&["--per-octave", "8", "--max", "4M"]), true, &host).unwrap();
        assert_eq!((told.per_octave, told.max_bytes), (8, 4 << 20));
        let e = plan(&memory(&["--min", "8M", "--max", "4M"]), true, &host).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
