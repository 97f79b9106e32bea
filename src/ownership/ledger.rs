//! The run's registration on a user's server, made before anything of the run is
//! created there, so `ladder clean` removes by proof (see [`crate::ownership`]).
//!
//! - Redis: one hash, [`LEDGER_KEY`], field = run id, value = the run's
//!   [`Owner`](crate::ownership::Owner) record and key prefix (JSON), the heartbeat by the
//!   server's clock (`TIME`); the hash has its own expiry ([`LEDGER_TTL_S`]), renewed
//!   with every write. The run's keys are under `ladder:<run id>:`.
//! - PostgreSQL: the run's schema carries the record in its `COMMENT ON SCHEMA`, set in
//!   the same transaction that creates it, the heartbeat by the server's `now()`. Chosen
//!   over a ledger table because a table would need a permanent `ladder` schema of ours
//!   on the user's database (an object we would leave behind forever, and a name a user
//!   may already have), and the comment lives and dies with the schema it proves.
//!
//! A live run refreshes its heartbeat every [`HEARTBEAT_EVERY`] on a thread of its own.

use crate::error::{Error, Result};
use crate::ownership::{redis_run_prefix, Heartbeat, Owner, HEARTBEAT_EVERY};
use crate::target::redis::RedisUrl;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The Redis hash that names the runs with keys on that server.
pub const LEDGER_KEY: &str = "ladder:runs";

/// The ledger hash's expiry (a day), longer than any run key's
/// ([`crate::target::redis::KEY_TTL_S`]), renewed with every write.
pub const LEDGER_TTL_S: u64 = 86_400;

/// The text before the record in a run schema's comment.
pub const SCHEMA_COMMENT_TAG: &str = "latency-ladder run ";

/// One run's entry in the Redis ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisEntry {
    /// Who made the keys.
    #[serde(flatten)]
    pub owner: Owner,
    /// The prefix of every key of the run (`ladder:<run id>:`).
    pub key_prefix: String,
}

/// The server's clock, Unix seconds (Redis `TIME`).
pub fn redis_time(conn: &mut redis::Connection) -> redis::RedisResult<u64> {
    let (secs, _micros): (u64, u64) = redis::cmd("TIME").query(conn)?;
    Ok(secs)
}

/// Checks that [`LEDGER_KEY`] is absent or a ledger: a hash whose fields are run ids.
/// A user's own key of that name is never written to.
fn check_ledger_key(conn: &mut redis::Connection) -> redis::RedisResult<bool> {
    let kind: String = redis::cmd("TYPE").arg(LEDGER_KEY).query(conn)?;
    match kind.as_str() {
        "none" => Ok(true),
        "hash" => {
            let (_, fields): (u64, Vec<String>) = redis::cmd("HSCAN")
                .arg(LEDGER_KEY)
                .arg(0)
                .arg("COUNT")
                .arg(100)
                .query(conn)?;
            Ok(fields.chunks(2).all(|f| {
                crate::ownership::is_run_id(&f[0]) && f.get(1).is_some_and(|v| v.starts_with('{'))
            }))
        }
        _ => Ok(false),
    }
}

/// Writes this run's entry with a fresh heartbeat (and renews the ledger's expiry).
fn write_entry(conn: &mut redis::Connection) -> redis::RedisResult<()> {
    let owner = Owner {
        heartbeat: redis_time(conn)?,
        ..Owner::this_run()
    };
    let entry = RedisEntry {
        key_prefix: redis_run_prefix(&owner.run_id),
        owner,
    };
    let value = serde_json::to_string(&entry).unwrap_or_default();
    redis::pipe()
        .atomic()
        .hset(LEDGER_KEY, &entry.owner.run_id, value)
        .ignore()
        .expire(LEDGER_KEY, LEDGER_TTL_S as i64)
        .ignore()
        .query(conn)
}

/// The Redis servers this run is named on (by URL), with their heartbeats.
static REGISTERED: Mutex<BTreeMap<String, (RedisUrl, Heartbeat)>> = Mutex::new(BTreeMap::new());

/// Takes this run's entries out of every ledger it is in, best effort: called when the
/// command is over and its keys are gone (a killed run's entries stay for `clean`).
pub fn release_redis() {
    let registered = std::mem::take(&mut *REGISTERED.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, (url, heartbeat)) in registered {
        drop(heartbeat);
        if let Ok(mut c) = url.connect_unregistered() {
            let _: redis::RedisResult<usize> = redis::cmd("HDEL")
                .arg(LEDGER_KEY)
                .arg(crate::ownership::run_id())
                .query(&mut c);
        }
    }
}

/// Names this run in the ledger of the Redis that `conn` is connected to (`url`), once
/// per server per run, and keeps its heartbeat fresh while the process lives. Fails
/// (exit 2) where the ledger cannot be written: the run then writes nothing there.
pub fn register_redis(conn: &mut redis::Connection, url: &RedisUrl) -> Result<()> {
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if registered.contains_key(url.secret_url()) {
        return Ok(());
    }
    let shown = url.shown();
    let err = |what: &str, e: redis::RedisError| {
        Error::Unusable(format!(
            "Redis at {shown}: cannot name the run in {LEDGER_KEY} ({what}): {}",
            crate::target::redis::one_line(&e)
        ))
    };
    if !check_ledger_key(conn).map_err(|e| err("TYPE", e))? {
        return Err(Error::Unusable(format!(
            "Redis at {shown}: the key {LEDGER_KEY} exists and is not ladder's run ledger; \
             the run writes nothing there"
        )));
    }
    write_entry(conn).map_err(|e| err("HSET", e))?;
    let beat_url = url.clone();
    let heartbeat = Heartbeat::start(HEARTBEAT_EVERY, move || {
        if let Ok(mut c) = beat_url.connect_unregistered() {
            let _ = write_entry(&mut c);
        }
    });
    registered.insert(url.secret_url().to_string(), (url.clone(), heartbeat));
    Ok(())
}

/// The comment that proves a run schema ours: [`SCHEMA_COMMENT_TAG`] and the owner
/// record with the heartbeat `now` (the server's clock), as a quoted SQL literal.
fn schema_comment_sql(schema: &str, now: u64) -> String {
    let owner = Owner {
        heartbeat: now,
        ..Owner::this_run()
    };
    let text = format!(
        "{SCHEMA_COMMENT_TAG}{}",
        serde_json::to_string(&owner).unwrap_or_default()
    );
    format!(
        "COMMENT ON SCHEMA {schema} IS '{}'",
        text.replace('\'', "''")
    )
}

/// The server's clock, Unix seconds (PostgreSQL `now()`).
fn pg_now(client: &mut postgres::Client) -> std::result::Result<u64, postgres::Error> {
    let row = client.query_one("SELECT floor(extract(epoch FROM now()))::bigint", &[])?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

/// Creates `schema` with its proof, in one transaction: the schema never exists
/// without the comment that names the run.
pub fn create_schema(
    client: &mut postgres::Client,
    schema: &str,
) -> std::result::Result<(), postgres::Error> {
    let now = pg_now(client)?;
    client.batch_execute(&format!(
        "BEGIN; CREATE SCHEMA {schema}; {}; COMMIT",
        schema_comment_sql(schema, now)
    ))
}

/// Refreshes `schema`'s heartbeat every [`HEARTBEAT_EVERY`] over a connection of its
/// own (`connect`), until dropped.
pub fn schema_heartbeat(
    schema: String,
    connect: impl Fn() -> Result<postgres::Client> + Send + 'static,
) -> Heartbeat {
    Heartbeat::start(HEARTBEAT_EVERY, move || {
        if let Ok(mut c) = connect() {
            if let Ok(now) = pg_now(&mut c) {
                let _ = c.batch_execute(&schema_comment_sql(&schema, now));
            }
        }
    })
}
