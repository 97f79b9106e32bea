//! The Run record: the one schema every output (terminal table, report.md, CSV, plots,
//! `--json`) is drawn from, written as `run.json`. Rows are identified by the typed
//! values of [`rung`]; records of older schema versions are converted on load ([`v1`]).

pub mod cache_lab;
pub mod caching;
pub mod cores;
pub mod db;
pub mod host;
pub mod http;
pub mod ladder;
pub mod load;
pub mod memory;
pub mod patterns;
pub mod placement;
pub mod rung;
mod v1;

use self::host::Host;
use crate::error::{Error, Result};
use caching::CachePatterns;
use ladder::{Comparison, LadderRow};
use memory::MemorySection;
use patterns::PatternsSection;
use rung::{Rung, Skipped};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of this schema. Bump it when a field is renamed or removed.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything one invocation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The schema version of this record.
    pub schema_version: u32,
    /// The ladder version that wrote it.
    pub tool_version: String,
    /// The subcommand that produced it ("memory", "run"...).
    pub command: String,
    /// When the run started, UTC, RFC 3339.
    pub started_at: String,
    /// Wall time of the whole run, seconds.
    pub wall_seconds: f64,
    /// The machine.
    pub host: Host,
    /// The memory sweep, where one ran.
    #[serde(default)]
    pub memory: Option<MemorySection>,
    /// Access patterns (`ladder stride`): stride, bandwidth, tlb, parallel, loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patterns: Option<PatternsSection>,
    /// Between the cores and on the write side (`ladder cores`, `ladder run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<cores::CoresSection>,
    /// The comparison rungs measured (storage, Redis, databases...).
    #[serde(default)]
    pub rungs: Vec<Rung>,
    /// Rungs that could not run, with the reason.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// The lecture's caching patterns measured end to end (`ladder run`).
    #[serde(default)]
    pub caching: Vec<CachePatterns>,
    /// The expensive query over a ladder of table sizes (`ladder db`, `ladder run`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub db_sizes: Vec<db::QuerySizes>,
    /// What a warm PostgreSQL point lookup is made of, per transport (`ladder db`,
    /// `ladder run`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub db_split: Vec<db::LookupSplit>,
    /// The web's caches: origin, edge, request phases, name resolution (`ladder web`,
    /// `ladder run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<http::HttpSection>,
    /// Fixed-rate load runs (`ladder load`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<load::LoadSection>,
    /// Eviction and stampede experiments (`ladder cache-lab`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_lab: Option<cache_lab::CacheLabSection>,
    /// The lecture's table beside the measurements (`ladder run`).
    #[serde(default)]
    pub ladder: Vec<LadderRow>,
    /// The lecture's comparisons, recomputed.
    #[serde(default)]
    pub comparisons: Vec<Comparison>,
}

impl Run {
    /// Reads a `run.json`, refusing an unknown schema version with one clear line.
    pub fn load(path: &Path) -> Result<Run> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
        let mut value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Input(format!("{} is not JSON: {e}", path.display())))?;
        match value.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(1) => v1::upgrade(&mut value).map_err(|e| {
                Error::Input(format!(
                    "{} (schema version 1) cannot be converted: {e}",
                    path.display()
                ))
            })?,
            Some(v) => {
                return Err(Error::Input(format!(
                    "{} has schema version {v}; this ladder reads versions 1 to {SCHEMA_VERSION}",
                    path.display()
                )))
            }
            None => {
                return Err(Error::Input(format!(
                    "{} has no schema_version: not a ladder run record",
                    path.display()
                )))
            }
        }
        serde_json::from_value(value)
            .map_err(|e| Error::Input(format!("{} is not a valid run record: {e}", path.display())))
    }
}

/// A record value's serde name, as run.json spells it ("same-cpu", "read", "avx512");
/// "unknown" for a value that does not serialise as a string.
pub fn serde_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

/// The current time as RFC 3339 UTC (`2026-11-26T21:46:31Z`) and as a date.
pub fn utc_now() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_stamp(secs)
}

/// Unix time `secs` as RFC 3339 UTC and as a date.
pub fn utc_stamp(secs: u64) -> (String, String) {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let date = format!("{y:04}-{m:02}-{d:02}");
    let stamp = format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (stamp, date)
}

/// Unix time of an RFC 3339 UTC stamp as [`utc_now`] writes it
/// (`2026-11-26T21:46:31Z`); None for anything else.
pub fn unix_seconds(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| stamp.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (the inverse of civil_from_days).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_back_as_unix_time() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2000-02-29T12:00:01Z"), Some(951_825_601));
        assert_eq!(unix_seconds("2026-11-26T21:46:31Z"), Some(1_795_729_591));
        let secs = unix_seconds(&utc_now().0).unwrap();
        assert_eq!(
            civil_from_days(secs / 86_400).0.to_string(),
            utc_now().1[..4]
        );
        assert_eq!(unix_seconds("2026-13-01T00:00:00Z"), None);
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn every_committed_run_loads_and_writes_back_the_same_names() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut loaded = 0;
        for parent in ["tests/fixtures", "results"] {
            for entry in std::fs::read_dir(root.join(parent)).unwrap() {
                let path = entry.unwrap().path().join("run.json");
                if !path.exists() {
                    continue;
                }
                let run = Run::load(&path).unwrap_or_else(|e| panic!("{e}"));
                // The typed level names and page sizes write back the strings they read.
                let text = std::fs::read_to_string(&path).unwrap();
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                let again = serde_json::to_value(&run).unwrap();
                let pick = |v: &serde_json::Value, field: &str| -> Vec<serde_json::Value> {
                    let mem = &v["memory"];
                    let list = if field == "pages" { "points" } else { "levels" };
                    mem[list]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|x| x[field].clone())
                        .collect()
                };
                for field in ["pages", "name"] {
                    assert_eq!(pick(&value, field), pick(&again, field), "{path:?}");
                }
                loaded += 1;
            }
        }
        assert!(loaded >= 5, "only {loaded} committed runs found");
    }

    #[test]
    fn unknown_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.json");
        std::fs::write(&p, r#"{"schema_version": 999}"#).unwrap();
        let e = Run::load(&p).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("schema version 999"));
        std::fs::write(&p, "not json").unwrap();
        assert!(Run::load(&p).unwrap_err().to_string().contains("not JSON"));
    }
}
