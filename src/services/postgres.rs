//! A managed PostgreSQL: `initdb` into a run-owned 0700 temp dir, then `postgres` itself
//! as a [`ManagedProcess`] on a free loopback port plus a unix socket in that dir,
//! stopped (immediate shutdown: the data is thrown away) when dropped. Every login, TCP
//! and socket alike, needs the run's random password (SCRAM-SHA-256), which initdb
//! reads from a 0600 file in the temp dir (`--pwfile`, never argv) removed right after.
//!
//! PostgreSQL refuses to run as root. As root, `initdb` and `postgres` run as the
//! `postgres` user, with the temp dir owned by it and as their working directory. The
//! switch is made by the spawned child itself (setgid/setuid before exec) rather than
//! through `runuser`: the postmaster is then our direct child, so its pid is the one we
//! signal, wait for, and report, with no wrapper process in between.

use super::{
    as_server_user, detach_but_tie, find_binary, free_port, give_to, install_hint, private_dir,
    random_password, run_as, wait_until, write_private, ManagedProcess, RunAs,
};
use crate::error::{Error, Result};
use crate::record::rung::Transport;
use crate::target::postgres::{pg_config, PgTarget};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The database superuser of a managed server.
pub const SUPERUSER: &str = "postgres";

/// A running managed PostgreSQL. Fields drop in order: the server stops, then its dir goes.
pub struct ManagedPostgres {
    process: ManagedProcess,
    launch: Launch,
    /// The loopback TCP port (also the unix socket's port number).
    pub port: u16,
    /// The directory holding the unix socket `.s.PGSQL.<port>`.
    pub socket_dir: PathBuf,
    /// The major version, from the binary directory ("15"), or "unknown".
    pub version: String,
    _dir: tempfile::TempDir,
}

impl ManagedPostgres {
    /// The directory of `initdb` and `postgres`: the highest version under
    /// /usr/lib/postgresql, else PATH; an install hint where there is none.
    pub fn bin_dir() -> Result<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .filter(|(_, bin)| bin.join("initdb").is_file() && bin.join("postgres").is_file())
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Ok(bin);
        }
        find_binary("initdb", &[])
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|d| d.join("postgres").is_file())
            .ok_or_else(|| Error::Unusable(install_hint("PostgreSQL")))
    }

    /// Starts a server whose superuser logs in with a random per-run password
    /// (SCRAM-SHA-256) on both transports.
    pub fn start() -> Result<ManagedPostgres> {
        let bin = Self::bin_dir()?;
        let version = bin
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .filter(|n| n.parse::<u32>().is_ok())
            .unwrap_or("unknown")
            .to_string();
        let run_as = run_as(&[c"postgres"])?;
        let dir = private_dir("pg")?;
        let data = dir.path().join("data");
        let log_path = dir.path().join("postgres.log");
        File::create(&log_path).map_err(|e| Error::io(&log_path, e))?;
        give_to(dir.path(), run_as)?;

        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let password = random_password();
        let pwfile = dir.path().join("pwfile");
        write_private(&pwfile, &format!("{password}\n"))?;
        give_to(&pwfile, run_as)?;
        initdb
            .arg("--auth=scram-sha-256")
            .arg(format!("--pwfile={}", pwfile.display()));
        as_server_user(&mut initdb, dir.path(), run_as);
        detach_but_tie(&mut initdb);
        let out = initdb
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Unusable(format!("could not run initdb: {e}")))?;
        let _ = std::fs::remove_file(&pwfile);
        if !out.status.success() {
            return Err(Error::Unusable(format!(
                "initdb failed ({}): {}",
                out.status,
                last_line(&String::from_utf8_lossy(&out.stderr))
            )));
        }

        let port = free_port()?;
        let socket_dir = dir.path().to_path_buf();
        let launch = Launch {
            bin,
            run_as,
            log_path,
            port,
            dir: socket_dir.clone(),
            password,
        };
        Ok(ManagedPostgres {
            process: launch.spawn()?,
            launch,
            port,
            socket_dir,
            version,
            _dir: dir,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.socket_dir.join("data")
    }

    /// Stops the server with a fast shutdown (a checkpoint: nothing is lost) and starts
    /// it again on the same port, socket and password: its shared buffers start empty.
    pub fn restart(&mut self) -> Result<()> {
        self.process.stop(libc::SIGINT, Duration::from_secs(60))?;
        self.process = self.launch.spawn()?;
        Ok(())
    }

    /// The TCP URL (superuser with the run's password, database `postgres`).
    pub fn tcp_url(&self) -> String {
        self.url("127.0.0.1")
    }

    /// This server as a target of the run, over TCP and over its unix socket.
    pub fn target(&self) -> Result<PgTarget> {
        Ok(PgTarget {
            transports: vec![
                (Transport::Tcp, pg_config(&self.tcp_url())?),
                (Transport::UnixSocket, pg_config(&self.unix_url())?),
            ],
            server: format!(
                "managed PostgreSQL {} (postmaster pid {}, temp dir, loopback)",
                self.version,
                self.pid()
            ),
        })
    }

    /// The unix-socket URL: the socket dir, percent-encoded, as the host.
    pub fn unix_url(&self) -> String {
        let host: String = self
            .socket_dir
            .to_string_lossy()
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.url(&host)
    }

    fn url(&self, host: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@{host}:{}/postgres",
            self.launch.password, self.port
        )
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// How the managed server is started, kept for [`ManagedPostgres::restart`].
struct Launch {
    bin: PathBuf,
    run_as: Option<RunAs>,
    log_path: PathBuf,
    port: u16,
    dir: PathBuf,
    password: String,
}

impl Launch {
    /// Starts `postgres` on the data directory and waits until it answers.
    fn spawn(&self) -> Result<ManagedProcess> {
        let (bin, data, port, dir) = (&self.bin, self.dir.join("data"), self.port, &self.dir);
        let log_path = &self.log_path;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(log_path)
            .map_err(|e| Error::io(log_path, e))?;
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            // Room for the most clients a flag may ask for (256: --connections,
            // --clients) and the run's own sessions beside them.
            .args(["-c", "max_connections=300"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        as_server_user(&mut cmd, dir, self.run_as);
        let mut process = ManagedProcess::spawn("postgres", &mut cmd)?;
        let mut probe = ::postgres::Config::new();
        probe
            .host_path(dir)
            .port(port)
            .user(SUPERUSER)
            .password(&self.password)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(1));
        let ready = wait_until("the managed postgres", Duration::from_secs(30), || {
            process.check_alive().is_ok()
                && probe
                    .connect(::postgres::NoTls)
                    .and_then(|mut c| c.simple_query("SELECT 1"))
                    .is_ok()
        });
        if let Err(e) = ready.and_then(|()| process.check_alive()) {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            return Err(Error::Unusable(format!("{e}: {}", last_line(&log))));
        }
        Ok(process)
    }
}

impl Drop for ManagedPostgres {
    fn drop(&mut self) {
        // Immediate shutdown: no checkpoint of data that is deleted next. The
        // ManagedProcess drop then waits for the exit (and escalates if need be).
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe {
            libc::kill(self.process.pid() as libc::pid_t, libc::SIGQUIT);
        }
    }
}

/// The last non-empty line of a tool's output, for a one-line error.
fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_line_skips_trailing_blank_lines() {
        assert_eq!(last_line("a\nFATAL: no\n\n"), "FATAL: no");
        assert_eq!(last_line(""), "no output");
    }
}
