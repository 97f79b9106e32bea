//! A managed `redis-server`: a 0700 temp dir holding its config (with the run's random
//! `requirepass`: never on argv), a free loopback port plus a unix socket (0700), no
//! persistence, stopped on drop.

use super::{
    find_binary, free_port, install_hint, private_dir, random_password, wait_until, write_private,
    ManagedProcess,
};
use crate::error::{Error, Result};
use crate::record::rung::AofFsync;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running managed Redis. Fields drop in order: the server stops, then its dir goes.
pub struct ManagedRedis {
    process: ManagedProcess,
    _data: Option<tempfile::TempDir>,
    /// The loopback TCP port.
    pub port: u16,
    /// The unix socket path.
    pub socket: PathBuf,
    password: String,
    /// The binary and config file, for [`ManagedRedis::restart`].
    bin: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl ManagedRedis {
    /// Whether redis-server is installed.
    pub fn binary() -> Result<PathBuf> {
        find_binary("redis-server", &[])
            .ok_or_else(|| Error::Unusable(install_hint("redis-server")))
    }

    /// Starts redis-server and waits until it answers PING on both transports.
    pub fn start() -> Result<ManagedRedis> {
        Self::start_with(None)
    }

    /// Starts redis-server, with an append-only file in a new 0700 temp dir under
    /// `aof.1` fsync'd as `aof.0` says where given (on the filesystem under test, not
    /// the system temp dir, which may be RAM), else with no persistence.
    pub fn start_with(aof: Option<(AofFsync, &Path)>) -> Result<ManagedRedis> {
        let bin = Self::binary()?;
        let dir = private_dir("redis")?;
        let data = match aof {
            Some((_, under)) => Some(crate::ownership::run_dir(
                under,
                &crate::ownership::out_temp_prefix("redis-aof"),
            )?),
            None => None,
        };
        let persistence = match aof {
            None | Some((AofFsync::Off, _)) => "appendonly no\n".to_string(),
            Some((fsync, _)) => format!(
                "appendonly yes\nappendfsync {}\nauto-aof-rewrite-percentage 0\n",
                match fsync {
                    AofFsync::Everysec => "everysec",
                    _ => "always",
                }
            ),
        };
        let data_dir = data.as_ref().map_or(dir.path(), |d| d.path());
        let port = free_port()?;
        let socket = dir.path().join("redis.sock");
        let password = random_password();
        let config = dir.path().join("redis.conf");
        write_private(
            &config,
            &format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {password}\n\
                 unixsocket {}\nunixsocketperm 700\nsave \"\"\n{persistence}\
                 daemonize no\ndir {}\n",
                socket.display(),
                data_dir.display()
            ),
        )?;
        let process = spawn(
            &bin,
            &config,
            &[tcp_url(&password, port), unix_url(&password, &socket)],
        )?;
        Ok(ManagedRedis {
            process,
            _data: data,
            port,
            socket,
            password,
            bin,
            config,
            _dir: dir,
        })
    }

    /// Kills the server (SIGKILL: a crash, as a cache outage is) and waits until it is
    /// gone; [`ManagedRedis::restart`] brings it back.
    pub fn kill(&mut self) {
        self.process.kill_now();
    }

    /// Starts the server again on the same port, socket and password (empty: it has no
    /// persistence), after [`ManagedRedis::kill`].
    pub fn restart(&mut self) -> Result<()> {
        self.process.kill_now();
        self.process = spawn(&self.bin, &self.config, &[self.tcp_url(), self.unix_url()])?;
        Ok(())
    }

    /// The TCP URL, with the run's password.
    pub fn tcp_url(&self) -> String {
        tcp_url(&self.password, self.port)
    }

    /// The unix-socket URL, with the run's password.
    pub fn unix_url(&self) -> String {
        unix_url(&self.password, &self.socket)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Spawns redis-server on `config` and waits until it answers PING at every URL.
fn spawn(bin: &Path, config: &Path, urls: &[String]) -> Result<ManagedProcess> {
    let mut cmd = Command::new(bin);
    cmd.arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut process = ManagedProcess::spawn("redis-server", &mut cmd)?;
    wait_until("the managed redis-server", Duration::from_secs(10), || {
        process.check_alive().is_ok()
            && urls.iter().all(|url| {
                ::redis::Client::open(url.as_str())
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                    .and_then(|mut c| ::redis::cmd("PING").query::<String>(&mut c))
                    .is_ok()
            })
    })?;
    process.check_alive()?;
    Ok(process)
}

fn tcp_url(password: &str, port: u16) -> String {
    format!("redis://:{password}@127.0.0.1:{port}/")
}

fn unix_url(password: &str, socket: &Path) -> String {
    format!("redis+unix://{}?pass={password}", socket.display())
}
