//! The labs: experiments built on the rungs that answer the lecture's questions rather
//! than add a row to its table. [`cache_lab`] (cache-aside, TTLs, stampedes, eviction,
//! outages, staleness against a real database), [`load`] (latency under a fixed
//! arrival rate, without coordinated omission) and [`web`] (HTTP caches: origin, an
//! edge, the browser's cache, DNS). [`product_page`] is the lecture's example service
//! (a page read through a cache from a database) that the load and the cache lab
//! drive.

pub mod cache_lab;
pub mod load;
pub mod product_page;
pub mod web;
