//! Managed servers for a run: started in a run-owned temp dir on a free loopback port
//! (and a unix socket), waited for until they answer, and stopped when dropped — after
//! an error or Ctrl-C too. Nothing is started permanently.
//!
//! Locked down: a random per-run password on every transport (passed in a file inside
//! the 0700 temp dir, never on argv), loopback only, socket dirs 0700. Each server runs
//! in its own process group (a terminal's Ctrl-C reaches ladder only, which then stops
//! it in order) and gets SIGKILL when ladder dies, even by SIGKILL (parent-death
//! signal).

pub mod dnsmasq;
pub mod memcached;
pub mod nginx;
pub mod postgres;
pub mod redis;

use crate::error::{Error, Result};
use crate::ownership::write_private;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
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

/// A random per-run password: 32 hex digits (128 bits), safe in any URL unencoded.
pub fn random_password() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A fresh run dir for a managed server (`<tmp>/ladder-<kind>-<pid>-<random>`), made
/// 0700 with the run's marker (see [`crate::ownership::run_dir`]).
pub fn private_dir(kind: &str) -> Result<tempfile::TempDir> {
    crate::ownership::run_dir(
        &std::env::temp_dir(),
        &crate::ownership::server_dir_prefix(kind),
    )
}

/// Makes `cmd`'s process leave our process group (a terminal's Ctrl-C is ours to
/// handle) and get SIGKILL when the thread that spawned it dies, SIGKILL of ladder
/// included.
pub fn detach_but_tie(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid; no allocation, even for its errors); it
    // runs after any uid/gid change, which would clear the parent-death signal.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before the prctl: then nobody would kill us.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = parent;
            Ok(())
        });
    }
}

/// As root: makes `cmd` run as `nobody` (uid and gid set before exec, so the
/// parent-death signal, set after, survives; a server that dropped privileges itself
/// would lose it) and hands `paths` to nobody. As anyone else: nothing changes.
pub fn run_unprivileged(cmd: &mut Command, paths: &[&Path]) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let name = std::ffi::CString::new("nobody").expect("no NUL in a literal");
    // SAFETY: getpwnam returns a pointer into static storage or null; the two fields
    // are read at once, before any other call could overwrite them.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return Err(Error::Unusable(
                "running as root and there is no user 'nobody' to run servers as".into(),
            ));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    for p in paths {
        std::os::unix::fs::chown(p, Some(uid), Some(gid)).map_err(|e| Error::io(p, e))?;
    }
    cmd.uid(uid).gid(gid);
    Ok(())
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

/// The CPU managed servers run on: the first of `cpus` (the CPUs this process may
/// use). [`crate::rungs::placement::CpuPlan`] places the clients around it.
pub fn server_cpu(cpus: &[usize]) -> Option<usize> {
    cpus.first().copied()
}

/// A child process that is terminated (SIGTERM, then SIGKILL after 5 s) when dropped.
pub struct ManagedProcess {
    child: Child,
    name: String,
}

impl ManagedProcess {
    /// Spawns `cmd`, named `name` in messages, in its own process group, tied to our
    /// life (see [`detach_but_tie`]) and pinned to the run's server CPU (see
    /// [`crate::rungs::placement::CpuPlan`]).
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<ManagedProcess> {
        detach_but_tie(cmd);
        if let Some(cpu) = server_cpu(&crate::host::process_cpus()) {
            // Every process it forks too (PostgreSQL's backends): a managed server's
            // placement is decided, never inherited from the spawning thread's pin.
            crate::platform::pin_child(cmd, cpu);
        }
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

    /// SIGKILL, then reap (nothing where it already exited).
    pub fn kill_now(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Sends `signal` and waits up to `within` for the process to exit; an error if it
    /// is still running then (it is killed).
    pub fn stop(&mut self, signal: libc::c_int, within: Duration) -> Result<()> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill_now();
        Err(Error::Unusable(format!(
            "{} did not stop within {} s",
            self.name,
            within.as_secs()
        )))
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
        // SIGTERM, then SIGKILL after 5 s.
        let _ = self.stop(libc::SIGTERM, Duration::from_secs(5));
    }
}

/// The user and group a server runs as when we are root.
#[derive(Debug, Clone, Copy)]
pub struct RunAs {
    uid: u32,
    gid: u32,
}

/// The first of `users` that exists, where we are root (servers refuse root or should
/// not keep it); `None` when we are not root: the server runs as us.
pub fn run_as(users: &[&std::ffi::CStr]) -> Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in users {
        // SAFETY: an all-zero passwd (null pointers, zero ids) is a valid out-parameter.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; getpwnam_r writes strings only
        // into `buf` (its length passed) and sets `found` to `&mut pwd` or null.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == 0 && !found.is_null() {
            return Ok(Some(RunAs {
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
            }));
        }
    }
    let names: Vec<String> = users
        .iter()
        .map(|n| format!("`{}`", n.to_string_lossy()))
        .collect();
    Err(Error::Unusable(format!(
        "running as root, and there is no {} user to run the server as",
        names.join(" or ")
    )))
}

/// Hands `path` to the server user (where there is one).
pub fn give_to(path: &Path, run_as: Option<RunAs>) -> Result<()> {
    match run_as {
        Some(u) => {
            std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)).map_err(|e| Error::io(path, e))
        }
        None => Ok(()),
    }
}

/// Runs `cmd` in `cwd`, as the server user where there is one.
pub fn as_server_user(cmd: &mut Command, cwd: &Path, run_as: Option<RunAs>) {
    cmd.current_dir(cwd);
    if let Some(u) = run_as {
        cmd.uid(u.uid).gid(u.gid);
    }
}
