//! `ladder db`: SQLite and PostgreSQL queries on one seeded data set.

use super::preset::Preset;
use super::{env_url, write_and_print, Recorder};
use crate::cli::{Common, DbArgs, RungName};
use crate::error::Result;
use crate::progress::Phase;
use crate::report;
use crate::suite::placement::CpuPlan;
use crate::suite::{self, Rung, Skipped};
use std::path::Path;

/// The PostgreSQL the user asked for (--postgres-url, else DATABASE_URL), checked to
/// parse and answer before anything is measured.
pub(super) fn asked_postgres(url: Option<&String>) -> Result<Option<suite::db::PgTarget>> {
    let url = url.cloned().or_else(|| env_url("DATABASE_URL"));
    url.map(|u| {
        let target = suite::db::PgTarget::from_url(&u)?;
        target.probe()?;
        Ok(target)
    })
    .transpose()
}

/// The database rungs: SQLite (kept at `keep` if given), then PostgreSQL on `asked` or
/// a managed server. A missing PostgreSQL install is a skipped rung, not an error. With
/// a `cache` probe the caching patterns run too, on PostgreSQL where it runs, else on
/// SQLite.
pub(super) fn db_rungs(
    common: &Common,
    data: &suite::db::DataSet,
    keep: Option<&Path>,
    asked: Option<suite::db::PgTarget>,
    mut cache: Option<&mut suite::db::CacheProbe>,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Rung>> {
    use crate::services::postgres::ManagedPostgres;
    let plan = Preset::of(common.quick).db_plan;
    let (cpu_plan, _) = CpuPlan::here()?;
    let placements = match &asked {
        Some(_) => cpu_plan.user_server(),
        None => cpu_plan.managed(),
    };
    // Two warm-query steps (TCP, socket) per extra placement.
    let phase = Phase::new("db", 9 + 2 * (placements.len() as u64 - 1), common.quiet);
    let mut step = |what: &str| phase.advance(1, what.to_string());
    let managed = match &asked {
        Some(_) => None,
        None => Some(ManagedPostgres::bin_dir()),
    };
    let pg_runs = asked.is_some() || matches!(managed, Some(Ok(_)));
    let sqlite_cache = if pg_runs { None } else { cache.as_deref_mut() };
    let mut rungs =
        suite::db::measure_sqlite(data, &plan, keep, &common.out, sqlite_cache, &mut step)?;
    let server;
    let target = match (asked, managed) {
        (Some(target), _) => Some(target),
        (None, Some(Ok(_))) => {
            server = ManagedPostgres::start()?;
            Some(suite::db::PgTarget::managed(&server)?)
        }
        (None, Some(Err(e))) => {
            if !common.quiet {
                eprintln!("ladder: postgres skipped: {e}");
            }
            skipped.push(Skipped {
                family: RungName::Db,
                rung: "postgres".into(),
                reason: e.to_string(),
            });
            None
        }
        (None, None) => unreachable!("managed is looked up whenever nothing was asked for"),
    };
    if let Some(target) = target {
        rungs.extend(suite::db::measure_postgres(
            data,
            &plan,
            &target,
            &placements,
            cache,
            &mut step,
        )?);
    }
    Ok(rungs)
}

pub(super) fn db_rows(common: &Common, rows: Option<u64>) -> Result<u64> {
    // --rows is bounded by its parser (crate::cli::ROWS_RANGE).
    Ok(rows.unwrap_or(Preset::of(common.quick).db_rows))
}

pub(super) fn execute(common: &Common, args: &DbArgs) -> Result<()> {
    let rec = Recorder::start();
    let rows = db_rows(common, args.rows)?;
    if let Some(p) = &args.sqlite {
        suite::db::check_sqlite_path(p)?;
    }
    report::check_writable(&common.out)?;
    let asked = asked_postgres(args.postgres_url.as_ref())?;
    let data = suite::db::DataSet::new(rows, args.seed);
    let mut skipped = Vec::new();
    let rungs = db_rungs(
        common,
        &data,
        args.sqlite.as_deref(),
        asked,
        None,
        &mut skipped,
    )?;
    let run = rec.record("db", None, rungs, skipped);
    write_and_print(common, &run)
}
