//! A criterion `Measurement` that reports wall time per access where a bench sets
//! element throughput (the cycles one, Linux only, is in `cycles.rs`).

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;
use std::time::{Duration, Instant};

/// Wall time, like criterion's own, but throughput shown as time per access.
pub struct WallPerAccess;

impl Measurement for WallPerAccess {
    type Intermediate = Instant;
    type Value = Duration;

    fn start(&self) -> Instant {
        Instant::now()
    }

    fn end(&self, start: Instant) -> Duration {
        start.elapsed()
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

struct NsFormatter;

/// Picks ns, µs, ms or s for a typical value in ns and scales `values` to it.
fn scale_ns(typical: f64, values: &mut [f64]) -> &'static str {
    let (div, unit) = latency_ladder::units::ns_unit(typical);
    values.iter_mut().for_each(|v| *v /= div);
    unit
}

/// Elements (or bytes, bits) per iteration.
fn per_iteration(throughput: &Throughput) -> (f64, &'static str) {
    match throughput {
        Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
            (*n as f64, "access")
        }
        Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (*n as f64, "byte"),
        Throughput::Bits(n) => (*n as f64, "bit"),
    }
}

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        scale_ns(typical, values)
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per, what) = per_iteration(throughput);
        values.iter_mut().for_each(|v| *v /= per);
        match (scale_ns(typical / per, values), what) {
            ("ns", "access") => "ns/access",
            ("µs", "access") => "µs/access",
            ("ms", "access") => "ms/access",
            (_, "access") => "s/access",
            _ => "ns/unit",
        }
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
