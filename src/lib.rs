//! latency-ladder: measure every rung of the latency ladder on the machine it runs on —
//! L1, L2, L3, RAM, SSD, Redis, a database, an external API — with one methodology and
//! one set of statistics, and print it beside the speed table from a caching lecture,
//! with an honest verdict per row.
//!
//! Data flows one way: [`cli`] -> [`app`] -> ([`host`], [`memory`], [`cores`],
//! [`rungs`], [`labs`]) ->
//! [`record::Run`] -> [`ladder`], [`report`], [`plot`]. [`record`] owns every type the
//! run record serializes, and imports neither the ladder nor the report. A kernel never
//! prints; a report never measures.

pub mod app;
pub mod baseline;
pub mod cli;
pub mod cores;
pub mod counters;
pub mod error;
pub mod host;
pub mod labs;
pub mod ladder;
pub mod measure;
pub mod memory;
pub mod ownership;
pub mod platform;
pub mod plot;
pub mod progress;
pub mod record;
pub mod redact;
pub mod report;
pub mod rungs;
pub mod services;
pub mod signal;
pub mod target;
pub mod uarch;
pub mod units;

pub use error::{Error, Result};
