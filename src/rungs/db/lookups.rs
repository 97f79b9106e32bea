//! Repeated prepared point lookups on a loaded data set, for the criterion benches.

use super::data::{DataSet, Params};
use super::postgres::{pg_load, PgSession, SchemaGuard};
use super::sql::Sql;
use super::sqlite::{sqlite_load, sqlite_open};
use super::Session;
use crate::error::Result;
use crate::target::postgres::PgTarget;
use std::path::Path;
use std::rc::Rc;

/// A data set loaded into a database with a warm session, for repeated prepared point
/// lookups (what the criterion benches time). Dropping it removes what the load made:
/// the temp SQLite file, or the PostgreSQL schema.
pub struct PointLookups {
    lookup: Box<dyn FnMut(i64) -> Result<()>>,
    params: Params,
}

impl PointLookups {
    /// SQLite in a temp dir under `scratch_in`.
    pub fn sqlite(data: &DataSet, scratch_in: &Path) -> Result<PointLookups> {
        let scratch =
            crate::ownership::run_dir(scratch_in, &crate::ownership::out_temp_prefix("sqlite"))?;
        let mut s = sqlite_open(&scratch.path().join("ladder.db"))?;
        sqlite_load(&mut s, data)?;
        Ok(PointLookups {
            lookup: Box::new(move |id| {
                let _keep = &scratch;
                s.point(id)
            }),
            params: data.params(),
        })
    }

    /// PostgreSQL in a run-unique schema on the first transport of `target`.
    pub fn postgres(data: &DataSet, target: &PgTarget) -> Result<PointLookups> {
        let mut guard = SchemaGuard::create(target.connect(0)?, &target.transports[0].1)?;
        let sql = Rc::new(Sql::new(format!("{}.", guard.schema), "BIGINT"));
        pg_load(guard.client(), &sql, data)?;
        let mut s = PgSession::new(target.connect(0)?, sql);
        Ok(PointLookups {
            lookup: Box::new(move |id| {
                let _keep = &guard;
                s.point(id)
            }),
            params: data.params(),
        })
    }

    /// One prepared point lookup of a random order.
    pub fn lookup(&mut self) -> Result<()> {
        let id = self.params.id();
        (self.lookup)(id)
    }
}
