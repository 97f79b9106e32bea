//! The lecture's caching patterns measured end to end, as the record keeps them.

use serde::{Deserialize, Serialize};

/// The caching patterns of one engine: mean costs (the expected cost of a read is a
/// mean) and the hit ratio from which cache-aside beats reading the database directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachePatterns {
    /// "PG over TCP", "SQLite".
    pub engine: String,
    /// Cache-aside hit: one Redis GET, mean ns.
    pub hit_ns: f64,
    /// Cache-aside miss: GET (miss) + PK lookup + SET with TTL, mean ns.
    pub miss_ns: f64,
    /// No cache: the PK lookup alone, mean ns.
    pub direct_ns: f64,
    /// Write-through: UPDATE + SET with TTL, mean ns.
    pub write_through_ns: f64,
    /// The hit ratio above which cache-aside reads cost less than direct ones (null
    /// when a hit costs as much as a direct read: the cache never pays).
    pub break_even_hit_ratio: Option<f64>,
}
