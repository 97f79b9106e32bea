//! `ladder redis`: round trips to a managed Redis or the user's, in every placement.

use super::preset::Preset;
use super::{env_url, Recorder};
use crate::cli::{Common, RedisArgs};
use crate::error::Result;
use crate::progress::Phase;
use crate::report;
use crate::suite::placement::{measure_placed, CpuPlan};
use crate::suite::{self, Rung};

/// Measures the Redis rung on `target`, with its progress bar.
pub(super) fn redis_measure(target: &suite::redis::Target, common: &Common) -> Result<Vec<Rung>> {
    let cfg = Preset::of(common.quick).redis;
    let phase = Phase::fractional("redis", common.quiet);
    let (plan, cpus) = CpuPlan::here()?;
    let placements = match target {
        suite::redis::Target::Managed(_) => plan.managed(),
        suite::redis::Target::Url(_) => plan.user_server(),
    };
    // The persistence settings: one more step, managed servers only.
    let persist = matches!(target, suite::redis::Target::Managed(_));
    let n = placements.len() as f64 + f64::from(u8::from(persist));
    let mut rows = measure_placed(&placements, &cpus, |i| {
        suite::redis::measure(target, cfg, |f| phase.set_fraction((i as f64 + f) / n))
    })?;
    if persist {
        // On the filesystem of the storage rung's default (the --out folder), in the
        // placement that stands for a networked service.
        let last = placements.len() - 1;
        rows.extend(measure_placed(&placements[last..], &cpus, |_| {
            suite::redis::measure_persistence(&common.out, cfg.spaced_samples * 5, |f| {
                phase.set_fraction((n - 1.0 + f) / n)
            })
        })?);
    }
    Ok(rows)
}

pub(super) fn execute(common: &Common, args: &RedisArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let url = args.url.clone().or_else(|| env_url("REDIS_URL"));
    if let Some(url) = &url {
        warn_eviction(url)?;
    }
    let target = suite::redis::Target::pick(url)?;
    let rungs = redis_measure(&target, common)?;
    drop(target);
    rec.finish(common, "redis", None, rungs)
}

/// Checks that the user's Redis answers, and warns on stderr where the run's keys could
/// evict the user's.
pub(super) fn warn_eviction(url: &str) -> Result<()> {
    if let Some(warning) = suite::redis::eviction_warning(url)? {
        eprintln!("ladder: {warning}");
    }
    Ok(())
}
