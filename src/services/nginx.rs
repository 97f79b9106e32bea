//! A managed `nginx` as a CDN-style edge: a caching reverse proxy in front of an origin
//! on loopback. Its config is written into a 0700 temp dir of the run (pid file, logs,
//! every temp path and the `proxy_cache_path` inside it); it listens on a free
//! 127.0.0.1 port, runs in the foreground (`daemon off`) in its own process group, and
//! is stopped on drop. Every answer carries `X-Cache-Status` (MISS, HIT, STALE...);
//! `proxy_cache_use_stale error timeout` serves expired entries while the origin is
//! down.
//!
//! One process (`master_process off`): nginx's workers outlive a killed master, so with
//! a master a SIGKILLed ladder would leave them running; a single process gets the
//! parent-death signal like every managed server. Started by root it runs as `nobody`
//! (the temp dir handed to nobody); by anyone else, as that user. Without a master
//! there is no cache manager to enforce `max_size`: the cache holds only what the run
//! asks for (a few hundred 1 KiB entries).

use super::ManagedProcess;
use super::{
    find_binary, free_port, install_hint, private_dir, run_unprivileged, wait_until, write_private,
};
use crate::error::{Error, Result};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The bound on the edge's cache on disk.
pub const CACHE_MAX: &str = "64m";

/// A running managed nginx. Fields drop in order: the server stops, then its dir goes.
pub struct ManagedNginx {
    process: ManagedProcess,
    /// The loopback port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl ManagedNginx {
    /// Where nginx is installed.
    pub fn binary() -> Result<PathBuf> {
        find_binary("nginx", &[PathBuf::from("/usr/sbin")])
            .ok_or_else(|| Error::Unusable(install_hint("nginx")))
    }

    /// Starts nginx caching `http://127.0.0.1:<origin_port>` and waits until it
    /// accepts connections.
    pub fn start(origin_port: u16) -> Result<ManagedNginx> {
        let bin = Self::binary()?;
        let dir = private_dir("nginx")?;
        let d = dir.path().display().to_string();
        let port = free_port()?;
        let config = dir.path().join("nginx.conf");
        write_private(
            &config,
            &format!(
                "daemon off;\nmaster_process off;\n\
                 pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n\
                 access_log {d}/access.log;\n\
                 client_body_temp_path {d}/client_body;\nproxy_temp_path {d}/proxy_temp;\n\
                 fastcgi_temp_path {d}/fastcgi_temp;\nuwsgi_temp_path {d}/uwsgi_temp;\n\
                 scgi_temp_path {d}/scgi_temp;\n\
                 proxy_cache_path {d}/cache levels=1:2 keys_zone=ladder:1m max_size={CACHE_MAX} \
                 inactive=10m use_temp_path=off;\n\
                 server {{\n\
                 listen 127.0.0.1:{port};\n\
                 location / {{\n\
                 proxy_pass http://127.0.0.1:{origin_port};\n\
                 proxy_cache ladder;\n\
                 proxy_cache_use_stale error timeout;\n\
                 proxy_connect_timeout 2s;\n\
                 add_header X-Cache-Status $upstream_cache_status always;\n\
                 }}\n}}\n}}\n"
            ),
        )?;
        let mut cmd = Command::new(bin);
        run_unprivileged(&mut cmd, &[dir.path(), config.as_path()])?;
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ManagedProcess::spawn("nginx", &mut cmd)?;
        let ready = wait_until("the managed nginx", Duration::from_secs(10), || {
            process.check_alive().is_ok()
                && TcpStream::connect_timeout(
                    &([127, 0, 0, 1], port).into(),
                    Duration::from_millis(200),
                )
                .is_ok()
        });
        if let Err(e) = ready.and_then(|_| process.check_alive()) {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            return Err(match log.lines().rfind(|l| l.contains("[emerg]")) {
                Some(line) => Error::Unusable(format!("nginx did not start: {line}")),
                None => e,
            });
        }
        Ok(ManagedNginx { process, port, dir })
    }

    /// The master's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The run's temp dir of this nginx.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}
