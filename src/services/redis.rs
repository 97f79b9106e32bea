//! A managed `redis-server`: temp dir, free loopback port plus a unix socket, no
//! persistence, stopped on drop.

use super::{find_binary, free_port, install_hint, wait_until, ManagedProcess};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running managed Redis. Fields drop in order: the server stops, then its dir goes.
pub struct ManagedRedis {
    process: ManagedProcess,
    /// The loopback TCP port.
    pub port: u16,
    /// The unix socket path.
    pub socket: PathBuf,
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
        let bin = Self::binary()?;
        let dir = tempfile::Builder::new()
            .prefix("ladder-redis-")
            .tempdir()
            .map_err(|e| Error::Internal(format!("cannot make a temp dir: {e}")))?;
        let port = free_port()?;
        let socket = dir.path().join("redis.sock");
        let mut cmd = Command::new(bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--unixsocketperm", "700", "--daemonize", "no", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = ManagedProcess::spawn("redis-server", &mut cmd)?;
        let url = format!("redis://127.0.0.1:{port}/");
        wait_until("the managed redis-server", Duration::from_secs(10), || {
            process.check_alive().is_ok()
                && socket.exists()
                && ::redis::Client::open(url.as_str())
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                    .and_then(|mut c| ::redis::cmd("PING").query::<String>(&mut c))
                    .is_ok()
        })?;
        process.check_alive()?;
        Ok(ManagedRedis {
            process,
            port,
            socket,
            _dir: dir,
        })
    }

    /// The TCP URL.
    pub fn tcp_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The unix-socket URL.
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
