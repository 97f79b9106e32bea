//! Embedded SQLite: a run-owned file on disk (or a new file the user names), loaded in
//! one transaction, queried with cached prepared statements.

use super::caching::{measure_caching, CacheProbe};
use super::data::DataSet;
use super::sql::Sql;
use super::{
    measure_cold, measure_fresh, measure_sizes, measure_warm, Chill, DbRows, Labels, Plan, Session,
};
use crate::error::{Error, Result};
use crate::record::db::QuerySizes;
use crate::record::rung::{Engine, Transport};
use crate::signal;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(crate) fn sqlite_err(e: rusqlite::Error) -> Error {
    Error::Internal(format!("SQLite: {e}"))
}

pub(crate) struct SqliteSession {
    conn: rusqlite::Connection,
    sql: Sql,
}

impl Session for SqliteSession {
    fn point(&mut self, id: i64) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(&self.sql.point)
            .map_err(sqlite_err)?;
        st.query_row([id], |r| r.get::<_, i64>(4))
            .map(drop)
            .map_err(sqlite_err)
    }

    fn range(&mut self, from: i64, to: i64) -> Result<usize> {
        let mut st = self
            .conn
            .prepare_cached(&self.sql.range)
            .map_err(sqlite_err)?;
        let mut rows = st.query([from, to]).map_err(sqlite_err)?;
        let mut n = 0;
        while rows.next().map_err(sqlite_err)?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn aggregate(&mut self) -> Result<usize> {
        let mut st = self
            .conn
            .prepare_cached(&self.sql.aggregate)
            .map_err(sqlite_err)?;
        let mut rows = st.query([]).map_err(sqlite_err)?;
        let mut n = 0;
        while rows.next().map_err(sqlite_err)?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn aggregate_upto(&mut self, orders: i64) -> Result<usize> {
        let mut st = self
            .conn
            .prepare_cached(&self.sql.aggregate_upto)
            .map_err(sqlite_err)?;
        let mut rows = st.query([orders]).map_err(sqlite_err)?;
        let mut n = 0;
        while rows.next().map_err(sqlite_err)?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn update(&mut self, id: i64) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(&self.sql.update)
            .map_err(sqlite_err)?;
        st.execute([id]).map(drop).map_err(sqlite_err)
    }

    fn prepare(&mut self) -> Result<()> {
        for text in [
            &self.sql.point,
            &self.sql.aggregate,
            &self.sql.aggregate_upto,
        ] {
            self.conn.prepare_cached(text).map_err(sqlite_err)?;
        }
        Ok(())
    }

    fn storage_read_bytes(&mut self) -> Option<u64> {
        // Embedded: the queries run on this thread.
        crate::platform::storage_read_bytes(None)
    }
}

/// Cold SQLite sessions: a new connection prepares its statements, then the file is
/// evicted from the page cache.
pub(crate) struct SqliteChill<'a> {
    pub(crate) path: &'a Path,
}

impl Chill for SqliteChill<'_> {
    type S = SqliteSession;
    fn cold_session(&mut self) -> Result<SqliteSession> {
        let mut s = sqlite_open(self.path)?;
        s.prepare()?;
        crate::platform::evict_file(self.path).map_err(|e| Error::io(self.path, e))?;
        Ok(s)
    }
}

/// Refuses a `--sqlite` path that exists (a user's file is never touched) or whose
/// folder does not.
pub fn check_sqlite_path(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(Error::Input(format!(
            "--sqlite {} exists; name a new file (ladder never writes into an existing one)",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::Input(format!(
            "--sqlite {}: folder {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

pub(crate) fn sqlite_open(path: &Path) -> Result<SqliteSession> {
    let conn = rusqlite::Connection::open(path).map_err(sqlite_err)?;
    Ok(SqliteSession {
        conn,
        sql: Sql::new(String::new(), "INTEGER"),
    })
}

/// Builds the data set in a SQLite file and times the queries. The file is `keep`
/// (a new file, left in place) or one in a run-owned temp dir under `scratch_in`,
/// removed at the end. `step` is told what is about to happen.
pub fn measure_sqlite(
    data: &DataSet,
    plan: &Plan,
    keep: Option<&Path>,
    scratch_in: &Path,
    cache: Option<&mut CacheProbe>,
    step: &mut dyn FnMut(&str),
) -> Result<DbRows> {
    let scratch =
        crate::ownership::run_dir(scratch_in, &crate::ownership::out_temp_prefix("sqlite"))?;
    let path: PathBuf = keep.map_or_else(|| scratch.path().join("ladder.db"), Path::to_path_buf);

    step("sqlite: building the data set");
    let started = Instant::now();
    let mut s = sqlite_open(&path)?;
    sqlite_load(&mut s, data)?;
    let built = started.elapsed();

    let note = format!(
        "SQLite {} (bundled), defaults (rollback journal, synchronous=FULL), file {} on disk, \
         warm page cache; {}, built in {:.1} s (one transaction, prepared INSERTs)",
        rusqlite::version(),
        if keep.is_some() {
            path.display().to_string()
        } else {
            format!("in a temp dir under {}", scratch_in.display())
        },
        data.describe(),
        built.as_secs_f64()
    );
    let labels = Labels {
        engine: Engine::Sqlite,
        transport: Transport::Embedded,
        note: &note,
    };
    step("sqlite: warm queries");
    let mut rungs = measure_warm(&mut s, data, plan, &labels, true)?;
    if let Some(probe) = cache {
        rungs.extend(measure_caching(&mut s, probe, data, plan, &labels)?);
    }
    step("sqlite: new connections");
    rungs.extend(measure_fresh(
        || sqlite_open(&path),
        "open (new connection to the file)",
        data,
        plan,
        &labels,
    )?);
    // Cold only where this platform can evict one file from the page cache.
    let mut chill = SqliteChill { path: &path };
    let cold = crate::platform::evict_file(&path).is_ok();
    if cold {
        step("sqlite: cold queries");
        let how = "a new connection, the file evicted from the page cache";
        rungs.extend(measure_cold(&mut chill, data, plan, &labels, how)?);
    }
    step("sqlite: the expensive query over a ladder of sizes");
    let sizes = QuerySizes {
        engine: Engine::Sqlite,
        transport: Transport::Embedded,
        placement: None,
        points: measure_sizes(&mut s, cold.then_some(&mut chill), data, plan)?,
    };
    Ok(DbRows {
        rungs,
        sizes: vec![sizes],
        split: Vec::new(),
    })
}

pub(crate) fn sqlite_load(s: &mut SqliteSession, data: &DataSet) -> Result<()> {
    s.conn
        .execute_batch(&s.sql.create_tables())
        .map_err(sqlite_err)?;
    let tx = s.conn.transaction().map_err(sqlite_err)?;
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO products (id, name, category, price_cents) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(sqlite_err)?;
        for p in data.products() {
            ins.execute(rusqlite::params![p.id, p.name, p.category, p.price_cents])
                .map_err(sqlite_err)?;
        }
        let mut ins = tx
            .prepare(
                "INSERT INTO orders (id, product_id, customer_id, quantity, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sqlite_err)?;
        for o in data.orders() {
            if o.id % 16_384 == 0 {
                signal::check()?;
            }
            ins.execute(rusqlite::params![
                o.id,
                o.product_id,
                o.customer_id,
                o.quantity,
                o.created_at
            ])
            .map_err(sqlite_err)?;
        }
    }
    tx.commit().map_err(sqlite_err)?;
    s.conn
        .execute_batch(&s.sql.index_and_analyze())
        .map_err(sqlite_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_sqlite_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mine.db");
        std::fs::write(&f, b"user data").unwrap();
        assert_eq!(check_sqlite_path(&f).unwrap_err().exit_code(), 2);
        assert!(check_sqlite_path(&dir.path().join("new.db")).is_ok());
        assert!(check_sqlite_path(&dir.path().join("no/such/dir.db")).is_err());
    }
}
