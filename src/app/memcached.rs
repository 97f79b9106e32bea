//! `ladder memcached`: round trips to managed memcached servers or the user's, in every
//! placement, measured like the Redis rung.

use super::preset::Preset;
use super::Recorder;
use crate::cli::{Common, MemcachedArgs};
use crate::error::Result;
use crate::progress::Phase;
use crate::record::rung::Rung;
use crate::report;
use crate::rungs;
use crate::rungs::placement::{measure_placed, CpuPlan};
use crate::target::memcached::{env_servers, MemcachedUrl};

/// The memcached to measure, from the flags alone: `--memcached-url`, else
/// MEMCACHED_SERVERS, else none (managed servers). A bad address fails here, before
/// anything is contacted.
pub(super) fn plan(url: Option<&String>) -> Result<Option<MemcachedUrl>> {
    let asked = url.cloned().or_else(env_servers);
    asked.as_deref().map(MemcachedUrl::parse).transpose()
}

/// Measures the memcached rung on `target`, with its progress bar.
pub(super) fn memcached_measure(
    target: &rungs::memcached::Target,
    common: &Common,
) -> Result<Vec<Rung>> {
    let cfg = Preset::of(common.quick).kv;
    let phase = Phase::fractional("memcached", common.quiet);
    let (plan, cpus) = CpuPlan::here()?;
    let placements = if target.is_managed() {
        plan.managed()
    } else {
        plan.user_server()
    };
    let n = placements.len() as f64;
    measure_placed(&placements, &cpus, |i| {
        rungs::kv::measure(target, cfg, |f| phase.set_fraction((i as f64 + f) / n))
    })
}

pub(super) fn execute(common: &Common, args: &MemcachedArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let target = rungs::memcached::Target::pick(plan(args.url.as_ref())?)?;
    let rungs = memcached_measure(&target, common)?;
    drop(target);
    rec.finish(common, "memcached", None, rungs)
}
