//! The web's caches, measured on loopback: the managed origin ([`origin`]) answering a
//! full 200, a conditional 304 and, in the client's own cache, a fresh hit that needs
//! no request; a CDN-style edge (a managed nginx) in front of it, MISS, HIT and STALE;
//! request phases of the HTTPS origin (`rungs::http::phases`) with reuse on and off; and name
//! resolution through a caching resolver ([`dns`]). Numbers and typed facts only: the
//! words are in `report::web`.

pub mod dns;
pub mod origin;

use crate::error::{Error, Result};
use crate::record::http::{
    BodySize, CacheStatus, EdgeRow, HttpSection, OriginKind, OriginRow, PhaseTarget,
};
use crate::record::rung::{Family, Skipped};
use crate::rungs::db::DataSet;
use crate::rungs::http::client::{Client, Response, Trust};
use crate::rungs::http::parse_url;
use crate::rungs::http::phases::Samples;
use crate::services::nginx::ManagedNginx;
use origin::{product_path, Origin};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How much the web family measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebConfig {
    /// Timed requests per body size and kind at the origin.
    pub origin_samples: u64,
    /// Timed requests per cache status at the edge.
    pub edge_samples: u64,
    /// Timed GETs per reuse mode of the phase runs.
    pub phase_samples: u64,
    /// Names resolved (each twice) and `localhost` lookups.
    pub dns_samples: u64,
    /// The origin's `Cache-Control: max-age`, seconds.
    pub max_age_s: u64,
}

impl WebConfig {
    /// A full run.
    pub const DEFAULT: WebConfig = WebConfig {
        origin_samples: 200,
        edge_samples: 100,
        phase_samples: 50,
        dns_samples: 50,
        max_age_s: 60,
    };
    /// A smoke test.
    pub const QUICK: WebConfig = WebConfig {
        origin_samples: 20,
        edge_samples: 10,
        phase_samples: 5,
        dns_samples: 5,
        max_age_s: 60,
    };
}

/// The body size the edge is measured with.
pub const EDGE_SIZE: BodySize = BodySize::K1;
/// The max-age of the entries the STALE rows read (they must expire during the run).
const STALE_MAX_AGE_S: u64 = 1;

/// Measures everything of the web family that is installed; the pieces that are not
/// (nginx, dnsmasq) come back as skipped, with the hint to install them.
pub fn measure(
    cfg: WebConfig,
    data: &DataSet,
    mut on_progress: impl FnMut(f64),
) -> Result<(HttpSection, Vec<Skipped>)> {
    let mut skipped = Vec::new();
    let mut section = HttpSection {
        max_age_s: Some(cfg.max_age_s),
        origin: Vec::new(),
        edge: Vec::new(),
        phases: Vec::new(),
        dns: None,
    };
    let mut origin = Origin::start(data, cfg.max_age_s, false)?;
    section.origin = client_caching(&origin, cfg.origin_samples, |f| on_progress(f * 0.4))?;
    on_progress(0.4);
    let mut piece = |name: &str, outcome: Result<()>| -> Result<()> {
        match outcome {
            Err(Error::Interrupted) => Err(Error::Interrupted),
            Err(e) => {
                skipped.push(Skipped {
                    family: Family::Web,
                    rung: name.to_string(),
                    reason: e.to_string(),
                });
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    };
    let edge = edge(&mut origin, cfg.edge_samples).map(|rows| section.edge = rows);
    piece("edge", edge)?;
    on_progress(0.7);
    let https = Origin::start(data, cfg.max_age_s, true)?;
    section.phases = managed_phases(&https, cfg.phase_samples, |f| on_progress(0.7 + f * 0.15))?;
    drop(https);
    let dns = dns::measure(cfg.dns_samples, |f| on_progress(0.85 + f * 0.15))
        .map(|d| section.dns = Some(d));
    piece("dns", dns)?;
    Ok((section, skipped))
}

/// The client's own cache, as a browser keeps one: the body, its ETag, and until when
/// it is fresh.
#[derive(Default)]
pub struct BrowserCache {
    entries: HashMap<String, CacheEntry>,
}

struct CacheEntry {
    body: Vec<u8>,
    etag: Option<String>,
    fresh_until: Instant,
}

impl BrowserCache {
    /// Keeps a 200 answer for `url`, fresh for its `max-age`.
    pub fn store(&mut self, url: &str, r: &Response) {
        let max_age = r
            .header("cache-control")
            .and_then(|v| {
                v.split(',')
                    .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        self.entries.insert(
            url.to_string(),
            CacheEntry {
                body: r.body.clone(),
                etag: r.header("etag").map(str::to_string),
                fresh_until: Instant::now() + Duration::from_secs(max_age),
            },
        );
    }

    /// The body of `url` when it is still fresh: no request needed.
    pub fn fresh(&self, url: &str) -> Option<&[u8]> {
        self.entries
            .get(url)
            .filter(|e| Instant::now() < e.fresh_until)
            .map(|e| e.body.as_slice())
    }

    /// The ETag to revalidate `url` with.
    pub fn etag(&self, url: &str) -> Option<&str> {
        self.entries.get(url).and_then(|e| e.etag.as_deref())
    }
}

/// Per body size: full 200s, conditional 304s and fresh hits in the client's cache,
/// all of one product, on one kept connection.
fn client_caching(
    origin: &Origin,
    samples: u64,
    mut on_progress: impl FnMut(f64),
) -> Result<Vec<OriginRow>> {
    let mut rows = Vec::new();
    let steps = (BodySize::ALL.len() * OriginKind::ALL.len()) as f64;
    for (si, size) in BodySize::ALL.into_iter().enumerate() {
        let url = origin.url("127.0.0.1", 1, size);
        let mut client = Client::new(parse_url(&url)?, url.clone(), Trust::Roots)?;
        let path = product_path(1, size);
        let mut cache = BrowserCache::default();
        let first = client.get(&path, &[], true)?;
        expect_status(&first, 200, &url)?;
        cache.store(&url, &first);
        let etag = cache
            .etag(&url)
            .ok_or_else(|| Error::Internal(format!("{url}: the origin sent no ETag")))?
            .to_string();
        for (ki, kind) in OriginKind::ALL.into_iter().enumerate() {
            let mut s = Samples::new();
            let (mut sent, mut received, mut body, mut status) = (0, 0, 0, None);
            for _ in 0..samples {
                crate::signal::check()?;
                match kind {
                    OriginKind::FreshHit => {
                        let start = Instant::now();
                        let hit = cache.fresh(&url).map(|b| std::hint::black_box(b.len()));
                        s.record(start.elapsed());
                        body = hit.ok_or_else(|| {
                            Error::Internal(format!("{url}: the cached entry went stale"))
                        })? as u64;
                    }
                    OriginKind::Full | OriginKind::NotModified => {
                        let (want, headers) = if kind == OriginKind::Full {
                            (200, vec![])
                        } else {
                            (304, vec![("If-None-Match", etag.as_str())])
                        };
                        let r = client.get(&path, &headers, true)?;
                        s.record(r.timing.total);
                        expect_status(&r, want, &url)?;
                        (sent, received, status) = (r.sent, r.received, Some(r.status));
                        body = if kind == OriginKind::Full {
                            r.body.len() as u64
                        } else {
                            // A 304 tells the client to use what it holds.
                            cache.fresh(&url).map_or(0, |b| b.len() as u64)
                        };
                    }
                }
            }
            rows.push(OriginRow {
                size,
                kind,
                status,
                body_bytes: body,
                wire_sent_bytes: sent,
                wire_received_bytes: received,
                latency: s
                    .dist()
                    .ok_or_else(|| Error::Internal("no origin samples".into()))?,
            });
            on_progress((si * OriginKind::ALL.len() + ki + 1) as f64 / steps);
        }
    }
    Ok(rows)
}

fn expect_status(r: &Response, want: u16, url: &str) -> Result<()> {
    if r.status == want {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "{url} answered {} where {want} was expected",
            r.status
        )))
    }
}

/// The managed nginx in front of `origin`: MISS (each request a new URL), HIT (one URL
/// again and again), then STALE (entries with a 1 s max-age, expired, the origin
/// stopped). Stops the origin.
pub fn edge(origin: &mut Origin, samples: u64) -> Result<Vec<EdgeRow>> {
    let nginx = ManagedNginx::start(origin.port())?;
    let base = format!("http://127.0.0.1:{}", nginx.port);
    let mut client = Client::new(parse_url(&base)?, base.clone(), Trust::Roots)?;
    let tag = rand::random::<u32>();
    let path = |i: u64, max_age: Option<u64>| {
        let mut p = format!("{}&run={tag:08x}&n={i}", product_path(1, EDGE_SIZE));
        if let Some(a) = max_age {
            p.push_str(&format!("&max_age={a}"));
        }
        p
    };
    let miss = edge_row(
        &mut client,
        origin,
        CacheStatus::Miss,
        (0..samples).map(|i| path(i, None)),
    )?;
    let hit = edge_row(
        &mut client,
        origin,
        CacheStatus::Hit,
        (0..samples).map(|_| path(0, None)),
    )?;
    // Entries that expire at once: primed while the origin is up, then read stale.
    let stale_urls = samples.min(20);
    for i in 0..stale_urls {
        client.get(&path(samples + i, Some(STALE_MAX_AGE_S)), &[], true)?;
    }
    origin.stop();
    // nginx counts max-age in whole seconds: wait until the entries have expired.
    std::thread::sleep(Duration::from_millis(STALE_MAX_AGE_S * 1000 + 1100));
    let stale = edge_row(
        &mut client,
        origin,
        CacheStatus::Stale,
        (0..samples).map(|i| path(samples + i % stale_urls, Some(STALE_MAX_AGE_S))),
    )?;
    drop(nginx);
    Ok(vec![miss, hit, stale])
}

/// Times GETs of `paths` through the edge, each of which must carry `status`, and
/// counts the requests the origin served meanwhile.
fn edge_row(
    client: &mut Client,
    origin: &Origin,
    status: CacheStatus,
    paths: impl Iterator<Item = String>,
) -> Result<EdgeRow> {
    let before = origin.served();
    let mut s = Samples::new();
    for p in paths {
        crate::signal::check()?;
        let r = client.get(&p, &[], true)?;
        s.record(r.timing.total);
        let got = r.header("x-cache-status").unwrap_or("none");
        if got != status.name() || r.status != 200 {
            return Err(Error::Unusable(format!(
                "the edge answered {} with X-Cache-Status {got} where {} was expected",
                r.status,
                status.name()
            )));
        }
    }
    Ok(EdgeRow {
        status,
        size: EDGE_SIZE,
        origin_requests: origin.served() - before,
        origin_up: origin.is_running(),
        latency: s
            .dist()
            .ok_or_else(|| Error::Internal("no edge samples".into()))?,
    })
}

/// The HTTPS origin's phases through `localhost` (the name resolves through
/// /etc/hosts), its certificate trusted by pinning, reuse off then on.
fn managed_phases(
    origin: &Origin,
    samples: u64,
    mut on_progress: impl FnMut(f64),
) -> Result<Vec<crate::record::http::PhaseRun>> {
    let url = origin.url("localhost", 1, BodySize::K1);
    let cert = origin
        .certificate()
        .ok_or_else(|| Error::Internal("the HTTPS origin has no certificate".into()))?
        .clone();
    let mut client = Client::new(parse_url(&url)?, url.clone(), Trust::Pinned(cert))?;
    let mut runs = Vec::new();
    for (i, reuse) in [false, true].into_iter().enumerate() {
        let (run, _) = crate::rungs::http::phases::phase_run(
            &mut client,
            &url,
            PhaseTarget::ManagedOrigin,
            false,
            reuse,
            samples,
            |f| on_progress((i as f64 + f) / 2.0),
        )?;
        runs.push(run);
    }
    Ok(runs)
}
