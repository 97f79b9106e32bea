//! The memcached rung, beside Redis on the same skeleton ([`super::kv`]): GET (hit and
//! miss), SET with an expiry, and multi-gets of 10 and 100 keys, over TCP and a unix
//! socket, back-to-back, spaced out, and batched (a 100-key multi-get timed per key).
//!
//! The client is the `memcache` crate over the ASCII protocol (the binary protocol is
//! deprecated upstream; the ASCII one carries memcached's `-Y` authentication, TCP and
//! unix sockets, and a multi-get is one `gets k1 k2 ...` round trip).
//!
//! Safe on a user's server: every key lives under one run-unique prefix, has an expiry
//! and is deleted by name at the end (a guard does it after an error or Ctrl-C too);
//! never `flush_all`, never a stats reset.

use super::kv::{KvSession, KvStore, BATCH};
use crate::error::{Error, Result};
use crate::ownership::keys::{DeleteKeys, RunKeys};
use crate::record::rung::{MemcachedOp, RungId, Spacing, Transport};
use crate::services::memcached::ManagedMemcached;
use crate::target::memcached::MemcachedUrl;
use crate::target::redis::KEY_TTL_S;
use std::collections::HashMap;

/// Where the measured memcached is: the user's server or a managed pair.
pub type Target = super::kv::Target<Memcached>;

/// memcached: the rung's store, and how it deletes the run's keys (one by one: it has
/// no multi-delete).
pub struct Memcached;

impl DeleteKeys for Memcached {
    type Url = MemcachedUrl;
    fn delete(url: &MemcachedUrl, keys: Vec<String>) {
        let Ok(client) = url.connect() else {
            return;
        };
        for key in keys {
            let _ = client.delete(&key);
        }
    }
}

/// One connection with the run's keys: [`BATCH`] keys of 100 bytes (the first is the
/// hot key), a name to miss and one to SET.
pub struct MemcachedSession {
    client: memcache::Client,
    url: MemcachedUrl,
    many: Vec<String>,
    miss: String,
    set: String,
    value: String,
}

impl MemcachedSession {
    fn get(&self, key: &str) -> Result<()> {
        self.client
            .get::<String>(key)
            .map(drop)
            .map_err(|e| self.url.error(e))
    }

    /// One multi-get of the first `n` keys, all of which must come back.
    fn multi(&self, n: usize) -> Result<()> {
        let refs: Vec<&str> = self.many[..n].iter().map(String::as_str).collect();
        let found: HashMap<String, String> =
            self.client.gets(&refs).map_err(|e| self.url.error(e))?;
        if found.len() == n {
            Ok(())
        } else {
            Err(Error::Unusable(format!(
                "memcached at {}: a multi-get of {n} found {} (evicted?)",
                self.url.shown(),
                found.len()
            )))
        }
    }
}

impl KvSession for MemcachedSession {
    type Op = MemcachedOp;
    fn run(&mut self, op: MemcachedOp) -> Result<()> {
        match op {
            MemcachedOp::GetHit => self.get(&self.many[0]),
            MemcachedOp::GetMiss => self.get(&self.miss),
            MemcachedOp::Set => self
                .client
                .set(&self.set, self.value.as_str(), 60)
                .map_err(|e| self.url.error(e)),
            MemcachedOp::MultiGet { keys } => self.multi(keys as usize),
        }
    }
    fn get_hit(&mut self) -> Result<()> {
        self.get(&self.many[0])
    }
    fn batch(&mut self) -> Result<()> {
        self.multi(BATCH)
    }
}

impl KvStore for Memcached {
    type Managed = ManagedMemcached;
    type Op = MemcachedOp;
    type Session = MemcachedSession;
    const OPS: &'static [MemcachedOp] = &[
        MemcachedOp::GetHit,
        MemcachedOp::GetMiss,
        MemcachedOp::Set,
        MemcachedOp::MultiGet { keys: 10 },
        MemcachedOp::MultiGet { keys: 100 },
    ];
    const GET_HIT: MemcachedOp = MemcachedOp::GetHit;

    fn start() -> Result<(ManagedMemcached, Vec<MemcachedUrl>)> {
        let server = ManagedMemcached::start()?;
        let urls = vec![
            MemcachedUrl::parse(&server.tcp_url())?,
            MemcachedUrl::parse(&server.unix_url())?,
        ];
        Ok((server, urls))
    }
    fn transport(url: &MemcachedUrl) -> Transport {
        url.transport()
    }
    fn open(url: &MemcachedUrl, keys: &RunKeys<Memcached>) -> Result<MemcachedSession> {
        let client = url.connect()?;
        let value = "x".repeat(100);
        let many: Vec<String> = (0..BATCH).map(|i| keys.key(&format!("k{i}"))).collect();
        for k in &many {
            client
                .set(k, value.as_str(), KEY_TTL_S as u32)
                .map_err(|e| url.error(e))?;
        }
        Ok(MemcachedSession {
            client,
            url: url.clone(),
            many,
            miss: keys.key("miss"),
            set: keys.key("set"),
            value,
        })
    }
    fn id(op: MemcachedOp, transport: Transport, spacing: Spacing) -> RungId {
        RungId::Memcached {
            op,
            transport,
            spacing,
        }
    }
    fn label(op: MemcachedOp) -> String {
        op.label()
    }
    fn batch_method(transport: Transport) -> String {
        format!("GET hit over {transport}, {BATCH} keys per multi-get (per key)")
    }
}

/// The managed servers' process ids (none for a user's server).
pub fn pids(target: &Target) -> Vec<u32> {
    match target {
        super::kv::Target::Url(_) => Vec::new(),
        super::kv::Target::Managed(m, _) => m.pids().to_vec(),
    }
}
