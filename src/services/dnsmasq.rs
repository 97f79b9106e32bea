//! A managed `dnsmasq`: a DNS server on a free 127.0.0.1 UDP port, in the foreground,
//! reading no system files (`--conf-file=/dev/null`, `--no-resolv`, `--no-hosts`), its
//! pid file in a 0700 temp dir of the run, stopped on drop. Two roles: an authority
//! that answers every name under one domain itself (with a TTL, so answers can be
//! cached), and a caching resolver that forwards to it. Started by root it runs as
//! `nobody`; by anyone else, as that user.

use super::{
    find_binary, free_port, install_hint, private_dir, run_unprivileged, wait_until, ManagedProcess,
};
use crate::error::{Error, Result};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a managed dnsmasq does.
#[derive(Debug, Clone)]
pub enum Role {
    /// Answers every name under `domain` with `address`, TTL `ttl_s`.
    Authority {
        /// The domain ("ladder.test").
        domain: String,
        /// The answer.
        address: Ipv4Addr,
        /// The TTL of the answers, seconds.
        ttl_s: u32,
    },
    /// Forwards every query to `upstream` and caches the answers.
    Cache {
        /// The server to forward to.
        upstream: SocketAddr,
    },
}

/// A running managed dnsmasq. Fields drop in order: the server stops, then its dir.
pub struct ManagedDnsmasq {
    process: Option<ManagedProcess>,
    /// Where it answers.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl ManagedDnsmasq {
    /// Where dnsmasq is installed.
    pub fn binary() -> Result<PathBuf> {
        find_binary("dnsmasq", &[PathBuf::from("/usr/sbin")])
            .ok_or_else(|| Error::Unusable(install_hint("dnsmasq")))
    }

    /// The installed version: "dnsmasq 2.90".
    pub fn version() -> Option<String> {
        let out = Command::new(Self::binary().ok()?)
            .arg("--version")
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v = text.split_whitespace().nth(2)?;
        Some(format!("dnsmasq {v}"))
    }

    /// Starts dnsmasq in `role` and waits until it answers `probe` (a name it can
    /// resolve).
    pub fn start(role: &Role, probe: &str) -> Result<ManagedDnsmasq> {
        let bin = Self::binary()?;
        let dir = private_dir("dnsmasq")?;
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = Command::new(bin);
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--log-facility=-",
        ])
        .arg(format!("--port={port}"))
        .arg(format!(
            "--pid-file={}",
            dir.path().join("dnsmasq.pid").display()
        ));
        // Started as nobody rather than told to drop to it (`--user`): a process that
        // changes its own uid loses the parent-death signal.
        run_unprivileged(&mut cmd, &[dir.path()])?;
        match role {
            Role::Authority {
                domain,
                address,
                ttl_s,
            } => cmd
                .arg(format!("--address=/{domain}/{address}"))
                .arg(format!("--local-ttl={ttl_s}"))
                .arg("--cache-size=0"),
            Role::Cache { upstream } => cmd
                .arg(format!("--server={}#{}", upstream.ip(), upstream.port()))
                .arg("--cache-size=1000"),
        };
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ManagedProcess::spawn("dnsmasq", &mut cmd)?;
        wait_until("the managed dnsmasq", Duration::from_secs(10), || {
            process.check_alive().is_ok()
                && query_a(addr, probe, Duration::from_millis(200)).is_ok_and(|a| a.is_some())
        })?;
        process.check_alive()?;
        Ok(ManagedDnsmasq {
            process: Some(process),
            addr,
            _dir: dir,
        })
    }

    /// Stops the server now (the cache proof: a cached name resolves without it).
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }
}

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
        assert_eq!(parse_a(&a), Some(Ipv4Addr::new(127, 0, 0, 42)));
        let mut nx = a.clone();
        nx[3] = 0x83;
        assert_eq!(parse_a(&nx), None);
        assert!(query_packet(1, "a..b").is_err());
        assert!(parse_a(&a[..20]).is_none());
    }
}
