//! Phase timing of one URL: `samples` GETs after one untimed, a new connection each
//! (every phase: DNS, connect, TLS, first byte, transfer, total) or on one kept
//! connection (first byte, transfer, total: the connection's phases were paid before
//! timing).

use super::client::Client;
use crate::error::Result;
use crate::record::http::{Dist, Phase, PhaseDist, PhaseRun, PhaseTarget};
use crate::rungs::Latencies;
use hdrhistogram::Histogram;
use std::time::Duration;

/// A latency histogram (ns, 3 significant digits, up to an hour).
pub struct Samples(Histogram<u64>);

impl Samples {
    /// An empty one.
    pub fn new() -> Samples {
        Samples(crate::rungs::latency_histogram())
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        self.0.saturating_record((d.as_nanos() as u64).max(1));
    }

    /// The distribution; `None` when nothing was recorded.
    pub fn dist(&self) -> Option<Dist> {
        let h = &self.0;
        (!h.is_empty()).then(|| Dist {
            samples: h.len(),
            p50_ns: h.value_at_quantile(0.5) as f64,
            p90_ns: h.value_at_quantile(0.9) as f64,
            p99_ns: h.value_at_quantile(0.99) as f64,
            min_ns: h.min() as f64,
            max_ns: h.max() as f64,
            mean_ns: h.mean(),
        })
    }
}

impl Default for Samples {
    fn default() -> Self {
        Samples::new()
    }
}

/// Times `samples` GETs of the client's own path; returns the run and the totals as
/// [`Latencies`] (for a ladder row).
pub fn phase_run(
    client: &mut Client,
    shown: &str,
    target: PhaseTarget,
    insecure: bool,
    reuse: bool,
    samples: u64,
    mut on_progress: impl FnMut(f64),
) -> Result<(PhaseRun, Latencies)> {
    let path = client.path().to_string();
    client.close();
    let mut last = client.get(&path, &[], reuse)?;
    let tls = last.timing.tls.is_some();
    let mut phases: Vec<(Phase, Samples)> = Phase::ALL
        .into_iter()
        .filter(|p| match p {
            Phase::Dns | Phase::Connect => !reuse,
            Phase::Tls => !reuse && tls,
            _ => true,
        })
        .map(|p| (p, Samples::new()))
        .collect();
    let mut total = Latencies::new();
    let mut new_connections = 0;
    for i in 0..samples {
        crate::signal::check()?;
        last = total.time(|| client.get(&path, &[], reuse))?;
        let t = &last.timing;
        new_connections += u64::from(t.connect.is_some());
        for (phase, s) in &mut phases {
            let d = match phase {
                Phase::Dns => t.dns,
                Phase::Connect => t.connect,
                Phase::Tls => t.tls,
                Phase::Ttfb => Some(t.ttfb),
                Phase::Transfer => Some(t.transfer),
                Phase::Total => Some(t.total),
            };
            if let Some(d) = d {
                s.record(d);
            }
        }
        on_progress((i + 1) as f64 / samples as f64);
    }
    client.close();
    let run = PhaseRun {
        url: shown.to_string(),
        target,
        tls,
        insecure,
        reuse,
        status: last.status,
        body_bytes: last.body.len() as u64,
        new_connections,
        phases: phases
            .into_iter()
            .filter_map(|(phase, s)| s.dist().map(|latency| PhaseDist { phase, latency }))
            .collect(),
    };
    Ok((run, total))
}
