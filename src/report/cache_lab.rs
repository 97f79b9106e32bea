//! The `ladder cache-lab` section of report.md and the terminal.

use crate::record::cache_lab::{
    CacheLabSection, EvictionRow, EvictionSection, StampedeSection, Workload,
};
use crate::units::{format_ns, format_size};
use std::fmt::Write;

/// A fraction as a percentage: "10%", "0.5%".
pub fn percent(f: f64) -> String {
    let p = f * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn ratio(hits: Option<u64>, misses: Option<u64>) -> String {
    match (hits, misses) {
        (Some(h), Some(m)) if h + m > 0 => format!("{:.3}", h as f64 / (h + m) as f64),
        _ => "unsupported".into(),
    }
}

fn workload(w: &Workload) -> String {
    match *w {
        Workload::Zipf { s } => format!("Zipf s={s}"),
        Workload::ZipfScan { s, period, length } => {
            format!("Zipf s={s} + scan of {length} cold keys every {period}")
        }
    }
}

/// Evicted keys, and the SETs refused (Redis OOM) where there were any.
fn evicted(r: &EvictionRow) -> String {
    let n = r.evicted.map_or("unsupported".into(), |v| v.to_string());
    if r.refused_sets > 0 {
        format!("{n} ({} SETs refused: OOM)", r.refused_sets)
    } else {
        n
    }
}

fn eviction_cells(r: &EvictionRow) -> Vec<String> {
    vec![
        r.policy.label().to_string(),
        workload(&r.workload),
        format!(
            "{} ({})",
            percent(r.cache_fraction),
            format_size(r.limit_bytes)
        ),
        format!("{:.3}", r.hit_ratio()),
        ratio(r.server_hits, r.server_misses),
        evicted(r),
        r.used_bytes.map_or("unsupported".into(), format_size),
        format_ns(r.mean_ns),
        format_ns(r.p99_ns),
    ]
}

const EVICTION_HEADER: [&str; 9] = [
    "cache",
    "workload",
    "size",
    "hit ratio (client)",
    "hit ratio (server)",
    "evicted",
    "memory used",
    "mean",
    "p99",
];

/// The rows at the run's main size and the sweep skew (the headline table).
fn headline_rows(e: &EvictionSection) -> impl Iterator<Item = &EvictionRow> {
    e.rows.iter().filter(move |r| {
        r.workload == (Workload::Zipf { s: e.sweep_skew })
            && (r.cache_fraction - e.cache_fraction).abs() < 1e-9
    })
}

fn break_even_line(e: &EvictionSection) -> String {
    match e.break_even_hit_ratio {
        Some(b) => format!(
            "read-through pays off above a hit ratio of {b:.2} here (origin alone: {} mean; \
             from allkeys-lru's mean hit and miss at {})",
            format_ns(e.direct_mean_ns),
            percent(e.cache_fraction)
        ),
        None => format!(
            "read-through never pays off here: a hit costs as much as the origin alone ({} \
             mean)",
            format_ns(e.direct_mean_ns)
        ),
    }
}

fn stampede_line(s: &StampedeSection, r: &crate::record::cache_lab::StampedeRow) -> String {
    format!(
        "{}: {} of {} requests hit the database ({} of {} clients); p99 {}, max {}",
        r.strategy.label(),
        r.origin_queries,
        r.requests,
        r.clients_at_origin,
        s.clients,
        format_ns(r.p99_ns),
        format_ns(r.max_ns)
    )
}

/// The headline, one line each (terminal).
pub fn headline(c: &CacheLabSection) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(e) = &c.eviction {
        lines.push(format!(
            "eviction at {} of the working set, Zipf s={} ({} keys of {} B):",
            percent(e.cache_fraction),
            e.sweep_skew,
            e.keys,
            e.value_bytes
        ));
        for r in headline_rows(e) {
            lines.push(format!(
                "  {:<15} hit ratio {:.3} (server {}), {} evicted, mean {}, p99 {}",
                r.policy.label(),
                r.hit_ratio(),
                ratio(r.server_hits, r.server_misses),
                evicted(r),
                format_ns(r.mean_ns),
                format_ns(r.p99_ns)
            ));
        }
        lines.push(break_even_line(e));
    }
    if let Some(s) = &c.stampede {
        lines.push(format!(
            "stampede: {} clients, one hot key expiring after {} ms:",
            s.clients, s.ttl_ms
        ));
        lines.extend(s.rows.iter().map(|r| format!("  {}", stampede_line(s, r))));
    }
    lines.extend(c.skipped.iter().map(|s| format!("skipped: {s}")));
    lines
}

/// The markdown section.
pub fn section(c: &CacheLabSection) -> String {
    let mut md = String::from("\n## Caches when full or stormed (cache-lab)\n\n");
    md.push_str(
        "All on servers this run started (Redis reconfigured with CONFIG SET, memcached \
         started with a small -m); a user's server is never used here.\n\n",
    );
    if let Some(e) = &c.eviction {
        let _ = writeln!(
            md,
            "### Eviction\n\n{} keys of {} B values take {} in Redis (the working set; the \
             empty server's {} is added to each maxmemory). Each cache replays the same \
             key sequence read-through: {} keys of warm-up, then {} measured requests; on a \
             miss the origin is a {} ({} mean alone), then SET. memcached gets the same \
             bytes rounded to whole MiB (its -m; one slab page each), so its size differs \
             a little from Redis's, and its per-item overhead differs too. Server hit ratios \
             are from INFO stats keyspace_hits/misses (memcached: stats get_hits/misses) \
             over the measured requests.\n",
            e.keys,
            e.value_bytes,
            format_size(e.working_set_bytes),
            format_size(e.redis_baseline_bytes),
            e.keys,
            e.requests,
            e.origin,
            format_ns(e.direct_mean_ns)
        );
        let _ = writeln!(md, "- {}\n", break_even_line(e));
        md.push_str(&super::markdown::table(
            &EVICTION_HEADER,
            e.rows.iter().map(eviction_cells),
        ));
        let _ = writeln!(
            md,
            "\n![Hit ratio against cache size per policy](cache_lab_hit_ratio.png)\n"
        );
    }
    if let Some(s) = &c.stampede {
        let _ = writeln!(
            md,
            "### Stampede\n\n{} clients (threads) each request one hot key every {} ms; the \
             key is set with a {} ms TTL when the window starts, and the window lasts {} ms, \
             so it expires once inside it. Behind it: {} ({} mean alone).\n",
            s.clients,
            s.interval_ms,
            s.ttl_ms,
            s.window_ms,
            s.origin,
            format_ns(s.origin_mean_ns)
        );
        for r in &s.rows {
            let _ = writeln!(md, "- {}", stampede_line(s, r));
        }
        md.push('\n');
    }
    for s in &c.skipped {
        let _ = writeln!(md, "- skipped: {s}");
    }
    md
}
