//! What a run leaves while it runs, and `ladder clean` for what a killed run left.
//!
//! Every name a run makes carries its owner: the process id and the run's start time
//! (Unix seconds), so a later run can tell old from live:
//!
//! - hidden temp dirs under `--out`: `.ladder-<kind>-<pid>-<random>`;
//! - managed servers' dirs under the system temp dir: `ladder-<kind>-<pid>-<random>`;
//! - Redis keys: `ladder:<start>:<pid>:<hex>:<name>`, each with an expiry;
//! - PostgreSQL schemas: `ladder_run_<start>_<pid>_<hex>`.
//!
//! The finding and removing on a user's Redis and PostgreSQL is in
//! [`crate::suite::leftovers`] (it needs their clients).
//!
//! [`find`] lists what belongs to no live `ladder` process; [`remove`] removes it:
//! keys by SCAN in bounded batches (never KEYS or FLUSH*), schemas with DROP ... CASCADE
//! (only `ladder_run_*` ones), dirs, and managed servers still running from a dir.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many keys one SCAN step asks for, and one UNLINK removes at most.
pub const SCAN_BATCH: usize = 1000;

/// Seconds since the Unix epoch at the first call: the run's start time in names.
pub fn started_unix() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    *STARTED.get_or_init(|| unix_now().as_secs())
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The prefix of a hidden temp dir or file of this process under `--out`.
pub fn out_temp_prefix(kind: &str) -> String {
    format!(".ladder-{kind}-{}-", std::process::id())
}

/// The prefix of a managed server's dir of this process under the system temp dir.
pub fn server_dir_prefix(kind: &str) -> String {
    format!("ladder-{kind}-{}-", std::process::id())
}

/// A fresh Redis key prefix of this run: `ladder:<start>:<pid>:<hex>:`.
pub fn redis_prefix() -> String {
    format!(
        "ladder:{}:{}:{:08x}:",
        started_unix(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// A fresh PostgreSQL schema name of this run: `ladder_run_<start>_<pid>_<hex>`.
pub fn schema_name() -> String {
    format!(
        "ladder_run_{}_{}_{:08x}",
        started_unix(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Who made a name: the pid and start time in it, where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The process that made it.
    pub pid: Option<u32>,
    /// The run's start, Unix seconds (keys and schemas).
    pub started: Option<u64>,
}

impl Owner {
    /// The owner fields of a name made by the functions above (older names without
    /// them give `None`s). `fields` is how many numeric fields to expect at the start
    /// of the part after the fixed prefix: 2 (start, pid) or 1 (pid).
    pub fn parse(rest: &str, sep: char, fields: usize) -> Owner {
        let mut nums = rest.split(sep).map(|f| f.parse::<u64>().ok());
        let first = nums.next().flatten();
        let second = nums.next().flatten();
        match fields {
            2 if second.is_some() => Owner {
                pid: second.and_then(|p| u32::try_from(p).ok()),
                started: first,
            },
            _ => Owner {
                pid: first.and_then(|p| u32::try_from(p).ok()),
                started: None,
            },
        }
    }

    /// Whether the owner may still be running: its pid exists on this machine (a
    /// reused pid only delays the cleaning; a name without a pid never counts as live).
    pub fn is_live(&self) -> bool {
        self.pid
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    }
}

/// Something a run left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// Keys on a Redis under one run prefix.
    RedisKeys {
        /// `ladder:<start>:<pid>:<hex>:`.
        prefix: String,
        /// How many keys.
        count: usize,
    },
    /// A run schema on a PostgreSQL.
    Schema(String),
    /// A temp dir (or file) under `--out` or the system temp dir.
    Dir(PathBuf),
    /// A managed server still running from a leftover dir.
    Server {
        /// Its pid.
        pid: u32,
        /// Its dir.
        dir: PathBuf,
    },
}

/// A leftover with its age (seconds; None where unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What it is.
    pub what: Leftover,
    /// How old it is.
    pub age_s: Option<u64>,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.what {
            Leftover::RedisKeys { prefix, count } => write!(f, "redis keys {prefix}* ({count})")?,
            Leftover::Schema(s) => write!(f, "postgres schema {s}")?,
            Leftover::Dir(p) => write!(f, "dir {}", p.display())?,
            Leftover::Server { pid, dir } => {
                write!(f, "managed server pid {pid} ({})", dir.display())?
            }
        }
        match self.age_s {
            Some(s) => write!(f, ", age {}", format_age(s)),
            None => write!(f, ", age unknown"),
        }
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

pub fn age_since(started: Option<u64>) -> Option<u64> {
    started.map(|s| unix_now().as_secs().saturating_sub(s))
}

fn age_of(path: &Path) -> Option<u64> {
    let modified = std::fs::symlink_metadata(path).ok()?.modified().ok()?;
    SystemTime::now()
        .duration_since(modified)
        .ok()
        .map(|d| d.as_secs())
}

/// Hidden temp dirs and files of dead runs under `out` (`.ladder-*`).
pub fn find_out_dirs(out: &Path) -> Vec<Found> {
    find_dirs(out, ".ladder-", &OUT_KINDS)
}

/// The kinds of hidden temp dirs and files under `--out` (see [`out_temp_prefix`]).
const OUT_KINDS: [&str; 4] = ["tmp", "probe", "storage", "sqlite"];
/// The kinds of managed servers' dirs (see [`server_dir_prefix`]).
const SERVER_KINDS: [&str; 4] = ["redis", "pg", "nginx", "dnsmasq"];

/// Managed servers' dirs of dead runs under the system temp dir (`ladder-*`), and the
/// servers of dead runs still running (from such a dir, or from one already gone).
pub fn find_server_dirs() -> Vec<Found> {
    let mut found: Vec<Found> = server_processes()
        .into_iter()
        .filter(|s| s.owner.pid.is_some() && !s.owner.is_live())
        .map(|s| Found {
            age_s: age_of(&s.dir),
            what: Leftover::Server {
                pid: s.pid,
                dir: s.dir,
            },
        })
        .collect();
    found.extend(find_dirs(&std::env::temp_dir(), "ladder-", &SERVER_KINDS));
    found
}

/// The entries of `parent` named `<prefix><kind>-<pid>-<random>` for one of `kinds`
/// whose owner is gone (a name without a pid: an hour after its last change).
fn find_dirs(parent: &Path, prefix: &str, kinds: &[&str]) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<Found> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = name.strip_prefix(prefix)?;
            let (kind, after_kind) = rest.split_once('-')?;
            if !kinds.contains(&kind) {
                return None;
            }
            let owner = Owner::parse(after_kind, '-', 1);
            let age_s = age_of(&e.path());
            // Without a pid in the name (an older version's), only what is an hour old.
            let stale = owner.pid.is_some() || age_s.is_some_and(|a| a >= 3600);
            (stale && !owner.is_live()).then(|| Found {
                age_s,
                what: Leftover::Dir(e.path()),
            })
        })
        .collect();
    found.sort_by(|a, b| format!("{a}").cmp(&format!("{b}")));
    found
}

/// A process working in a managed server's dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProcess {
    /// The server's pid.
    pub pid: u32,
    /// Its dir, `<tmp>/ladder-<kind>-<pid>-<random>` (it may be gone).
    pub dir: PathBuf,
    /// The ladder process that started it.
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

/// Every process working in a managed server's dir: redis-server and postgres both
/// change into it, and postgres names it on its command line (redis-server rewrites
/// its command line, so that alone would miss it). A dir already deleted still shows
/// in the working directory's path.
pub fn server_processes() -> Vec<ServerProcess> {
    let marker = format!("{}/ladder-", std::env::temp_dir().display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            // Only the servers we start: never a shell or a tool that names the dir.
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| SERVER_NAMES.contains(&c.trim()))
        })
        .filter_map(|pid| {
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            [cwd, cmdline].iter().find_map(|text| {
                let start = text.find(&marker)? + marker.len();
                let name: String = text[start..]
                    .chars()
                    .take_while(|c| !matches!(c, '/' | ' '))
                    .collect();
                let (_, after_kind) = name.split_once('-')?;
                Some(ServerProcess {
                    pid,
                    dir: std::env::temp_dir().join(format!("ladder-{name}")),
                    owner: Owner::parse(after_kind, '-', 1),
                })
            })
        })
        .collect()
}

/// The run prefix of a key (`ladder:<start>:<pid>:<hex>:`, or the older
/// `ladder:<pid>:<hex>:` of earlier versions) and its owner.
pub fn key_owner(key: &str) -> Option<(String, Owner)> {
    let rest = key.strip_prefix("ladder:")?;
    let fields: Vec<&str> = rest.splitn(4, ':').collect();
    let numeric = |f: &str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
    let n = match fields.as_slice() {
        [a, b, _, _] if numeric(a) && numeric(b) => 3,
        [a, _, ..] if numeric(a) => 2,
        _ => return None,
    };
    let prefix = format!("ladder:{}:", fields[..n].join(":"));
    Some((prefix, Owner::parse(rest, ':', n - 1)))
}

/// Removes leftover dirs and stops leftover servers (SIGKILL: their data is a
/// throwaway copy).
pub fn remove_local(found: &[Found]) -> Result<()> {
    for f in found {
        if let Leftover::Server { pid, .. } = f.what {
            // SAFETY: kill(2) touches no memory; the pid ran from a leftover dir of ours.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
    for f in found {
        if let Leftover::Dir(p) = &f.what {
            let gone = if p.is_dir() {
                std::fs::remove_dir_all(p)
            } else {
                std::fs::remove_file(p)
            };
            match gone {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(p, e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        let prefix = redis_prefix();
        let (p, owner) = key_owner(&format!("{prefix}hit")).unwrap();
        assert_eq!(p, prefix);
        assert_eq!(owner.pid, Some(std::process::id()));
        assert_eq!(owner.started, Some(started_unix()));
        let schema = schema_name();
        let rest = schema.strip_prefix("ladder_run_").unwrap();
        let owner = Owner::parse(rest, '_', 2);
        assert_eq!(
            (owner.pid, owner.started),
            (Some(std::process::id()), Some(started_unix()))
        );
        let dir = out_temp_prefix("tmp");
        let owner = Owner::parse(dir.strip_prefix(".ladder-tmp-").unwrap(), '-', 1);
        assert_eq!(owner.pid, Some(std::process::id()));
    }

    #[test]
    fn older_and_foreign_keys_are_told_apart() {
        let (p, owner) = key_owner("ladder:123:0abc:hit").unwrap();
        assert_eq!((p.as_str(), owner.pid), ("ladder:123:0abc:", Some(123)));
        assert!(key_owner("ladder:users:42").is_none());
        assert!(key_owner("session:ladder:1").is_none());
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(format_age(5), "5 s");
        assert_eq!(format_age(600), "10 min");
        assert_eq!(format_age(3 * 86_400), "3 d");
    }
}
