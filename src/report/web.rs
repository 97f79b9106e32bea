//! The web's caches (`http` in the record) in words: the origin's 200, 304 and fresh
//! hits per body size with the verdict in the lecture's terms, the edge per cache
//! status with the origin's request counts, the request phases per URL, and name
//! resolution.

use super::writer::md_table;
use super::writer::terminal_block;
use super::Section;
use crate::error::Result;
use crate::record::http::{
    BodySize, CacheStatus, Dist, EdgeRow, HttpSection, OriginKind, OriginRow, Phase, PhaseRun,
    PhaseTarget,
};
use crate::record::Run;
use crate::units::{format_ns, format_size};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The web's caches section.
pub struct WebCaches;

impl Section for WebCaches {
    fn present(&self, run: &Run) -> bool {
        run.http.is_some()
    }

    fn terminal(&self, run: &Run) -> String {
        run.http.as_ref().map_or_else(String::new, |h| {
            terminal_block("the web's caches:", headline(h))
        })
    }

    fn markdown(&self, run: &Run) -> String {
        run.http.as_ref().map_or_else(String::new, section)
    }

    fn charts(&self, run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
        run.http
            .as_ref()
            .map_or(Ok(Vec::new()), |h| crate::plot::web::web_chart(h, dir))
    }
}

fn row(h: &HttpSection, size: BodySize, kind: OriginKind) -> Option<&OriginRow> {
    h.origin.iter().find(|r| r.size == size && r.kind == kind)
}

fn edge(h: &HttpSection, status: CacheStatus) -> Option<&EdgeRow> {
    h.edge.iter().find(|r| r.status == status)
}

fn percent_saved(part: f64, whole: f64) -> f64 {
    (1.0 - part / whole) * 100.0
}

/// Bytes on the wire of one request (both directions).
fn wire(r: &OriginRow) -> u64 {
    r.wire_sent_bytes + r.wire_received_bytes
}

/// The verdict per body size, in the lecture's terms.
pub fn origin_verdicts(h: &HttpSection) -> Vec<String> {
    BodySize::ALL
        .into_iter()
        .filter_map(|size| {
            let full = row(h, size, OriginKind::Full)?;
            let cond = row(h, size, OriginKind::NotModified)?;
            let fresh = row(h, size, OriginKind::FreshHit)?;
            Some(format!(
                "{}: a 304 saved {:.2}% of the bytes ({} instead of {}) and {:.0}% of the time \
                 ({} instead of {}); a fresh hit costs nothing on the network ({} bytes, {} \
                 in-process lookup).",
                size.label(),
                percent_saved(wire(cond) as f64, wire(full) as f64),
                format_size(wire(cond)),
                format_size(wire(full)),
                percent_saved(cond.latency.p50_ns, full.latency.p50_ns),
                format_ns(cond.latency.p50_ns),
                format_ns(full.latency.p50_ns),
                wire(fresh),
                format_ns(fresh.latency.p50_ns)
            ))
        })
        .collect()
}

/// What the edge shows: hits faster than misses and never at the origin, stale answers
/// while the origin is down.
pub fn edge_lines(h: &HttpSection) -> Vec<String> {
    let mut lines = Vec::new();
    if let (Some(miss), Some(hit)) = (edge(h, CacheStatus::Miss), edge(h, CacheStatus::Hit)) {
        lines.push(format!(
            "Edge HIT {} vs MISS {} (p50): {:.1}x faster; the {} HITs reached the origin {} \
             times, the {} MISSes {} times.",
            format_ns(hit.latency.p50_ns),
            format_ns(miss.latency.p50_ns),
            miss.latency.p50_ns / hit.latency.p50_ns,
            hit.latency.samples,
            hit.origin_requests,
            miss.latency.samples,
            miss.origin_requests
        ));
    }
    if let Some(stale) = edge(h, CacheStatus::Stale) {
        lines.push(format!(
            "With the origin stopped, the edge still answered all {} requests from expired \
             entries (STALE, p50 {}): each one first tried the origin and was refused.",
            stale.latency.samples,
            format_ns(stale.latency.p50_ns)
        ));
    }
    if !h.edge.is_empty() {
        lines.push(
            "This edge sits on the same machine as the origin and the client: a real CDN's \
             edge is near the user and far from the origin, so its MISSes also pay the \
             network distance to the origin that this loopback edge does not have."
                .into(),
        );
    }
    lines
}

fn insecure_warning(p: &PhaseRun) -> Option<String> {
    p.insecure.then(|| {
        format!(
            "WARNING: {} was measured with --http-insecure: its certificate was NOT checked. \
             Use this only for a self-signed server of your own.",
            p.url
        )
    })
}

/// What a reader of the phase table must know, one line each.
pub fn phase_lines(h: &HttpSection) -> Vec<String> {
    let mut lines: Vec<String> = h.phases.iter().filter_map(insecure_warning).collect();
    lines.dedup();
    if h.phases
        .iter()
        .any(|p| p.target == PhaseTarget::ManagedOrigin)
    {
        lines.push(
            "The managed HTTPS origin is on loopback, reached as `localhost` (resolved from \
             /etc/hosts); its self-signed certificate, made at start, is trusted by pinning \
             it. It is not an external API: the External API row comes from --http-url only."
                .into(),
        );
    }
    for p in h.phases.iter().filter(|p| p.reuse && p.new_connections > 0) {
        lines.push(format!(
            "{}: the server closed the kept connection {} times; those requests include a new \
             connection.",
            p.url, p.new_connections
        ));
    }
    let pair = |t| {
        let of = |reuse| h.phases.iter().find(|p| p.target == t && p.reuse == reuse);
        Some((of(false)?, of(true)?))
    };
    for t in [PhaseTarget::ManagedOrigin, PhaseTarget::User] {
        if let Some((fresh, kept)) = pair(t) {
            if let (Some(a), Some(b)) = (fresh.phase(Phase::Total), kept.phase(Phase::Total)) {
                lines.push(format!(
                    "{}: a kept connection answers in {} against {} on a new one (p50): {:.0}% \
                     of a request was setting up the connection.",
                    fresh.url,
                    format_ns(b.p50_ns),
                    format_ns(a.p50_ns),
                    percent_saved(b.p50_ns, a.p50_ns)
                ));
            }
        }
    }
    lines
}

/// The DNS lines: cache against forwarding, the proof, and the host's own caching.
pub fn dns_lines(h: &HttpSection) -> Vec<String> {
    let Some(d) = &h.dns else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "{}: a name asked again came from its cache in {} against {} when it was forwarded \
         to the upstream (p50){}; `localhost` from /etc/hosts took {}.",
        d.resolver,
        format_ns(d.cached.p50_ns),
        format_ns(d.first.p50_ns),
        match d.cached_without_upstream {
            Some(true) => ", and still resolved with the upstream stopped",
            Some(false) => ", but did NOT resolve with the upstream stopped",
            None => "",
        },
        format_ns(d.hosts_file.p50_ns)
    )];
    let host = &d.host;
    let mut caches = Vec::new();
    if host.nscd {
        caches.push("nscd");
    }
    if host.systemd_resolved {
        caches.push("systemd-resolved");
    }
    let order = host
        .nsswitch_hosts
        .as_deref()
        .map_or(String::new(), |o| format!("; nsswitch hosts: {o}"));
    let servers = if host.nameservers.is_empty() {
        "no nameserver in /etc/resolv.conf".to_string()
    } else {
        format!("nameservers {}", host.nameservers.join(", "))
    };
    lines.push(if caches.is_empty() {
        format!(
            "This host has no caching resolver of its own (no nscd, no systemd-resolved{order}): \
             every lookup of a name not in /etc/hosts goes to {servers}, unless the program \
             caches it."
        )
    } else {
        format!(
            "This host caches lookups with {} ({}); beyond it: {servers}.",
            caches.join(" and "),
            order.trim_start_matches("; ")
        )
    });
    lines
}

/// The headline lines for the terminal.
pub fn headline(h: &HttpSection) -> Vec<String> {
    let mut lines = origin_verdicts(h);
    lines.extend(edge_lines(h).into_iter().take(2));
    lines.extend(
        phase_lines(h)
            .into_iter()
            .filter(|l| l.starts_with("WARNING")),
    );
    lines.extend(dns_lines(h).into_iter().take(1));
    lines
}

fn p50(d: Option<&Dist>) -> String {
    d.map_or("—".into(), |d| format_ns(d.p50_ns))
}

/// The markdown section.
pub fn section(h: &HttpSection) -> String {
    let mut md = String::from("\n## The web's caches\n\n");
    let _ = writeln!(
        md,
        "Everything here runs on loopback: ladder's own origin serving the product \
         catalogue as JSON (ETag, `Cache-Control: max-age={}`), a managed nginx as the edge, \
         managed dnsmasq resolvers. It shows what each cache costs and saves on this \
         machine, not the distance a real network adds.\n\n![The web's caches](web.png)\n",
        h.max_age_s.map_or("?".into(), |a| a.to_string())
    );
    if !h.origin.is_empty() {
        let _ = writeln!(
            md,
            "### Browser cache and ETag: 200, 304, fresh hit\n\nOne kept connection; the \
             fresh hit is a lookup in the client's own cache while the entry is within its \
             max-age (no request at all).\n"
        );
        md.push_str(&md_table(
            &[
                "body",
                "answer",
                "p50",
                "p99",
                "bytes sent",
                "bytes received",
                "body",
            ],
            h.origin.iter().map(|r| {
                vec![
                    r.size.label().to_string(),
                    match (r.kind, r.status) {
                        (OriginKind::FreshHit, _) => "fresh hit (no request)".to_string(),
                        (_, Some(s)) => s.to_string(),
                        (_, None) => "—".into(),
                    },
                    format_ns(r.latency.p50_ns),
                    format_ns(r.latency.p99_ns),
                    r.wire_sent_bytes.to_string(),
                    r.wire_received_bytes.to_string(),
                    format_size(r.body_bytes),
                ]
            }),
        ));
        md.push('\n');
        for line in origin_verdicts(h) {
            let _ = writeln!(md, "- {line}");
        }
    }
    if !h.edge.is_empty() {
        let _ = writeln!(md, "\n### CDN-style edge (nginx proxy_cache)\n");
        md.push_str(&md_table(
            &[
                "X-Cache-Status",
                "body",
                "p50",
                "p99",
                "requests",
                "origin served",
                "origin",
            ],
            h.edge.iter().map(|r| {
                vec![
                    r.status.name().to_string(),
                    r.size.label().to_string(),
                    format_ns(r.latency.p50_ns),
                    format_ns(r.latency.p99_ns),
                    r.latency.samples.to_string(),
                    r.origin_requests.to_string(),
                    if r.origin_up { "up" } else { "stopped" }.to_string(),
                ]
            }),
        ));
        md.push('\n');
        for line in edge_lines(h) {
            let _ = writeln!(md, "- {line}");
        }
    }
    if !h.phases.is_empty() {
        let _ = writeln!(md, "\n### Request phases (p50)\n");
        let mut header = vec!["URL", "connection", "status"];
        header.extend(Phase::ALL.map(Phase::label));
        md.push_str(&md_table(
            &header,
            h.phases.iter().map(|p| {
                let mut cells = vec![
                    format!(
                        "{}{}",
                        p.url,
                        if p.insecure { " (**insecure**)" } else { "" }
                    ),
                    if p.reuse { "kept" } else { "new each" }.to_string(),
                    p.status.to_string(),
                ];
                cells.extend(Phase::ALL.map(|ph| p50(p.phase(ph))));
                cells
            }),
        ));
        md.push('\n');
        for line in phase_lines(h) {
            let _ = writeln!(md, "- {line}");
        }
    }
    if let Some(d) = &h.dns {
        let _ = writeln!(md, "\n### Name resolution\n");
        md.push_str(&md_table(
            &["lookup", "p50", "p99", "samples"],
            [
                ("first (forwarded to the upstream)", &d.first),
                ("again (from the resolver's cache)", &d.cached),
                ("`localhost` via getaddrinfo (/etc/hosts)", &d.hosts_file),
            ]
            .map(|(what, l)| {
                vec![
                    what.to_string(),
                    format_ns(l.p50_ns),
                    format_ns(l.p99_ns),
                    l.samples.to_string(),
                ]
            }),
        ));
        md.push('\n');
        for line in dns_lines(h) {
            let _ = writeln!(md, "- {line}");
        }
    }
    md
}
