//! `ladder web`: the web's caches on loopback (origin, edge, phases, DNS), and the
//! user's URL phase by phase when one is given. `ladder run` measures the same by
//! default.

use super::db::db_rows;
use super::preset::Preset;
use super::{write_and_print, Recorder};
use crate::cli::{Common, WebArgs};
use crate::error::Result;
use crate::labs;
use crate::progress::Phase;
use crate::record::http::{HttpSection, PhaseRun};
use crate::record::rung::{Rung, Skipped};
use crate::report;
use crate::rungs;
use crate::rungs::placement::{measure_placed, CpuPlan};

/// The managed pieces of the web family, with their progress bar.
pub(super) fn web_measure(
    common: &Common,
    rows: u64,
    seed: u64,
) -> Result<(HttpSection, Vec<Skipped>)> {
    let cfg = Preset::of(common.quick).web;
    let data = rungs::db::DataSet::new(rows, seed);
    let phase = Phase::fractional("web", common.quiet);
    labs::web::measure(cfg, &data, |f| phase.set_fraction(f))
}

/// The External API row: the user's URL phase by phase, the client placed (the server
/// is not ours).
pub(super) fn external_api(
    common: &Common,
    url: &str,
    insecure: bool,
) -> Result<(Vec<Rung>, Vec<PhaseRun>)> {
    let phase = Phase::fractional("http", common.quiet);
    let samples = Preset::of(common.quick).http_samples;
    let mut phases = Vec::new();
    let (plan, cpus) = CpuPlan::here()?;
    let rows = measure_placed(&plan.user_server(), &cpus, |_| {
        let (rung, runs) = rungs::http::measure(url, insecure, samples, |f| phase.set_fraction(f))?;
        phases = runs;
        Ok(vec![rung])
    })?;
    Ok((rows, phases))
}

/// The record's `http` section from what ran: the managed pieces' section (if they
/// ran) and the user's phase runs.
pub(super) fn http_section(
    managed: Option<HttpSection>,
    user_phases: Vec<PhaseRun>,
) -> Option<HttpSection> {
    if managed.is_none() && user_phases.is_empty() {
        return None;
    }
    let mut section = managed.unwrap_or(HttpSection {
        max_age_s: None,
        origin: Vec::new(),
        edge: Vec::new(),
        phases: Vec::new(),
        dns: None,
    });
    section.phases.extend(user_phases);
    Some(section)
}

pub(super) fn execute(common: &Common, args: &WebArgs) -> Result<()> {
    let rec = Recorder::start();
    // A user's URL that does not answer fails here, before anything is measured.
    if let Some(url) = &args.http_url {
        rungs::http::probe(url, args.http_insecure)?;
    }
    let rows = db_rows(common.quick, args.rows);
    report::check_writable(&common.out)?;
    let (section, skipped) = web_measure(common, rows, crate::cli::DEFAULT_SEED)?;
    let (rungs, user_phases) = match &args.http_url {
        Some(url) => external_api(common, url, args.http_insecure)?,
        None => (Vec::new(), Vec::new()),
    };
    let mut run = rec.record("web", None, rungs, skipped);
    run.http = http_section(Some(section), user_phases);
    write_and_print(common, &run)
}
