//! A criterion `Measurement` of CPU cycles of the benchmark thread through perf-event
//! (cycles per access where a bench sets element throughput). Linux only: perf-event is
//! a Linux-only dependency.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;
use perf_event::events::Hardware;
use perf_event::{Builder, Counter};
use std::cell::RefCell;

/// Cycles of this thread (user space), read around each batch of iterations.
pub struct Cycles {
    counter: RefCell<Counter>,
}

impl Cycles {
    /// Opens and enables the cycles counter; the error says why it cannot be had.
    pub fn open() -> std::io::Result<Cycles> {
        let mut counter = Builder::new().kind(Hardware::CPU_CYCLES).build()?;
        counter.enable()?;
        Ok(Cycles {
            counter: RefCell::new(counter),
        })
    }

    fn read(&self) -> u64 {
        // A counter that opened and was enabled reads; a failure would be a kernel bug,
        // and 0 would then show as an absurd result rather than pass silently.
        self.counter.borrow_mut().read().unwrap_or(0)
    }
}

impl Measurement for Cycles {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        self.read()
    }

    fn end(&self, start: u64) -> u64 {
        self.read().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CyclesFormatter
    }
}

struct CyclesFormatter;

impl ValueFormatter for CyclesFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "cycles"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (per, unit) = match throughput {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (*n as f64, "cycles/access")
            }
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (*n as f64, "cycles/byte"),
            Throughput::Bits(n) => (*n as f64, "cycles/bit"),
        };
        for v in values.iter_mut() {
            *v /= per;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "cycles"
    }
}
