//! Placement of service rungs: every row says where client and server ran, managed
//! servers are measured on one CPU and on two (where the host has two), and `ladder
//! redis` and `ladder run` place the same rung the same way — whatever the memory sweep
//! pinned before.

mod common;

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

fn run_json(args: &[&str]) -> Value {
    let out = tempfile::tempdir().unwrap();
    let mut all = args.to_vec();
    all.extend(["--quick", "--quiet", "--json", "--out"]);
    all.push(out.path().to_str().unwrap());
    let o = ladder(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn redis_and_run_place_the_managed_redis_the_same_way() {
    if latency_ladder::services::find_binary("redis-server", &[]).is_none() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    let cpus = latency_ladder::host::allowed_cpus();
    let alone = run_json(&["redis"]);
    // The memory sweep runs first and pins its thread; the Redis rows must not inherit it.
    let full = run_json(&["run", "--skip", "ssd,db,http", "--max", "1M"]);
    let (a, b) = (redis_rows(&alone), redis_rows(&full));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the two commands placed the Redis rows differently");

    let kinds: Vec<&str> = a.iter().map(|(_, p)| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"same-cpu"));
    assert_eq!(kinds.contains(&"cross-cpu"), cpus.len() >= 2);
    for (method, p) in &a {
        let server = p["server_cpus"].as_array().unwrap();
        let client = p["client_cpu"].as_u64().unwrap();
        let same = server.iter().any(|s| s.as_u64() == Some(client));
        assert_eq!(same, p["kind"] == "same-cpu", "{method}: {p}");
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
    let v = run_json(&["redis", "--url", &url]);
    let rows = redis_rows(&v);
    assert!(!rows.is_empty());
    for (method, p) in rows {
        assert_eq!(p["kind"], "client-only", "{method}");
        assert!(p["server_cpus"].is_null(), "{method}");
    }
}
