//! The lecture's table as the record keeps it: one row per rung of the lecture, keyed
//! by [`LadderKey`], and the lecture's comparisons recomputed. [`crate::ladder`] builds
//! them; the report reads them.

use super::placement::Placement;
use serde::{Deserialize, Serialize};

/// A row of the lecture's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LadderKey {
    /// L1 CPU cache.
    L1,
    /// L2/L3 CPU cache, the L2 level.
    L2,
    /// L2/L3 CPU cache, the L3 level.
    L3,
    /// RAM.
    Ram,
    /// Redis.
    Redis,
    /// SSD.
    Ssd,
    /// Database, a point lookup.
    DbPointLookup,
    /// Database, the expensive query.
    DbExpensiveQuery,
    /// Database, a point lookup whose pages are in no cache (a fresh server, its files
    /// evicted from the page cache).
    DbPointLookupCold,
    /// Database, the expensive query with every page read from the device.
    DbExpensiveQueryCold,
    /// External API.
    ExternalApi,
}

impl LadderKey {
    /// Every row, in the table's order.
    pub const ALL: [LadderKey; 11] = [
        LadderKey::L1,
        LadderKey::L2,
        LadderKey::L3,
        LadderKey::Ram,
        LadderKey::Redis,
        LadderKey::Ssd,
        LadderKey::DbPointLookup,
        LadderKey::DbExpensiveQuery,
        LadderKey::DbPointLookupCold,
        LadderKey::DbExpensiveQueryCold,
        LadderKey::ExternalApi,
    ];

    /// The rung as the lecture names it ("L2/L3 CPU cache", "Database"...).
    pub fn lecture_rung(self) -> &'static str {
        match self {
            LadderKey::L1 => "L1 CPU cache",
            LadderKey::L2 | LadderKey::L3 => "L2/L3 CPU cache",
            LadderKey::Ram => "RAM",
            LadderKey::Redis => "Redis",
            LadderKey::Ssd => "SSD",
            LadderKey::DbPointLookup
            | LadderKey::DbExpensiveQuery
            | LadderKey::DbPointLookupCold
            | LadderKey::DbExpensiveQueryCold => "Database",
            LadderKey::ExternalApi => "External API",
        }
    }

    /// The row's name: the lecture's rung and which part of it ("Database (point lookup)").
    pub fn name(self) -> String {
        let part = match self {
            LadderKey::L2 => "L2",
            LadderKey::L3 => "L3",
            LadderKey::DbPointLookup => "point lookup",
            LadderKey::DbExpensiveQuery => "expensive query",
            LadderKey::DbPointLookupCold => "point lookup, cold",
            LadderKey::DbExpensiveQueryCold => "expensive query, cold",
            _ => return self.lecture_rung().to_string(),
        };
        format!("{} ({part})", self.lecture_rung())
    }
}

/// One row of the lecture's table, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderRow {
    /// Which row of the lecture's table: what the comparisons match on.
    pub key: LadderKey,
    /// The row's name, for readers ("L1 CPU cache", "Database (point lookup)"...).
    pub rung: String,
    /// What the lecture says, ns.
    pub lecture_claim_ns: f64,
    /// What was measured, ns: the p50 of a distribution, or a memory level's plateau
    /// (fastest trials). Null when not measured.
    pub measured_ns: Option<f64>,
    /// The p99 of a distribution (null for memory levels).
    pub p99_ns: Option<f64>,
    /// For memory levels: the plateau of the median trials.
    pub median_ns: Option<f64>,
    /// How it was measured ("random chase, 4 KiB pages", "O_DIRECT 4K QD1"...), or why
    /// it was not.
    pub method: String,
    /// measured / claim.
    pub ratio: Option<f64>,
    /// "3.2x faster than the lecture says", "about what the lecture says"...
    pub verdict: String,
    /// Where client and server ran for the measured figure (service rungs): different
    /// CPUs where the run measured both placements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The same operation's p50 with client and server on one CPU, shown beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_cpu_ns: Option<f64>,
}

/// One of the lecture's comparisons ("Redis is 500x faster than a database query"),
/// recomputed from the measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What is compared with what.
    pub name: String,
    /// The factor the lecture's numbers give.
    pub lecture_factor: f64,
    /// The factor measured here (null when either side was not measured).
    pub measured_factor: Option<f64>,
    /// The two measurements used.
    pub basis: String,
}
