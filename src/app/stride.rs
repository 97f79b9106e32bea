//! `ladder stride`: access patterns (stride, line size, bandwidth, TLB, parallel chains,
//! loaded latency) at working sets taken from a short level-finding sweep.

use super::memory::sweep_with_progress;
use super::preset::Preset;
use super::{measuring_cpu, write_and_print, Recorder};
use crate::cli::{Common, StrideArgs};
use crate::error::{Error, Result};
use crate::measure::TrialPolicy;
use crate::memory;
use crate::memory::patterns::PatternConfig;
use crate::progress::Phase;
use crate::record::host::Host;
use crate::record::memory::SweepConfig;
use crate::report;
use crate::units::format_size;

/// What `ladder stride` will do, decided from its flags and the host before anything is
/// measured; every error here is the user's.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StridePlan {
    /// The short sweep that finds the levels the working sets are taken from.
    pub sweep: SweepConfig,
    /// Working sets the user named (`--size`).
    pub sizes: Vec<u64>,
    /// Working set of the TLB chains.
    pub tlb_bytes: u64,
    /// The CPU of the background stream (loaded latency), where the host has another.
    pub background_cpu: Option<usize>,
    /// Trials per point of the access patterns.
    pub policy: TrialPolicy,
    /// Whether the quick preset sizes the RAM working set.
    pub quick: bool,
}

/// Plans `ladder stride` for `host`.
pub(super) fn plan(args: &StrideArgs, quick: bool, host: &Host) -> Result<StridePlan> {
    let available = host.mem_available_bytes.unwrap_or(u64::MAX);
    let preset = Preset::of(quick);
    let tlb_bytes = args.tlb_size.unwrap_or(preset.tlb_bytes);
    if let Some(&too_big) = args
        .sizes
        .iter()
        .chain([&tlb_bytes])
        .find(|&&s| s > available / 2)
    {
        return Err(Error::Input(format!(
            "a working set of {} is more than half of the {} of memory available",
            format_size(too_big),
            format_size(available)
        )));
    }
    let sweep = SweepConfig::level_finding(host, measuring_cpu(args.cpu.as_ref(), host)?);
    let background_cpu = match args.background_cpu {
        Some(c) if !host.cpus.contains(&c) || c == sweep.cpu => {
            return Err(Error::Input(format!(
                "--background-cpu {c} must be an available CPU other than the measuring one"
            )))
        }
        Some(c) => Some(c),
        None => host.cpus.iter().copied().find(|&c| c != sweep.cpu),
    };
    Ok(StridePlan {
        sweep,
        sizes: args.sizes.clone(),
        tlb_bytes,
        background_cpu,
        policy: preset.patterns_policy,
        quick: preset.quick,
    })
}

pub(super) fn execute(common: &Common, args: &StrideArgs) -> Result<()> {
    let rec = Recorder::start();
    let host = &rec.host;
    let plan = plan(args, common.quick, host)?;
    let cfg = &plan.sweep;
    report::check_writable(&common.out)?;
    let mem = sweep_with_progress(cfg, host, common.quiet)?;
    let ram_bytes = memory::ram_set_bytes(&mem, host.mem_available_bytes, plan.quick);
    let l1_bytes = mem
        .levels
        .iter()
        .find(|l| l.name == crate::record::memory::LevelName::L1D)
        .and_then(|l| l.size_bytes.or(l.sysfs_size_bytes))
        .unwrap_or(32 << 10);
    let pcfg = PatternConfig {
        sets: memory::level_working_sets(&mem, &plan.sizes, ram_bytes),
        tlb_bytes: plan.tlb_bytes,
        l1_bytes,
        cpu: cfg.cpu,
        background_cpu: plan.background_cpu,
        policy: plan.policy,
        clock_ghz: host.clock_ghz,
        seed: 0x5711de,
    };
    let sysfs_line = host.data_caches().first().map(|c| c.line_bytes);
    let phase = Phase::fractional("patterns", common.quiet);
    let pinned = crate::host::Pinned::to(cfg.cpu, &host.cpus)?;
    let patterns = memory::patterns::run(&pcfg, sysfs_line, |f| phase.set_fraction(f))?;
    drop((pinned, phase));
    let mut run = rec.record("stride", Some(mem), Vec::new(), Vec::new());
    run.patterns = Some(patterns);
    write_and_print(common, &run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::{args, fixture_host};

    fn stride(flags: &[&str]) -> StrideArgs {
        args(flags)
    }

    #[test]
    fn quick_takes_the_quick_preset_and_a_flag_wins() {
        let host = fixture_host();
        let quick = plan(&stride(&[]), true, &host).unwrap();
        assert_eq!(quick.tlb_bytes, 256 << 20);
        assert_eq!(quick.policy, TrialPolicy::QUICK);
        assert!(quick.quick);
        let full = plan(&stride(&["--tlb-size", "64M"]), false, &host).unwrap();
        assert_eq!(full.tlb_bytes, 64 << 20);
        assert!(!full.quick);
    }

    #[test]
    fn the_background_stream_runs_beside_the_measuring_cpu() {
        let host = fixture_host();
        let p = plan(&stride(&[]), true, &host).unwrap();
        let bg = p.background_cpu.expect("the fixture host has two CPUs");
        assert_ne!(bg, p.sweep.cpu);
        let same = p.sweep.cpu.to_string();
        let e = plan(&stride(&["--background-cpu", &same]), true, &host).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = plan(&stride(&["--size", "1T"]), true, &host).unwrap_err();
        assert!(e.to_string().contains("memory available"), "{e}");
    }
}
