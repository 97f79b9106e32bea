//! `ladder db`: SQLite and PostgreSQL queries on one seeded data set.

use super::preset::Preset;
use super::{env_url, write_and_print, Recorder};
use crate::cli::{Common, DbArgs};
use crate::error::Result;
use crate::progress::Phase;
use crate::record::rung::Family;
use crate::record::rung::Skipped;
use crate::report;
use crate::rungs;
use crate::rungs::db::DbRows;
use crate::rungs::placement::CpuPlan;
use std::path::{Path, PathBuf};

/// What `ladder db` measures, from its flags alone.
pub(super) struct DbPlan {
    /// Orders in the data set.
    pub rows: u64,
    /// Seed of the data set and of the query parameters.
    pub seed: u64,
    /// The new SQLite file to keep, if asked for.
    pub sqlite: Option<PathBuf>,
    /// The user's PostgreSQL, parsed, not yet contacted; none for a managed server.
    pub postgres: Option<crate::target::postgres::PgTarget>,
}

/// Plans `ladder db`: the preset's rows unless --rows, a new --sqlite file in an
/// existing folder, and a PostgreSQL URL that parses. Contacts no server.
pub(super) fn plan(args: &DbArgs, quick: bool) -> Result<DbPlan> {
    if let Some(p) = &args.sqlite {
        rungs::db::check_sqlite_path(p)?;
    }
    Ok(DbPlan {
        rows: db_rows(quick, args.rows),
        seed: args.seed,
        sqlite: args.sqlite.clone(),
        postgres: asked_postgres(args.postgres_url.as_ref())?,
    })
}

/// The PostgreSQL the user asked for (--postgres-url, else DATABASE_URL), parsed; a bad
/// URL fails here. [`check_postgres`] then checks that it answers.
pub(super) fn asked_postgres(
    url: Option<&String>,
) -> Result<Option<crate::target::postgres::PgTarget>> {
    let url = url.cloned().or_else(|| env_url("DATABASE_URL"));
    url.map(|u| crate::target::postgres::PgTarget::from_url(&u))
        .transpose()
}

/// Checks that the user's PostgreSQL answers and lets the run create its schema, before
/// anything is measured.
pub(super) fn check_postgres(asked: Option<&crate::target::postgres::PgTarget>) -> Result<()> {
    asked.map_or(Ok(()), crate::target::postgres::PgTarget::probe)
}

/// The database rungs: SQLite (kept at `keep` if given), then PostgreSQL on `asked` or
/// a managed server. A missing PostgreSQL install is a skipped rung, not an error. With
/// a `cache` probe the caching patterns run too, on PostgreSQL where it runs, else on
/// SQLite.
pub(super) fn db_rungs(
    common: &Common,
    data: &rungs::db::DataSet,
    keep: Option<&Path>,
    asked: Option<crate::target::postgres::PgTarget>,
    mut cache: Option<&mut rungs::db::CacheProbe>,
    skipped: &mut Vec<Skipped>,
) -> Result<DbRows> {
    use crate::services::postgres::ManagedPostgres;
    let plan = Preset::of(common.quick).db_plan;
    let (cpu_plan, _) = CpuPlan::here()?;
    let placements = match &asked {
        Some(_) => cpu_plan.user_server(),
        None => cpu_plan.managed(),
    };
    // Two warm-query steps (TCP, socket) per extra placement; a cold and a size-ladder
    // step each for SQLite and PostgreSQL.
    let phase = Phase::new("db", 13 + 2 * (placements.len() as u64 - 1), common.quiet);
    let mut step = |what: &str| phase.advance(1, what.to_string());
    let managed = match &asked {
        Some(_) => None,
        None => Some(ManagedPostgres::bin_dir()),
    };
    let pg_runs = asked.is_some() || matches!(managed, Some(Ok(_)));
    let sqlite_cache = if pg_runs { None } else { cache.as_deref_mut() };
    let mut measured =
        rungs::db::measure_sqlite(data, &plan, keep, &common.out, sqlite_cache, &mut step)?;
    let mut server = None;
    let target = match (asked, managed) {
        (Some(target), _) => Some(target),
        (None, Some(Ok(_))) => {
            let started = ManagedPostgres::start()?;
            let target = started.target()?;
            server = Some(started);
            Some(target)
        }
        (None, Some(Err(e))) => {
            if !common.quiet {
                eprintln!("ladder: postgres skipped: {e}");
            }
            skipped.push(Skipped {
                family: Family::Db,
                rung: "postgres".into(),
                reason: e.to_string(),
            });
            None
        }
        (None, None) => unreachable!("managed is looked up whenever nothing was asked for"),
    };
    if let Some(target) = target {
        measured.extend(rungs::db::measure_postgres(
            data,
            &plan,
            &target,
            server.as_mut(),
            &placements,
            cache,
            &mut step,
        )?);
    }
    Ok(measured)
}

/// Orders in the data set: --rows (bounded by its parser, crate::cli::ROWS_RANGE), else
/// the preset's.
pub(super) fn db_rows(quick: bool, rows: Option<u64>) -> u64 {
    rows.unwrap_or(Preset::of(quick).db_rows)
}

pub(super) fn execute(common: &Common, args: &DbArgs) -> Result<()> {
    let rec = Recorder::start();
    let plan = plan(args, common.quick)?;
    report::check_writable(&common.out)?;
    check_postgres(plan.postgres.as_ref())?;
    let data = rungs::db::DataSet::new(plan.rows, plan.seed);
    let mut skipped = Vec::new();
    let measured = db_rungs(
        common,
        &data,
        plan.sqlite.as_deref(),
        plan.postgres,
        None,
        &mut skipped,
    )?;
    let mut run = rec.record("db", None, measured.rungs, skipped);
    run.db_sizes = measured.sizes;
    run.db_split = measured.split;
    write_and_print(common, &run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tests::args;

    #[test]
    fn quick_takes_the_quick_rows_and_a_flag_wins() {
        let full = plan(&args::<DbArgs>(&[]), false).unwrap();
        let quick = plan(&args::<DbArgs>(&[]), true).unwrap();
        assert_eq!(full.rows, Preset::of(false).db_rows);
        assert_eq!(quick.rows, Preset::of(true).db_rows);
        assert!(quick.rows < full.rows);
        let asked = plan(&args::<DbArgs>(&["--rows", "5000", "--seed", "7"]), true).unwrap();
        assert_eq!((asked.rows, asked.seed), (5000, 7));
    }

    #[test]
    fn a_bad_postgres_url_or_an_existing_sqlite_file_is_refused_in_plan() {
        let e = plan(&args::<DbArgs>(&["--postgres-url", "mysql://x"]), false)
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 2, "{e}");
        let existing = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let e = plan(&args::<DbArgs>(&["--sqlite", existing]), false)
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("exists"), "{e}");
        // Parsed only: nothing listens on port 1, and plan does not ask.
        let url = "postgres://u@127.0.0.1:1/db";
        let p = plan(&args::<DbArgs>(&["--postgres-url", url]), false).unwrap();
        assert!(p.postgres.is_some());
    }
}
