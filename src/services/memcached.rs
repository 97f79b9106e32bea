//! A managed `memcached`: two server processes in one run-owned 0700 temp dir, since
//! memcached's `-s` (unix socket) turns its network listener off. One listens on a free
//! loopback port with ASCII-protocol authentication (`-Y`: a 0600 file with the run's
//! random password, never on argv; memcached has no other password for the ASCII
//! protocol); the other on a unix socket (mode 0700) inside the 0700 dir, which is its
//! lock. Item memory is bounded (`-m`), UDP is off, and both stop when dropped.
//!
//! memcached refuses to run as root; as root both run as the `memcache` user (the
//! Debian package's) or `nobody`, switched by the spawned child itself (as PostgreSQL
//! is), with the temp dir owned by that user. As anyone else they run as us.

use super::{
    as_server_user, find_binary, free_port, give_to, install_hint, private_dir, random_password,
    run_as, wait_until, write_private, ManagedProcess,
};
use crate::error::{Error, Result};
use crate::target::memcached::MemcachedUrl;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Item memory of each managed memcached (`-m`, MiB): far above what a run stores.
pub const MEMORY_MIB: u32 = 64;
/// The user name of the run's authentication (the password is random per run).
const USER: &str = "ladder";

/// A running managed memcached pair. Fields drop in order: the servers stop, then
/// their dir goes.
pub struct ManagedMemcached {
    tcp: ManagedProcess,
    unix: ManagedProcess,
    /// The loopback TCP port.
    pub port: u16,
    /// The unix socket path.
    pub socket: PathBuf,
    password: String,
    _dir: tempfile::TempDir,
}

impl ManagedMemcached {
    /// Whether memcached is installed.
    pub fn binary() -> Result<PathBuf> {
        find_binary("memcached", &[PathBuf::from("/usr/bin")])
            .ok_or_else(|| Error::Unusable(install_hint("memcached")))
    }

    /// Starts both servers and waits until each answers `version` (the TCP one after
    /// authenticating).
    pub fn start() -> Result<ManagedMemcached> {
        Self::start_with_memory(MEMORY_MIB)
    }

    /// Like [`ManagedMemcached::start`], with `mib` MiB of item memory each (`-m`).
    pub fn start_with_memory(mib: u32) -> Result<ManagedMemcached> {
        let bin = Self::binary()?;
        let user = run_as(&[c"memcache", c"nobody"])?;
        let dir = private_dir("memcached")?;
        give_to(dir.path(), user)?;
        let port = free_port()?;
        let socket = dir.path().join("memcached.sock");
        let password = random_password();
        let auth = dir.path().join("auth");
        write_private(&auth, &format!("{USER}:{password}\n"))?;
        give_to(&auth, user)?;

        let spawn = |listen: &[String]| -> Result<ManagedProcess> {
            let mut cmd = Command::new(&bin);
            // The largest item may be at most half the memory (memcached refuses more).
            let max_item = format!("{}k", (mib * 512).min(1024));
            cmd.args(["-m", &mib.to_string(), "-I", &max_item, "-U", "0"])
                .args(listen)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            as_server_user(&mut cmd, dir.path(), user);
            ManagedProcess::spawn("memcached", &mut cmd)
        };
        let mut tcp = spawn(&[
            "-l".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-Y".into(),
            auth.display().to_string(),
        ])?;
        let mut unix = spawn(&[
            "-s".into(),
            socket.display().to_string(),
            "-a".into(),
            "0700".into(),
        ])?;
        let urls = [tcp_url(&password, port), unix_url(&socket)];
        wait_until("the managed memcached", Duration::from_secs(10), || {
            tcp.check_alive().is_ok()
                && unix.check_alive().is_ok()
                && urls
                    .iter()
                    .all(|url| MemcachedUrl::parse(url).and_then(|u| u.connect()).is_ok())
        })?;
        tcp.check_alive()?;
        unix.check_alive()?;
        Ok(ManagedMemcached {
            tcp,
            unix,
            port,
            socket,
            password,
            _dir: dir,
        })
    }

    /// The TCP URL, with the run's credentials.
    pub fn tcp_url(&self) -> String {
        tcp_url(&self.password, self.port)
    }

    /// The unix-socket URL.
    pub fn unix_url(&self) -> String {
        unix_url(&self.socket)
    }

    /// The process ids: the TCP server, then the unix-socket one.
    pub fn pids(&self) -> [u32; 2] {
        [self.tcp.pid(), self.unix.pid()]
    }
}

fn tcp_url(password: &str, port: u16) -> String {
    format!("memcache://{USER}:{password}@127.0.0.1:{port}")
}

fn unix_url(socket: &Path) -> String {
    format!("memcache+unix://{}", socket.display())
}
