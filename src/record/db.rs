//! The expensive query over a ladder of table sizes: where this machine's aggregate
//! crosses the lecture's 50 ms, warm and cold.

use super::placement::Placement;
use super::rung::{Engine, Transport};
use serde::{Deserialize, Serialize};

/// The aggregate JOIN over the first `orders` orders, for one engine and transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySizes {
    /// The engine.
    pub engine: Engine,
    /// How the client reaches it.
    pub transport: Transport,
    /// Where client and server ran (absent for embedded SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// One point per size, smallest first; each size a prefix of the next (the orders
    /// with `id <= orders`, in one loaded data set).
    pub points: Vec<SizePoint>,
}

/// The aggregate at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizePoint {
    /// Orders aggregated.
    pub orders: u64,
    /// Median, ns, every page cached.
    pub warm_p50_ns: f64,
    /// Warm samples.
    pub warm_samples: u64,
    /// Median, ns, each sample on a fresh session with the tables in no cache (absent
    /// where cold is not measured: a user's server, a platform that cannot evict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_p50_ns: Option<f64>,
    /// Cold samples.
    #[serde(default)]
    pub cold_samples: u64,
}

/// What a warm PostgreSQL point lookup's time is made of, over one transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupSplit {
    /// How the client reaches the server.
    pub transport: Transport,
    /// Where client and server ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The prepared lookup as the client times it, p50 ns (its row's figure).
    pub total_ns: f64,
    /// `SELECT 1`, prepared, on the same connection: the round trip with no table, p50
    /// ns.
    pub round_trip_ns: f64,
    /// The lookup's execution in the server (EXPLAIN ANALYZE "Execution Time"), median
    /// ns.
    pub execution_ns: f64,
    /// The planning an unprepared lookup pays on top (EXPLAIN ANALYZE "Planning
    /// Time"), median ns; a prepared statement reuses its plan.
    pub planning_ns: f64,
    /// Samples of each part.
    pub samples: u64,
}

impl LookupSplit {
    /// The part of the total that is neither the bare round trip nor the execution:
    /// binding, the protocol, the row's bytes (0 where the parts add up to more).
    pub fn rest_ns(&self) -> f64 {
        (self.total_ns - self.round_trip_ns - self.execution_ns).max(0.0)
    }
}

impl QuerySizes {
    /// The orders at which the aggregate's median crosses `ns` (warm, or cold),
    /// interpolated log-log between the two sizes around it; None where no two
    /// neighbouring sizes straddle it.
    pub fn crossing(&self, ns: f64, cold: bool) -> Option<f64> {
        let pts: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter_map(|p| {
                let t = if cold { p.cold_p50_ns? } else { p.warm_p50_ns };
                Some((p.orders as f64, t))
            })
            .collect();
        pts.windows(2).find_map(|w| {
            let ((n0, t0), (n1, t1)) = (w[0], w[1]);
            if !(t0 <= ns && ns < t1) || t0 <= 0.0 {
                return None;
            }
            let f = (ns / t0).ln() / (t1 / t0).ln();
            Some((n0.ln() + f * (n1 / n0).ln()).exp())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(points: &[(u64, f64)]) -> QuerySizes {
        QuerySizes {
            engine: Engine::Postgres,
            transport: Transport::Tcp,
            placement: None,
            points: points
                .iter()
                .map(|&(orders, ns)| SizePoint {
                    orders,
                    warm_p50_ns: ns,
                    warm_samples: 3,
                    cold_p50_ns: Some(ns * 2.0),
                    cold_samples: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn the_crossing_is_found_between_the_sizes_that_straddle_it() {
        // Linear in rows: 10k -> 5 ms, 100k -> 50 ms exactly at the second point is
        // not below it; 20k -> 10 ms, 200k -> 100 ms: crossing at 100k.
        let s = sizes(&[(10_000, 5e6), (20_000, 10e6), (200_000, 100e6)]);
        let warm = s.crossing(50e6, false).unwrap();
        assert!((warm / 100_000.0 - 1.0).abs() < 1e-9, "{warm}");
        let cold = s.crossing(50e6, true).unwrap();
        assert!((cold / 50_000.0 - 1.0).abs() < 1e-9, "{cold}");
        assert_eq!(s.crossing(1e9, false), None);
        assert_eq!(s.crossing(1e6, false), None);
    }
}
