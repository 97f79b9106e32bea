//! Managed servers for a run: started in a run-owned temp dir on a free loopback port
//! (and a unix socket), waited for until they answer, and stopped when dropped — after
//! an error or Ctrl-C too. Nothing is started permanently.

pub mod postgres;
pub mod redis;

use crate::error::{Error, Result};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The one-line hint for a missing server package.
pub fn install_hint(what: &str) -> String {
    format!("{what} is not installed; run scripts/setup-services.sh (as root) to install it")
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| Error::Internal(format!("no free loopback port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::Internal(format!("no free loopback port: {e}")))
}

/// Finds an executable on PATH or in `extra` directories.
pub fn find_binary(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Polls `ready` every 20 ms until it says yes or `timeout` passes.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        crate::signal::check()?;
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::Unusable(format!(
        "{what} did not answer within {} s",
        timeout.as_secs()
    )))
}

/// A child process that is terminated (SIGTERM, then SIGKILL after 5 s) when dropped.
pub struct ManagedProcess {
    child: Child,
    name: String,
}

impl ManagedProcess {
    /// Spawns `cmd`, named `name` in messages.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<ManagedProcess> {
        let child = cmd
            .spawn()
            .map_err(|e| Error::Unusable(format!("could not start {name}: {e}")))?;
        Ok(ManagedProcess {
            child,
            name: name.to_string(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error if the process already exited (it failed to start).
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(Error::Unusable(format!(
                "{} exited at start ({status})",
                self.name
            ))),
            _ => Ok(()),
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
