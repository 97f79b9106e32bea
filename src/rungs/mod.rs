//! The comparison rungs beyond memory, one row of the ladder each: storage, the
//! key-value stores (Redis and memcached on one request/response skeleton, [`kv`]),
//! the databases and an external HTTP API. Each measures distributions
//! (hdrhistogram), never a mean alone, into [`Rung`] rows of the record, on the CPUs
//! [`placement`] chooses. What they write on a server is owned as
//! [`crate::ownership`] says; the labs built on them are in [`crate::labs`].

pub mod db;
pub mod http;
pub mod kv;
pub mod memcached;
pub mod placement;
pub mod redis;
pub mod storage;

use crate::counters::{CounterGroup, DEFAULT_EVENTS};
use crate::error::{Error, Result};
use crate::measure::TrialHook;
use crate::record::rung::Rung;
use crate::record::rung::{RungId, Spacing, Transport};
use hdrhistogram::Histogram;
use std::time::Instant;

/// Collects latencies of one operation (ns, 3 significant digits, up to an hour), and
/// the default perf counters of this thread across the timed operations.
pub struct Latencies {
    hist: Histogram<u64>,
    counters: CounterGroup,
    counting: bool,
    ops_per_sample: u64,
}

/// An empty latency histogram: 1 ns to an hour, 3 significant digits (every latency
/// histogram of the suite).
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("static histogram bounds are valid")
}

impl Latencies {
    /// An empty collector.
    pub fn new() -> Latencies {
        let names: Vec<String> = DEFAULT_EVENTS.iter().map(|s| s.to_string()).collect();
        Latencies {
            hist: latency_histogram(),
            counters: CounterGroup::open(&names),
            counting: false,
            ops_per_sample: 1,
        }
    }

    /// Records one latency in nanoseconds.
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns.max(1));
    }

    /// Times `op` once and records it; `op`'s error is passed through.
    pub fn time<T>(&mut self, op: impl FnOnce() -> Result<T>) -> Result<T> {
        if !std::mem::replace(&mut self.counting, true) {
            self.counters.begin();
        }
        let start = Instant::now();
        let v = op()?;
        self.record_ns(start.elapsed().as_nanos() as u64);
        Ok(v)
    }

    /// Times `op`, which performs `ops` operations (a pipelined batch), and records the
    /// time per operation; counters are then per operation too.
    pub fn time_batch<T>(&mut self, ops: u64, op: impl FnOnce() -> Result<T>) -> Result<T> {
        self.ops_per_sample = ops.max(1);
        if !std::mem::replace(&mut self.counting, true) {
            self.counters.begin();
        }
        let start = Instant::now();
        let v = op()?;
        self.record_ns(start.elapsed().as_nanos() as u64 / self.ops_per_sample);
        Ok(v)
    }

    /// The median recorded so far, ns (0 when nothing was).
    pub fn p50_ns(&self) -> f64 {
        self.hist.value_at_quantile(0.5) as f64
    }

    /// Number of recorded samples.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// The distribution as a rung row, with the counters per operation.
    pub fn rung(
        &mut self,
        id: RungId,
        method: impl Into<String>,
        note: Option<String>,
    ) -> Result<Rung> {
        if self.hist.is_empty() {
            return Err(Error::Internal(format!("no samples for {}", id.name())));
        }
        if std::mem::replace(&mut self.counting, false) {
            self.counters.end(self.hist.len() * self.ops_per_sample);
        }
        let counters = self.counters.take().into_iter().collect();
        let q = |q: f64| self.hist.value_at_quantile(q) as f64;
        Ok(Rung {
            id,
            rung: id.name().to_string(),
            method: method.into(),
            samples: self.hist.len(),
            p50_ns: q(0.5),
            p90_ns: q(0.9),
            p99_ns: q(0.99),
            max_ns: self.hist.max() as f64,
            min_ns: self.hist.min() as f64,
            mean_ns: self.hist.mean(),
            note,
            caveat: None,
            counters,
            placement: None,
            no_irq_placement: None,
            storage_read_bytes: None,
            histogram: Rung::encode_histogram(&self.hist),
        })
    }
}

/// GET hits of a key-value rung with the client sleeping 1 ms, then 10 ms, before each
/// of `samples` commands: one row per gap, `id` naming it from its spacing; `tick` after
/// each row.
pub fn spaced_get_rows<T>(
    samples: u64,
    transport: Transport,
    mut get: impl FnMut() -> Result<T>,
    id: impl Fn(Spacing) -> RungId,
    mut tick: impl FnMut(),
) -> Result<Vec<Rung>> {
    let mut rows = Vec::new();
    for gap_ms in [1u64, 10] {
        let mut l = Latencies::new();
        for _ in 0..samples {
            crate::signal::check()?;
            std::thread::sleep(std::time::Duration::from_millis(gap_ms));
            l.time(&mut get)?;
        }
        rows.push(l.rung(
            id(Spacing::Gap { ms: gap_ms }),
            format!("GET hit over {transport}, {gap_ms} ms apart"),
            Some("the client sleeps between commands; idle CPUs and sockets wake slower".into()),
        )?);
        tick();
    }
    Ok(rows)
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_summarise_as_percentiles() {
        let mut l = Latencies::new();
        for ns in 1..=1000u64 {
            l.record_ns(ns * 1000);
        }
        let ssd = RungId::Storage {
            op: crate::record::rung::StorageOp::RandomRead,
        };
        let r = l.rung(ssd, "test", None).unwrap();
        assert_eq!(r.samples, 1000);
        assert!((r.p50_ns / 500_000.0 - 1.0).abs() < 0.01, "{}", r.p50_ns);
        assert!((r.p99_ns / 990_000.0 - 1.0).abs() < 0.01, "{}", r.p99_ns);
        assert!(r.min_ns <= r.p50_ns && r.p50_ns <= r.p90_ns && r.p90_ns <= r.p99_ns);
        assert!(r.p99_ns <= r.max_ns);
        assert!(Latencies::new().rung(ssd, "y", None).is_err());
    }
}
