//! `ladder stride`: access patterns (stride, line size, bandwidth, TLB, parallel chains,
//! loaded latency) at working sets taken from a short level-finding sweep.

use super::memory::sweep_with_progress;
use super::preset::Preset;
use super::{measuring_cpu, write_and_print, Recorder};
use crate::cli::{Common, StrideArgs};
use crate::error::{Error, Result};
use crate::memory::patterns::PatternConfig;
use crate::memory::{self, SweepConfig};
use crate::progress::Phase;
use crate::report;
use crate::units::format_size;

pub(super) fn execute(common: &Common, args: &StrideArgs) -> Result<()> {
    let rec = Recorder::start();
    let host = &rec.host;
    let available = host.mem_available_bytes.unwrap_or(u64::MAX);
    let preset = Preset::of(common.quick);
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
    // A short sweep finds the levels the working sets are taken from.
    let cfg = SweepConfig::level_finding(host, measuring_cpu(args.cpu.as_ref(), host)?);
    let background_cpu = match args.background_cpu {
        Some(c) if !host.cpus.contains(&c) || c == cfg.cpu => {
            return Err(Error::Input(format!(
                "--background-cpu {c} must be an available CPU other than the measuring one"
            )))
        }
        Some(c) => Some(c),
        None => host.cpus.iter().copied().find(|&c| c != cfg.cpu),
    };
    report::check_writable(&common.out)?;
    let mem = sweep_with_progress(&cfg, host, common.quiet)?;
    let ram_bytes = memory::ram_set_bytes(&mem, host.mem_available_bytes, preset.quick);
    let l1_bytes = mem
        .levels
        .iter()
        .find(|l| l.name == memory::LevelName::L1D)
        .and_then(|l| l.size_bytes.or(l.sysfs_size_bytes))
        .unwrap_or(32 << 10);
    let pcfg = PatternConfig {
        sets: memory::level_working_sets(&mem, &args.sizes, ram_bytes),
        tlb_bytes,
        l1_bytes,
        cpu: cfg.cpu,
        background_cpu,
        policy: preset.patterns_policy,
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
