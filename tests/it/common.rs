//! Helpers shared by the integration tests: run the real binary, check user errors,
//! start throwaway servers on loopback.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `ladder` with `args` (and `env` set), waiting for it.
pub fn ladder_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
    cmd.args(args)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run ladder")
}

/// Runs `ladder` with `args`.
pub fn ladder(args: &[&str]) -> Output {
    ladder_env(args, &[])
}

/// Runs `ladder --quiet --json --out OUT ARGS`, asserts that it succeeded and returns
/// the record it printed.
pub fn ladder_json(out: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--quiet", "--json", "--out", out.to_str().unwrap()];
    all.extend(args);
    let o = ladder(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

/// The process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, exactly one line on stderr that says `needle`, no panic, nothing on stdout.
pub fn assert_user_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty());
}

/// The names in a directory.
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The files of a full `ladder run` folder.
pub const RUN_FILES: [&str; 8] = [
    "ladder.csv",
    "ladder.png",
    "ladder.svg",
    "latency.png",
    "latency.svg",
    "memory.csv",
    "report.md",
    "run.json",
];

/// Asserts that `dir` holds exactly `want` (sorted names).
pub fn assert_files(dir: &Path, want: &[&str]) {
    let mut files = entries(dir);
    files.sort();
    assert_eq!(files, want, "in {}", dir.display());
}

/// Whether a process with this pid still exists.
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Managed servers (pids) of the ladder process `pid`: found by what ladder controls,
/// the marker of its run in their working dir, never by command line (redis-server
/// rewrites its own, so a check by command line could never see a leaked Redis).
pub fn servers_of(pid: u32) -> Vec<u32> {
    latency_ladder::ownership::server_processes()
        .into_iter()
        .filter(|s| s.owner.pid == pid)
        .map(|s| s.pid)
        .collect()
}

/// Managed servers still running whose run is over (by the marker in their working
/// dir): leaks. Waits up to 5 s for servers being stopped to go.
pub fn leaked_servers() -> Vec<u32> {
    let leaked = || -> Vec<u32> {
        latency_ladder::ownership::server_processes()
            .into_iter()
            .filter(|s| {
                matches!(
                    s.owner.verdict(None),
                    latency_ladder::ownership::Verdict::Over(_)
                )
            })
            .map(|s| s.pid)
            .collect()
    };
    let start = Instant::now();
    while !leaked().is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    leaked()
}

/// A redis-server the test owns (not ladder's managed one), killed on drop.
pub struct TestRedis {
    child: Child,
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl TestRedis {
    /// Starts one on a free loopback port, with `extra` arguments; `None` when
    /// redis-server is not installed.
    pub fn start(extra: &[&str]) -> Option<TestRedis> {
        let dir = tempfile::Builder::new()
            .prefix("test-redis-")
            .tempdir()
            .unwrap();
        let mut redis = TestRedis::start_in(dir.path(), extra)?;
        redis._dir = Some(dir);
        Some(redis)
    }

    /// Starts one working in `dir` (its --dir, and so its working directory), which
    /// the caller keeps; `None` when redis-server is not installed.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Option<TestRedis> {
        let bin = latency_ladder::services::find_binary("redis-server", &[])?;
        let port = latency_ladder::services::free_port().unwrap();
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "test redis did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(TestRedis {
            child,
            port,
            _dir: None,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server still runs (not exited, not killed).
    pub fn runs(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the server to end; its exit code (None: killed by a signal).
    pub fn wait(&mut self) -> Option<i32> {
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
