//! `ladder redis`: round trips to a managed Redis or the user's, in every placement.

use super::preset::Preset;
use super::{env_url, Recorder};
use crate::cli::{Common, RedisArgs};
use crate::error::Result;
use crate::progress::Phase;
use crate::record::rung::Rung;
use crate::report;
use crate::rungs;
use crate::rungs::placement::{measure_placed, CpuPlan};
use crate::target::redis::RedisUrl;

/// Measures the Redis rung on `target`, with its progress bar.
pub(super) fn redis_measure(target: &rungs::redis::Target, common: &Common) -> Result<Vec<Rung>> {
    let cfg = Preset::of(common.quick).kv;
    let phase = Phase::fractional("redis", common.quiet);
    let (plan, cpus) = CpuPlan::here()?;
    let placements = if target.is_managed() {
        plan.managed()
    } else {
        plan.user_server()
    };
    // The persistence settings: one more step, managed servers only.
    let persist = target.is_managed();
    let n = placements.len() as f64 + f64::from(u8::from(persist));
    let mut rows = measure_placed(&placements, &cpus, |i| {
        rungs::kv::measure(target, cfg, |f| phase.set_fraction((i as f64 + f) / n))
    })?;
    if persist {
        // On the filesystem of the storage rung's default (the --out folder), in the
        // placement that stands for a networked service.
        let last = placements.len() - 1;
        rows.extend(measure_placed(&placements[last..], &cpus, |_| {
            rungs::redis::measure_persistence(&common.out, cfg.spaced_samples * 5, |f| {
                phase.set_fraction((n - 1.0 + f) / n)
            })
        })?);
    }
    Ok(rows)
}

/// The Redis to measure, from the flags alone: `url`, else REDIS_URL, else none (a
/// managed server). A bad URL fails here, before anything is contacted.
pub(super) fn plan(url: Option<&String>) -> Result<Option<RedisUrl>> {
    let url = url.cloned().or_else(|| env_url("REDIS_URL"));
    url.as_deref().map(RedisUrl::parse).transpose()
}

pub(super) fn execute(common: &Common, args: &RedisArgs) -> Result<()> {
    let rec = Recorder::start();
    let url = plan(args.url.as_ref())?;
    report::check_writable(&common.out)?;
    if let Some(url) = &url {
        warn_eviction(url)?;
    }
    let target = rungs::redis::Target::pick(url)?;
    let rungs = redis_measure(&target, common)?;
    drop(target);
    rec.finish(common, "redis", None, rungs)
}

/// Checks that the user's Redis answers, and warns on stderr where the run's keys could
/// evict the user's.
pub(super) fn warn_eviction(url: &RedisUrl) -> Result<()> {
    if let Some(warning) = rungs::redis::eviction_warning(url)? {
        eprintln!("ladder: {warning}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_in_plan_and_a_good_one_kept() {
        let bad = "http://nowhere:6379".to_string();
        let e = plan(Some(&bad)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().starts_with("bad Redis URL"), "{e}");
        // Parsed, not contacted: nothing listens on port 1.
        let good = "redis://127.0.0.1:1/0".to_string();
        let planned = plan(Some(&good)).unwrap().unwrap();
        assert_eq!(planned.secret_url(), good);
    }
}
