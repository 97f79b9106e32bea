//! PostgreSQL, a managed server or the user's: the data set in a run-unique schema
//! (dropped at the end, after an error or Ctrl-C too), every connect bounded in time,
//! every session with a `statement_timeout`.

use super::caching::{measure_caching, CacheProbe};
use super::data::DataSet;
use super::sql::Sql;
use super::{measure_fresh, measure_warm, Labels, Plan, Session};
use crate::error::{Error, Result};
use crate::record::placement::Placement;
use crate::record::rung::Rung;
use crate::record::rung::{Engine, Transport};
use crate::redact::redact_url;
use crate::signal;
use crate::suite::placement::measure_placed;
use postgres::{Client, NoTls, Statement};
use std::borrow::BorrowMut;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a PostgreSQL connect may take before the target counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `statement_timeout` of the run's sessions: the longest query (the aggregate on
/// the largest data set) takes seconds.
pub const STATEMENT_TIMEOUT: &str = "300s";

/// A PostgreSQL server to measure: one connection config per transport, and a
/// description for the notes (never with a password).
pub struct PgTarget {
    /// (transport, config) pairs: the first one loads the data and runs the aggregate.
    pub transports: Vec<(Transport, postgres::Config)>,
    /// What the server is: "managed PostgreSQL 15 (postmaster pid 123, ...)" or the
    /// user's URL, redacted.
    pub server: String,
}

/// One line from a PostgreSQL error (the server's message where there is one, its
/// detail lines joined), with `context`.
pub(super) fn pg_err(context: &str, e: postgres::Error) -> Error {
    let text = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        }
    };
    let text = text.lines().collect::<Vec<_>>().join("; ");
    Error::Unusable(format!("PostgreSQL: {context}: {text}"))
}

/// Parses a PostgreSQL URL (bad input: exit 2, password redacted) and sets the connect
/// timeout where the URL has none.
pub fn pg_config(url: &str) -> Result<postgres::Config> {
    let mut config = url.parse::<postgres::Config>().map_err(|e| {
        Error::Input(format!(
            "{} is not a PostgreSQL URL: {}",
            redact_url(url),
            crate::redact::redact_text(&e.to_string())
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// TCP or unix socket, from where a config connects.
pub fn transport(config: &postgres::Config) -> Transport {
    match config.get_hosts().first() {
        Some(postgres::config::Host::Unix(_)) => Transport::UnixSocket,
        _ => Transport::Tcp,
    }
}

impl PgTarget {
    /// The user's server at `url`, over whatever transport the URL names.
    pub fn from_url(url: &str) -> Result<PgTarget> {
        let config = pg_config(url)?;
        Ok(PgTarget {
            transports: vec![(transport(&config), config)],
            server: redact_url(url),
        })
    }

    /// A managed server, over TCP and over its unix socket.
    pub fn managed(server: &crate::services::postgres::ManagedPostgres) -> Result<PgTarget> {
        Ok(PgTarget {
            transports: vec![
                (Transport::Tcp, pg_config(&server.tcp_url())?),
                (Transport::UnixSocket, pg_config(&server.unix_url())?),
            ],
            server: format!(
                "managed PostgreSQL {} (postmaster pid {}, temp dir, loopback)",
                server.version,
                server.pid()
            ),
        })
    }

    /// A session over transport `i` with the run's `statement_timeout`.
    pub fn connect(&self, i: usize) -> Result<Client> {
        let (name, config) = &self.transports[i];
        let context = format!("cannot connect over {name} to {}", self.server);
        let mut client = connect_within(config, &context)?;
        client
            .batch_execute(&format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'"))
            .map_err(|e| pg_err(&context, e))?;
        Ok(client)
    }

    /// Checks, before measuring, that the server takes `wanted` more sessions (`flag`
    /// asked for them): its max_connections, less the slots reserved for superusers
    /// and the client sessions open now.
    pub fn check_room(&self, wanted: usize, flag: &str) -> Result<()> {
        let row = self
            .connect(0)?
            .query_one(
                "SELECT current_setting('max_connections')::int, \
                 current_setting('superuser_reserved_connections')::int, \
                 (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int",
                &[],
            )
            .map_err(|e| pg_err(&self.server, e))?;
        let (max, reserved, open): (i32, i32, i32) = (row.get(0), row.get(1), row.get(2));
        // This check's own session is counted in `open` and closes before the run.
        let room = (max - reserved - open + 1).max(0) as usize;
        if wanted > room {
            return Err(Error::Input(format!(
                "{flag}: PostgreSQL at {} takes {room} more sessions (max_connections {max}, \
                 {reserved} reserved, {} open) and the run needs {wanted}",
                self.server,
                open - 1
            )));
        }
        Ok(())
    }

    /// Connects once and checks that the run can work there: the server answers and
    /// the user may CREATE a schema in the database. An unreachable, unusable or
    /// read-only target fails here (exit 2), before anything is measured.
    pub fn probe(&self) -> Result<()> {
        let row = self
            .connect(0)?
            .query_one(
                "SELECT has_database_privilege(current_database(), 'CREATE'), \
                 current_user::text, current_database()::text",
                &[],
            )
            .map_err(|e| pg_err(&self.server, e))?;
        if !row.get::<_, bool>(0) {
            return Err(Error::Unusable(format!(
                "PostgreSQL at {}: user {} may not CREATE a schema in database {}; the run \
                 works in a schema of its own (GRANT CREATE ON DATABASE, or another database)",
                self.server,
                row.get::<_, String>(1),
                row.get::<_, String>(2)
            )));
        }
        Ok(())
    }
}

/// Connects with `config`, giving up after its connect timeout ([`CONNECT_TIMEOUT`]
/// unless the URL sets one) even where the server accepts and never answers (the
/// client's own timeout covers only the TCP connect).
/// A connect given up on leaves its thread blocked until we exit. No signal check
/// here: the cleanup guards connect after Ctrl-C too.
pub(super) fn connect_within(config: &postgres::Config, context: &str) -> Result<Client> {
    let limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    let (tx, rx) = std::sync::mpsc::channel();
    let config = config.clone();
    std::thread::spawn(move || {
        let _ = tx.send(config.connect(NoTls));
    });
    match rx.recv_timeout(limit) {
        Ok(result) => result.map_err(|e| pg_err(context, e)),
        Err(_) => Err(Error::Unusable(format!(
            "PostgreSQL: {context}: no answer within {} s",
            limit.as_secs_f64()
        ))),
    }
}

/// The run's schema: created at the start, dropped with CASCADE at the end. Dropped
/// also when the guard is dropped (error, Ctrl-C): the run's own connection is closed
/// first, so nothing it holds can block the drop, then a fresh one drops the schema.
pub(super) struct SchemaGuard {
    client: Option<Client>,
    heartbeat: Option<crate::clean::Heartbeat>,
    config: postgres::Config,
    pub(super) schema: String,
}

impl SchemaGuard {
    pub(super) fn create(mut client: Client, config: &postgres::Config) -> Result<SchemaGuard> {
        let schema = crate::clean::schema_name();
        crate::suite::ledger::create_schema(&mut client, &schema)
            .map_err(|e| pg_err("cannot create the run's schema", e))?;
        let beat_config = config.clone();
        let heartbeat = crate::suite::ledger::schema_heartbeat(schema.clone(), move || {
            connect_within(&beat_config, "refresh the run's heartbeat")
        });
        Ok(SchemaGuard {
            client: Some(client),
            heartbeat: Some(heartbeat),
            config: config.clone(),
            schema,
        })
    }

    pub(super) fn client(&mut self) -> &mut Client {
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
pub(super) struct PgSession<C: BorrowMut<Client>> {
    pub(super) client: C,
    pub(super) sql: Rc<Sql>,
    pub(super) point: Option<Statement>,
    pub(super) range: Option<Statement>,
    pub(super) aggregate: Option<Statement>,
    pub(super) update: Option<Statement>,
}

impl<C: BorrowMut<Client>> PgSession<C> {
    pub(super) fn new(client: C, sql: Rc<Sql>) -> PgSession<C> {
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
pub(super) fn prepared(
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

pub(super) fn pg_load(client: &mut Client, sql: &Sql, data: &DataSet) -> Result<()> {
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
pub(super) fn pg_settings(client: &mut Client) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_input_errors_without_the_password() {
        let e = pg_config("postgres://u:hunter2@host:notaport/db").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
