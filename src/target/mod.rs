//! The servers a run talks to, each parsed once into a typed target (the URL's client
//! config, its transport, its redacted form), so no later step parses or redacts the
//! user's input again: [`redis::RedisUrl`], [`memcached::MemcachedUrl`],
//! [`postgres::PgTarget`]. A bad URL fails here with exit 2 and one line, before
//! anything is contacted; connecting is bounded in time.

pub mod memcached;
pub mod postgres;
pub mod redis;
