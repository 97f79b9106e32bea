//! PostgreSQL, a managed server or the user's: the data set in a run-unique schema
//! (dropped at the end, after an error or Ctrl-C too), every connect bounded in time,
//! every session with a `statement_timeout`.

use super::caching::{measure_caching, CacheProbe};
use super::data::DataSet;
use super::sql::Sql;
use super::{
    measure_cold, measure_fresh, measure_sizes, measure_warm, Chill, DbRows, Labels, Plan, Session,
};
use crate::error::{Error, Result};
use crate::record::db::{LookupSplit, QuerySizes};
use crate::record::placement::Placement;
use crate::record::rung::Engine;
use crate::record::rung::{Query, Rung, RungId, Transport};
use crate::rungs::placement::measure_placed;
use crate::services::postgres::ManagedPostgres;
use crate::signal;
use crate::target::postgres::{connect_within, pg_err, PgTarget};
use postgres::{Client, NoTls, Statement};
use std::borrow::BorrowMut;
use std::io::Write;
use std::path::{Path, PathBuf};
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

    /// A fresh session in place of the run's (after a restart of the server).
    fn reconnect(&mut self) -> Result<()> {
        self.client = Some(connect_within(&self.config, "reconnect after a restart")?);
        Ok(())
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
    aggregate_upto: Option<Statement>,
    /// The backend's process id, once asked (None inside: not known).
    backend: Option<Option<u32>>,
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
            aggregate_upto: None,
            backend: None,
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

    fn aggregate_upto(&mut self, orders: i64) -> Result<usize> {
        let st = prepared(
            self.client.borrow_mut(),
            &mut self.aggregate_upto,
            &self.sql.aggregate_upto,
        )?;
        self.client
            .borrow_mut()
            .query(&st, &[&orders])
            .map(|rows| rows.len())
            .map_err(|e| pg_err("aggregate over a prefix", e))
    }

    fn update(&mut self, id: i64) -> Result<()> {
        let st = prepared(self.client.borrow_mut(), &mut self.update, &self.sql.update)?;
        self.client
            .borrow_mut()
            .execute(&st, &[&id])
            .map(drop)
            .map_err(|e| pg_err("update", e))
    }

    fn prepare(&mut self) -> Result<()> {
        let c = self.client.borrow_mut();
        prepared(c, &mut self.point, &self.sql.point)?;
        prepared(c, &mut self.aggregate, &self.sql.aggregate)?;
        prepared(c, &mut self.aggregate_upto, &self.sql.aggregate_upto)?;
        Ok(())
    }

    /// The backend's /proc/<pid>/io: readable where the server runs on this machine as
    /// us, or we are root.
    fn storage_read_bytes(&mut self) -> Option<u64> {
        if self.backend.is_none() {
            let pid = self
                .client
                .borrow_mut()
                .query_one("SELECT pg_backend_pid()", &[])
                .ok()
                .map(|r| r.get::<_, i32>(0) as u32);
            self.backend = Some(pid);
        }
        crate::platform::storage_read_bytes(Some(self.backend.flatten()?))
    }
}

/// What the warm point lookup over `transport` is made of: `plan.point / 10` prepared
/// `SELECT 1` round trips on `client`, and as many EXPLAIN ANALYZE runs of the unprepared
/// lookup (the server's planning and execution times); `total_ns` is the lookup's row.
fn lookup_split(
    client: &mut Client,
    sql: &Sql,
    data: &DataSet,
    plan: &Plan,
    total_ns: f64,
    transport: Transport,
    placement: &Placement,
) -> Result<LookupSplit> {
    let n = (plan.point / 10).max(10);
    let one = client
        .prepare("SELECT 1")
        .map_err(|e| pg_err("SELECT 1", e))?;
    let mut round_trip = crate::rungs::Latencies::new();
    for _ in 0..n {
        signal::check()?;
        round_trip.time(|| {
            client
                .query_one(&one, &[])
                .map(drop)
                .map_err(|e| pg_err("SELECT 1", e))
        })?;
    }
    let mut params = data.params();
    let explain = format!("EXPLAIN ANALYZE {}", sql.point);
    let (mut planning, mut execution) = (Vec::new(), Vec::new());
    for _ in 0..n {
        signal::check()?;
        let rows = client
            .query(explain.as_str(), &[&params.id()])
            .map_err(|e| pg_err("EXPLAIN ANALYZE", e))?;
        // The last lines: "Planning Time: 0.050 ms", "Execution Time: 0.021 ms".
        let ms = |key: &str| {
            rows.iter().find_map(|r| {
                let line: String = r.get(0);
                let v = line.trim().strip_prefix(key)?.strip_suffix(" ms")?;
                v.trim().parse::<f64>().ok()
            })
        };
        if let (Some(p), Some(x)) = (ms("Planning Time:"), ms("Execution Time:")) {
            planning.push(p * 1e6);
            execution.push(x * 1e6);
        }
    }
    if execution.is_empty() {
        return Err(Error::Unusable(
            "PostgreSQL: EXPLAIN ANALYZE gave no planning and execution times".into(),
        ));
    }
    Ok(LookupSplit {
        transport,
        placement: Some(placement.clone()),
        total_ns,
        round_trip_ns: round_trip.p50_ns(),
        execution_ns: crate::measure::median(&execution),
        planning_ns: crate::measure::median(&planning),
        samples: n,
    })
}

/// Cold sessions on a managed server: each restarts it (empty shared buffers), opens a
/// session over TCP that prepares its statements, then evicts the run's tables and
/// indexes from the page cache.
pub(crate) struct PgChill<'a> {
    pub(crate) server: &'a mut ManagedPostgres,
    pub(crate) target: &'a PgTarget,
    pub(crate) sql: Rc<Sql>,
    pub(crate) files: Vec<PathBuf>,
    /// Which of the target's transports the cold sessions use.
    pub(crate) transport: usize,
}

impl Chill for PgChill<'_> {
    type S = PgSession<Client>;
    fn cold_session(&mut self) -> Result<PgSession<Client>> {
        self.server.restart()?;
        let mut s = PgSession::new(self.target.connect(self.transport)?, self.sql.clone());
        s.prepare()?;
        // Asked now: the backend's pid is a catalogue-free query, before the eviction.
        s.storage_read_bytes();
        for f in &self.files {
            crate::platform::evict_file(f).map_err(|e| Error::io(f, e))?;
        }
        Ok(s)
    }
}

/// Every file of the run schema's tables and indexes under the server's data
/// directory: each relation's main file, its 1 GiB segments (`.1`, `.2`...) and its
/// free-space and visibility maps.
pub(crate) fn relation_files(
    client: &mut Client,
    schema: &str,
    data_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let rows = client
        .query(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'i', 't')",
            &[&schema],
        )
        .map_err(|e| pg_err("the run's relation files", e))?;
    let mut files = Vec::new();
    for row in rows {
        let Some(rel) = row.get::<_, Option<String>>(0) else {
            continue;
        };
        let main = data_dir.join(rel);
        let (Some(dir), Some(name)) = (main.parent(), main.file_name().and_then(|n| n.to_str()))
        else {
            continue;
        };
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for e in entries.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            let ours = n == name
                || n.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('_'));
            if ours {
                files.push(e.path());
            }
        }
    }
    Ok(files)
}

/// Builds the data set in a run-unique schema on `target` and times the queries over
/// each transport (the aggregate over the first); the schema is dropped at the end.
pub fn measure_postgres(
    data: &DataSet,
    plan: &Plan,
    target: &PgTarget,
    managed: Option<&mut ManagedPostgres>,
    placements: &[Placement],
    mut cache: Option<&mut CacheProbe>,
    step: &mut dyn FnMut(&str),
) -> Result<DbRows> {
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
    let mut split = Vec::new();
    for (i, &(name, ref config)) in target.transports.iter().enumerate() {
        let labels = Labels {
            engine: Engine::Postgres,
            transport: name,
            note: &note,
        };
        rungs.extend(measure_placed(placements, &cpus, |pi| {
            let last = pi == representative;
            step(&format!("postgres: warm queries over {name}"));
            let split_of = |client: &mut Client, rows: &[Rung]| -> Result<LookupSplit> {
                let total = rows
                    .iter()
                    .find(|r| {
                        matches!(
                            r.id,
                            RungId::Sql {
                                query: Query::PointLookup,
                                ..
                            }
                        )
                    })
                    .map_or(0.0, |r| r.p50_ns);
                lookup_split(client, &sql, data, plan, total, name, &placements[pi])
            };
            let mut rows = if i == 0 {
                let mut s = PgSession::new(guard.client(), sql.clone());
                let mut warm = measure_warm(&mut s, data, plan, &labels, last)?;
                if last {
                    split.push(split_of(s.client.borrow_mut(), &warm)?);
                }
                if let (true, Some(probe)) = (last, cache.as_deref_mut()) {
                    warm.extend(measure_caching(&mut s, probe, data, plan, &labels)?);
                }
                warm
            } else {
                let mut s = PgSession::new(target.connect(i)?, sql.clone());
                let warm = measure_warm(&mut s, data, plan, &labels, false)?;
                if last {
                    split.push(split_of(&mut s.client, &warm)?);
                }
                warm
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
    // Cold, on a managed server only: a user's server is never restarted, and its page
    // cache is not ours to empty. Then the expensive query over a ladder of sizes, warm
    // (and cold where cold is measured), in the representative placement.
    let labels = Labels {
        engine: Engine::Postgres,
        transport: target.transports[0].0,
        note: &note,
    };
    let mut chill = match managed {
        Some(server) => {
            let schema = guard.schema.clone();
            let files = relation_files(guard.client(), &schema, &server.data_dir())?;
            Some(PgChill {
                server,
                target,
                sql: sql.clone(),
                files,
                transport: 0,
            })
        }
        None => None,
    };
    let placement = &placements[representative];
    if let Some(chill) = chill.as_mut() {
        step("postgres: cold queries (a restart each)");
        let how = "a restarted server, the tables' files evicted from the page cache";
        // Over every transport; the size ladder below over the first.
        for (i, &(transport, _)) in target.transports.iter().enumerate() {
            chill.transport = i;
            let labels = Labels {
                transport,
                ..labels
            };
            rungs.extend(measure_placed(
                std::slice::from_ref(placement),
                &cpus,
                |_| measure_cold(chill, data, plan, &labels, how),
            )?);
        }
        chill.transport = 0;
        // The restarts closed the run's own session.
        guard.reconnect()?;
    }
    step("postgres: the expensive query over a ladder of sizes");
    let points = {
        let _pin = crate::host::Pinned::to(placement.client_cpu, &cpus)?;
        let mut s = PgSession::new(guard.client(), sql.clone());
        measure_sizes(&mut s, chill.as_mut(), data, plan)?
    };
    if chill.is_some() {
        guard.reconnect()?;
    }
    let sizes = QuerySizes {
        engine: Engine::Postgres,
        transport: labels.transport,
        placement: Some(placement.clone()),
        points,
    };
    step("postgres: dropping the run's schema");
    guard.close()?;
    Ok(DbRows {
        rungs,
        sizes: vec![sizes],
        split,
    })
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
