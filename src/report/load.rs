//! The load section in words: one row per fixed-rate run, and for the product page the
//! lecture's claim as measured load ("without cache the database served R req/s at
//! p99 X using Y CPU-s/s; with Redis, H% of requests reached it and p99 fell to Z").

use super::writer::{md_table, Table};
use super::Section;
use crate::error::Result;
use crate::record::load::{rate_curves, target_label};
use crate::record::load::{ClientLimit, LoadRun, LoadSection, LoadTarget, PageCache};
use crate::record::rung::Engine;
use crate::record::Run;
use crate::units::format_ns;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The fixed-rate load section.
pub struct FixedRateLoad;

impl Section for FixedRateLoad {
    fn present(&self, run: &Run) -> bool {
        run.load.is_some()
    }

    fn terminal(&self, run: &Run) -> String {
        let Some(load) = &run.load else {
            return String::new();
        };
        let mut out = format!(
            "load (latency from each request's intended start):\n{}\n",
            Table::new(HEADER).rows(rows(load))
        );
        for line in lines(load) {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    fn markdown(&self, run: &Run) -> String {
        let Some(load) = &run.load else {
            return String::new();
        };
        let mut md = String::from(
            "\n## Load at a fixed rate\n\nOpen-loop: each request has an intended start; \
             latency counts from it (coordinated omission corrected), the uncorrected p99 \
             (from the actual send) beside it. Server CPU from /proc of the servers we \
             started.\n\n",
        );
        md.push_str(&md_table(
            &HEADER,
            rows(load).into_iter().map(|r| r.to_vec()),
        ));
        md.push('\n');
        for line in lines(load) {
            let _ = writeln!(md, "- {}", line.trim_start());
        }
        if load.runs.iter().any(|r| !r.per_second.is_empty()) {
            md.push_str("\n![load over time](load.png)\n");
        }
        if !rate_curves(load).is_empty() {
            md.push_str("\n![latency against rate](load-rate.png)\n");
        }
        md
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        run.load
            .as_ref()
            .map_or(Ok(Vec::new()), |l| crate::plot::load::load_chart(l, dir))
    }
}

/// The header of the load table.
pub const HEADER: [&str; 11] = [
    "target",
    "rate asked",
    "achieved",
    "p50",
    "p99",
    "p99.9",
    "max",
    "p99 uncorrected",
    "hit ratio",
    "DB queries/s",
    "server CPU/request",
];

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

/// One row per run.
pub fn rows(section: &LoadSection) -> Vec<[String; 11]> {
    section
        .runs
        .iter()
        .map(|r| {
            let p = &r.percentiles_ns;
            [
                target_label(&r.target),
                format!("{:.0}/s", r.rate_target),
                format!("{:.0}/s", r.rate_achieved),
                format_ns(p.p50),
                format_ns(p.p99),
                format_ns(p.p999),
                format_ns(p.max),
                format_ns(r.uncorrected_percentiles_ns.p99),
                opt(r.hit_ratio, |h| format!("{:.1}%", h * 100.0)),
                opt(r.db_queries_per_s, |q| format!("{q:.0}")),
                opt(r.server_cpu_s_per_request, |c| format_ns(c * 1e9)),
            ]
        })
        .collect()
}

fn cpu_words(r: &LoadRun) -> String {
    if r.server_cpu.is_empty() {
        return match (r.target, r.client_cpu_s_per_s) {
            (
                LoadTarget::ProductPage {
                    engine: Engine::Sqlite,
                    ..
                },
                Some(c),
            ) => format!("SQLite runs inside the client: client {c:.2} CPU-s/s"),
            _ => "server CPU unknown: not a server ladder started".into(),
        };
    }
    r.server_cpu
        .iter()
        .map(|s| format!("{} {:.2} CPU-s/s", s.server, s.cpu_s_per_s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sentences: how the rate was chosen, the lecture's claim as load, the hit
/// ratio's warm-up, and where the client set the pace.
pub fn lines(section: &LoadSection) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &section.product_page {
        out.push(format!(
            "product page: the aggregate JOIN of one product's orders ({} orders, {} \
             products, no index on product_id), keys Zipf s = {}, cache TTL {} s",
            s.orders, s.products, s.zipf_s, s.ttl_s
        ));
        if let Some(cap) = s.db_capacity {
            if s.rate_used < s.rate_asked {
                out.push(format!(
                    "the database alone sustained {cap:.0} req/s (closed loop, one \
                     connection), so every variant ran at {:.0} req/s instead of the {:.0} \
                     asked",
                    s.rate_used, s.rate_asked
                ));
            } else {
                out.push(format!(
                    "the database alone sustained {cap:.0} req/s (closed loop, one \
                     connection); every variant ran at {:.0} req/s",
                    s.rate_used
                ));
            }
        }
    }
    out.extend(knee_lines(section));
    let direct = section.runs.iter().find(|r| {
        matches!(
            r.target,
            LoadTarget::ProductPage {
                cache: PageCache::None,
                ..
            }
        )
    });
    if let Some(d) = direct {
        out.push(format!(
            "without cache the database served {:.0} req/s at p99 {} ({})",
            d.rate_achieved,
            format_ns(d.percentiles_ns.p99),
            cpu_words(d)
        ));
    }
    for r in &section.runs {
        let LoadTarget::ProductPage { cache, .. } = r.target else {
            continue;
        };
        let name = match cache {
            PageCache::None => continue,
            PageCache::Redis => "Redis",
            PageCache::Memcached => "memcached",
        };
        let reached = r.hit_ratio.map(|h| (1.0 - h) * 100.0);
        let mut s = format!(
            "with {name}, {} of requests reached the database ({} queries/s) and p99 {} {}",
            opt(reached, |p| format!("{p:.1}%")),
            opt(r.db_queries_per_s, |q| format!("{q:.0}")),
            match direct {
                Some(d) if r.percentiles_ns.p99 < d.percentiles_ns.p99 => "fell to",
                Some(_) => "rose to",
                None => "was",
            },
            format_ns(r.percentiles_ns.p99),
        );
        s.push_str(&format!(" ({})", cpu_words(r)));
        out.push(s);
        let curve: Vec<String> = r
            .per_second
            .iter()
            .take(10)
            .filter(|s| s.requests > 0)
            .map(|s| format!("{:.0}%", s.hits as f64 * 100.0 / s.requests as f64))
            .collect();
        out.push(format!(
            "  {name} hit ratio by second from a cold cache: {}",
            curve.join(" ")
        ));
    }
    for r in &section.runs {
        let label = target_label(&r.target);
        for limit in &r.client_limits {
            out.push(match limit {
                ClientLimit::RateMissed => format!(
                    "{label}: achieved {:.0} of {:.0} req/s: the client or the server could \
                     not keep the schedule; the corrected percentiles include the queueing",
                    r.rate_achieved, r.rate_target
                ),
                ClientLimit::ClientCpu => format!(
                    "{label}: the load generator used {:.2} CPU-s/s of the {} CPU its \
                     threads had: the client may be the bottleneck",
                    r.client_cpu_s_per_s.unwrap_or(0.0),
                    r.client_cpus
                ),
            });
        }
        if r.unsent > 0 {
            out.push(format!(
                "{label}: {} scheduled requests were never sent: the load generator was \
                 still behind when the run ended",
                r.unsent
            ));
        }
        if r.errors > 0 {
            out.push(format!(
                "{label}: {} requests failed (first: {})",
                r.errors,
                r.first_error.as_deref().unwrap_or("unknown")
            ));
        }
    }
    out
}

/// How far above its lowest-rate value p99 must rise to count as the knee.
pub const KNEE_FACTOR: f64 = 2.0;

/// Where each curve's p99 turns up: the first rate at which it exceeds
/// [`KNEE_FACTOR`] times its value at the lowest rate, and whether the service time
/// (the uncorrected p99) rose with it or the requests only queued.
fn knee_lines(section: &LoadSection) -> Vec<String> {
    rate_curves(section)
        .into_iter()
        .map(|(label, runs)| {
            let first = runs[0];
            let base = first.percentiles_ns.p99;
            let Some(i) = runs
                .iter()
                .position(|r| r.percentiles_ns.p99 > base * KNEE_FACTOR)
            else {
                let last = runs[runs.len() - 1];
                return format!(
                    "{label} against rate: p99 stayed within {KNEE_FACTOR}x of its {} at \
                     {:.0} req/s up to {:.0} req/s (p99 {} there): no knee in the rates tried",
                    format_ns(base),
                    first.rate_achieved,
                    last.rate_achieved,
                    format_ns(last.percentiles_ns.p99)
                );
            };
            // i > 0: the first run is the reference itself.
            let (before, at) = (runs[i - 1], runs[i]);
            let why = if at.uncorrected_percentiles_ns.p99
                > first.uncorrected_percentiles_ns.p99 * KNEE_FACTOR
            {
                format!(
                    "each request itself got slower (uncorrected p99 {})",
                    format_ns(at.uncorrected_percentiles_ns.p99)
                )
            } else {
                format!(
                    "requests queued behind slow ones while each took about as long \
                     (uncorrected p99 {})",
                    format_ns(at.uncorrected_percentiles_ns.p99)
                )
            };
            format!(
                "{label} against rate: p99 held near {} up to {:.0} req/s and turned up at \
                 {:.0} req/s ({}, {:.1}x): {why}",
                format_ns(base),
                before.rate_achieved,
                at.rate_achieved,
                format_ns(at.percentiles_ns.p99),
                at.percentiles_ns.p99 / base
            )
        })
        .collect()
}
