//! The integration tests, one binary: each module drives the real `ladder` binary (or
//! the library) against real servers on loopback. `cargo test --test it -- report::`
//! runs one module; `scripts/dev-check.sh` picks the modules a change touches.

mod baseline;
mod cache_lab;
mod cli;
mod common;
mod cores;
mod db;
mod export;
mod faults;
mod load;
mod memcached;
mod persistence;
mod placement;
mod report;
mod run;
mod rungs;
mod stride;
mod web;
