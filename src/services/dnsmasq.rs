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
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

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
                && crate::suite::web::dns::query_a(addr, probe, Duration::from_millis(200))
                    .is_ok_and(|a| a.is_some())
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
