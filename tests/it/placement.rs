//! Placement of service rungs: every row says where client and server ran, managed
//! servers are measured on one CPU and on two (where the host has two), and `ladder
//! redis` and `ladder run` place the same rung the same way — whatever the memory sweep
//! pinned before.

use crate::common;

use common::*;
use serde_json::Value;

/// The (method, placement) pairs of the Redis rows of a run record.
fn redis_rows(v: &Value) -> Vec<(String, Value)> {
    v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rung"] == "redis")
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["placement"].clone(),
            )
        })
        .collect()
}

/// The CPUs a process may run on, as the kernel says (`Cpus_allowed_list`).
fn allowed_cpus_of(pid: u32) -> Option<Vec<u64>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(a.parse::<u64>().ok()?..=b.parse::<u64>().ok()?);
    }
    Some(cpus)
}

/// Runs `ladder ARGS --quick --quiet --json` and returns its record with the CPUs the
/// kernel let each of its managed servers use, read while they ran.
fn run_json(args: &[&str]) -> (Value, Vec<Vec<u64>>) {
    let out = tempfile::tempdir().unwrap();
    let mut all = args.to_vec();
    all.extend(["--quick", "--quiet", "--json", "--out"]);
    all.push(out.path().to_str().unwrap());
    // Output to files: a pipe nobody reads while it runs could fill and stall it.
    let logs = tempfile::tempdir().unwrap();
    let (stdout, stderr_file) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(&all)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .spawn()
        .unwrap();
    let mut seen: Vec<(u32, Vec<u64>)> = Vec::new();
    while child.try_wait().unwrap().is_none() {
        for pid in servers_of(child.id()) {
            if let Some(cpus) = allowed_cpus_of(pid) {
                if !seen.iter().any(|(p, c)| (*p, c) == (pid, &cpus)) {
                    seen.push((pid, cpus));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(&stderr_file).unwrap();
    assert!(status.success(), "{err}");
    let affinities = seen.into_iter().map(|(_, c)| c).collect();
    let record = serde_json::from_slice(&std::fs::read(&stdout).unwrap()).unwrap();
    (record, affinities)
}

#[test]
fn redis_and_run_place_the_managed_redis_the_same_way() {
    if latency_ladder::services::find_binary("redis-server", &[]).is_none() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    let cpus = latency_ladder::host::allowed_cpus();
    let (alone, pinned) = run_json(&["redis"]);
    // The memory sweep runs first and pins its thread; the Redis rows must not inherit it.
    let (full, _) = run_json(&["run", "--skip", "ssd,db,http", "--max", "1M"]);
    let (a, b) = (redis_rows(&alone), redis_rows(&full));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the two commands placed the Redis rows differently");

    let kinds: Vec<&str> = a.iter().map(|(_, p)| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"same-cpu"));
    assert_eq!(kinds.contains(&"cross-cpu"), cpus.len() >= 2);
    // What the rows say of the server is what the kernel said while it ran: every
    // managed redis-server was allowed exactly the CPUs its rows name.
    assert!(
        !pinned.is_empty(),
        "no managed redis-server was seen running"
    );
    for (method, p) in &a {
        let server: Vec<u64> = p["server_cpus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert!(
            pinned.iter().all(|seen| *seen == server),
            "{method}: the row says {server:?}, the kernel allowed {pinned:?}"
        );
    }

    // The ladder's Redis row uses the different-CPUs figure, the same-CPU one beside it.
    let row = full["ladder"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rung"] == "Redis")
        .unwrap();
    if cpus.len() >= 2 {
        assert_eq!(row["placement"]["kind"], "cross-cpu", "{row}");
        assert!(row["same_cpu_ns"].as_f64().is_some(), "{row}");
    }
}

#[test]
fn a_user_redis_gets_only_the_client_placed() {
    let Some(server) = TestRedis::start(&[]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let url = format!("redis://127.0.0.1:{}/0", server.port);
    let (v, _) = run_json(&["redis", "--url", &url]);
    let rows = redis_rows(&v);
    assert!(!rows.is_empty());
    for (method, p) in rows {
        assert_eq!(p["kind"], "client-only", "{method}");
        assert!(p["server_cpus"].is_null(), "{method}");
    }
}
