//! Ownership by proof: what a run makes carries its run id, and `ladder clean` removes
//! only what a record proves is ours and whose run is over. A name that merely looks
//! like ours never counts.
//!
//! Every run has a random 128-bit run id ([`run_id`]) and an [`Owner`] record: the run
//! id, host name, boot id, pid namespace, pid and the pid's start time, the run's start
//! and (on servers) a heartbeat.
//!
//! - Every temp dir a run makes ([`run_dir`]) is created 0700 (the mode given to mkdir,
//!   not set after) and holds a marker file [`MARKER`] with the owner record.
//! - A process is ours only if its working directory is inside such a dir and its uid
//!   is ours (or we are root, which starts PostgreSQL as the `postgres` user).
//! - Redis keys live under `ladder:<run id>:`, and the run is named in the server's
//!   ledger hash before its first key ([`crate::ownership::ledger`]); PostgreSQL schemas
//!   are `ladder_run_<run id>_<hex>`, created with a COMMENT that carries the record.
//!
//! An owner's run is over ([`Owner::verdict`]) when it ran on this machine (same host
//! name, boot and pid namespace) and its process (pid and start time) is gone, or when
//! its last heartbeat is older than [`STALE_AFTER_S`]; a run of another host is judged
//! by its heartbeat alone. Anything without a record is left alone and reported.
//!
//! The pieces: [`keys`] (the run's keys on a key-value server, deleted by name),
//! [`ledger`] (the run named on a server before anything is written there) and
//! [`leftovers`] (finding and removing a finished run's keys and schemas on a user's
//! Redis and PostgreSQL). Servers are reached through [`crate::target`].

pub mod keys;
pub mod ledger;
pub mod leftovers;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many keys one SCAN step asks for, and one UNLINK removes at most.
pub const SCAN_BATCH: usize = 1000;

/// The marker file in every dir a run makes: the owner record, JSON.
pub const MARKER: &str = ".ladder-run.json";

/// How often a live run refreshes its heartbeat on a server.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);

/// A run whose last heartbeat is older than this (seconds, by the server's clock) is
/// over: ten missed heartbeats.
pub const STALE_AFTER_S: u64 = 600;

/// This run's id: 32 hex digits (128 random bits), the same for the whole process.
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{:032x}", rand::random::<u128>()))
}

/// Whether `s` has the shape of a run id (32 lowercase hex digits).
pub fn is_run_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Seconds since the Unix epoch now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The prefix of a hidden temp dir of this process under `--out`.
pub fn out_temp_prefix(kind: &str) -> String {
    format!(".ladder-{kind}-{}-", std::process::id())
}

/// The prefix of a managed server's dir of this process under the system temp dir.
pub fn server_dir_prefix(kind: &str) -> String {
    format!("ladder-{kind}-{}-", std::process::id())
}

/// The Redis key prefix every key of this run starts with: `ladder:<run id>:`.
pub fn redis_run_prefix(id: &str) -> String {
    format!("ladder:{id}:")
}

/// A fresh Redis key prefix under this run's: `ladder:<run id>:<hex>:`.
pub fn redis_prefix() -> String {
    format!(
        "{}{:08x}:",
        redis_run_prefix(run_id()),
        rand::random::<u32>()
    )
}

/// The PostgreSQL schema name prefix of run `id`: `ladder_run_<run id>_`.
pub fn schema_run_prefix(id: &str) -> String {
    format!("ladder_run_{id}_")
}

/// A fresh PostgreSQL schema name of this run: `ladder_run_<run id>_<hex>`.
pub fn schema_name() -> String {
    format!(
        "{}{:08x}",
        schema_run_prefix(run_id()),
        rand::random::<u32>()
    )
}

/// Who made something: the facts `ladder clean` judges a run by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The run id (32 hex digits).
    pub run_id: String,
    /// The host name of the machine the run ran on.
    pub host: String,
    /// The kernel's boot id there (empty where unknown).
    pub boot_id: String,
    /// The run's pid namespace there (empty where unknown).
    pub pid_ns: String,
    /// The run's process id.
    pub pid: u32,
    /// The process's start time (clock ticks after boot; 0 where unknown), so a reused
    /// pid is not taken for the run.
    pub pid_start: u64,
    /// The run's start, Unix seconds by its own clock.
    pub started: u64,
    /// The last heartbeat, Unix seconds by the server's clock (0 in a dir's marker).
    #[serde(default)]
    pub heartbeat: u64,
}

/// Whether an owner's run may still be running, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its run may be running: leave its things.
    Live(String),
    /// Its run is over: its things may go.
    Over(String),
}

impl Owner {
    /// This run's record (heartbeat 0: a server's ledger sets it by the server's clock).
    pub fn this_run() -> Owner {
        let pid = std::process::id();
        Owner {
            run_id: run_id().to_string(),
            host: crate::host::hostname(),
            boot_id: boot_id(),
            pid_ns: pid_ns(),
            pid,
            pid_start: pid_start(pid).unwrap_or(0),
            started: started_unix(),
            heartbeat: 0,
        }
    }

    /// Whether the run ran on this machine, in this pid namespace: only then does its
    /// pid mean anything here.
    pub fn same_machine(&self) -> bool {
        !self.boot_id.is_empty()
            && !self.pid_ns.is_empty()
            && self.host == crate::host::hostname()
            && self.boot_id == boot_id()
            && self.pid_ns == pid_ns()
    }

    /// Whether the run's process (its pid, started when it was) still runs here.
    fn process_runs(&self) -> bool {
        pid_start(self.pid).is_some_and(|s| self.pid_start == 0 || s == self.pid_start)
    }

    /// Whether the run is over. `now` is the server's clock (None for a dir, which has
    /// no heartbeat): a run of this machine is judged by its process, another's by its
    /// heartbeat; a dir of another machine is never judged over.
    pub fn verdict(&self, now: Option<u64>) -> Verdict {
        let who = format!("run {} (host {}, pid {})", self.run_id, self.host, self.pid);
        if self.same_machine() {
            return if self.process_runs() {
                Verdict::Live(format!("{who}: its process runs on this host"))
            } else {
                Verdict::Over(format!("{who}: ran on this host, its process is gone"))
            };
        }
        match now {
            Some(now) => {
                let age = now.saturating_sub(self.heartbeat);
                let told = format!(
                    "{who}: last heartbeat {} ago (bound {})",
                    format_age(age),
                    format_age(STALE_AFTER_S)
                );
                if self.heartbeat > 0 && age > STALE_AFTER_S {
                    Verdict::Over(told)
                } else {
                    Verdict::Live(told)
                }
            }
            None if self.host == crate::host::hostname()
                && !self.boot_id.is_empty()
                && self.boot_id != boot_id()
                && self.pid_ns == pid_ns() =>
            {
                Verdict::Over(format!("{who}: made on this host before its last boot"))
            }
            None => Verdict::Live(format!(
                "{who}: made on another machine or pid namespace; not judged from here"
            )),
        }
    }
}

/// Seconds since the Unix epoch at the first call: the run's start.
pub fn started_unix() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    *STARTED.get_or_init(unix_now)
}

/// The kernel's boot id (Linux), else empty.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// This process's pid namespace (Linux: `pid:[4026531836]`), else empty.
fn pid_ns() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The start time of process `pid` (clock ticks after boot), None where it does not
/// run (or the OS does not say).
fn pid_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Calls a function every interval on a thread of its own, until dropped: a live run's
/// heartbeat on a server.
pub struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// Calls `beat` every `every` until the heartbeat is dropped.
    pub fn start(every: Duration, mut beat: impl FnMut() + Send + 'static) -> Heartbeat {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ladder-heartbeat".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    beat();
                }
            })
            .ok();
        Heartbeat {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fresh run dir `<parent>/<prefix><random>`: created 0700 (mkdir's mode) with the
/// marker file [`MARKER`] (0600) holding this run's owner record; removed on drop.
pub fn run_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let record = serde_json::to_string(&Owner::this_run())
        .map_err(|e| Error::Internal(format!("cannot serialise the run's owner: {e}")))?;
    write_private(&dir.path().join(MARKER), &record)?;
    Ok(dir)
}

/// The owner record in `dir`'s marker, if `dir` is a real dir (not a link) holding a
/// marker file of ours (a regular file owned by our uid).
pub fn marker_owner(dir: &Path) -> Option<Owner> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if !meta.is_dir() {
        return None;
    }
    let marker = dir.join(MARKER);
    let m = std::fs::symlink_metadata(&marker).ok()?;
    // SAFETY: geteuid has no preconditions and touches no memory.
    let uid = unsafe { libc::geteuid() };
    if !m.is_file() || m.uid() != uid {
        return None;
    }
    let owner: Owner = serde_json::from_str(&std::fs::read_to_string(marker).ok()?).ok()?;
    is_run_id(&owner.run_id).then_some(owner)
}

/// Something a run left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// Keys on a Redis under one run's prefix, and the run's ledger entry.
    RedisKeys {
        /// The run id.
        run_id: String,
        /// How many keys.
        count: usize,
    },
    /// A run schema on a PostgreSQL.
    Schema(String),
    /// A run dir under `--out` or the system temp dir.
    Dir(PathBuf),
    /// A managed server still running from a run dir.
    Server {
        /// Its pid.
        pid: u32,
        /// Its dir.
        dir: PathBuf,
    },
}

/// A leftover with the proof that it is ours and its run is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What it is.
    pub what: Leftover,
    /// Why it is ours and over: where the record is and what it says.
    pub proof: String,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.what {
            Leftover::RedisKeys { run_id, count } => write!(
                f,
                "redis keys {}* ({count}) and ledger entry",
                redis_run_prefix(run_id)
            )?,
            Leftover::Schema(s) => write!(f, "postgres schema {s}")?,
            Leftover::Dir(p) => write!(f, "dir {}", p.display())?,
            Leftover::Server { pid, dir } => {
                write!(f, "managed server pid {pid} ({})", dir.display())?
            }
        }
        write!(f, "; proof: {}", self.proof)
    }
}

/// What `clean` looked at: what it may remove, and what it leaves and why.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Survey {
    /// Proven ours, of runs that are over.
    pub found: Vec<Found>,
    /// Left alone: what looks like ours without a proof, or a run that may be live.
    pub left: Vec<String>,
}

impl Survey {
    /// Adds `other`'s findings to these.
    pub fn extend(&mut self, other: Survey) {
        self.found.extend(other.found);
        self.left.extend(other.left);
    }
}

/// `42 s`, `5 min`, `3 h`, `2 d`.
pub fn format_age(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// Run dirs of runs that are over under `out` (`.ladder-*`).
pub fn find_out_dirs(out: &Path) -> Survey {
    find_dirs(out, ".ladder-")
}

/// Managed servers' dirs of runs that are over under the system temp dir
/// (`ladder-*`), and the servers still running from them.
pub fn find_server_dirs() -> Survey {
    let mut survey = find_dirs(&std::env::temp_dir(), "ladder-");
    let servers: Vec<Found> = server_processes()
        .into_iter()
        .filter_map(|s| match s.owner.verdict(None) {
            Verdict::Over(why) => Some(Found {
                proof: format!(
                    "working dir {} holds the marker of {why}; uid ours",
                    s.dir.display()
                ),
                what: Leftover::Server {
                    pid: s.pid,
                    dir: s.dir,
                },
            }),
            Verdict::Live(_) => None,
        })
        .collect();
    // Servers first: their dirs go after them.
    survey.found.splice(0..0, servers);
    survey
}

/// The entries of `parent` whose names start with `prefix`: a dir with our marker
/// whose run is over is found; anything else of that shape is left, and said so.
fn find_dirs(parent: &Path, prefix: &str) -> Survey {
    let mut survey = Survey::default();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return survey;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        match marker_owner(&path) {
            None => survey.left.push(format!(
                "{}: no marker of ours ({MARKER}) in it",
                path.display()
            )),
            Some(owner) => match owner.verdict(None) {
                Verdict::Over(why) => survey.found.push(Found {
                    proof: format!("its marker names {why}"),
                    what: Leftover::Dir(path),
                }),
                Verdict::Live(_) => {}
            },
        }
    }
    survey
}

/// A process working in a run dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProcess {
    /// The server's pid.
    pub pid: u32,
    /// The run dir its working directory is in.
    pub dir: PathBuf,
    /// The run that made the dir.
    pub owner: Owner,
}

/// The process names of the servers ladder starts.
const SERVER_NAMES: [&str; 6] = [
    "redis-server",
    "postgres",
    "initdb",
    "nginx",
    "dnsmasq",
    "memcached",
];

/// Every server process (by name) whose working directory is inside a run dir with our
/// marker, and whose uid is ours (any uid when we are root: root starts PostgreSQL as
/// `postgres`). redis-server rewrites its command line, so the command line is never
/// the evidence; a working dir already deleted has no marker and is left alone.
pub fn server_processes() -> Vec<ServerProcess> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and touches no memory.
    let uid = unsafe { libc::geteuid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| SERVER_NAMES.contains(&c.trim()))
        })
        .filter(|&pid| {
            std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| uid == 0 || m.uid() == uid)
        })
        .filter_map(|pid| {
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
            // The server's own dir, or a dir inside it (PostgreSQL's data dir).
            cwd.ancestors().take(3).find_map(|dir| {
                Some(ServerProcess {
                    pid,
                    owner: marker_owner(dir)?,
                    dir: dir.to_path_buf(),
                })
            })
        })
        .collect()
}

/// Removes leftover dirs and stops leftover servers (SIGKILL: their data is a
/// throwaway copy). Each is checked again just before: a server must still work in
/// a dir with the same marker, a dir must still hold it.
pub fn remove_local(found: &[Found]) -> Result<()> {
    for f in found {
        if let Leftover::Server { pid, dir } = &f.what {
            let still = server_processes()
                .iter()
                .any(|s| s.pid == *pid && &s.dir == dir);
            if still {
                // SAFETY: kill(2) touches no memory; the pid works in a dir of ours
                // whose run is over (checked just now).
                unsafe {
                    libc::kill(*pid as libc::pid_t, libc::SIGKILL);
                }
            }
        }
    }
    for f in found {
        if let Leftover::Dir(p) = &f.what {
            if marker_owner(p).is_none() {
                continue;
            }
            match std::fs::remove_dir_all(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(p, e)),
            }
        }
    }
    Ok(())
}

/// Writes `text` to a new file only its owner can read (0600).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_run_id() {
        let id = run_id();
        assert!(is_run_id(id), "{id}");
        assert!(redis_prefix().starts_with(&format!("ladder:{id}:")));
        assert!(schema_name().starts_with(&format!("ladder_run_{id}_")));
        assert!(!is_run_id("2024") && !is_run_id(&"A".repeat(32)));
    }

    #[test]
    fn a_run_dir_is_0700_from_birth_and_holds_its_marker() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = run_dir(parent.path(), ".ladder-test-").unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let owner = marker_owner(dir.path()).expect("marker");
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.run_id, run_id());
        // This process runs: its dir is live, and nothing is found.
        assert!(matches!(owner.verdict(None), Verdict::Live(_)));
        assert!(find_out_dirs(parent.path()).found.is_empty());
    }

    #[test]
    fn an_owner_is_judged_by_its_process_here_and_by_its_heartbeat_elsewhere() {
        let me = Owner::this_run();
        if !me.same_machine() {
            eprintln!("SKIP no boot id or pid namespace here: the pid rule cannot apply");
            return;
        }
        // A process that has exited: same machine, pid gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let dead = Owner {
            pid: gone,
            ..me.clone()
        };
        assert!(matches!(dead.verdict(Some(0)), Verdict::Over(_)));
        // Another host: the heartbeat alone decides, a fresh one is live.
        let other = Owner {
            host: "elsewhere".into(),
            heartbeat: 1_000_000,
            ..me.clone()
        };
        assert!(matches!(
            other.verdict(Some(1_000_000 + STALE_AFTER_S)),
            Verdict::Live(_)
        ));
        assert!(matches!(
            other.verdict(Some(1_000_001 + STALE_AFTER_S)),
            Verdict::Over(_)
        ));
        assert!(matches!(other.verdict(None), Verdict::Live(_)));
    }

    #[test]
    fn a_heartbeat_beats_until_dropped() {
        let (tx, rx) = mpsc::channel();
        let beat = Heartbeat::start(Duration::from_millis(1), move || {
            let _ = tx.send(());
        });
        rx.recv().unwrap();
        drop(beat);
        // The thread has ended: the sender it held is gone once the queue drains.
        while rx.recv().is_ok() {}
    }

    #[test]
    fn a_dir_without_our_marker_is_left_and_said_so() {
        let parent = tempfile::tempdir().unwrap();
        std::fs::create_dir(parent.path().join(".ladder-tmp-1-abc")).unwrap();
        let survey = find_out_dirs(parent.path());
        assert!(survey.found.is_empty());
        assert_eq!(survey.left.len(), 1, "{:?}", survey.left);
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(format_age(5), "5 s");
        assert_eq!(format_age(600), "10 min");
        assert_eq!(format_age(3 * 86_400), "3 d");
    }
}
