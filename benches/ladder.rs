//! `cargo bench`: criterion benches of the library's own kernels and rungs — the
//! pointer chase per cache level (the levels a short sweep finds on this host, as
//! `ladder stride` finds them) and in RAM, the stride
//! and parallel-chain kernels, the cores kernels (ping-pong between two CPUs, false
//! sharing, plain and non-temporal stores at L1 and RAM sizes), and the comparison rungs
//! (SSD, SQLite, Redis, memcached, PostgreSQL, the web's caches; the servers are started for the
//! bench and stopped after it, or the group is skipped with a line saying why).
//!
//! Time is wall time, and the chase benches report it per access; with
//! `LADDER_BENCH_CYCLES=1` it is CPU cycles from perf-event where the hardware counter
//! can be opened (a printed note says when it cannot), per access likewise.

#[cfg(target_os = "linux")]
#[path = "support/cycles.rs"]
mod cycles;
#[path = "support/measurement.rs"]
mod measurement;

use criterion::measurement::Measurement;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use latency_ladder::memory::patterns::ParallelChains;
use latency_ladder::memory::{self, Chain};
use latency_ladder::platform::Bypass;
use latency_ladder::record::host::Host;
use latency_ladder::record::memory::{Order, PageKind, SweepConfig};
use latency_ladder::rungs::db::{BenchQueries, DataSet};
use latency_ladder::rungs::storage::{DirectReads, StorageConfig, TestFile};
use latency_ladder::services::postgres::ManagedPostgres;
use latency_ladder::services::redis::ManagedRedis;
use latency_ladder::units::{format_count, format_size};
use std::time::Duration;

/// Chase steps per criterion iteration.
const STEPS: u64 = 4096;
/// Rows of the database benches' data set.
const DB_ROWS: u64 = 100_000;

fn skip(group: &str, why: impl std::fmt::Display) {
    eprintln!("ladder bench: group {group} skipped: {why}");
}

/// Short, fixed timings so the whole run stays within a few minutes on 2 cores.
fn configure<M: Measurement>(g: &mut BenchmarkGroup<M>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
}

/// The host's levels, found the way `ladder stride` finds them (one detection, one
/// grid policy), and the RAM working set that goes with them.
struct Levels {
    sets: Vec<(String, u64)>,
    ram_bytes: u64,
    node_bytes: usize,
}

fn levels(host: &Host) -> Option<Levels> {
    let cpu = *host.cpus.last()?;
    let cfg = SweepConfig::level_finding(host, cpu);
    match memory::sweep(&cfg, host, |_, _| {}) {
        Ok(mem) => {
            let ram_bytes = memory::ram_set_bytes(&mem, host.mem_available_bytes, false);
            let sets = memory::level_working_sets(&mem, &[], ram_bytes)
                .into_iter()
                .map(|s| {
                    (
                        format!("{} {}", s.level, format_size(s.size_bytes)),
                        s.size_bytes,
                    )
                })
                .collect();
            Some(Levels {
                sets,
                ram_bytes,
                node_bytes: cfg.node_bytes as usize,
            })
        }
        Err(e) => {
            skip("chase", format!("the level-finding sweep failed: {e}"));
            None
        }
    }
}

/// One working set in the middle of each cache plateau the curve shows (named "L2
/// 90.5 KiB"), then RAM.
fn chase<M: Measurement>(c: &mut Criterion<M>, levels: &Levels) {
    let mut g = c.benchmark_group("chase");
    configure(&mut g);
    g.throughput(Throughput::Elements(STEPS));
    for (name, size) in &levels.sets {
        let node = levels.node_bytes;
        let mut chain = match Chain::new(*size, node, PageKind::Small, Order::TlbLocal, 1) {
            Ok(c) => c,
            Err(e) => {
                skip(&format!("chase/{name}"), e);
                continue;
            }
        };
        chain.chase(chain.nodes() as u64);
        g.bench_function(name, |b| b.iter(|| chain.chase(STEPS)));
    }
    g.finish();
}

/// Address order against random order at the line stride and a page stride, in RAM.
fn stride<M: Measurement>(c: &mut Criterion<M>, ram_bytes: u64) {
    let mut g = c.benchmark_group("stride");
    configure(&mut g);
    g.throughput(Throughput::Elements(STEPS));
    for stride in [64usize, 4096] {
        for order in [Order::Sequential, Order::Random] {
            match Chain::new(ram_bytes, stride, PageKind::Small, order, 2) {
                Ok(mut chain) => {
                    g.bench_function(format!("{order} {stride} B"), |b| {
                        b.iter(|| chain.chase(STEPS))
                    });
                }
                Err(e) => skip("stride", e),
            }
        }
    }
    g.finish();
}

/// 1, 4 and 16 independent chains in RAM: time per access falls with the misses in
/// flight.
fn parallel<M: Measurement>(c: &mut Criterion<M>, ram_bytes: u64) {
    let mut g = c.benchmark_group("parallel");
    configure(&mut g);
    for k in [1u32, 4, 16] {
        match ParallelChains::new(ram_bytes, k, 3) {
            Ok(mut chains) => {
                let steps = STEPS / u64::from(k);
                g.throughput(Throughput::Elements(steps * u64::from(chains.chains())));
                g.bench_function(format!("{k} chains"), |b| b.iter(|| chains.chase(steps)));
            }
            Err(e) => skip("parallel", e),
        }
    }
    g.finish();
}

/// The cores kernels: a CAS ping-pong between the first two CPUs (thread start
/// included, spread over 8192 round trips), false sharing against padded counters, and
/// plain and non-temporal stores over an L1-sized and a RAM-sized buffer.
fn cores<M: Measurement>(c: &mut Criterion<M>, cpus: &[usize], ram_bytes: u64) {
    use latency_ladder::cores::false_sharing::{trial, Bump, Layout};
    use latency_ladder::cores::pingpong::burst;
    use latency_ladder::memory::buffer::Buffer;
    use latency_ladder::memory::kernels::{stream_write, Store};
    use latency_ladder::record::cores::Handoff;
    use latency_ladder::record::memory::Isa;
    let mut g = c.benchmark_group("cores");
    configure(&mut g);
    match cpus {
        [a, b, ..] => {
            g.throughput(Throughput::Elements(8192));
            g.bench_function(format!("CAS ping-pong CPU {a} <-> {b}"), |bench| {
                bench.iter(|| burst(*a, *b, Handoff::Cas, 1, 4096).expect("ping-pong"))
            });
            let two = [*a, *b];
            g.throughput(Throughput::Elements(100_000));
            for layout in [Layout::SameLine, Layout::Padded] {
                g.bench_function(format!("2 threads {layout:?} counters"), |bench| {
                    bench.iter(|| {
                        trial(layout, Bump::InMemory, &two, 100_000).expect("false sharing")
                    })
                });
            }
        }
        _ => skip("cores/ping-pong", "one CPU: no pair"),
    }
    let isa = Isa::detect();
    for (name, size) in [("L1d 16 KiB", 16usize << 10), ("RAM", ram_bytes as usize)] {
        let mut buf = match Buffer::new(size, PageKind::Huge) {
            Ok(b) => b,
            Err(e) => {
                skip("cores/stores", e);
                continue;
            }
        };
        let p = buf.as_mut_ptr();
        let len = size / 1024 * 1024;
        g.throughput(Throughput::Bytes(len as u64));
        for store in [Store::Plain, Store::NonTemporal] {
            if store == Store::NonTemporal && !isa.has_nt_store() {
                skip(
                    "cores/nt-store",
                    format!("no non-temporal store kernel for {isa:?}"),
                );
                continue;
            }
            g.bench_function(format!("{store:?} stores {name}"), |bench| {
                // SAFETY: the buffer holds len bytes, page aligned; ISA detected here.
                bench.iter(|| unsafe { stream_write(isa, store, p, len, 1, 3) })
            });
        }
    }
    g.finish();
}

fn ssd<M: Measurement>(c: &mut Criterion<M>) {
    let cfg = StorageConfig {
        dir: env!("CARGO_TARGET_TMPDIR").into(),
        file_size: 256 << 20,
        samples: 1,
        allow_ram: false,
        seed: 4,
    };
    let file = match TestFile::create(&cfg) {
        Ok(f) => f,
        Err(e) => return skip("ssd", e),
    };
    let mut reads = match DirectReads::open(&file, 4) {
        Ok(r) => r,
        Err(e) => return skip("ssd", e),
    };
    let name = match reads.bypass() {
        Bypass::DropAfterRead => "4K random read, page cache dropped (O_DIRECT refused)".into(),
        flag => format!("{} 4K random read", flag.name()),
    };
    let mut g = c.benchmark_group("ssd");
    configure(&mut g);
    g.bench_function(&name, |b| b.iter(|| reads.read_one().expect("read")));
    g.finish();
}

fn databases<M: Measurement>(c: &mut Criterion<M>) {
    let data = DataSet::new(DB_ROWS, 5);
    match BenchQueries::sqlite(&data, env!("CARGO_TARGET_TMPDIR").as_ref()) {
        Ok(q) => database_group(c, "SQLite", q),
        Err(e) => skip("database/sqlite", e),
    }
    let mut server = match ManagedPostgres::bin_dir().and_then(|_| ManagedPostgres::start()) {
        Ok(s) => s,
        Err(e) => return skip("database/postgres", e),
    };
    let target = match server.target() {
        Ok(t) => t,
        Err(e) => return skip("database/postgres", e),
    };
    match BenchQueries::postgres(&data, &target, Some(&mut server)) {
        Ok(q) => database_group(c, "PG over TCP", q),
        Err(e) => skip("database/postgres", e),
    };
}

/// One engine's benches: the warm prepared PK lookup, the expensive query over the
/// ladder of sizes, then the cold PK lookup and cold expensive
/// query (each sample a fresh cold session, made outside the timing, as in `ladder db`).
fn database_group<M: Measurement>(c: &mut Criterion<M>, engine: &str, mut q: BenchQueries) {
    let mut g = c.benchmark_group("database");
    configure(&mut g);
    g.bench_function(format!("{engine} prepared PK lookup"), |b| {
        b.iter(|| q.lookup().expect("lookup"))
    });
    g.sample_size(10);
    for orders in latency_ladder::rungs::db::sizes(DB_ROWS) {
        g.bench_function(
            format!(
                "{engine} aggregate JOIN over {}",
                format_count(orders as f64)
            ),
            |b| b.iter(|| q.aggregate_upto(orders).expect("aggregate")),
        );
    }
    if !q.has_cold() {
        skip(
            &format!("database/{engine} cold"),
            "no page-cache eviction here, or not a managed server",
        );
        return g.finish();
    }
    // A cold sample costs a restart (or a new connection and an eviction): one per
    // iteration, ten samples.
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function(format!("{engine} prepared PK lookup, cold"), |b| {
        b.iter_batched(
            || q.cold().expect("cold session"),
            |mut s| {
                s.point().expect("cold lookup");
                s
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function(
        format!(
            "{engine} aggregate JOIN over {}, cold",
            format_count(DB_ROWS as f64)
        ),
        |b| {
            b.iter_batched(
                || q.cold().expect("cold session"),
                |mut s| {
                    s.aggregate().expect("cold aggregate");
                    s
                },
                BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

fn redis<M: Measurement>(c: &mut Criterion<M>) {
    use redis::Commands;
    let server = match ManagedRedis::start() {
        Ok(s) => s,
        Err(e) => return skip("redis", e),
    };
    let url = latency_ladder::target::redis::RedisUrl::parse(&server.tcp_url());
    let mut conn = match url.and_then(|u| latency_ladder::rungs::redis::connect(&u)) {
        Ok(c) => c,
        Err(e) => return skip("redis", e),
    };
    let () = conn
        .set("ladder:bench:hit", "x".repeat(100))
        .expect("SET on our own server");
    let mut g = c.benchmark_group("redis");
    configure(&mut g);
    g.bench_function("GET hit over TCP", |b| {
        b.iter(|| {
            conn.get::<_, Option<String>>("ladder:bench:hit")
                .expect("GET")
        })
    });
    g.finish();
}

/// memcached on a managed pair: GET hit, SET with an expiry and a multi-get of 10 keys,
/// over TCP and the unix socket (the single operations `ladder memcached` times).
fn memcached<M: Measurement>(c: &mut Criterion<M>) {
    use latency_ladder::rungs::kv::KvStore;
    use latency_ladder::rungs::memcached::{Memcached, Target};
    let target = match Target::pick(None) {
        Ok(t) => t,
        Err(e) => return skip("memcached", e),
    };
    let value = "x".repeat(100);
    let keys: Vec<String> = (0..10).map(|i| format!("ladder:bench:k{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut g = c.benchmark_group("memcached");
    configure(&mut g);
    for url in target.urls() {
        let transport = Memcached::transport(url);
        let client = match url.connect() {
            Ok(c) => c,
            Err(e) => {
                skip(&format!("memcached/{transport}"), e);
                continue;
            }
        };
        for k in &keys {
            client
                .set(k, value.as_str(), 600)
                .expect("SET on our own server");
        }
        g.bench_function(format!("GET hit over {transport}"), |b| {
            b.iter(|| client.get::<String>(&keys[0]).expect("GET"))
        });
        g.bench_function(format!("SET over {transport}"), |b| {
            b.iter(|| {
                client
                    .set("ladder:bench:set", value.as_str(), 600)
                    .expect("SET")
            })
        });
        g.bench_function(format!("multi-get 10 over {transport}"), |b| {
            b.iter(|| client.gets::<String>(&refs).expect("multi-get").len())
        });
    }
    g.finish();
}

/// The web's caches: the origin's 200 and 304 at 100 KiB on a kept connection, a fresh
/// hit in the client's own cache, a new HTTPS connection per GET, and an edge HIT.
fn web<M: Measurement>(c: &mut Criterion<M>) {
    use latency_ladder::labs::web::origin::{product_path, Origin};
    use latency_ladder::labs::web::BrowserCache;
    use latency_ladder::record::http::BodySize;
    use latency_ladder::rungs::http::client::{Client, Trust};
    use latency_ladder::rungs::http::parse_url;
    let data = DataSet::new(DB_ROWS, 1);
    let (origin, https) = match (
        Origin::start(&data, 60, false),
        Origin::start(&data, 60, true),
    ) {
        (Ok(o), Ok(h)) => (o, h),
        (Err(e), _) | (_, Err(e)) => return skip("web", e),
    };
    let client = |o: &Origin| {
        let url = o.url("127.0.0.1", 1, BodySize::K100);
        let trust = o
            .certificate()
            .map_or(Trust::Roots, |c| Trust::Pinned(c.clone()));
        Client::new(parse_url(&url).expect("our own URL"), url, trust).expect("a client")
    };
    let path = product_path(1, BodySize::K100);
    let mut plain = client(&origin);
    let first = plain.get(&path, &[], true).expect("the origin answers");
    let etag = first.header("etag").expect("an ETag").to_string();
    let mut cache = BrowserCache::default();
    cache.store("k", &first);
    let mut g = c.benchmark_group("web");
    configure(&mut g);
    g.bench_function("origin 200 100 KiB, kept connection", |b| {
        b.iter(|| plain.get(&path, &[], true).expect("GET"))
    });
    g.bench_function("origin 304 100 KiB, kept connection", |b| {
        b.iter(|| {
            plain
                .get(&path, &[("If-None-Match", &etag)], true)
                .expect("GET")
        })
    });
    g.bench_function("fresh hit in the client's cache", |b| {
        b.iter(|| cache.fresh("k").map(|b| b.len()))
    });
    let mut tls = client(&https);
    let small = product_path(1, BodySize::K1);
    g.bench_function("HTTPS GET 1 KiB, new connection", |b| {
        b.iter(|| tls.get(&small, &[], false).expect("GET"))
    });
    match latency_ladder::services::nginx::ManagedNginx::start(origin.port()) {
        Ok(edge) => {
            let url = format!("http://127.0.0.1:{}{small}", edge.port);
            let mut c = Client::new(parse_url(&url).expect("our URL"), url, Trust::Roots)
                .expect("a client");
            c.get(&small, &[], true).expect("the edge answers");
            g.bench_function("edge HIT 1 KiB, kept connection", |b| {
                b.iter(|| c.get(&small, &[], true).expect("GET"))
            });
        }
        Err(e) => skip("web edge", e),
    }
    g.finish();
}

fn all<M: Measurement>(mut c: Criterion<M>, levels: Option<&Levels>, cpus: &[usize]) {
    if let Some(levels) = levels {
        chase(&mut c, levels);
        stride(&mut c, levels.ram_bytes);
        parallel(&mut c, levels.ram_bytes);
        cores(&mut c, cpus, levels.ram_bytes);
    }
    ssd(&mut c);
    databases(&mut c);
    redis(&mut c);
    memcached(&mut c);
    web(&mut c);
    c.final_summary();
}

fn main() {
    let host = Host::probe();
    if let Some(&cpu) = host.cpus.last() {
        let _ = latency_ladder::host::pin_to(cpu, &host.cpus);
    }
    let levels = levels(&host);
    let base = Criterion::default().configure_from_args();
    if std::env::var_os("LADDER_BENCH_CYCLES").is_some_and(|v| v != "0") {
        #[cfg(target_os = "linux")]
        match cycles::Cycles::open() {
            Ok(m) => return all(base.with_measurement(m), levels.as_ref(), &host.cpus),
            Err(e) => eprintln!(
                "ladder bench: the cycles counter cannot be opened here ({}); measuring wall time",
                latency_ladder::counters::classify(&e).reason()
            ),
        }
        #[cfg(not(target_os = "linux"))]
        eprintln!(
            "ladder bench: the cycles counter is unsupported here (no perf_event_open on this \
             OS); measuring wall time"
        );
    }
    all(
        base.with_measurement(measurement::WallPerAccess),
        levels.as_ref(),
        &host.cpus,
    );
}
