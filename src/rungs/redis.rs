//! The Redis rung: round trips of PING, GET (hit and miss), SET with TTL and INCR, over
//! TCP and a unix socket, back-to-back and spaced out (an idle server and client answer
//! slower), and a pipelined batch for the per-command cost.
//!
//! Safe on a user's server: every key lives under one run-unique prefix, has an expiry
//! and is deleted at the end (a guard does it after an error or Ctrl-C too); no
//! FLUSHDB, FLUSHALL, KEYS or CONFIG SET; the URL's password never reaches a message
//! or the record.

use super::kv::{KvSession, KvStore, BATCH};
use super::{Latencies, Rung};
use crate::error::{Error, Result};
use crate::ownership::keys::{DeleteKeys, RunKeys};
use crate::record::rung::{AofFsync, RedisOp, RungId, Spacing, Transport};
use crate::services::redis::ManagedRedis;
use crate::target::redis::{one_line, RedisUrl, KEY_TTL_S};
use redis::{Commands, Connection};

/// Where the measured Redis is: the user's server or a managed one.
pub type Target = super::kv::Target<Redis>;

/// Connects with a timeout for the run, after naming the run in the server's ledger
/// (once per server, see [`crate::ownership::ledger`]); every error is one redacted
/// line.
pub fn connect(url: &RedisUrl) -> Result<Connection> {
    let mut conn = url.connect_unregistered()?;
    crate::ownership::ledger::register_redis(&mut conn, url)?;
    Ok(conn)
}

/// Redis: the rung's store, and how it deletes the run's keys (in batches of
/// [`crate::ownership::SCAN_BATCH`]).
pub struct Redis;

impl DeleteKeys for Redis {
    type Url = RedisUrl;
    fn delete(url: &RedisUrl, keys: Vec<String>) {
        let Ok(mut conn) = connect(url) else {
            return;
        };
        for batch in keys.chunks(crate::ownership::SCAN_BATCH) {
            let _: redis::RedisResult<()> = conn.del(batch);
        }
    }
}

/// One connection with the run's keys: a 100-byte value to hit, a name to miss, a key
/// to SET with a TTL and a counter to INCR.
pub struct RedisSession {
    conn: Connection,
    url: RedisUrl,
    hit: String,
    miss: String,
    ttl: String,
    counter: String,
    value: String,
    pipe: redis::Pipeline,
}

impl KvSession for RedisSession {
    type Op = RedisOp;
    fn run(&mut self, op: RedisOp) -> Result<()> {
        let c = &mut self.conn;
        match op {
            RedisOp::Ping => redis::cmd("PING").query::<String>(c).map(drop),
            RedisOp::GetHit => c.get::<_, Option<String>>(&self.hit).map(drop),
            RedisOp::GetMiss => c.get::<_, Option<String>>(&self.miss).map(drop),
            RedisOp::SetEx => c.set_ex::<_, _, ()>(&self.ttl, &self.value, 60),
            RedisOp::Incr => c.incr::<_, _, i64>(&self.counter, 1).map(drop),
            RedisOp::SetPersisted { .. } => c.set_ex::<_, _, ()>(&self.ttl, &self.value, 60),
        }
        .map_err(|e| self.url.error(e))
    }
    fn get_hit(&mut self) -> Result<()> {
        self.run(RedisOp::GetHit)
    }
    fn batch(&mut self) -> Result<()> {
        self.pipe
            .query::<Vec<Option<String>>>(&mut self.conn)
            .map(drop)
            .map_err(|e| self.url.error(e))
    }
}

impl KvStore for Redis {
    type Managed = ManagedRedis;
    type Op = RedisOp;
    type Session = RedisSession;
    const OPS: &'static [RedisOp] = &[
        RedisOp::Ping,
        RedisOp::GetHit,
        RedisOp::GetMiss,
        RedisOp::SetEx,
        RedisOp::Incr,
    ];
    const GET_HIT: RedisOp = RedisOp::GetHit;

    fn start() -> Result<(ManagedRedis, Vec<RedisUrl>)> {
        let server = ManagedRedis::start()?;
        let urls = vec![
            RedisUrl::parse(&server.tcp_url())?,
            RedisUrl::parse(&server.unix_url())?,
        ];
        Ok((server, urls))
    }
    fn transport(url: &RedisUrl) -> Transport {
        url.transport()
    }
    fn open(url: &RedisUrl, keys: &RunKeys<Redis>) -> Result<RedisSession> {
        let mut conn = connect(url)?;
        let value = "x".repeat(100);
        let hit = keys.key("hit");
        let counter = keys.key("counter");
        let () = conn
            .set_ex(&hit, &value, KEY_TTL_S)
            .map_err(|e| url.error(e))?;
        // INCR keeps the expiry of the key it increments.
        let () = conn
            .set_ex(&counter, 0, KEY_TTL_S)
            .map_err(|e| url.error(e))?;
        let mut pipe = redis::pipe();
        for _ in 0..BATCH {
            pipe.get(&hit);
        }
        Ok(RedisSession {
            conn,
            url: url.clone(),
            miss: keys.key("miss"),
            ttl: keys.key("ttl"),
            hit,
            counter,
            value,
            pipe,
        })
    }
    fn id(op: RedisOp, transport: Transport, spacing: Spacing) -> RungId {
        RungId::Redis {
            op,
            transport,
            spacing,
        }
    }
    fn label(op: RedisOp) -> String {
        op.label().to_string()
    }
    fn batch_method(transport: Transport) -> String {
        format!("GET hit over {transport}, pipelined {BATCH} per batch (per command)")
    }
}

/// A warning where the user's Redis evicts any key at maxmemory (an `allkeys-*`
/// policy): the run's few keys could push out theirs. None where it does not, or where
/// INFO does not say.
pub fn eviction_warning(url: &RedisUrl) -> Result<Option<String>> {
    let shown = url.shown();
    let mut conn = connect(url)?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut conn)
        .map_err(|e| Error::Unusable(format!("Redis at {shown}: INFO: {}", one_line(&e))))?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let max: u64 = field("maxmemory").and_then(|v| v.parse().ok()).unwrap_or(0);
    let policy = field("maxmemory_policy").unwrap_or("");
    Ok((max > 0 && policy.starts_with("allkeys-")).then(|| {
        format!(
            "warning: Redis at {shown} has maxmemory {} with {policy}: the run's keys (under \
             1 MiB, expiring within {KEY_TTL_S} s, removed at the end) can evict other keys",
            crate::units::format_size(max)
        )
    }))
}

/// SET latency on managed Redis servers with each persistence setting (no AOF, AOF
/// with `appendfsync everysec`, AOF with `appendfsync always`), the AOF in a temp dir
/// under `dir` (the filesystem of the storage rung), `samples` timed SETs each over
/// TCP: the lecture's "persistence options" as numbers.
pub fn measure_persistence(
    dir: &std::path::Path,
    samples: u64,
    mut on_progress: impl FnMut(f64),
) -> Result<Vec<Rung>> {
    let mut rungs = Vec::new();
    let value = "x".repeat(100);
    for (i, fsync) in AofFsync::ALL.into_iter().enumerate() {
        let server = ManagedRedis::start_with(Some((fsync, dir)))?;
        let url = RedisUrl::parse(&server.tcp_url())?;
        let mut conn = connect(&url)?;
        let err = |e: redis::RedisError| Error::Unusable(format!("Redis: {}", one_line(&e)));
        let op = RedisOp::SetPersisted { fsync };
        for _ in 0..samples.min(100) {
            conn.set_ex::<_, _, ()>("ladder:persist", &value, KEY_TTL_S)
                .map_err(err)?;
        }
        let mut l = Latencies::new();
        for _ in 0..samples {
            crate::signal::check()?;
            l.time(|| {
                conn.set_ex::<_, _, ()>("ladder:persist", &value, KEY_TTL_S)
                    .map_err(err)
            })?;
        }
        rungs.push(l.rung(
            RungId::Redis {
                op,
                transport: Transport::Tcp,
                spacing: Spacing::BackToBack,
            },
            format!("{} over TCP, back-to-back", op.label()),
            Some(format!(
                "a managed Redis of its own, its append-only file in a temp dir under {}",
                dir.display()
            )),
        )?);
        on_progress((i + 1) as f64 / AofFsync::ALL.len() as f64);
    }
    Ok(rungs)
}
