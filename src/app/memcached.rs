//! `ladder memcached`: round trips to managed memcached servers or the user's, in every
//! placement, measured like the Redis rung.

use super::preset::Preset;
use super::Recorder;
use crate::cli::{Common, MemcachedArgs};
use crate::error::Result;
use crate::progress::Phase;
use crate::record::rung::Rung;
use crate::report;
use crate::suite;
use crate::suite::placement::{measure_placed, CpuPlan};

/// The memcached to measure: `--memcached-url`, else MEMCACHED_SERVERS, else managed
/// servers (checked, and started, here).
pub(super) fn memcached_target(url: Option<&String>) -> Result<suite::memcached::Target> {
    suite::memcached::Target::pick(url.cloned().or_else(suite::memcached::env_servers))
}

/// Measures the memcached rung on `target`, with its progress bar.
pub(super) fn memcached_measure(
    target: &suite::memcached::Target,
    common: &Common,
) -> Result<Vec<Rung>> {
    let cfg = Preset::of(common.quick).redis;
    let phase = Phase::fractional("memcached", common.quiet);
    let (plan, cpus) = CpuPlan::here()?;
    let placements = match target {
        suite::memcached::Target::Managed(_) => plan.managed(),
        suite::memcached::Target::Url(_) => plan.user_server(),
    };
    let n = placements.len() as f64;
    measure_placed(&placements, &cpus, |i| {
        suite::memcached::measure(target, cfg, |f| phase.set_fraction((i as f64 + f) / n))
    })
}

pub(super) fn execute(common: &Common, args: &MemcachedArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let target = memcached_target(args.url.as_ref())?;
    let rungs = memcached_measure(&target, common)?;
    drop(target);
    rec.finish(common, "memcached", None, rungs)
}
