//! One request/response rung for key-value stores: Redis and memcached (and the next
//! one) plug in a [`KvStore`] — how to connect, which operations to time, how to read
//! the hot key and how to batch — and [`measure`] does the rest the same way for every
//! store: each transport of the [`Target`], a short untimed warm-up, the timed
//! back-to-back round trips of every operation, the hot key read 1 ms and 10 ms apart,
//! and a batch of [`BATCH`] reads timed per key.
//!
//! Safe on a user's server: every key comes from the run's [`RunKeys`] (one
//! run-unique prefix, deleted by name when the transport is done, after an error or
//! Ctrl-C too) and is written with an expiry by the store.

use super::{spaced_get_rows, Latencies, Rung};
use crate::error::Result;
use crate::ownership::keys::{DeleteKeys, RunKeys};
use crate::record::rung::{RungId, Spacing, Transport};

/// Commands per pipelined batch (or keys per multi-get).
pub const BATCH: usize = 100;

/// How many samples a key-value rung takes.
#[derive(Debug, Clone, Copy)]
pub struct KvConfig {
    /// Back-to-back samples per operation and transport.
    pub samples: u64,
    /// Samples per spacing (1 ms and 10 ms apart).
    pub spaced_samples: u64,
    /// Pipelined batches.
    pub batches: u64,
}

/// The operations of one store on one connection, with the run's keys written.
pub trait KvSession {
    /// One timed operation.
    type Op: Copy;
    /// Performs `op` once.
    fn run(&mut self, op: Self::Op) -> Result<()>;
    /// Reads the hot key once (the spaced rows).
    fn get_hit(&mut self) -> Result<()>;
    /// Reads [`BATCH`] keys in one round trip.
    fn batch(&mut self) -> Result<()>;
}

/// A key-value store the rung measures.
pub trait KvStore: DeleteKeys + Sized {
    /// The managed server (or servers) of this kind, stopped when dropped.
    type Managed;
    /// The operations timed back-to-back.
    type Op: Copy + 'static;
    /// A connection with the run's keys written.
    type Session: KvSession<Op = Self::Op>;
    /// The operations, in the order of their rows.
    const OPS: &'static [Self::Op];
    /// The operation the spaced and batched rows time.
    const GET_HIT: Self::Op;
    /// Starts a managed server (an error names how to install it when it is missing)
    /// and returns it with its URLs, one per transport.
    fn start() -> Result<(Self::Managed, Vec<Self::Url>)>;
    /// The transport of a URL.
    fn transport(url: &Self::Url) -> Transport;
    /// Connects to `url` and writes the keys the operations read, from `keys`.
    fn open(url: &Self::Url, keys: &RunKeys<Self>) -> Result<Self::Session>;
    /// The row of `op` over `transport` at `spacing`.
    fn id(op: Self::Op, transport: Transport, spacing: Spacing) -> RungId;
    /// The words for `op` in the row's method.
    fn label(op: Self::Op) -> String;
    /// The method of the batch row.
    fn batch_method(transport: Transport) -> String;
}

/// Where the measured store is: the user's server, or a managed one we started.
pub enum Target<S: KvStore> {
    /// A user-provided server, parsed once.
    Url(S::Url),
    /// A managed server with its URLs (TCP first), stopped when this is dropped.
    Managed(S::Managed, Vec<S::Url>),
}

impl<S: KvStore> Target<S> {
    /// The user's server if given, else a managed one.
    pub fn pick(url: Option<S::Url>) -> Result<Target<S>> {
        match url {
            Some(u) => Ok(Target::Url(u)),
            None => {
                let (server, urls) = S::start()?;
                Ok(Target::Managed(server, urls))
            }
        }
    }

    /// The URLs to measure, one per transport (TCP first where there is one).
    pub fn urls(&self) -> &[S::Url] {
        match self {
            Target::Url(u) => std::slice::from_ref(u),
            Target::Managed(_, urls) => urls,
        }
    }

    /// The first URL (the one loads and probes use).
    pub fn first_url(&self) -> &S::Url {
        &self.urls()[0]
    }

    /// Whether we started the server.
    pub fn is_managed(&self) -> bool {
        matches!(self, Target::Managed(..))
    }
}

/// Measures every operation on every transport of `target`.
pub fn measure<S: KvStore>(
    target: &Target<S>,
    cfg: KvConfig,
    mut on_progress: impl FnMut(f64),
) -> Result<Vec<Rung>> {
    let per_transport = S::OPS.len() + 3;
    let steps = (per_transport * target.urls().len()) as f64;
    let mut step = 0.0;
    let mut rungs = Vec::new();
    for url in target.urls() {
        let transport = S::transport(url);
        // Declared before the session, so dropped after it: the keys go once the
        // connection that wrote them is closed.
        let keys = RunKeys::<S>::new(url);
        let mut session = S::open(url, &keys)?;
        for &op in S::OPS {
            for _ in 0..cfg.samples.min(100) {
                session.run(op)?;
            }
            let mut l = Latencies::new();
            for _ in 0..cfg.samples {
                crate::signal::check()?;
                l.time(|| session.run(op))?;
            }
            let method = format!("{} over {transport}, back-to-back", S::label(op));
            rungs.push(l.rung(S::id(op, transport, Spacing::BackToBack), method, None)?);
            step += 1.0;
            on_progress(step / steps);
        }
        rungs.extend(spaced_get_rows(
            cfg.spaced_samples,
            transport,
            || session.get_hit(),
            |spacing| S::id(S::GET_HIT, transport, spacing),
            || {
                step += 1.0;
                on_progress(step / steps);
            },
        )?);
        let mut l = Latencies::new();
        for _ in 0..cfg.batches {
            crate::signal::check()?;
            l.time_batch(BATCH as u64, || session.batch())?;
        }
        let batched = Spacing::Pipelined {
            batch: BATCH as u64,
        };
        rungs.push(l.rung(
            S::id(S::GET_HIT, transport, batched),
            S::batch_method(transport),
            None,
        )?);
        step += 1.0;
        on_progress(step / steps);
    }
    Ok(rungs)
}
