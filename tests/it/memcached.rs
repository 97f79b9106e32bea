//! The memcached rung against real servers: a managed pair started and stopped by
//! ladder, and a memcached standing for the user's, whose keys must survive while none
//! of the run's stay behind.

use crate::common;

use common::{assert_user_error, ladder, leaked_servers};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn run_json(args: &[&str], out: &std::path::Path) -> serde_json::Value {
    let mut all = vec![
        "--quick",
        "--quiet",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = ladder(&all);
    assert!(o.status.success(), "{}", common::stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A memcached the test owns, standing for the user's; killed on drop.
struct UsersMemcached {
    child: Child,
    port: u16,
}

impl UsersMemcached {
    fn start() -> Option<UsersMemcached> {
        let bin = latency_ladder::services::find_binary("memcached", &[])?;
        let port = latency_ladder::services::free_port().unwrap();
        let mut cmd = Command::new(bin);
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-m",
            "8",
        ]);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "no memcached");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(UsersMemcached { child, port })
    }

    /// Sends one ASCII command; the reply lines up to `end`.
    fn ask(&self, command: &str, end: &str) -> Vec<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(command.as_bytes()).unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(s).lines() {
            let line = line.unwrap();
            let done = line == end || line.starts_with("ERROR") || line == "STORED";
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    }

    /// Every key the server holds (`lru_crawler metadump`).
    fn keys(&self) -> Vec<String> {
        self.ask("lru_crawler metadump all\r\n", "END")
            .iter()
            .filter_map(|l| {
                l.strip_prefix("key=")?
                    .split(' ')
                    .next()
                    .map(str::to_string)
            })
            .collect()
    }
}

impl Drop for UsersMemcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn managed_memcached_is_measured_on_both_transports_then_gone() {
    if latency_ladder::services::find_binary("memcached", &[]).is_none() {
        eprintln!("SKIP memcached is not installed (scripts/setup-services.sh)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let v = run_json(&["memcached"], out.path());
    let rungs = v["rungs"].as_array().unwrap();
    let ops: Vec<&serde_json::Value> = rungs.iter().map(|r| &r["id"]).collect();
    for transport in ["tcp", "unix-socket"] {
        for op in [
            serde_json::json!("get-hit"),
            serde_json::json!("get-miss"),
            serde_json::json!("set"),
            serde_json::json!({"multi-get": {"keys": 10}}),
            serde_json::json!({"multi-get": {"keys": 100}}),
        ] {
            assert!(
                ops.iter().any(|id| id["kind"] == "memcached"
                    && id["transport"] == transport
                    && id["op"] == op),
                "{op} over {transport} missing"
            );
        }
    }
    for r in rungs {
        assert_eq!(r["rung"], "memcached");
    }
    assert_eq!(leaked_servers(), Vec::<u32>::new(), "a server was left");
}

#[test]
fn a_users_memcached_keeps_its_keys_and_gets_none_of_ours() {
    let Some(server) = UsersMemcached::start() else {
        eprintln!("SKIP memcached is not installed (scripts/setup-services.sh)");
        return;
    };
    let stored = server.ask("set user-precious 0 0 5\r\nhello\r\n", "STORED");
    assert_eq!(stored.last().map(String::as_str), Some("STORED"));
    let out = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", server.port);
    let stat = |name: &str| -> u64 {
        let line = format!("STAT {name} ");
        server
            .ask("stats\r\n", "END")
            .iter()
            .find_map(|l| l.strip_prefix(&line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in stats"))
    };
    let (misses, sets) = (stat("get_misses"), stat("cmd_set"));
    let v = run_json(&["memcached", "--url", &addr], out.path());
    let rungs = v["rungs"].as_array().unwrap();
    assert!(rungs.iter().all(|r| r["id"]["transport"] == "tcp"));
    assert!(rungs.len() >= 5);
    // The server's own counters against the record's samples (independent sources):
    // every timed miss and set reached the server (warm-ups add more, never fewer).
    let samples = |op: &str| -> u64 {
        rungs
            .iter()
            .filter(|r| r["id"]["op"] == op)
            .map(|r| r["samples"].as_u64().unwrap())
            .sum()
    };
    let (timed_misses, timed_sets) = (samples("get-miss"), samples("set"));
    assert!(timed_misses > 0 && timed_sets > 0, "{rungs:?}");
    assert!(stat("get_misses") - misses >= timed_misses);
    assert!(stat("cmd_set") - sets >= timed_sets);
    let got = server.ask("get user-precious\r\n", "END");
    assert_eq!(got, ["VALUE user-precious 0 5", "hello", "END"]);
    assert_eq!(server.keys(), ["user-precious"], "the run's keys stayed");
}

#[test]
fn bad_or_unreachable_memcached_exits_2_in_one_line() {
    assert_user_error(
        &ladder(&["--quiet", "memcached", "--url", "http://u:hunter2@x:1"]),
        "not a memcached address",
    );
    let port = latency_ladder::services::free_port().unwrap();
    let o = ladder(&[
        "--quiet",
        "memcached",
        "--url",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_user_error(&o, "memcached at");
    assert!(!common::stderr(&o).contains("hunter2"));
}
