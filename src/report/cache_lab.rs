//! The `ladder cache-lab` section of report.md and the terminal.

use super::writer::terminal_block;
use super::Section;
use crate::error::Result;
use crate::record::cache_lab::{
    CacheLabSection, EvictionRow, EvictionSection, Invalidation, LingerSection, OutageSection,
    Phase, Skip, SkipReason, StalenessRow, StalenessSection, StampedeSection, Summary, TtlSection,
    Workload,
};
use crate::record::Run;
use crate::units::{format_ns, format_size};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The cache-lab section.
pub struct CacheLab;

impl Section for CacheLab {
    fn present(&self, run: &Run) -> bool {
        run.cache_lab.is_some()
    }

    fn terminal(&self, run: &Run) -> String {
        run.cache_lab
            .as_ref()
            .map_or_else(String::new, |c| terminal_block("cache-lab:", headline(c)))
    }

    fn markdown(&self, run: &Run) -> String {
        run.cache_lab.as_ref().map_or_else(String::new, section)
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        run.cache_lab
            .as_ref()
            .map_or(Ok(Vec::new()), |c| crate::plot::cache_lab::charts(c, dir))
    }
}

/// A fraction as a percentage: "10%", "0.5%".
/// Why a part or a size was left out, in words.
fn skip_words(skip: &Skip) -> String {
    match skip {
        Skip::Reason(SkipReason::NeedsOwnServer { part }) => format!(
            "{part}: needs a server of our own (CONFIG SET, FLUSHALL or a kill), never done \
             to the Redis given with --redis-url"
        ),
        Skip::Reason(SkipReason::MemcachedUnderOneMib {
            fraction,
            budget_bytes,
        }) => format!(
            "memcached at {} of the working set ({budget_bytes} bytes): under half its 1 MiB \
             minimum (-m is whole MiB, one slab page each)",
            percent(*fraction)
        ),
        Skip::Text(text) => text.clone(),
    }
}

fn percent(f: f64) -> String {
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
    if let Some(t) = &c.ttl {
        lines.push(format!("{}:", ttl_intro(t)));
        lines.extend(t.rows.iter().map(|r| {
            format!(
                "  {} s as {} ms: hit ratio {:.3} (model {:.3})",
                r.lecture_s,
                r.ttl_ms,
                r.hit_ratio(),
                r.model_hit_ratio
            )
        }));
        if let Some(l) = &t.linger {
            lines.push(linger_line(l));
        }
    }
    if let Some(s) = &c.staleness {
        lines.push(format!(
            "staleness: a writer updates {} products every {} while {} readers read them:",
            s.keys,
            format_ns(s.write_interval_us as f64 * 1e3),
            s.readers
        ));
        lines.extend(s.rows.iter().map(|r| format!("  {}", staleness_line(s, r))));
    }
    if let Some(o) = &c.outage {
        lines.push(outage_line(o));
    }
    lines.extend(
        c.skipped
            .iter()
            .map(|s| format!("skipped: {}", skip_words(s))),
    );
    lines
}

fn ttl_intro(t: &TtlSection) -> String {
    format!(
        "hit ratio against TTL, the lecture's TTLs scaled by 1/{:.0} (Zipf s={} over {} keys, \
         {} requests/s)",
        1.0 / t.scale,
        t.skew,
        t.keys,
        t.rate_per_s
    )
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn linger_line(l: &LingerSection) -> String {
    let hz = l.hz.map_or("unknown".into(), |h| h.to_string());
    let past = l
        .samples
        .iter()
        .find(|s| s.at_ms >= l.ttl_ms + 50 && s.keys > 0)
        .map(|s| {
            format!(
                "; {} ms after the SETs ({} ms past the TTL) {} of them were still in memory",
                s.at_ms,
                s.at_ms - l.ttl_ms,
                s.keys
            )
        })
        .unwrap_or_default();
    match l.gone_ms {
        Some(g) => format!(
            "lingering: {} keys set with a {} ms TTL, then no traffic (hz {hz}){past}; the last \
             was freed by {g} ms, {} ms after they expired",
            l.keys,
            l.ttl_ms,
            g.saturating_sub(l.ttl_ms)
        ),
        None => format!(
            "lingering: {} keys set with a {} ms TTL, then no traffic (hz {hz}){past}; {} still \
             in memory at {} ms, when sampling stopped",
            l.keys,
            l.ttl_ms,
            l.samples.last().map_or(0, |s| s.keys),
            l.samples.last().map_or(0, |s| s.at_ms)
        ),
    }
}

fn windows(w: &Option<Summary>) -> [String; 3] {
    match w {
        Some(w) => [
            format_ns(w.p50_ns),
            format_ns(w.p99_ns),
            format_ns(w.max_ns),
        ],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

fn staleness_line(s: &StalenessSection, r: &StalenessRow) -> String {
    let stale = match &r.stale_window {
        Some(w) => format!(
            "stale for {} at the median, {} at p99, {} at most after the commit",
            format_ns(w.p50_ns),
            format_ns(w.p99_ns),
            format_ns(w.max_ns)
        ),
        None => "no stale read".into(),
    };
    let step = match &r.cache_step {
        Some(c) => format!(
            "its {} adds {} to each write",
            step_name(r.strategy),
            format_ns(c.mean_ns)
        ),
        None => "writes have no cache step".into(),
    };
    format!(
        "{}: {} of {} reads stale ({}), {stale}; {step} (a plain UPDATE alone: {})",
        r.strategy.label(),
        r.stale_reads,
        r.reads,
        percent(r.stale_fraction()),
        format_ns(s.plain_update.mean_ns)
    )
}

fn step_name(i: Invalidation) -> &'static str {
    match i {
        Invalidation::WriteThrough => "SET",
        Invalidation::DeleteOnWrite => "DEL",
        Invalidation::TtlOnly => "nothing",
    }
}

fn phase_p99(o: &OutageSection, p: Phase) -> String {
    o.phases
        .iter()
        .find(|x| x.phase == p)
        .and_then(|x| x.latency)
        .map_or("-".into(), |l| format_ns(l.p99_ns))
}

fn outage_line(o: &OutageSection) -> String {
    let sum =
        |f: fn(&crate::record::cache_lab::OutagePhase) -> u64| o.phases.iter().map(f).sum::<u64>();
    let kept = if o.failed_requests == 0 {
        "the service kept answering".to_string()
    } else {
        format!(
            "{} requests failed (the database failed too)",
            o.failed_requests
        )
    };
    let recovery = match o.recovery_ms {
        Some(r) => format!(
            "hit ratio back to 90% of the {:.3} before within {r} ms of the restart",
            o.pre_hit_ratio
        ),
        None => format!(
            "hit ratio not back to 90% of the {:.3} before by the end",
            o.pre_hit_ratio
        ),
    };
    format!(
        "cache down for {:.1} s: p99 went from {} to {} ({} after the restart), {} cache errors, \
         {} requests answered from the database, {kept}; {recovery}",
        (o.up_at_ms - o.down_at_ms) as f64 / 1000.0,
        phase_p99(o, Phase::Before),
        phase_p99(o, Phase::Down),
        phase_p99(o, Phase::After),
        sum(|p| p.cache_errors),
        sum(|p| p.fallbacks)
    )
}

fn ttl_md(md: &mut String, t: &TtlSection) {
    let _ = writeln!(
        md,
        "### TTL\n\n{}. One key sequence, read-through into one key space per TTL on the same \
         Redis (GET; on a miss, SET with the TTL), so every TTL sees the same requests: {} ms \
         of warm-up (the longest TTL), then {} ms counted. The hit ratio depends on requests \
         per key per TTL, so it holds for the real TTLs at a rate {:.0} times lower. Model: a \
         key requested r times a second misses once, then hits r × TTL times on average.\n",
        capitalized(&ttl_intro(t)),
        t.warmup_ms,
        t.measure_ms,
        1.0 / t.scale
    );
    md.push_str(&super::writer::md_table(
        &[
            "lecture's TTL",
            "TTL run",
            "hits",
            "misses",
            "hit ratio",
            "model",
        ],
        t.rows.iter().map(|r| {
            vec![
                format!("{} s", r.lecture_s),
                format!("{} ms", r.ttl_ms),
                r.hits.to_string(),
                r.misses.to_string(),
                format!("{:.3}", r.hit_ratio()),
                format!("{:.3}", r.model_hit_ratio),
            ]
        }),
    ));
    md.push_str("\n![Hit ratio against TTL](cache_lab_ttl.png)\n\n");
    if let Some(l) = &t.linger {
        let _ = writeln!(
            md,
            "#### Expired keys lingering\n\n- {}. Nothing reads them, so none is freed \
             lazily (on access): the active expiry cycle frees them as it samples keys \
             with a TTL. `keys` is what INFO keyspace counts (expired ones included until \
             freed), `expired` the growth of INFO stats expired_keys.\n",
            capitalized(&linger_line(l))
        );
        // Where the count changes, and the ends.
        let mut rows = Vec::new();
        let mut last = None;
        for (i, s) in l.samples.iter().enumerate() {
            if last != Some(s.keys) || i + 1 == l.samples.len() {
                rows.push(vec![
                    format!("{} ms", s.at_ms),
                    s.keys.to_string(),
                    s.expires.to_string(),
                    s.expired.to_string(),
                ]);
            }
            last = Some(s.keys);
        }
        md.push_str(&super::writer::md_table(
            &["after the SETs", "keys", "with a TTL", "expired"],
            rows,
        ));
        md.push('\n');
    }
}

fn staleness_md(md: &mut String, s: &StalenessSection) {
    let _ = writeln!(
        md,
        "### Invalidation and staleness\n\nA writer UPDATEs one of {} products (version and \
         price: {}) every {}, while {} readers each read one every {} through Redis (GET; on a \
         miss, the row, then SET), for {} ms per strategy. Write-through: UPDATE, then SET the \
         new value. Delete-on-write: UPDATE, then DEL (readers refill). TTL only: UPDATE only; \
         cached values expire after {} ms (a time-scaled short TTL). A read is stale when it \
         returns a version older than the newest one committed when it started (commit times \
         on one in-process monotonic clock); its window is the time since the UPDATE that made \
         it stale committed. Plain UPDATE alone (no readers, no cache): mean {}, p99 {}.\n",
        s.keys,
        s.origin,
        format_ns(s.write_interval_us as f64 * 1e3),
        s.readers,
        format_ns(s.read_interval_us as f64 * 1e3),
        s.window_ms,
        s.ttl_ms,
        format_ns(s.plain_update.mean_ns),
        format_ns(s.plain_update.p99_ns)
    );
    for r in &s.rows {
        let _ = writeln!(md, "- {}", staleness_line(s, r));
    }
    md.push('\n');
    md.push_str(&super::writer::md_table(
        &[
            "strategy",
            "reads",
            "stale",
            "stale window p50",
            "p99",
            "max",
            "cache step mean",
            "write mean",
            "write p99",
            "stale fills",
            "stale after settle",
        ],
        s.rows.iter().map(|r| {
            let [p50, p99, max] = windows(&r.stale_window);
            vec![
                r.strategy.label().to_string(),
                r.reads.to_string(),
                format!("{} ({})", r.stale_reads, percent(r.stale_fraction())),
                p50,
                p99,
                max,
                r.cache_step.map_or("-".into(), |c| format_ns(c.mean_ns)),
                format_ns(r.write.mean_ns),
                format_ns(r.write.p99_ns),
                r.stale_fills.to_string(),
                format!("{} (after {} ms)", r.stale_after_settle, r.settle_ms),
            ]
        }),
    ));
    let race = s
        .rows
        .iter()
        .find(|r| r.strategy == Invalidation::DeleteOnWrite)
        .map(|r| r.stale_fills);
    let _ = writeln!(
        md,
        "\nThe write penalty is the cache step (SET or DEL) each write adds; a whole write \
         (UPDATE and cache step) also carries the readers' load on the database, so set it \
         beside the plain UPDATE alone with care. *Stale fills* count delete-on-write's classic race (and write-through's twin): a \
         reader missed, read the row, and SET it after the writer's DEL (or SET) of a newer \
         version had completed, so the old value stays until the next write. {} *Stale after \
         settle*: products whose cached value was older than the database's once the writer \
         stopped (TTL only: checked after the TTL passed).\n",
        match race {
            Some(0) => "Not seen in this run for delete-on-write (not forced: it needs a \
                        refill to straddle a commit and its DEL)."
                .to_string(),
            Some(n) => format!("Seen {n} times for delete-on-write in this run."),
            None => String::new(),
        }
    );
}

fn outage_md(md: &mut String, o: &OutageSection) {
    let _ = writeln!(
        md,
        "### Cache outage\n\n{} readers each request one of {} products (Zipf s={}) every {} \
         cache-aside; their cache connections time out after {} ms, and any cache error sends \
         the request to the database (a fallback) and drops the connection (tried again at \
         most every 50 ms). Redis was killed (SIGKILL) at {} ms and restarted — empty, same \
         socket and password — answering again at {} ms.\n\n- {}.\n",
        o.clients,
        o.keys,
        o.skew,
        format_ns(o.interval_us as f64 * 1e3),
        o.cache_timeout_ms,
        o.down_at_ms,
        o.up_at_ms,
        outage_line(o)
    );
    md.push_str(&super::writer::md_table(
        &[
            "phase",
            "requests",
            "hit ratio",
            "cache errors",
            "fallbacks",
            "p50",
            "p99",
            "max",
        ],
        o.phases.iter().map(|p| {
            let n = p.latency.map_or(0, |l| l.n);
            let l =
                |f: fn(&Summary) -> f64| p.latency.as_ref().map_or("-".into(), |s| format_ns(f(s)));
            vec![
                p.phase.label().to_string(),
                n.to_string(),
                format!("{:.3}", p.hits as f64 / n.max(1) as f64),
                p.cache_errors.to_string(),
                p.fallbacks.to_string(),
                l(|s| s.p50_ns),
                l(|s| s.p99_ns),
                l(|s| s.max_ns),
            ]
        }),
    ));
    md.push_str("\n![Latency and hit ratio through the outage](cache_lab_outage.png)\n\n");
}

/// The markdown section.
pub fn section(c: &CacheLabSection) -> String {
    let mut md = String::from("\n## Caches when full, expiring, stale or down (cache-lab)\n\n");
    match &c.user_redis {
        None => md.push_str(
            "All on servers this run started (Redis reconfigured with CONFIG SET, flushed, \
             killed and restarted; memcached started with a small -m); a user's server is \
             never used for those.\n\n",
        ),
        Some(url) => {
            let _ = writeln!(
                md,
                "Stampede and staleness ran on the Redis at {url} (given with --redis-url), \
                 inside this run's key prefix, keys removed after, its configuration \
                 untouched; PostgreSQL is a managed server. The parts that need a server of \
                 our own were skipped (below).\n"
            );
        }
    }
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
        md.push_str(&super::writer::md_table(
            &EVICTION_HEADER,
            e.rows.iter().map(eviction_cells),
        ));
        if e.has_size_sweep() {
            let _ = writeln!(
                md,
                "\n![Hit ratio against cache size per policy](cache_lab_hit_ratio.png)\n"
            );
        }
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
    if let Some(t) = &c.ttl {
        ttl_md(&mut md, t);
    }
    if let Some(s) = &c.staleness {
        staleness_md(&mut md, s);
    }
    if let Some(o) = &c.outage {
        outage_md(&mut md, o);
    }
    for s in &c.skipped {
        let _ = writeln!(md, "- skipped: {}", skip_words(s));
    }
    md
}
