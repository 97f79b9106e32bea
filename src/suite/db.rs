//! Database query latency, the lecture's "Database ~50 ms" row taken apart: the same
//! seeded product catalogue (products, and orders referencing them) is loaded into
//! embedded SQLite (a run-owned file on disk) and into PostgreSQL (a managed server or
//! the user's), and three kinds of query are timed on each:
//!
//! - a primary-key point lookup (prepared statement): the cheap end;
//! - an indexed range scan over `created_at` (prepared, ~100 rows);
//! - the "expensive JOIN or aggregation": every order joined to its product, grouped by
//!   category and summed — a full scan, the kind of query the lecture's 50 ms is about.
//!
//! The first query on a brand-new connection (prepare + execute, cold caches of that
//! session) and the connect itself are recorded apart from the warm ones.
//!
//! On PostgreSQL everything lives in a run-unique schema
//! (`ladder_run_<start>_<pid>_<hex>`), every statement names it, and a guard drops it
//! with CASCADE at the end — after an error or Ctrl-C too, over a fresh connection.
//! Nothing outside it is touched. Every connect gives up after [`CONNECT_TIMEOUT`]
//! (a server that accepts and never answers included), and every session of the run
//! has a `statement_timeout`.

use super::placement::{measure_placed, Placement};
use super::{Latencies, Rung};
use crate::error::{Error, Result};
pub use crate::record::caching::CachePatterns;
use crate::record::rung::{Engine, Query, RungId, Transport};
use crate::redact::redact_url;
use crate::signal;
use postgres::{Client, NoTls, Statement};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::borrow::BorrowMut;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Order times are spread over this many seconds per order (one a minute on average).
const SECONDS_PER_ORDER: i64 = 60;
/// The range query's window: about 100 orders on average.
const RANGE_WINDOW_S: i64 = 100 * SECONDS_PER_ORDER;
/// Product categories (groups of the aggregate).
const CATEGORIES: i32 = 20;
/// The first possible order time (Unix seconds, November 2023).
const EPOCH_S: i64 = 1_700_000_000;
/// How long a PostgreSQL connect may take before the target counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `statement_timeout` of the run's sessions: the longest query (the aggregate on
/// the largest data set) takes seconds.
pub const STATEMENT_TIMEOUT: &str = "300s";

/// The data set of a run: its size and seed. The rows are generated, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSet {
    /// Rows of `orders`.
    pub orders: u64,
    /// Rows of `products` (one per 100 orders, 10 to 100 000).
    pub products: u64,
    /// Seed of the rows and of the query parameters.
    pub seed: u64,
}

/// A row of `products`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Primary key, 1..=products.
    pub id: i64,
    /// `product-<id>`.
    pub name: String,
    /// 0..20.
    pub category: i32,
    /// 1.00 to 999.99.
    pub price_cents: i64,
}

/// A row of `orders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Primary key, 1..=orders.
    pub id: i64,
    /// References `products.id`.
    pub product_id: i64,
    /// One customer per 10 orders on average.
    pub customer_id: i64,
    /// 1..=10.
    pub quantity: i32,
    /// Unix seconds, indexed.
    pub created_at: i64,
}

impl DataSet {
    /// A data set of `orders` orders from `seed`.
    pub fn new(orders: u64, seed: u64) -> DataSet {
        DataSet {
            orders,
            products: (orders / 100).clamp(10, 100_000),
            seed,
        }
    }

    /// The products, in id order; the same seed gives the same rows.
    pub fn products(&self) -> impl Iterator<Item = Product> {
        let mut rng = SmallRng::seed_from_u64(self.seed);
        (1..=self.products as i64).map(move |id| Product {
            id,
            name: format!("product-{id}"),
            category: rng.random_range(0..CATEGORIES),
            price_cents: rng.random_range(100..100_000),
        })
    }

    /// The orders, in id order; the same seed gives the same rows.
    pub fn orders(&self) -> impl Iterator<Item = Order> {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ 0x6f72_6465_7273);
        let products = self.products as i64;
        let customers = (self.orders as i64 / 10).max(1);
        let span = self.span_s();
        (1..=self.orders as i64).map(move |id| Order {
            id,
            product_id: rng.random_range(1..=products),
            customer_id: rng.random_range(1..=customers),
            quantity: rng.random_range(1..=10),
            created_at: EPOCH_S + rng.random_range(0..span),
        })
    }

    fn span_s(&self) -> i64 {
        (self.orders as i64 * SECONDS_PER_ORDER).max(RANGE_WINDOW_S + 1)
    }

    /// The query parameters: a seeded stream, the same on both engines.
    fn params(&self) -> Params {
        Params {
            rng: SmallRng::seed_from_u64(self.seed ^ 0x0071_7565_7269_6573),
            orders: self.orders as i64,
            span: self.span_s(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} orders, {} products, seed {:#x}",
            self.orders, self.products, self.seed
        )
    }
}

struct Params {
    rng: SmallRng,
    orders: i64,
    span: i64,
}

impl Params {
    fn id(&mut self) -> i64 {
        self.rng.random_range(1..=self.orders)
    }

    fn window(&mut self) -> (i64, i64) {
        let from = EPOCH_S + self.rng.random_range(0..self.span - RANGE_WINDOW_S);
        (from, from + RANGE_WINDOW_S)
    }
}

/// How many times each query is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Warm point lookups.
    pub point: u64,
    /// Warm range scans.
    pub range: u64,
    /// Aggregates (each a full scan).
    pub aggregate: u64,
    /// New connections: connect, then the first query.
    pub fresh: u64,
    /// Untimed point lookups and range scans before timing.
    pub warmup: u64,
}

impl Plan {
    /// The default plan.
    pub const DEFAULT: Plan = Plan {
        point: 20_000,
        range: 2_000,
        aggregate: 10,
        fresh: 20,
        warmup: 500,
    };
    /// A short plan for smoke tests (`--quick`).
    pub const QUICK: Plan = Plan {
        point: 2_000,
        range: 200,
        aggregate: 3,
        fresh: 5,
        warmup: 50,
    };
}

/// The SQL of one engine: table names qualified by `prefix`, ids of `id_type`; the
/// three timed queries are built once, outside the timed loops.
struct Sql {
    prefix: String,
    id_type: &'static str,
    point: String,
    range: String,
    aggregate: String,
    update: String,
}

impl Sql {
    fn new(prefix: String, id_type: &'static str) -> Sql {
        let p = &prefix;
        Sql {
            point: format!(
                "SELECT id, product_id, customer_id, quantity, created_at FROM {p}orders \
                 WHERE id = $1"
            ),
            range: format!(
                "SELECT id, quantity FROM {p}orders WHERE created_at >= $1 AND created_at < $2"
            ),
            aggregate: format!(
                "SELECT p.category, COUNT(*), SUM(o.quantity * p.price_cents) \
                 FROM {p}orders o JOIN {p}products p ON p.id = o.product_id \
                 GROUP BY p.category ORDER BY p.category"
            ),
            update: format!("UPDATE {p}orders SET quantity = quantity + 1 WHERE id = $1"),
            prefix,
            id_type,
        }
    }

    fn create_tables(&self) -> String {
        let (p, id) = (&self.prefix, self.id_type);
        format!(
            "CREATE TABLE {p}products (id {id} PRIMARY KEY, name TEXT NOT NULL, \
             category INTEGER NOT NULL, price_cents BIGINT NOT NULL);
             CREATE TABLE {p}orders (id {id} PRIMARY KEY, product_id BIGINT NOT NULL, \
             customer_id BIGINT NOT NULL, quantity INTEGER NOT NULL, created_at BIGINT NOT NULL);"
        )
    }

    fn index_and_analyze(&self) -> String {
        let p = &self.prefix;
        format!(
            "CREATE INDEX orders_created_at ON {p}orders (created_at);
             ANALYZE {p}products; ANALYZE {p}orders;"
        )
    }
}

/// One connection to a database under test; statements are prepared on first use.
trait Session {
    /// The point lookup; an error if the row is missing.
    fn point(&mut self, id: i64) -> Result<()>;
    /// The range scan; the number of rows.
    fn range(&mut self, from: i64, to: i64) -> Result<usize>;
    /// The aggregate; the number of groups.
    fn aggregate(&mut self) -> Result<usize>;
    /// A one-row update (its own transaction, committed).
    fn update(&mut self, id: i64) -> Result<()>;
}

/// The rows of one engine and transport: their identity and how they read.
struct Labels<'a> {
    engine: Engine,
    transport: Transport,
    note: &'a str,
}

impl Labels<'_> {
    /// "PG over TCP", "SQLite".
    fn engine(&self) -> String {
        let name = match self.engine {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PG",
        };
        match self.transport {
            Transport::Embedded => name.to_string(),
            t => format!("{name} over {t}"),
        }
    }

    fn rung(&self, l: &mut Latencies, query: Query, what: String) -> Result<Rung> {
        let id = RungId::Sql {
            engine: self.engine,
            query,
            transport: self.transport,
        };
        let method = match self.engine {
            Engine::Sqlite => format!("SQLite {what}"),
            Engine::Postgres => format!("PG {what} over {}", self.transport),
        };
        l.rung(id, method, Some(self.note.to_string()))
    }
}

/// A Redis beside the database, for the lecture's caching patterns measured end to
/// end; each engine that runs with it adds its [`CachePatterns`].
pub struct CacheProbe {
    conn: redis::Connection,
    keys: super::redis::RunKeys,
    /// What each engine measured.
    pub results: Vec<CachePatterns>,
}

impl CacheProbe {
    /// Connects to the Redis at `url` (keys under a run prefix, removed at the end).
    pub fn new(url: &str) -> Result<CacheProbe> {
        Ok(CacheProbe {
            conn: super::redis::connect(url)?,
            keys: super::redis::RunKeys::new(url),
            results: Vec::new(),
        })
    }
}

/// Where reading through the cache starts to pay: `h * hit + (1 - h) * miss < direct`.
pub fn break_even(hit: f64, miss: f64, direct: f64) -> Option<f64> {
    if hit >= direct {
        return None;
    }
    Some(((miss - direct) / (miss - hit)).clamp(0.0, 1.0))
}

/// Measures cache-aside (hit, miss) and write-through on `s` with the probe's Redis.
fn measure_caching<S: Session>(
    s: &mut S,
    probe: &mut CacheProbe,
    data: &DataSet,
    plan: &Plan,
    labels: &Labels,
) -> Result<Vec<Rung>> {
    use ::redis::Commands;
    let redis_err = |e: ::redis::RedisError| Error::Unusable(format!("Redis: {e}"));
    let mut params = data.params();
    let value = "x".repeat(120); // about one serialised order row
    let n = (plan.point / 10).max(20);
    let (mut hit, mut miss, mut direct, mut write) = (
        Latencies::new(),
        Latencies::new(),
        Latencies::new(),
        Latencies::new(),
    );
    let hot = probe.keys.key("cache:hot");
    let () = probe.conn.set_ex(&hot, &value, 60).map_err(redis_err)?;
    for i in 0..n {
        signal::check()?;
        let id = params.id();
        direct.time(|| s.point(id))?;
        hit.time(|| {
            probe
                .conn
                .get::<_, Option<String>>(&hot)
                .map(drop)
                .map_err(redis_err)
        })?;
        // A key never set before: the GET misses, the row is read and cached.
        let key = probe.keys.key(&format!("cache:order:{id}:{i}"));
        miss.time(|| {
            let cached: Option<String> = probe.conn.get(&key).map_err(redis_err)?;
            if cached.is_none() {
                s.point(id)?;
                let () = probe.conn.set_ex(&key, &value, 60).map_err(redis_err)?;
            }
            Ok(())
        })?;
    }
    for _ in 0..(n / 10).max(10) {
        signal::check()?;
        let id = params.id();
        let key = probe.keys.key(&format!("cache:order:{id}"));
        write.time(|| {
            s.update(id)?;
            let () = probe.conn.set_ex(&key, &value, 60).map_err(redis_err)?;
            Ok(())
        })?;
    }
    let rungs = vec![
        labels.rung(
            &mut hit,
            Query::CacheHit,
            "cache-aside hit (Redis GET)".into(),
        )?,
        labels.rung(
            &mut miss,
            Query::CacheMiss,
            "cache-aside miss (Redis GET miss + PK lookup + SET EX)".into(),
        )?,
        labels.rung(
            &mut direct,
            Query::NoCache,
            "no cache (PK lookup), beside the cache runs".into(),
        )?,
        labels.rung(
            &mut write,
            Query::WriteThrough,
            "write-through (UPDATE + Redis SET EX)".into(),
        )?,
    ];
    let mean = |r: &Rung| r.mean_ns;
    probe.results.push(CachePatterns {
        engine: labels.engine(),
        hit_ns: mean(&rungs[0]),
        miss_ns: mean(&rungs[1]),
        direct_ns: mean(&rungs[2]),
        write_through_ns: mean(&rungs[3]),
        break_even_hit_ratio: break_even(mean(&rungs[0]), mean(&rungs[1]), mean(&rungs[2])),
    });
    Ok(rungs)
}

/// Opens `plan.fresh` new connections: times each connect, then its first query.
fn measure_fresh<S: Session>(
    mut connect: impl FnMut() -> Result<S>,
    connect_word: &str,
    data: &DataSet,
    plan: &Plan,
    labels: &Labels,
) -> Result<Vec<Rung>> {
    let mut params = data.params();
    let (mut connects, mut firsts) = (Latencies::new(), Latencies::new());
    for _ in 0..plan.fresh {
        signal::check()?;
        let mut s = connects.time(&mut connect)?;
        let id = params.id();
        firsts.time(|| s.point(id))?;
    }
    Ok(vec![
        labels.rung(&mut connects, Query::Connect, connect_word.to_string())?,
        labels.rung(
            &mut firsts,
            Query::FirstQuery,
            "first query on a new connection (prepare + PK lookup)".into(),
        )?,
    ])
}

/// Times warm point lookups and range scans on `s`, and the aggregate if `aggregate`.
fn measure_warm<S: Session>(
    s: &mut S,
    data: &DataSet,
    plan: &Plan,
    labels: &Labels,
    aggregate: bool,
) -> Result<Vec<Rung>> {
    let mut params = data.params();
    for _ in 0..plan.warmup {
        signal::check()?;
        s.point(params.id())?;
        let (from, to) = params.window();
        s.range(from, to)?;
    }
    let mut point = Latencies::new();
    for _ in 0..plan.point {
        signal::check()?;
        let id = params.id();
        point.time(|| s.point(id))?;
    }
    let mut range = Latencies::new();
    for _ in 0..plan.range {
        signal::check()?;
        let (from, to) = params.window();
        range.time(|| s.range(from, to))?;
    }
    let mut rungs = vec![
        labels.rung(&mut point, Query::PointLookup, "prepared PK lookup".into())?,
        labels.rung(
            &mut range,
            Query::RangeScan,
            format!(
                "prepared indexed range scan (~{} rows)",
                RANGE_WINDOW_S / SECONDS_PER_ORDER
            ),
        )?,
    ];
    if aggregate {
        signal::check()?;
        s.aggregate()?; // untimed: sets hint bits, fills caches
        let mut agg = Latencies::new();
        for _ in 0..plan.aggregate {
            signal::check()?;
            agg.time(|| s.aggregate())?;
        }
        rungs.push(labels.rung(
            &mut agg,
            Query::Aggregate,
            format!(
                "aggregate JOIN over {} orders (expensive query)",
                data.orders
            ),
        )?);
    }
    Ok(rungs)
}

// ---------------------------------------------------------------- SQLite

fn sqlite_err(e: rusqlite::Error) -> Error {
    Error::Internal(format!("SQLite: {e}"))
}

struct SqliteSession {
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

    fn update(&mut self, id: i64) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(&self.sql.update)
            .map_err(sqlite_err)?;
        st.execute([id]).map(drop).map_err(sqlite_err)
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

fn sqlite_open(path: &Path) -> Result<SqliteSession> {
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
) -> Result<Vec<Rung>> {
    let scratch = tempfile::Builder::new()
        .prefix(&crate::clean::out_temp_prefix("sqlite"))
        .tempdir_in(scratch_in)
        .map_err(|e| Error::io(scratch_in, e))?;
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
    Ok(rungs)
}

fn sqlite_load(s: &mut SqliteSession, data: &DataSet) -> Result<()> {
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

// ---------------------------------------------------------------- PostgreSQL

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
fn pg_err(context: &str, e: postgres::Error) -> Error {
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
fn connect_within(config: &postgres::Config, context: &str) -> Result<Client> {
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
struct SchemaGuard {
    client: Option<Client>,
    config: postgres::Config,
    schema: String,
}

impl SchemaGuard {
    fn create(mut client: Client, config: &postgres::Config) -> Result<SchemaGuard> {
        let schema = crate::clean::schema_name();
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .map_err(|e| pg_err("cannot create the run's schema", e))?;
        Ok(SchemaGuard {
            client: Some(client),
            config: config.clone(),
            schema,
        })
    }

    fn client(&mut self) -> &mut Client {
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
struct PgSession<C: BorrowMut<Client>> {
    client: C,
    sql: Rc<Sql>,
    point: Option<Statement>,
    range: Option<Statement>,
    aggregate: Option<Statement>,
    update: Option<Statement>,
}

impl<C: BorrowMut<Client>> PgSession<C> {
    fn new(client: C, sql: Rc<Sql>) -> PgSession<C> {
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
fn prepared(client: &mut Client, slot: &mut Option<Statement>, text: &str) -> Result<Statement> {
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
        let scratch = tempfile::Builder::new()
            .prefix(&crate::clean::out_temp_prefix("sqlite"))
            .tempdir_in(scratch_in)
            .map_err(|e| Error::io(scratch_in, e))?;
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

fn pg_load(client: &mut Client, sql: &Sql, data: &DataSet) -> Result<()> {
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
fn pg_settings(client: &mut Client) -> Result<String> {
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
    fn the_cache_pays_off_above_the_break_even_hit_ratio() {
        // hit 20, miss 70, direct 30: h * 20 + (1 - h) * 70 < 30 from h = 0.8.
        let h = break_even(20.0, 70.0, 30.0).unwrap();
        assert!((h - 0.8).abs() < 1e-12);
        assert!(h * 20.0 + (1.0 - h) * 70.0 <= 30.0 + 1e-9);
        // A cache slower than the database never pays.
        assert_eq!(break_even(40.0, 90.0, 30.0), None);
        // A miss no dearer than a direct read pays from the first hit.
        assert_eq!(break_even(1.0, 30.0, 30.0), Some(0.0));
    }

    #[test]
    fn same_seed_gives_the_same_data_set() {
        let a = DataSet::new(5_000, 42);
        let b = DataSet::new(5_000, 42);
        assert_eq!(
            a.products().collect::<Vec<_>>(),
            b.products().collect::<Vec<_>>()
        );
        assert_eq!(
            a.orders().collect::<Vec<_>>(),
            b.orders().collect::<Vec<_>>()
        );
        let c = DataSet::new(5_000, 43);
        assert_ne!(
            a.orders().collect::<Vec<_>>(),
            c.orders().collect::<Vec<_>>()
        );
    }

    #[test]
    fn orders_reference_existing_products_and_ids_are_dense() {
        let d = DataSet::new(3_000, 7);
        assert_eq!(d.products, 30);
        let orders: Vec<_> = d.orders().collect();
        assert_eq!(orders.len(), 3_000);
        for (i, o) in orders.iter().enumerate() {
            assert_eq!(o.id, i as i64 + 1);
            assert!((1..=d.products as i64).contains(&o.product_id));
            assert!((1..=10).contains(&o.quantity));
            assert!(o.created_at >= EPOCH_S && o.created_at < EPOCH_S + d.span_s());
        }
    }

    #[test]
    fn existing_sqlite_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mine.db");
        std::fs::write(&f, b"user data").unwrap();
        assert_eq!(check_sqlite_path(&f).unwrap_err().exit_code(), 2);
        assert!(check_sqlite_path(&dir.path().join("new.db")).is_ok());
        assert!(check_sqlite_path(&dir.path().join("no/such/dir.db")).is_err());
    }

    #[test]
    fn bad_urls_are_input_errors_without_the_password() {
        let e = pg_config("postgres://u:hunter2@host:notaport/db").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
