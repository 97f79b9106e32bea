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
//! Nothing outside it is touched. Every connect gives up after
//! [`crate::target::postgres::CONNECT_TIMEOUT`]
//! (a server that accepts and never answers included), and every session of the run
//! has a `statement_timeout`.

mod bench;
mod caching;
mod data;
pub(crate) mod postgres;
pub(crate) mod sql;
pub(crate) mod sqlite;

pub use bench::{BenchQueries, ColdSession};
pub use caching::{break_even, CacheProbe};
pub use data::{DataSet, Order, Product};
pub use postgres::measure_postgres;
pub use sqlite::{check_sqlite_path, measure_sqlite};

use super::{Latencies, Rung};
use crate::error::Result;
use crate::record::db::SizePoint;
use crate::record::rung::{Engine, Query, RungId, Transport};
use crate::signal;
use data::{RANGE_WINDOW_S, SECONDS_PER_ORDER};

/// What a database engine measured: its rows, and the expensive query over the size
/// ladder.
#[derive(Debug, Default)]
pub struct DbRows {
    /// The rows of the comparison rungs.
    pub rungs: Vec<Rung>,
    /// The size ladder, one per engine and transport measured.
    pub sizes: Vec<crate::record::db::QuerySizes>,
    /// What a warm point lookup is made of, per transport (PostgreSQL).
    pub split: Vec<crate::record::db::LookupSplit>,
}

impl DbRows {
    /// Adds `other`'s rows and sizes after this one's.
    pub fn extend(&mut self, other: DbRows) {
        self.rungs.extend(other.rungs);
        self.sizes.extend(other.sizes);
        self.split.extend(other.split);
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
    /// Cold point lookups and cold aggregates: each a restarted server (or a new SQLite
    /// connection) with the tables' files evicted from the page cache.
    pub cold: u64,
}

impl Plan {
    /// The default plan.
    pub const DEFAULT: Plan = Plan {
        point: 20_000,
        range: 2_000,
        aggregate: 10,
        fresh: 20,
        warmup: 500,
        cold: 10,
    };
    /// A short plan for smoke tests (`--quick`).
    pub const QUICK: Plan = Plan {
        point: 2_000,
        range: 200,
        aggregate: 3,
        fresh: 5,
        warmup: 50,
        cold: 3,
    };
}

/// One connection to a database under test; statements are prepared on first use.
trait Session {
    /// The point lookup; an error if the row is missing.
    fn point(&mut self, id: i64) -> Result<()>;
    /// The range scan; the number of rows.
    fn range(&mut self, from: i64, to: i64) -> Result<usize>;
    /// The aggregate; the number of groups.
    fn aggregate(&mut self) -> Result<usize>;
    /// The aggregate over the first `orders` orders; the number of groups.
    fn aggregate_upto(&mut self, orders: i64) -> Result<usize>;
    /// A one-row update (its own transaction, committed).
    fn update(&mut self, id: i64) -> Result<()>;
    /// Prepares the point lookup and the aggregate (a cold sample prepares before its
    /// tables are evicted: the catalogue is not what it times).
    fn prepare(&mut self) -> Result<()>;
    /// Bytes the process running this session's queries has read from the storage
    /// device so far, where that can be read.
    fn storage_read_bytes(&mut self) -> Option<u64>;
}

/// Times `n` calls of `op` into `l`, each with an argument from `arg` (made outside
/// the timing); returns the bytes read from the storage device per call by the process
/// that ran them, where that can be read.
fn timed_with_reads<S: Session, A>(
    s: &mut S,
    l: &mut Latencies,
    n: u64,
    mut arg: impl FnMut() -> A,
    mut op: impl FnMut(&mut S, A) -> Result<()>,
) -> Result<Option<f64>> {
    let before = s.storage_read_bytes();
    for _ in 0..n {
        signal::check()?;
        let a = arg();
        l.time(|| op(s, a))?;
    }
    Ok(reads_per_call(before, s.storage_read_bytes(), n))
}

/// The bytes read per call between two readings of a process's counter.
fn reads_per_call(before: Option<u64>, after: Option<u64>, calls: u64) -> Option<f64> {
    Some(after?.saturating_sub(before?) as f64 / calls.max(1) as f64)
}

/// How a cold sample is made: a session whose statements are prepared and whose
/// tables are then in no cache (the engine's, the page cache).
trait Chill {
    /// The session type.
    type S: Session;
    /// A fresh cold session.
    fn cold_session(&mut self) -> Result<Self::S>;
}

/// The sizes of the expensive query's ladder: 10k, 20k, 50k, 100k... orders (1-2-5
/// steps), then the whole data set.
pub fn sizes(orders: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut decade = 10_000u64;
    'outer: loop {
        for step in [1, 2, 5] {
            let n = decade * step;
            if n >= orders {
                break 'outer;
            }
            out.push(n);
        }
        decade *= 10;
    }
    out.push(orders);
    out
}

/// The expensive query at every size of [`sizes`]: warm on `s` (three samples each,
/// after one untimed), and cold through `chill` where given (two samples each: a
/// restart or a new connection apiece).
fn measure_sizes<S: Session, C: Chill>(
    s: &mut S,
    chill: Option<&mut C>,
    data: &DataSet,
    plan: &Plan,
) -> Result<Vec<SizePoint>> {
    let median = |l: &mut Latencies| l.p50_ns();
    let mut points = Vec::new();
    for orders in sizes(data.orders) {
        let n = orders as i64;
        signal::check()?;
        s.aggregate_upto(n)?;
        let mut warm = Latencies::new();
        for _ in 0..plan.cold.clamp(1, 3) {
            signal::check()?;
            warm.time(|| s.aggregate_upto(n))?;
        }
        points.push(SizePoint {
            orders,
            warm_p50_ns: median(&mut warm),
            warm_samples: warm.len(),
            cold_p50_ns: None,
            cold_samples: 0,
        });
    }
    if let Some(chill) = chill {
        for p in &mut points {
            let mut cold = Latencies::new();
            for _ in 0..plan.cold.min(2) {
                signal::check()?;
                let mut c = chill.cold_session()?;
                cold.time(|| c.aggregate_upto(p.orders as i64))?;
            }
            p.cold_p50_ns = (!cold.is_empty()).then(|| median(&mut cold));
            p.cold_samples = cold.len();
        }
    }
    Ok(points)
}

/// Times `plan.cold` cold point lookups and cold aggregates, each on its own fresh
/// session from `chill`, with the bytes each read from the storage device.
fn measure_cold<C: Chill>(
    chill: &mut C,
    data: &DataSet,
    plan: &Plan,
    labels: &Labels,
    how: &str,
) -> Result<Vec<Rung>> {
    let mut params = data.params();
    let mut rows = Vec::new();
    for query in [Query::PointLookupCold, Query::AggregateCold] {
        let mut l = Latencies::new();
        let mut read = Some(0.0);
        for _ in 0..plan.cold {
            signal::check()?;
            let mut s = chill.cold_session()?;
            let per = timed_with_reads(
                &mut s,
                &mut l,
                1,
                || params.id(),
                |s, id| match query {
                    Query::PointLookupCold => s.point(id),
                    _ => s.aggregate().map(drop),
                },
            )?;
            read = read.zip(per).map(|(t, p)| t + p);
        }
        let what = match query {
            Query::PointLookupCold => format!("prepared PK lookup, cold ({how})"),
            _ => format!("aggregate JOIN over {} orders, cold ({how})", data.orders),
        };
        let mut rung = labels.rung(&mut l, query, what)?;
        rung.storage_read_bytes = read.map(|t| t / plan.cold.max(1) as f64);
        rows.push(rung);
    }
    Ok(rows)
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
    let point_reads = timed_with_reads(
        s,
        &mut point,
        plan.point,
        || params.id(),
        |s, id| s.point(id),
    )?;
    let mut range = Latencies::new();
    for _ in 0..plan.range {
        signal::check()?;
        let (from, to) = params.window();
        range.time(|| s.range(from, to))?;
    }
    let mut point_row = labels.rung(&mut point, Query::PointLookup, "prepared PK lookup".into())?;
    point_row.storage_read_bytes = point_reads;
    let mut rungs = vec![
        point_row,
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
        let reads = timed_with_reads(
            s,
            &mut agg,
            plan.aggregate,
            || (),
            |s, ()| s.aggregate().map(drop),
        )?;
        let mut row = labels.rung(
            &mut agg,
            Query::Aggregate,
            format!(
                "aggregate JOIN over {} orders (expensive query)",
                data.orders
            ),
        )?;
        row.storage_read_bytes = reads;
        rungs.push(row);
    }
    Ok(rungs)
}

#[cfg(test)]
mod size_tests {
    use super::sizes;

    #[test]
    fn sizes_step_1_2_5_and_end_on_the_whole_data_set() {
        assert_eq!(sizes(20_000), [10_000, 20_000]);
        assert_eq!(
            sizes(1_000_000),
            [10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000]
        );
        assert_eq!(sizes(30_000), [10_000, 20_000, 30_000]);
        assert_eq!(sizes(5_000), [5_000]);
    }
}
