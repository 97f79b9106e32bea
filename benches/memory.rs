//! Criterion benches of the pointer chase, built on the library's own chain and kernel:
//! one working set per cache level (sizes from this host's sysfs) and one in RAM.
//! Throughput is one element per access, so criterion reports time per access.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use latency_ladder::host::Host;
use latency_ladder::memory::{Chain, Order, PageKind, NODE_BYTES};
use latency_ladder::units::format_size;

/// Steps per criterion iteration.
const STEPS: u64 = 4096;

fn chase(c: &mut Criterion) {
    let host = Host::probe();
    // Half of each data cache sits well inside it; 512 MiB is well past any of them.
    let mut sets: Vec<(String, u64)> = host
        .data_caches()
        .iter()
        .map(|cache| {
            (
                format!("{} {}", cache.name(), format_size(cache.size_bytes)),
                cache.size_bytes / 2,
            )
        })
        .collect();
    sets.push(("RAM".to_string(), 512 << 20));
    let mut group = c.benchmark_group("chase");
    group.throughput(Throughput::Elements(STEPS));
    for (name, size) in sets {
        let mut chain =
            Chain::new(size, NODE_BYTES, PageKind::Small, Order::TlbLocal, 1).expect("build chain");
        chain.chase(chain.nodes() as u64);
        group.bench_function(format!("{name} ({} working set)", format_size(size)), |b| {
            b.iter(|| chain.chase(STEPS))
        });
    }
    group.finish();
}

criterion_group!(benches, chase);
criterion_main!(benches);
