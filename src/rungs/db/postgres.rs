//! PostgreSQL, a managed server or the user's: the data set in a run-unique schema
//! (dropped at the end, after an error or Ctrl-C too), every connect bounded in time,
//! every session with a `statement_timeout`.

use super::caching::{measure_caching, CacheProbe};
use super::data::DataSet;
use super::sql::Sql;
use super::{measure_fresh, measure_warm, Labels, Plan, Session};
use crate::error::{Error, Result};
use crate::record::placement::Placement;
use crate::record::rung::Engine;
use crate::record::rung::Rung;
use crate::rungs::placement::measure_placed;
use crate::signal;
use crate::target::postgres::{connect_within, pg_err, PgTarget};
use postgres::{Client, NoTls, Statement};
use std::borrow::BorrowMut;
use std::io::Write;
use std::rc::Rc;
use std::time::Instant;

/// The run's schema: created at the start, dropped with CASCADE at the end. Dropped
/// also when the guard is dropped (error, Ctrl-C): the run's own connection is closed
/// first, so nothing it holds can block the drop, then a fresh one drops the schema.
pub(crate) struct SchemaGuard {
    client: Option<Client>,
    heartbeat: Option<crate::ownership::Heartbeat>,
    config: postgres::Config,
    pub(crate) schema: String,
}

impl SchemaGuard {
    pub(crate) fn create(mut client: Client, config: &postgres::Config) -> Result<SchemaGuard> {
        let schema = crate::ownership::schema_name();
        crate::ownership::ledger::create_schema(&mut client, &schema)
            .map_err(|e| pg_err("cannot create the run's schema", e))?;
        let beat_config = config.clone();
        let heartbeat = crate::ownership::ledger::schema_heartbeat(schema.clone(), move || {
            connect_within(&beat_config, "refresh the run's heartbeat")
        });
        Ok(SchemaGuard {
            client: Some(client),
            heartbeat: Some(heartbeat),
            config: config.clone(),
            schema,
        })
    }

    pub(crate) fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("the client lives until close")
    }

    fn drop_sql(&self) -> String {
        format!(
            "SET lock_timeout = '10s'; SET statement_timeout = '60s'; \
             DROP SCHEMA IF EXISTS {} CASCADE",
            self.schema
        )
    }

    /// Drops the schema over the run's connection; an error if that fails.
    fn close(mut self) -> Result<()> {
        drop(self.heartbeat.take());
        let sql = self.drop_sql();
        let mut client = self.client.take().expect("the client lives until close");
        client
            .batch_execute(&sql)
            .map_err(|e| pg_err("cannot drop the run's schema", e))?;
        self.schema.clear();
        Ok(())
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        drop(self.heartbeat.take());
        if self.schema.is_empty() {
            return;
        }
        drop(self.client.take());
        if let Ok(mut c) = connect_within(&self.config, "drop the run's schema") {
            let _ = c.batch_execute(&self.drop_sql());
        }
    }
}

/// A PostgreSQL connection (owned, or the guard's borrowed) with its statements.
pub(crate) struct PgSession<C: BorrowMut<Client>> {
    pub(crate) client: C,
    pub(crate) sql: Rc<Sql>,
    pub(crate) point: Option<Statement>,
    pub(crate) range: Option<Statement>,
    pub(crate) aggregate: Option<Statement>,
    pub(crate) update: Option<Statement>,
}

impl<C: BorrowMut<Client>> PgSession<C> {
    pub(crate) fn new(client: C, sql: Rc<Sql>) -> PgSession<C> {
        PgSession {
            client,
            sql,
            point: None,
            range: None,
            aggregate: None,
            update: None,
        }
    }
}

/// The prepared statement in `slot`, prepared from `text` on first use.
pub(crate) fn prepared(
    client: &mut Client,
    slot: &mut Option<Statement>,
    text: &str,
) -> Result<Statement> {
    if let Some(st) = slot {
        return Ok(st.clone());
    }
    let st = client.prepare(text).map_err(|e| pg_err("prepare", e))?;
    *slot = Some(st.clone());
    Ok(st)
}

impl<C: BorrowMut<Client>> Session for PgSession<C> {
    fn point(&mut self, id: i64) -> Result<()> {
        let st = prepared(self.client.borrow_mut(), &mut self.point, &self.sql.point)?;
        self.client
            .borrow_mut()
            .query_one(&st, &[&id])
            .map(drop)
            .map_err(|e| pg_err("PK lookup", e))
    }

    fn range(&mut self, from: i64, to: i64) -> Result<usize> {
        let st = prepared(self.client.borrow_mut(), &mut self.range, &self.sql.range)?;
        self.client
            .borrow_mut()
            .query(&st, &[&from, &to])
            .map(|rows| rows.len())
            .map_err(|e| pg_err("range scan", e))
    }

    fn aggregate(&mut self) -> Result<usize> {
        let st = prepared(
            self.client.borrow_mut(),
            &mut self.aggregate,
            &self.sql.aggregate,
        )?;
        self.client
            .borrow_mut()
            .query(&st, &[])
            .map(|rows| rows.len())
            .map_err(|e| pg_err("aggregate", e))
    }

    fn update(&mut self, id: i64) -> Result<()> {
        let st = prepared(self.client.borrow_mut(), &mut self.update, &self.sql.update)?;
        self.client
            .borrow_mut()
            .execute(&st, &[&id])
            .map(drop)
            .map_err(|e| pg_err("update", e))
    }
}

/// Builds the data set in a run-unique schema on `target` and times the queries over
/// each transport (the aggregate over the first); the schema is dropped at the end.
pub fn measure_postgres(
    data: &DataSet,
    plan: &Plan,
    target: &PgTarget,
    placements: &[Placement],
    mut cache: Option<&mut CacheProbe>,
    step: &mut dyn FnMut(&str),
) -> Result<Vec<Rung>> {
    let admin = target.connect(0)?;
    let mut guard = SchemaGuard::create(admin, &target.transports[0].1)?;
    let sql = Rc::new(Sql::new(format!("{}.", guard.schema), "BIGINT"));

    step("postgres: building the data set");
    let started = Instant::now();
    pg_load(guard.client(), &sql, data)?;
    let built = started.elapsed();
    let settings = pg_settings(guard.client())?;
    let note = format!(
        "{}: {settings}; {}, built in {:.1} s (COPY FROM STDIN, then index and ANALYZE)",
        target.server,
        data.describe(),
        built.as_secs_f64()
    );

    // The round trips are measured in every placement; the expensive query (server
    // time), the caching patterns and new connections only in the last placement, the
    // one that stands for a networked service.
    let cpus = crate::host::allowed_cpus();
    let representative = placements.len().saturating_sub(1);
    let mut rungs = Vec::new();
    for (i, &(name, ref config)) in target.transports.iter().enumerate() {
        let labels = Labels {
            engine: Engine::Postgres,
            transport: name,
            note: &note,
        };
        rungs.extend(measure_placed(placements, &cpus, |pi| {
            let last = pi == representative;
            step(&format!("postgres: warm queries over {name}"));
            let mut rows = if i == 0 {
                let mut s = PgSession::new(guard.client(), sql.clone());
                let mut warm = measure_warm(&mut s, data, plan, &labels, last)?;
                if let (true, Some(probe)) = (last, cache.as_deref_mut()) {
                    warm.extend(measure_caching(&mut s, probe, data, plan, &labels)?);
                }
                warm
            } else {
                let mut s = PgSession::new(target.connect(i)?, sql.clone());
                measure_warm(&mut s, data, plan, &labels, false)?
            };
            if last {
                step(&format!("postgres: new connections over {name}"));
                rows.extend(measure_fresh(
                    || {
                        let client = config
                            .connect(NoTls)
                            .map_err(|e| pg_err(&format!("connect over {name}"), e))?;
                        Ok(PgSession::new(client, sql.clone()))
                    },
                    "connect (startup + auth)",
                    data,
                    plan,
                    &labels,
                )?);
            }
            Ok(rows)
        })?);
    }
    step("postgres: dropping the run's schema");
    guard.close()?;
    Ok(rungs)
}

pub(crate) fn pg_load(client: &mut Client, sql: &Sql, data: &DataSet) -> Result<()> {
    client
        .batch_execute(&sql.create_tables())
        .map_err(|e| pg_err("create tables", e))?;
    let copy_err = |e: std::io::Error| Error::Unusable(format!("PostgreSQL: COPY: {e}"));
    let mut w = client
        .copy_in(&format!(
            "COPY {}products (id, name, category, price_cents) FROM STDIN",
            sql.prefix
        ))
        .map_err(|e| pg_err("COPY products", e))?;
    for p in data.products() {
        writeln!(w, "{}\t{}\t{}\t{}", p.id, p.name, p.category, p.price_cents).map_err(copy_err)?;
    }
    w.finish().map_err(|e| pg_err("COPY products", e))?;
    let mut w = client
        .copy_in(&format!(
            "COPY {}orders (id, product_id, customer_id, quantity, created_at) FROM STDIN",
            sql.prefix
        ))
        .map_err(|e| pg_err("COPY orders", e))?;
    for o in data.orders() {
        if o.id % 16_384 == 0 {
            signal::check()?;
        }
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}",
            o.id, o.product_id, o.customer_id, o.quantity, o.created_at
        )
        .map_err(copy_err)?;
    }
    w.finish().map_err(|e| pg_err("COPY orders", e))?;
    client
        .batch_execute(&sql.index_and_analyze())
        .map_err(|e| pg_err("index and ANALYZE", e))
}

/// The server version and the settings that shape the numbers, for the note.
pub(crate) fn pg_settings(client: &mut Client) -> Result<String> {
    let mut show = |name: &str| -> Result<String> {
        client
            .query_one(&format!("SHOW {name}"), &[])
            .map(|r| r.get::<_, String>(0))
            .map_err(|e| pg_err(name, e))
    };
    Ok(format!(
        "server {}, fsync {}, synchronous_commit {}, full_page_writes {}, shared_buffers {} \
         (server settings as found, not changed)",
        show("server_version")?,
        show("fsync")?,
        show("synchronous_commit")?,
        show("full_page_writes")?,
        show("shared_buffers")?
    ))
}
