//! The memcached rung, beside Redis and measured the same way: GET (hit and miss), SET
//! with an expiry, and multi-gets of 10 and 100 keys, over TCP and a unix socket,
//! back-to-back, spaced out, and pipelined (a 100-key multi-get timed per key).
//!
//! The client is the `memcache` crate over the ASCII protocol (the binary protocol is
//! deprecated upstream; the ASCII one carries memcached's `-Y` authentication, TCP and
//! unix sockets, and a multi-get is one `gets k1 k2 ...` round trip). Its connections
//! live in an r2d2 pool, built here with one connection and without the pool's
//! check-out test, which would add a `version` round trip to every command.
//!
//! Safe on a user's server: every key lives under one run-unique prefix, has an expiry
//! and is deleted by name at the end (a guard does it after an error or Ctrl-C too);
//! never `flush_all`, never a stats reset.

use super::redis::{BATCH, KEY_TTL_S};
use super::{Latencies, Rung};
use crate::error::{Error, Result};
use crate::record::rung::{MemcachedOp, RungId, Spacing, Transport};
use crate::redact::redact_url;
use crate::services::memcached::ManagedMemcached;
use std::collections::HashMap;

use super::redis::RedisConfig;

/// Where the measured memcached is: the user's server, or a managed pair we started.
pub enum Target {
    /// A user-provided server (--memcached-url or MEMCACHED_SERVERS).
    Url(String),
    /// Managed memcached servers, stopped when this is dropped.
    Managed(ManagedMemcached),
}

impl Target {
    /// The user's server if given, else managed ones (an error names how to install
    /// memcached when it is missing).
    pub fn pick(url: Option<String>) -> Result<Target> {
        match url {
            Some(u) => Ok(Target::Url(normalize(&u)?)),
            None => Ok(Target::Managed(ManagedMemcached::start()?)),
        }
    }

    /// (transport, URL) pairs to measure.
    pub fn transports(&self) -> Vec<(Transport, String)> {
        match self {
            Target::Url(u) if u.starts_with("memcache+unix:") => {
                vec![(Transport::UnixSocket, u.clone())]
            }
            Target::Url(u) => vec![(Transport::Tcp, u.clone())],
            Target::Managed(m) => vec![
                (Transport::Tcp, m.tcp_url()),
                (Transport::UnixSocket, m.unix_url()),
            ],
        }
    }

    /// The managed servers' process ids (none for a user's server).
    pub fn pids(&self) -> Vec<u32> {
        match self {
            Target::Url(_) => Vec::new(),
            Target::Managed(m) => m.pids().to_vec(),
        }
    }
}

/// The first server of `MEMCACHED_SERVERS` (libmemcached's `host:port,...` list), when
/// set and not empty.
pub fn env_servers() -> Option<String> {
    let v = std::env::var("MEMCACHED_SERVERS").ok()?;
    v.split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// A memcached address as the client's URL: `memcache://[user:pass@]host:port`,
/// `memcache+unix:///path`, a bare `host:port`, or a bare `/path` to a socket. Bad
/// input is one redacted line (exit 2).
pub fn normalize(addr: &str) -> Result<String> {
    let a = addr.trim();
    let url = if a.starts_with('/') {
        format!("memcache+unix://{a}")
    } else if a.starts_with("memcache://") && a["memcache://".len()..].starts_with('/') {
        format!("memcache+unix://{}", &a["memcache://".len()..])
    } else if a.contains("://") {
        a.to_string()
    } else {
        format!("memcache://{a}")
    };
    let parsed = memcache::Url::parse(&url).map_err(|e| {
        Error::Input(format!(
            "{} is not a memcached address (memcache://host:port, host:port or a socket \
             path): {e}",
            redact_url(addr)
        ))
    })?;
    let unix = parsed.scheme() == "memcache+unix";
    if !matches!(
        parsed.scheme(),
        "memcache" | "memcache+tcp" | "memcache+unix"
    ) || (!unix && (parsed.host_str().unwrap_or("").is_empty() || parsed.port().is_none()))
        || (unix && parsed.path().len() < 2)
    {
        return Err(Error::Input(format!(
            "{} is not a memcached address (memcache://host:port, host:port or a socket path)",
            redact_url(addr)
        )));
    }
    Ok(url)
}

pub use crate::services::memcached::{connect, mc_err};

/// The run's keys on one memcached (see [`super::keys`]).
pub type RunKeys = super::keys::RunKeys<Memcached>;

/// memcached deletes the run's keys one by one (it has no multi-delete).
pub struct Memcached;

impl super::keys::DeleteKeys for Memcached {
    fn delete(url: &str, keys: Vec<String>) {
        let Ok(client) = connect(url) else {
            return;
        };
        for key in keys {
            let _ = client.delete(&key);
        }
    }
}

/// Measures every operation on every transport of `target`.
pub fn measure(
    target: &Target,
    cfg: RedisConfig,
    mut on_progress: impl FnMut(f64),
) -> Result<Vec<Rung>> {
    let transports = target.transports();
    let ops = [
        MemcachedOp::GetHit,
        MemcachedOp::GetMiss,
        MemcachedOp::Set,
        MemcachedOp::MultiGet { keys: 10 },
        MemcachedOp::MultiGet { keys: 100 },
    ];
    let steps = (ops.len() + 3) as f64 * transports.len() as f64;
    let mut step = 0.0;
    let mut rungs = Vec::new();
    for &(transport, ref url) in &transports {
        let id = |op, spacing| RungId::Memcached {
            op,
            transport,
            spacing,
        };
        let shown = redact_url(url);
        let err = |e| mc_err(&shown, e);
        let client = connect(url)?;
        let guard = RunKeys::new(url);
        let value = "x".repeat(100);
        let ttl = KEY_TTL_S as u32;
        let many: Vec<String> = (0..BATCH).map(|i| guard.key(&format!("k{i}"))).collect();
        for k in &many {
            client.set(k, value.as_str(), ttl).map_err(err)?;
        }
        let (hit, miss, set) = (many[0].clone(), guard.key("miss"), guard.key("set"));
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let get = |key: &str| client.get::<String>(key).map(drop).map_err(err);
        let multi = |n: usize| {
            client
                .gets::<String>(&refs[..n])
                .map_err(err)
                .and_then(|m: HashMap<String, String>| {
                    if m.len() == n {
                        Ok(())
                    } else {
                        Err(Error::Unusable(format!(
                            "memcached at {shown}: a multi-get of {n} found {} (evicted?)",
                            m.len()
                        )))
                    }
                })
        };
        for op in ops {
            let run = || -> Result<()> {
                match op {
                    MemcachedOp::GetHit => get(&hit),
                    MemcachedOp::GetMiss => get(&miss),
                    MemcachedOp::Set => client.set(&set, value.as_str(), 60).map_err(err),
                    MemcachedOp::MultiGet { keys } => multi(keys as usize),
                }
            };
            for _ in 0..cfg.samples.min(100) {
                run()?;
            }
            let mut l = Latencies::new();
            for _ in 0..cfg.samples {
                crate::signal::check()?;
                l.time(run)?;
            }
            let method = format!("{} over {transport}, back-to-back", op.label());
            rungs.push(l.rung(id(op, Spacing::BackToBack), method, None)?);
            step += 1.0;
            on_progress(step / steps);
        }
        rungs.extend(super::spaced_get_rows(
            cfg.spaced_samples,
            transport,
            || get(&hit),
            |spacing| id(MemcachedOp::GetHit, spacing),
            || {
                step += 1.0;
                on_progress(step / steps);
            },
        )?);
        let mut l = Latencies::new();
        for _ in 0..cfg.batches {
            crate::signal::check()?;
            l.time_batch(BATCH as u64, || multi(BATCH))?;
        }
        rungs.push(l.rung(
            id(
                MemcachedOp::GetHit,
                Spacing::Pipelined {
                    batch: BATCH as u64,
                },
            ),
            format!("GET hit over {transport}, {BATCH} keys per multi-get (per key)"),
            None,
        )?);
        step += 1.0;
        on_progress(step / steps);
        drop(guard);
    }
    Ok(rungs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_client_urls_and_bad_ones_are_input_errors() {
        assert_eq!(
            normalize("127.0.0.1:11211").unwrap(),
            "memcache://127.0.0.1:11211"
        );
        assert_eq!(
            normalize("/run/mc.sock").unwrap(),
            "memcache+unix:///run/mc.sock"
        );
        assert_eq!(
            normalize("memcache:///run/mc.sock").unwrap(),
            "memcache+unix:///run/mc.sock"
        );
        for bad in [
            "http://x:1",
            "memcache://host",
            "memcache://u:hunter2@:1",
            "",
        ] {
            let e = normalize(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}
