//! The web's caches, as recorded (`http` in `run.json`): the managed origin's answers
//! per body size (full 200, conditional 304, fresh hit from the client's own cache),
//! the CDN-style edge per cache status with the origin's request counts, request phases
//! per URL (DNS, connect, TLS, first byte, transfer) with connection reuse on and off,
//! and name resolution through a caching resolver beside `/etc/hosts`.

use serde::{Deserialize, Serialize};

/// Everything the web family measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSection {
    /// The `Cache-Control: max-age` the origin sent, seconds (absent where the origin
    /// did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_s: Option<u64>,
    /// The origin's answers per body size and kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin: Vec<OriginRow>,
    /// The edge per cache status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edge: Vec<EdgeRow>,
    /// Request phases per URL and reuse mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseRun>,
    /// Name resolution: a caching resolver first and repeated, and `/etc/hosts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsSection>,
}

/// A latency distribution, ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dist {
    /// Timed operations.
    pub samples: u64,
    /// Median.
    pub p50_ns: f64,
    /// 90th percentile.
    pub p90_ns: f64,
    /// 99th percentile.
    pub p99_ns: f64,
    /// Fastest.
    pub min_ns: f64,
    /// Slowest.
    pub max_ns: f64,
    /// Mean.
    pub mean_ns: f64,
}

/// A body size the origin serves: 1 KiB, 100 KiB or 1 MiB of JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BodySize {
    /// About 1 KiB.
    #[serde(rename = "1k")]
    K1,
    /// About 100 KiB.
    #[serde(rename = "100k")]
    K100,
    /// About 1 MiB.
    #[serde(rename = "1m")]
    M1,
}

impl BodySize {
    /// Every size, smallest first.
    pub const ALL: [BodySize; 3] = [BodySize::K1, BodySize::K100, BodySize::M1];

    /// The size the body is filled to (at least), bytes.
    pub fn target_bytes(self) -> usize {
        match self {
            BodySize::K1 => 1 << 10,
            BodySize::K100 => 100 << 10,
            BodySize::M1 => 1 << 20,
        }
    }

    /// The `size=` query value and the record's name: "1k", "100k", "1m".
    pub fn name(self) -> &'static str {
        match self {
            BodySize::K1 => "1k",
            BodySize::K100 => "100k",
            BodySize::M1 => "1m",
        }
    }

    /// "1 KiB", "100 KiB", "1 MiB".
    pub fn label(self) -> &'static str {
        match self {
            BodySize::K1 => "1 KiB",
            BodySize::K100 => "100 KiB",
            BodySize::M1 => "1 MiB",
        }
    }

    /// The size named by a `size=` query value.
    pub fn parse(s: &str) -> Option<BodySize> {
        BodySize::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// How the client got the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OriginKind {
    /// A plain GET answered 200 with the body.
    Full,
    /// A GET with `If-None-Match` answered 304, no body.
    NotModified,
    /// A lookup in the client's own cache while the entry is fresh (`max-age`): no
    /// request at all.
    FreshHit,
}

impl OriginKind {
    /// Every kind, in the order they are measured.
    pub const ALL: [OriginKind; 3] = [
        OriginKind::Full,
        OriginKind::NotModified,
        OriginKind::FreshHit,
    ];
}

/// One body size and kind of answer from the managed origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginRow {
    /// The body size asked for.
    pub size: BodySize,
    /// Full, conditional or fresh hit.
    pub kind: OriginKind,
    /// The HTTP status (absent for a fresh hit: nothing was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body bytes the client ended up with (from the network or its cache).
    pub body_bytes: u64,
    /// Bytes the client wrote to the socket, per request.
    pub wire_sent_bytes: u64,
    /// Bytes the client read from the socket, per request (headers and body).
    pub wire_received_bytes: u64,
    /// The latency of one request (or lookup).
    pub latency: Dist,
}

/// The edge's `X-Cache-Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CacheStatus {
    /// Not in the edge's cache: fetched from the origin.
    Miss,
    /// Served from the edge's cache.
    Hit,
    /// An expired entry served because the origin could not be reached.
    Stale,
}

impl CacheStatus {
    /// The header value: "MISS", "HIT", "STALE".
    pub fn name(self) -> &'static str {
        match self {
            CacheStatus::Miss => "MISS",
            CacheStatus::Hit => "HIT",
            CacheStatus::Stale => "STALE",
        }
    }
}

/// Requests through the edge that it answered with one cache status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeRow {
    /// The `X-Cache-Status` every timed request carried.
    pub status: CacheStatus,
    /// The body size.
    pub size: BodySize,
    /// Requests the origin served while these were timed.
    pub origin_requests: u64,
    /// Whether the origin was running.
    pub origin_up: bool,
    /// The latency of one request through the edge.
    pub latency: Dist,
}

/// One phase of a request, as curl's `-w` splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Name resolution (getaddrinfo).
    Dns,
    /// The TCP handshake.
    Connect,
    /// The TLS handshake.
    Tls,
    /// From the request's first byte written to the response's first byte read.
    Ttfb,
    /// From the response's first byte to its last.
    Transfer,
    /// The whole request.
    Total,
}

impl Phase {
    /// Every phase, in the order they happen.
    pub const ALL: [Phase; 6] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Ttfb,
        Phase::Transfer,
        Phase::Total,
    ];

    /// "DNS", "connect", "TLS", "first byte", "transfer", "total".
    pub fn label(self) -> &'static str {
        match self {
            Phase::Dns => "DNS",
            Phase::Connect => "connect",
            Phase::Tls => "TLS",
            Phase::Ttfb => "first byte",
            Phase::Transfer => "transfer",
            Phase::Total => "total",
        }
    }
}

/// Whose server a phase run timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseTarget {
    /// The run's own HTTPS origin on loopback (its certificate trusted by pinning it).
    ManagedOrigin,
    /// The URL the user named (`--http-url`).
    User,
}

/// One phase's distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseDist {
    /// The phase.
    pub phase: Phase,
    /// Its latency.
    pub latency: Dist,
}

/// Timed GETs of one URL in one reuse mode, phase by phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRun {
    /// The URL, credentials redacted.
    pub url: String,
    /// Whose server.
    pub target: PhaseTarget,
    /// Whether the connection was TLS.
    pub tls: bool,
    /// Whether certificate checks were switched off (`--http-insecure`).
    pub insecure: bool,
    /// Whether one connection was kept for every request (else a new one each).
    pub reuse: bool,
    /// The status of the last answer.
    pub status: u16,
    /// Body bytes of the last answer.
    pub body_bytes: u64,
    /// Connections opened during the timed GETs: one each without reuse, none with it
    /// unless the server closed the kept one.
    pub new_connections: u64,
    /// The phases measured; with reuse the connection's own phases (DNS, connect,
    /// TLS) are paid once, before timing, and are absent.
    pub phases: Vec<PhaseDist>,
}

impl PhaseRun {
    /// The distribution of `phase`, where it was measured.
    pub fn phase(&self, phase: Phase) -> Option<&Dist> {
        self.phases
            .iter()
            .find(|p| p.phase == phase)
            .map(|p| &p.latency)
    }
}

/// Name resolution through a managed caching resolver, beside `/etc/hosts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsSection {
    /// The resolver: "dnsmasq 2.90".
    pub resolver: String,
    /// The first query of a name: the resolver forwards it to its upstream.
    pub first: Dist,
    /// The same names asked again: answered from the resolver's cache.
    pub cached: Dist,
    /// Whether a cached name still resolved with the upstream stopped (the proof that
    /// it came from the cache); absent where that was not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_without_upstream: Option<bool>,
    /// `localhost` through the system resolver (getaddrinfo: `/etc/hosts` first).
    pub hosts_file: Dist,
    /// What caching the host's own resolver has.
    pub host: HostResolver,
}

/// The host's own name resolution, as far as files show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResolver {
    /// The `hosts:` line of /etc/nsswitch.conf, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsswitch_hosts: Option<String>,
    /// Whether nscd's socket exists (a caching name service daemon).
    pub nscd: bool,
    /// Whether systemd-resolved runs (its stub resolver's directory exists).
    pub systemd_resolved: bool,
    /// The nameservers of /etc/resolv.conf.
    #[serde(default)]
    pub nameservers: Vec<String>,
}
