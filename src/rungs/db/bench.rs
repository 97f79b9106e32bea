//! The database queries the criterion benches time, on a loaded data set: warm prepared
//! point lookups, the expensive query at a size of the ladder, and cold sessions (a
//! restarted server or a new SQLite connection, the tables evicted from the page cache)
//! made the way `ladder db` makes its cold rows.

use super::data::{DataSet, Params};
use super::postgres::{pg_load, relation_files, PgChill, PgSession, SchemaGuard};
use super::sql::Sql;
use super::sqlite::{sqlite_load, sqlite_open, SqliteChill};
use super::{Chill, Session};
use crate::error::{Error, Result};
use crate::services::postgres::ManagedPostgres;
use crate::target::postgres::PgTarget;
use std::path::Path;
use std::rc::Rc;

type Sessions<'a> = Box<dyn FnMut() -> Result<Box<dyn Session + 'a>> + 'a>;

/// A data set loaded into a database, for repeated queries. Dropping it removes what
/// the load made: the temp SQLite file, or the PostgreSQL schema.
pub struct BenchQueries<'a> {
    /// The warm session, opened again after a cold sample closed it (a restart).
    warm: Option<Box<dyn Session + 'a>>,
    /// Opens a warm session; owns the scratch dir or the schema's guard.
    connect: Sessions<'a>,
    /// Makes a cold session, where cold can be made here.
    cold: Option<Sessions<'a>>,
    params: Params,
}

/// A session whose statements are prepared and whose tables are in no cache, with the
/// order its point lookup will ask for.
pub struct ColdSession<'a> {
    session: Box<dyn Session + 'a>,
    id: i64,
}

impl ColdSession<'_> {
    /// The prepared point lookup.
    pub fn point(&mut self) -> Result<()> {
        self.session.point(self.id)
    }

    /// The expensive query over every order; the number of groups.
    pub fn aggregate(&mut self) -> Result<usize> {
        self.session.aggregate()
    }
}

fn boxed<'a, S: Session + 'a>(s: S) -> Box<dyn Session + 'a> {
    Box::new(s)
}

impl<'a> BenchQueries<'a> {
    /// SQLite in a temp dir under `scratch_in`; cold where this platform can evict the
    /// file from the page cache.
    pub fn sqlite(data: &DataSet, scratch_in: &Path) -> Result<BenchQueries<'static>> {
        let scratch = Rc::new(crate::ownership::run_dir(
            scratch_in,
            &crate::ownership::out_temp_prefix("sqlite"),
        )?);
        let path = scratch.path().join("ladder.db");
        let mut s = sqlite_open(&path)?;
        sqlite_load(&mut s, data)?;
        let cold = crate::platform::evict_file(&path).is_ok().then(|| {
            let (scratch, path) = (scratch.clone(), path.clone());
            Box::new(move || {
                let _keep = &scratch;
                SqliteChill { path: &path }.cold_session().map(boxed)
            }) as Sessions
        });
        Ok(BenchQueries {
            warm: Some(boxed(s)),
            connect: Box::new(move || {
                let _keep = &scratch;
                sqlite_open(&path).map(boxed)
            }),
            cold,
            params: data.params(),
        })
    }

    /// PostgreSQL in a run-unique schema on the first transport of `target`; cold when
    /// the server is `managed` (a user's server is never restarted).
    pub fn postgres(
        data: &DataSet,
        target: &'a PgTarget,
        managed: Option<&'a mut ManagedPostgres>,
    ) -> Result<BenchQueries<'a>> {
        let mut guard = SchemaGuard::create(target.connect(0)?, &target.transports[0].1)?;
        let sql = Rc::new(Sql::new(format!("{}.", guard.schema), "BIGINT"));
        pg_load(guard.client(), &sql, data)?;
        let cold = match managed {
            Some(server) => {
                let schema = guard.schema.clone();
                let files = relation_files(guard.client(), &schema, &server.data_dir())?;
                let mut chill = PgChill {
                    server,
                    target,
                    sql: sql.clone(),
                    files,
                    transport: 0,
                };
                Some(Box::new(move || chill.cold_session().map(boxed)) as Sessions)
            }
            None => None,
        };
        let warm = PgSession::new(target.connect(0)?, sql.clone());
        Ok(BenchQueries {
            warm: Some(boxed(warm)),
            connect: Box::new(move || {
                let _keep = &guard;
                Ok(boxed(PgSession::new(target.connect(0)?, sql.clone())))
            }),
            cold,
            params: data.params(),
        })
    }

    fn warm(&mut self) -> Result<&mut (dyn Session + 'a)> {
        if self.warm.is_none() {
            self.warm = Some((self.connect)()?);
        }
        Ok(self.warm.as_deref_mut().expect("opened above"))
    }

    /// One prepared point lookup of a random order, warm.
    pub fn lookup(&mut self) -> Result<()> {
        let id = self.params.id();
        self.warm()?.point(id)
    }

    /// The expensive query over the first `orders` orders, warm; the number of groups.
    pub fn aggregate_upto(&mut self, orders: u64) -> Result<usize> {
        self.warm()?.aggregate_upto(orders as i64)
    }

    /// Whether cold sessions can be made here.
    pub fn has_cold(&self) -> bool {
        self.cold.is_some()
    }

    /// A fresh cold session (a restart of a managed server closes the warm one; the next
    /// warm query opens another).
    pub fn cold(&mut self) -> Result<ColdSession<'a>> {
        let make = self.cold.as_mut().ok_or_else(|| {
            Error::Unusable("cold sessions need a managed server and page-cache eviction".into())
        })?;
        let session = make()?;
        self.warm = None;
        Ok(ColdSession {
            session,
            id: self.params.id(),
        })
    }
}
