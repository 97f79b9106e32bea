//! `ladder clean` on a user's Redis and PostgreSQL: the run keys and schemas of dead
//! runs (named by [`crate::clean`]), found by SCAN in bounded batches (never KEYS or
//! FLUSH*) and removed with UNLINK; schemas with DROP ... CASCADE (only `ladder_run_*`).

use crate::clean::{age_since, key_owner, Found, Leftover, Owner, SCAN_BATCH};
use crate::error::{Error, Result};
use crate::redact::redact_url;

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

/// Run key prefixes of dead runs on the Redis at `url`, with their key counts.
pub fn find_redis(url: &str) -> Result<Vec<Found>> {
    let mut conn = super::redis::connect(url)?;
    let shown = redact_url(url);
    let mut prefixes: std::collections::BTreeMap<String, (Owner, usize)> = Default::default();
    scan_run_keys(&mut conn, &shown, |_, keys| {
        for key in keys {
            if let Some((prefix, owner)) = key_owner(&key) {
                prefixes.entry(prefix).or_insert((owner, 0)).1 += 1;
            }
        }
        Ok(())
    })?;
    Ok(prefixes
        .into_iter()
        .filter(|(_, (owner, _))| !owner.is_live())
        .map(|(prefix, (owner, count))| Found {
            what: Leftover::RedisKeys { prefix, count },
            age_s: age_since(owner.started),
        })
        .collect())
}

/// Run schemas of dead runs on the PostgreSQL at `url`.
pub fn find_postgres(url: &str) -> Result<Vec<Found>> {
    let target = super::db::PgTarget::from_url(url)?;
    let mut client = target.connect(0)?;
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ladder\\_run\\_%' ORDER BY 1",
            &[],
        )
        .map_err(|e| Error::Unusable(format!("PostgreSQL at {}: {e}", target.server)))?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter_map(|name| {
            let rest = name.strip_prefix("ladder_run_")?.to_string();
            let fields = if rest.split('_').count() >= 3 { 2 } else { 1 };
            let owner = Owner::parse(&rest, '_', fields);
            (!owner.is_live()).then(|| Found {
                what: Leftover::Schema(name),
                age_s: age_since(owner.started),
            })
        })
        .collect())
}

/// Removes what [`find_redis`] found on the Redis at `url`: one more SCAN pass,
/// UNLINK of each batch's keys under the found prefixes. Returns how many keys went.
pub fn remove_redis(url: &str, found: &[Found]) -> Result<usize> {
    let prefixes: std::collections::BTreeSet<&str> = found
        .iter()
        .filter_map(|f| match &f.what {
            Leftover::RedisKeys { prefix, .. } => Some(prefix.as_str()),
            _ => None,
        })
        .collect();
    if prefixes.is_empty() {
        return Ok(0);
    }
    let mut conn = super::redis::connect(url)?;
    let shown = redact_url(url);
    let mut removed = 0;
    scan_run_keys(&mut conn, &shown, |conn, keys| {
        let ours: Vec<String> = keys
            .into_iter()
            .filter(|k| key_owner(k).is_some_and(|(p, _)| prefixes.contains(p.as_str())))
            .collect();
        if !ours.is_empty() {
            removed += redis::cmd("UNLINK")
                .arg(&ours)
                .query::<usize>(conn)
                .map_err(|e| Error::Unusable(format!("Redis at {shown}: UNLINK: {e}")))?;
        }
        Ok(())
    })?;
    Ok(removed)
}

/// Drops the schemas [`find_postgres`] found on the PostgreSQL at `url`.
pub fn remove_postgres(url: &str, found: &[Found]) -> Result<()> {
    let target = super::db::PgTarget::from_url(url)?;
    let mut client = target.connect(0)?;
    for f in found {
        if let Leftover::Schema(name) = &f.what {
            // The name came from pg_namespace and matched ladder_run_*; quote it anyway.
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
