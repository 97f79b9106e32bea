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
use crate::services::dnsmasq::{ManagedDnsmasq, Role};
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// The test domain the authority answers for (`.test` is reserved: never real).
pub const DOMAIN: &str = "ladder.test";
/// The address every test name resolves to.
pub const ANSWER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 42);
/// How long one query waits for its answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `server` for the A record of `name`; `None` when it answers without one (or
/// with an error code), an error when it does not answer at all.
pub fn query_a(server: SocketAddr, name: &str, timeout: Duration) -> Result<Option<Ipv4Addr>> {
    let io = |e: std::io::Error| Error::Unusable(format!("DNS query to {server}: {e}"));
    let sock = UdpSocket::bind(("127.0.0.1", 0)).map_err(io)?;
    sock.set_read_timeout(Some(timeout)).map_err(io)?;
    sock.connect(server).map_err(io)?;
    let id: u16 = rand::random();
    sock.send(&query_packet(id, name)?).map_err(io)?;
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    loop {
        let n = sock.recv(&mut buf).map_err(io)?;
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return Ok(parse_a(&buf[..n]));
        }
        if start.elapsed() > timeout {
            return Err(Error::Unusable(format!("DNS query to {server}: no answer")));
        }
    }
}

/// A recursive A query for `name`.
fn query_packet(id: u16, name: &str) -> Result<Vec<u8>> {
    let mut p = Vec::with_capacity(32 + name.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(Error::Input(format!("'{name}' is not a DNS name")));
        }
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    Ok(p)
}

/// The first A record of an answer, if the answer is a success and has one.
fn parse_a(p: &[u8]) -> Option<Ipv4Addr> {
    if p.len() < 12 || p[3] & 0x0f != 0 {
        return None;
    }
    let (qd, an) = (
        u16::from_be_bytes([p[4], p[5]]),
        u16::from_be_bytes([p[6], p[7]]),
    );
    let mut i = 12;
    let skip_name = |mut i: usize| -> Option<usize> {
        loop {
            let len = *p.get(i)? as usize;
            if len & 0xc0 == 0xc0 {
                return Some(i + 2);
            }
            i += 1 + len;
            if len == 0 {
                return Some(i);
            }
        }
    };
    for _ in 0..qd {
        i = skip_name(i)? + 4;
    }
    for _ in 0..an {
        i = skip_name(i)?;
        let rtype = u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]);
        let len = u16::from_be_bytes([*p.get(i + 8)?, *p.get(i + 9)?]) as usize;
        let data = p.get(i + 10..i + 10 + len)?;
        if rtype == 1 && len == 4 {
            return Some(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        i += 10 + len;
    }
    None
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_bad_names_are_refused() {
        let q = query_packet(0x1234, "a.ladder.test").unwrap();
        // An answer: the query with QR set, one answer pointing at the question name.
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1;
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 42]);
        assert_eq!(parse_a(&a), Some(ANSWER));
        let mut nx = a.clone();
        nx[3] = 0x83;
        assert_eq!(parse_a(&nx), None);
        assert!(query_packet(1, "a..b").is_err());
        assert!(parse_a(&a[..20]).is_none());
    }
}
