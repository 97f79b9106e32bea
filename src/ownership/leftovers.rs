//! `ladder clean` on a user's Redis and PostgreSQL: only what a run's record names
//! (see [`crate::ownership`] and [`super::ledger`]) and whose run is over.
//!
//! - Redis: the runs in the ledger hash whose heartbeat (by the server's clock) is
//!   older than the bound, or whose process on this machine is gone; their keys
//!   (`ladder:<run id>:*`) are found by one SCAN pass in bounded batches (never KEYS or
//!   FLUSH*) and removed with UNLINK, then their ledger entries. Keys under `ladder:`
//!   that no ledger entry names are left alone, and counted.
//! - PostgreSQL: the `ladder_run_<run id>_*` schemas whose comment carries the record
//!   of that same run id, and whose run is over, dropped with CASCADE. A schema of that
//!   shape without such a comment is left alone, and named.

use super::ledger::{redis_time, RedisEntry, LEDGER_KEY, SCHEMA_COMMENT_TAG};
use crate::error::{Error, Result};
use crate::ownership::{
    is_run_id, schema_run_prefix, Found, Leftover, Owner, Survey, Verdict, SCAN_BATCH,
};
use crate::target::postgres::PgTarget;
use crate::target::redis::RedisUrl;
use std::collections::BTreeMap;

/// Calls `batch` with each batch of `ladder:*` keys on `conn`: one pass of `SCAN ...
/// MATCH ladder:* COUNT` [`SCAN_BATCH`] over the keyspace (never KEYS).
fn scan_run_keys(
    conn: &mut redis::Connection,
    shown: &str,
    mut batch: impl FnMut(&mut redis::Connection, Vec<String>) -> Result<()>,
) -> Result<()> {
    let mut cursor: u64 = 0;
    loop {
        crate::signal::check()?;
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("ladder:*")
            .arg("COUNT")
            .arg(SCAN_BATCH)
            .query(conn)
            .map_err(|e| Error::Unusable(format!("Redis at {shown}: SCAN: {e}")))?;
        batch(conn, keys)?;
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// The run id of a key under `ladder:<run id>:`, if it has that shape.
fn key_run_id(key: &str) -> Option<&str> {
    let (id, _) = key.strip_prefix("ladder:")?.split_once(':')?;
    is_run_id(id).then_some(id)
}

/// The ledger entries on `conn`, by run id (entries that do not parse are named in
/// `left`).
fn ledger(
    conn: &mut redis::Connection,
    shown: &str,
    left: &mut Vec<String>,
) -> Result<BTreeMap<String, RedisEntry>> {
    let kind: String = redis::cmd("TYPE")
        .arg(LEDGER_KEY)
        .query(conn)
        .map_err(|e| Error::Unusable(format!("Redis at {shown}: TYPE: {e}")))?;
    if kind != "hash" {
        if kind != "none" {
            left.push(format!(
                "redis key {LEDGER_KEY}: a {kind}, not ladder's ledger; nothing is judged by it"
            ));
        }
        return Ok(BTreeMap::new());
    }
    let all: BTreeMap<String, String> = redis::cmd("HGETALL")
        .arg(LEDGER_KEY)
        .query(conn)
        .map_err(|e| Error::Unusable(format!("Redis at {shown}: HGETALL: {e}")))?;
    let mut entries = BTreeMap::new();
    for (field, value) in all {
        match serde_json::from_str::<RedisEntry>(&value) {
            Ok(e) if is_run_id(&field) && e.owner.run_id == field => {
                entries.insert(field, e);
            }
            _ => left.push(format!(
                "redis ledger field {field:?}: not a run record; nothing is judged by it"
            )),
        }
    }
    Ok(entries)
}

/// The runs on the Redis at `url` that are over (with their key counts), and what is
/// left alone.
pub fn find_redis(url: &RedisUrl) -> Result<Survey> {
    let mut conn = url.connect_unregistered()?;
    let shown = url.shown();
    let mut survey = Survey::default();
    let now = redis_time(&mut conn)
        .map_err(|e| Error::Unusable(format!("Redis at {shown}: TIME: {e}")))?;
    let entries = ledger(&mut conn, shown, &mut survey.left)?;
    let mut over: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for (id, e) in &entries {
        if let Verdict::Over(why) = e.owner.verdict(Some(now)) {
            over.insert(id.clone(), (why, 0));
        }
    }
    let mut unnamed = 0usize;
    scan_run_keys(&mut conn, shown, |_, keys| {
        for key in keys {
            match key_run_id(&key) {
                Some(id) if entries.contains_key(id) => {
                    if let Some((_, n)) = over.get_mut(id) {
                        *n += 1;
                    }
                }
                _ if key == LEDGER_KEY => {}
                _ => unnamed += 1,
            }
        }
        Ok(())
    })?;
    if unnamed > 0 {
        survey.left.push(format!(
            "redis: {unnamed} keys under ladder: that no entry of {LEDGER_KEY} names (a \
             user's, or an older ladder's); not touched"
        ));
    }
    survey.found = over
        .into_iter()
        .map(|(run_id, (why, count))| Found {
            proof: format!("{LEDGER_KEY} names {why}"),
            what: Leftover::RedisKeys { run_id, count },
        })
        .collect();
    Ok(survey)
}

/// Run schemas on the PostgreSQL `target` whose run is over, and what is left alone.
pub fn find_postgres(target: &PgTarget) -> Result<Survey> {
    let mut client = target.connect(0)?;
    let rows = client
        .query(
            "SELECT n.nspname::text, coalesce(obj_description(n.oid, 'pg_namespace'), ''), \
             floor(extract(epoch FROM now()))::bigint \
             FROM pg_namespace n WHERE n.nspname LIKE 'ladder\\_run\\_%' ORDER BY 1",
            &[],
        )
        .map_err(|e| Error::Unusable(format!("PostgreSQL at {}: {e}", target.server)))?;
    let mut survey = Survey::default();
    for row in rows {
        let (name, comment, now): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
        let owner = comment
            .strip_prefix(SCHEMA_COMMENT_TAG)
            .and_then(|json| serde_json::from_str::<Owner>(json).ok())
            .filter(|o| is_run_id(&o.run_id) && name.starts_with(&schema_run_prefix(&o.run_id)));
        match owner.map(|o| o.verdict(Some(now.max(0) as u64))) {
            None => survey.left.push(format!(
                "postgres schema {name}: its comment names no ladder run of that id; not \
                 touched"
            )),
            Some(Verdict::Over(why)) => survey.found.push(Found {
                proof: format!("its COMMENT names {why}"),
                what: Leftover::Schema(name),
            }),
            Some(Verdict::Live(_)) => {}
        }
    }
    Ok(survey)
}

/// Removes the runs [`find_redis`] found on the Redis at `url`: one more SCAN pass,
/// UNLINK of each batch's keys under their prefixes, then their ledger entries.
/// Returns how many keys went.
pub fn remove_redis(url: &RedisUrl, found: &[Found]) -> Result<usize> {
    let ids: std::collections::BTreeSet<&str> = found
        .iter()
        .filter_map(|f| match &f.what {
            Leftover::RedisKeys { run_id, .. } => Some(run_id.as_str()),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut conn = url.connect_unregistered()?;
    let shown = url.shown();
    let mut removed = 0;
    scan_run_keys(&mut conn, shown, |conn, keys| {
        let ours: Vec<String> = keys
            .into_iter()
            .filter(|k| key_run_id(k).is_some_and(|id| ids.contains(id)))
            .collect();
        if !ours.is_empty() {
            removed += redis::cmd("UNLINK")
                .arg(&ours)
                .query::<usize>(conn)
                .map_err(|e| Error::Unusable(format!("Redis at {shown}: UNLINK: {e}")))?;
        }
        Ok(())
    })?;
    let _: usize = redis::cmd("HDEL")
        .arg(LEDGER_KEY)
        .arg(ids.iter().collect::<Vec<_>>())
        .query(&mut conn)
        .map_err(|e| Error::Unusable(format!("Redis at {shown}: HDEL: {e}")))?;
    Ok(removed)
}

/// Drops the schemas [`find_postgres`] found on the PostgreSQL `target`.
pub fn remove_postgres(target: &PgTarget, found: &[Found]) -> Result<()> {
    let mut client = target.connect(0)?;
    for f in found {
        if let Leftover::Schema(name) = &f.what {
            // The name came from pg_namespace with a proof; quote it anyway.
            client
                .batch_execute(&format!(
                    "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                    name.replace('"', "\"\"")
                ))
                .map_err(|e| {
                    Error::Unusable(format!("PostgreSQL at {}: DROP SCHEMA: {e}", target.server))
                })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_under_a_run_id_have_one() {
        let id = crate::ownership::run_id();
        assert_eq!(key_run_id(&format!("ladder:{id}:0badcafe:hit")), Some(id));
        for theirs in [
            "ladder:2024:season-1",
            "ladder:users:42",
            "ladder:123:456:0abc:hit",
            "ladder:runs",
            "session:ladder:1",
        ] {
            assert_eq!(key_run_id(theirs), None, "{theirs}");
        }
    }
}
