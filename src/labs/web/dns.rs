//! Name resolution, as far as it can be honest on one machine: a managed caching
//! resolver (dnsmasq) in front of a managed authority (a second dnsmasq) for a test
//! domain. Each name is asked twice: first it is forwarded to the authority, then it
//! comes from the resolver's cache; with the authority stopped a cached name still
//! resolves, which proves where the answer came from. Beside it, `localhost` through
//! the system resolver (getaddrinfo, `/etc/hosts` first), and what caching the host's
//! own resolver has. The queries are our own minimal DNS client over UDP.

use super::Samples;
use crate::error::{Error, Result};
use crate::record::http::{DnsSection, HostResolver};
use crate::services::dnsmasq::{query_a, ManagedDnsmasq, Role};
use std::net::{Ipv4Addr, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

/// The test domain the authority answers for (`.test` is reserved: never real).
pub const DOMAIN: &str = "ladder.test";
/// The address every test name resolves to.
pub const ANSWER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 42);
/// How long one query waits for its answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// What caching the host's own resolver has, read from files.
pub fn host_resolver() -> HostResolver {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let nsswitch_hosts = read("/etc/nsswitch.conf").lines().find_map(|l| {
        l.trim()
            .strip_prefix("hosts:")
            .map(|v| v.trim().to_string())
    });
    let nameservers = read("/etc/resolv.conf")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|v| v.trim().to_string())
        .collect();
    HostResolver {
        nsswitch_hosts,
        nscd: ["/var/run/nscd/socket", "/run/nscd/socket"]
            .iter()
            .any(|p| Path::new(p).exists()),
        systemd_resolved: Path::new("/run/systemd/resolve").is_dir(),
        nameservers,
    }
}

/// Resolves `samples` fresh names through a managed caching dnsmasq twice (first:
/// forwarded; again: cached), checks a cached name with the authority stopped, and
/// times `localhost` through getaddrinfo.
pub fn measure(samples: u64, mut on_progress: impl FnMut(f64)) -> Result<DnsSection> {
    let run = format!("r{:08x}", rand::random::<u32>());
    let probe = format!("probe.{run}.{DOMAIN}");
    let mut authority = ManagedDnsmasq::start(
        &Role::Authority {
            domain: DOMAIN.into(),
            address: ANSWER,
            ttl_s: 600,
        },
        &probe,
    )?;
    let cache = ManagedDnsmasq::start(
        &Role::Cache {
            upstream: authority.addr,
        },
        &probe,
    )?;
    let names: Vec<String> = (0..samples)
        .map(|i| format!("n{i}.{run}.{DOMAIN}"))
        .collect();
    let total = 3.0 * samples as f64;
    let mut done = 0.0;
    let mut timed = |s: &mut Samples, name: &str| -> Result<()> {
        crate::signal::check()?;
        let start = Instant::now();
        let answer = query_a(cache.addr, name, QUERY_TIMEOUT)?;
        s.record(start.elapsed());
        if answer != Some(ANSWER) {
            return Err(Error::Unusable(format!(
                "the managed resolver answered {answer:?} for {name}"
            )));
        }
        done += 1.0;
        on_progress(done / total);
        Ok(())
    };
    let (mut first, mut cached) = (Samples::new(), Samples::new());
    for name in &names {
        timed(&mut first, name)?;
    }
    for name in &names {
        timed(&mut cached, name)?;
    }
    authority.stop();
    let cached_without_upstream = names
        .first()
        .map(|n| query_a(cache.addr, n, QUERY_TIMEOUT).is_ok_and(|a| a == Some(ANSWER)));
    let mut hosts = Samples::new();
    for _ in 0..samples {
        crate::signal::check()?;
        let start = Instant::now();
        let found = ("localhost", 80)
            .to_socket_addrs()
            .map(|mut a| a.next().is_some());
        hosts.record(start.elapsed());
        if !found.unwrap_or(false) {
            return Err(Error::Unusable(
                "the system resolver does not resolve localhost".into(),
            ));
        }
        done += 1.0;
        on_progress(done / total);
    }
    let missing = || Error::Internal("no DNS samples".into());
    Ok(DnsSection {
        resolver: ManagedDnsmasq::version().unwrap_or_else(|| "dnsmasq".into()),
        first: first.dist().ok_or_else(missing)?,
        cached: cached.dist().ok_or_else(missing)?,
        cached_without_upstream,
        hosts_file: hosts.dist().ok_or_else(missing)?,
        host: host_resolver(),
    })
}
