//! Integration tests of the storage and Redis rungs, on real files and real servers.

use crate::common;

use common::*;
use redis::Commands;

fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn run_json(args: &[&str], out: &std::path::Path) -> serde_json::Value {
    let mut full = args.to_vec();
    full.extend([
        "--quick",
        "--quiet",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    let o = ladder(&full);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

fn methods(v: &serde_json::Value) -> Vec<String> {
    v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn storage_on_a_temp_dir_measures_and_leaves_nothing() {
    let target = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = out_dir();
    let v = run_json(
        &[
            "storage",
            "--path",
            target.path().to_str().unwrap(),
            "--file-size",
            "16M",
            "--samples",
            "200",
        ],
        out.path(),
    );
    let m = methods(&v);
    assert!(m.iter().any(|m| m.contains("4K random read QD1")), "{m:?}");
    // The uncached reads: on the device interrupt's CPU and on another, each with the
    // interrupts it saw; or one row that says why they could not be placed.
    let reads: Vec<&serde_json::Value> = v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"]["op"] == "random-read")
        .collect();
    match reads.as_slice() {
        [on, off] => {
            let (p, q) = (&on["placement"], &off["placement"]);
            assert_eq!(
                (p["kind"].as_str(), q["kind"].as_str()),
                (Some("irq-cpu"), Some("other-than-irq"))
            );
            let irq = p["server_cpus"][0].as_u64().unwrap();
            assert_eq!(q["server_cpus"][0].as_u64(), Some(irq));
            assert_eq!(p["client_cpu"].as_u64(), Some(irq));
            assert_ne!(q["client_cpu"].as_u64(), Some(irq));
            // The interrupt's CPU took most of the interrupts of the reads on it.
            let most = p["interrupts"]
                .as_array()
                .unwrap()
                .iter()
                .max_by_key(|c| c["count"].as_u64().unwrap())
                .unwrap();
            assert_eq!(most["cpu"].as_u64(), Some(irq), "{p}");
        }
        [one] => {
            let why = one["no_irq_placement"].as_str().unwrap_or_default();
            println!("SKIP placement: the reads could not be placed here ({why})");
            assert!(!why.is_empty(), "an unplaced row says why: {one}");
            assert!(one["placement"].is_null());
        }
        other => panic!("uncached read rows: {other:?}"),
    }
    assert!(m.iter().any(|m| m.contains("warm page cache")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("fdatasync")), "{m:?}");
    for r in v["rungs"].as_array().unwrap() {
        assert!(r["p50_ns"].as_f64().unwrap() > 0.0, "{r}");
        assert!(
            r["note"].as_str().unwrap().contains(" on "),
            "device recorded: {r}"
        );
    }
    assert!(
        entries(target.path()).is_empty(),
        "left behind: {:?}",
        entries(target.path())
    );
}

#[test]
fn storage_refuses_tmpfs() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let Some(shm) = ["/dev/shm", "/run"].into_iter().find(|p| {
        latency_ladder::rungs::storage::mount_of(&mountinfo, std::path::Path::new(p))
            .is_some_and(|m| m.fstype == "tmpfs")
    }) else {
        eprintln!("SKIP no tmpfs mount to try");
        return;
    };
    let out = out_dir();
    let o = ladder(&[
        "storage",
        "--quick",
        "--path",
        shm,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_user_error(&o, "tmpfs");
    assert!(entries(out.path()).is_empty());
}

#[test]
fn managed_redis_is_measured_then_gone() {
    if latency_ladder::services::find_binary("redis-server", &[]).is_none() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    let out = out_dir();
    let v = run_json(&["redis"], out.path());
    let m = methods(&v);
    for want in [
        "PING over TCP, back-to-back",
        "GET hit over unix socket, back-to-back",
        "GET miss over TCP, back-to-back",
        "SET with TTL (EX 60) over TCP, back-to-back",
        "INCR over unix socket, back-to-back",
        "GET hit over TCP, 10 ms apart",
        "GET hit over unix socket, pipelined 100 per batch (per command)",
    ] {
        assert!(m.iter().any(|x| x == want), "missing {want} in {m:?}");
    }
    assert_eq!(leaked_servers(), Vec::<u32>::new(), "left running");
}

#[test]
fn a_users_redis_keeps_its_keys_and_gets_none_of_ours() {
    let Some(server) = TestRedis::start(&[]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let mut c = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = c.set("user:session:42", "keep me").unwrap();
    let out = out_dir();
    let v = run_json(&["redis", "--url", &url], out.path());
    assert!(methods(&v).iter().all(|m| m.contains("over TCP")));
    let kept: String = c.get("user:session:42").unwrap();
    assert_eq!(kept, "keep me");
    let keys: Vec<String> = c.keys("*").unwrap();
    assert_eq!(keys, ["user:session:42"]);

    // REDIS_URL is the default target.
    let o = ladder_env(
        &[
            "redis",
            "--quick",
            "--quiet",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[("REDIS_URL", &url)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let keys: Vec<String> = c.keys("*").unwrap();
    assert_eq!(keys, ["user:session:42"]);
}

#[test]
fn unreachable_redis_exits_2_in_one_line() {
    let out = out_dir();
    let start = std::time::Instant::now();
    let o = ladder(&[
        "redis",
        "--quick",
        "--url",
        "redis://127.0.0.1:1/",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_user_error(&o, "cannot use Redis at redis://127.0.0.1:1/");
    assert!(start.elapsed().as_secs() < 30);
    let o = ladder(&[
        "redis",
        "--url",
        "http://nope",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_user_error(&o, "Redis URL");
    assert!(entries(out.path()).is_empty());
}

#[test]
fn a_wrong_password_exits_2_without_showing_it() {
    let Some(server) = TestRedis::start(&["--requirepass", "right-horse-battery"]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let out = out_dir();
    let url = format!("redis://:wrong-staple-9@127.0.0.1:{}/", server.port);
    let o = ladder(&[
        "redis",
        "--quick",
        "--url",
        &url,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_user_error(&o, ":***@127.0.0.1");
    assert!(!stderr(&o).contains("wrong-staple-9"));
    assert!(!stderr(&o).contains("right-horse-battery"));
}
