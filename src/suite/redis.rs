//! The Redis rung: round trips of PING, GET (hit and miss), SET with TTL and INCR, over
//! TCP and a unix socket, back-to-back and spaced out (an idle server and client answer
//! slower), and a pipelined batch for the per-command cost.
//!
//! Safe on a user's server: every key lives under one run-unique prefix, has an expiry
//! and is deleted at the end (a guard does it after an error or Ctrl-C too); no
//! FLUSHDB, FLUSHALL, KEYS or CONFIG SET; the URL's password never reaches a message
//! or the record.

use super::{Latencies, Rung};
use crate::error::{Error, Result};
use crate::record::rung::{AofFsync, RedisOp, RungId, Spacing, Transport};
use crate::redact::redact_url;
use crate::services::redis::ManagedRedis;
use redis::{Commands, Connection};
use std::time::Duration;

pub use crate::services::CONNECT_TIMEOUT;
/// Commands per pipelined batch.
pub const BATCH: usize = 100;

/// How many samples to take.
#[derive(Debug, Clone, Copy)]
pub struct RedisConfig {
    /// Back-to-back samples per operation and transport.
    pub samples: u64,
    /// Samples per spacing (1 ms and 10 ms apart).
    pub spaced_samples: u64,
    /// Pipelined batches.
    pub batches: u64,
}

impl RedisConfig {
    /// The default: 5000 back-to-back, 200 spaced, 200 batches.
    pub const DEFAULT: RedisConfig = RedisConfig {
        samples: 5000,
        spaced_samples: 200,
        batches: 200,
    };
    /// For smoke tests.
    pub const QUICK: RedisConfig = RedisConfig {
        samples: 300,
        spaced_samples: 20,
        batches: 20,
    };
}

/// Where the measured Redis is: the user's URL, or a managed server we started.
pub enum Target {
    /// A user-provided server (REDIS_URL or --url).
    Url(String),
    /// A managed redis-server, stopped when this is dropped.
    Managed(ManagedRedis),
}

impl Target {
    /// The user's URL if given, else a managed server (an error names how to install
    /// redis-server when it is missing).
    pub fn pick(url: Option<String>) -> Result<Target> {
        match url {
            Some(u) => Ok(Target::Url(u)),
            None => Ok(Target::Managed(ManagedRedis::start()?)),
        }
    }

    /// The URL of the first transport (TCP where there is one).
    pub fn first_url(&self) -> String {
        self.transports().swap_remove(0).1
    }

    /// (transport, URL) pairs to measure.
    fn transports(&self) -> Vec<(Transport, String)> {
        match self {
            Target::Url(u) if u.starts_with("redis+unix:") || u.starts_with("unix:") => {
                vec![(Transport::UnixSocket, u.clone())]
            }
            Target::Url(u) => vec![(Transport::Tcp, u.clone())],
            Target::Managed(m) => vec![
                (Transport::Tcp, m.tcp_url()),
                (Transport::UnixSocket, m.unix_url()),
            ],
        }
    }
}

/// Connects with a timeout for the run, after naming the run in the server's ledger
/// (once per server, see [`super::ledger`]); every error is one redacted line (exit 2).
pub fn connect(url: &str) -> Result<Connection> {
    let mut conn = connect_unregistered(url)?;
    super::ledger::register_redis(&mut conn, url)?;
    Ok(conn)
}

/// Connects with a timeout, writing nothing (`ladder clean`, the heartbeat); every
/// error is one redacted line (exit 2).
pub fn connect_unregistered(url: &str) -> Result<Connection> {
    let shown = redact_url(url);
    let conn = client(url)?
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .map_err(|e| Error::Unusable(format!("cannot use Redis at {shown}: {}", one_line(&e))))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .and_then(|_| conn.set_write_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| Error::Unusable(format!("Redis at {shown}: {}", one_line(&e))))?;
    Ok(conn)
}

/// The client of a Redis URL, without connecting: a bad URL is one redacted line (exit
/// 2).
pub fn client(url: &str) -> Result<redis::Client> {
    redis::Client::open(url).map_err(|e| {
        Error::Input(format!(
            "bad Redis URL {}: {}",
            redact_url(url),
            one_line(&e)
        ))
    })
}

fn one_line(e: &redis::RedisError) -> String {
    crate::redact::redact_text(e.to_string().lines().next().unwrap_or("error"))
}

/// The expiry of every key a run writes (seconds): a killed run's keys go by
/// themselves within this time, or at once with `ladder clean`.
pub const KEY_TTL_S: u64 = 3600;

/// The run's keys on one Redis (see [`super::keys`]).
pub type RunKeys = super::keys::RunKeys<Redis>;

/// Redis deletes the run's keys in batches of [`crate::clean::SCAN_BATCH`].
pub struct Redis;

impl super::keys::DeleteKeys for Redis {
    fn delete(url: &str, keys: Vec<String>) {
        let Ok(mut conn) = connect(url) else {
            return;
        };
        for batch in keys.chunks(crate::clean::SCAN_BATCH) {
            let _: redis::RedisResult<()> = conn.del(batch);
        }
    }
}

/// A warning where the user's Redis evicts any key at maxmemory (an `allkeys-*`
/// policy): the run's few keys could push out theirs. None where it does not, or where
/// INFO does not say.
pub fn eviction_warning(url: &str) -> Result<Option<String>> {
    let shown = redact_url(url);
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

/// Measures every operation on every transport of `target`.
pub fn measure(
    target: &Target,
    cfg: RedisConfig,
    mut on_progress: impl FnMut(f64),
) -> Result<Vec<Rung>> {
    let transports = target.transports();
    let mut rungs = Vec::new();
    for (ti, &(transport, ref url)) in transports.iter().enumerate() {
        let id = |op, spacing| RungId::Redis {
            op,
            transport,
            spacing,
        };
        let shown = redact_url(url);
        let mut conn = connect(url)?;
        let guard = RunKeys::new(url);
        let (hit, miss, ttl, counter) = (
            guard.key("hit"),
            guard.key("miss"),
            guard.key("ttl"),
            guard.key("counter"),
        );
        let value = "x".repeat(100);
        let err =
            |e: redis::RedisError| Error::Unusable(format!("Redis at {shown}: {}", one_line(&e)));
        let () = conn.set_ex(&hit, &value, KEY_TTL_S).map_err(err)?;
        // INCR keeps the expiry of the key it increments.
        let () = conn.set_ex(&counter, 0, KEY_TTL_S).map_err(err)?;

        type Op<'a> = Box<dyn FnMut(&mut Connection) -> redis::RedisResult<()> + 'a>;
        let ops: Vec<(RedisOp, Op)> = vec![
            (
                RedisOp::Ping,
                Box::new(|c| redis::cmd("PING").query::<String>(c).map(drop)),
            ),
            (
                RedisOp::GetHit,
                Box::new(|c| c.get::<_, Option<String>>(&hit).map(drop)),
            ),
            (
                RedisOp::GetMiss,
                Box::new(|c| c.get::<_, Option<String>>(&miss).map(drop)),
            ),
            (
                RedisOp::SetEx,
                Box::new(|c| c.set_ex::<_, _, ()>(&ttl, &value, 60)),
            ),
            (
                RedisOp::Incr,
                Box::new(|c| c.incr::<_, _, i64>(&counter, 1).map(drop)),
            ),
        ];
        let steps = (ops.len() + 3) as f64 * transports.len() as f64;
        let mut step = ti as f64 * (ops.len() + 3) as f64;
        for (name, mut op) in ops {
            let method = format!("{} over {transport}, back-to-back", name.label());
            // A short untimed warm-up, then the timed round trips.
            for _ in 0..cfg.samples.min(100) {
                op(&mut conn).map_err(err)?;
            }
            let mut l = Latencies::new();
            for _ in 0..cfg.samples {
                crate::signal::check()?;
                l.time(|| op(&mut conn).map_err(err))?;
            }
            rungs.push(l.rung(id(name, Spacing::BackToBack), method, None)?);
            step += 1.0;
            on_progress(step / steps);
        }

        rungs.extend(super::spaced_get_rows(
            cfg.spaced_samples,
            transport,
            || conn.get::<_, Option<String>>(&hit).map_err(err),
            |spacing| id(RedisOp::GetHit, spacing),
            || {
                step += 1.0;
                on_progress(step / steps);
            },
        )?);

        let mut pipe = redis::pipe();
        for _ in 0..BATCH {
            pipe.get(&hit);
        }
        let mut l = Latencies::new();
        for _ in 0..cfg.batches {
            crate::signal::check()?;
            l.time_batch(BATCH as u64, || {
                pipe.query::<Vec<Option<String>>>(&mut conn).map_err(err)
            })?;
        }
        rungs.push(l.rung(
            id(
                RedisOp::GetHit,
                Spacing::Pipelined {
                    batch: BATCH as u64,
                },
            ),
            format!("GET hit over {transport}, pipelined {BATCH} per batch (per command)"),
            None,
        )?);
        step += 1.0;
        on_progress(step / steps);
        drop(guard);
    }
    Ok(rungs)
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
        let url = server.tcp_url();
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
