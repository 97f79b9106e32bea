//! Integration tests of `ladder db`: the real binary against a real SQLite file and real
//! PostgreSQL servers started here (loopback only). Tests that need PostgreSQL skip with
//! a note where it is not installed (scripts/setup-services.sh installs it).

use crate::common;

use common::*;
use latency_ladder::services::postgres::ManagedPostgres;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn pg_installed() -> bool {
    match ManagedPostgres::bin_dir() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIP {e}");
            false
        }
    }
}

/// `ladder db --quick --quiet --json --out OUT` plus `extra`; the parsed record.
fn db_run(out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "db",
        "--quick",
        "--quiet",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = ladder(&args);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("stdout is the JSON record")
}

/// The rungs of `engine` in a record: (method, p50, p99, samples, note).
fn rungs(run: &serde_json::Value, engine: &str) -> Vec<(String, f64, f64, u64, String)> {
    run["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rung"] == engine)
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["p50_ns"].as_f64().unwrap(),
                r["p99_ns"].as_f64().unwrap(),
                r["samples"].as_u64().unwrap(),
                r["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The bytes read from the storage device per query of each row of `engine` asking
/// `query` (kebab-case, as in run.json): one entry per row.
fn device_reads(run: &serde_json::Value, engine: &str, query: &str) -> Vec<Option<f64>> {
    run["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"]["engine"] == engine && r["id"]["query"] == query)
        .map(|r| r["storage_read_bytes"].as_f64())
        .collect()
}

/// Cold rows read the device (each sample on a fresh session with the tables evicted),
/// warm rows of the same engine do not.
fn assert_cold_reads_the_device_and_warm_does_not(run: &serde_json::Value, engine: &str) {
    for (warm, cold) in [
        ("point-lookup", "point-lookup-cold"),
        ("aggregate", "aggregate-cold"),
    ] {
        // One cold row per transport (SQLite: one; PostgreSQL: TCP and the socket).
        let cold_reads = device_reads(run, engine, cold);
        assert!(!cold_reads.is_empty(), "{engine} {cold} missing");
        let cold_bytes = cold_reads
            .iter()
            .map(|b| b.unwrap_or(0.0))
            .fold(f64::MAX, f64::min);
        assert!(
            cold_bytes >= 4096.0,
            "{engine} {cold} read {cold_reads:?} bytes from the device"
        );
        // Warm: nothing, bar a stray page another part of the process read meanwhile.
        let warm_reads = device_reads(run, engine, warm);
        assert!(!warm_reads.is_empty(), "{engine} {warm} missing");
        for w in warm_reads {
            let w = w.expect("warm reads are counted where cold ones are");
            assert!(
                w < cold_bytes / 100.0,
                "{engine} {warm} read {w} B, cold {cold_bytes}"
            );
        }
    }
}

fn has_method(rs: &[(String, f64, f64, u64, String)], method: &str) -> bool {
    rs.iter().any(|r| r.0 == method)
}

fn run_schemas(client: &mut postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'ladder\\_run\\_%'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Exit 2, one line on stderr, nothing on stdout, no `secrets` anywhere.
/// A user error (exit 2, one line saying `needle`) that shows none of `secrets`.
fn assert_user_error_without(o: &Output, needle: &str, secrets: &[&str]) {
    assert_user_error(o, needle);
    let err = stderr(o);
    for secret in secrets {
        assert!(!err.contains(secret), "{err}");
    }
}

#[test]
fn sqlite_rung_runs_end_to_end_and_keeps_only_the_named_file() {
    let out = tempfile::tempdir().unwrap();
    let keep = tempfile::tempdir().unwrap();
    let db = keep.path().join("kept.db");
    let run = db_run(out.path(), &["--sqlite", db.to_str().unwrap()]);
    let rs = rungs(&run, "sqlite");
    for m in [
        "SQLite prepared PK lookup",
        "SQLite prepared indexed range scan (~100 rows)",
        "SQLite aggregate JOIN over 20000 orders (expensive query)",
        "SQLite first query on a new connection (prepare + PK lookup)",
    ] {
        assert!(has_method(&rs, m), "{m} missing from {rs:?}");
    }
    for (method, p50, _, samples, _) in &rs {
        assert!(*samples > 0 && *p50 > 0.0, "{method}");
    }
    let pk = rs
        .iter()
        .find(|r| r.0 == "SQLite prepared PK lookup")
        .unwrap();
    let agg = rs.iter().find(|r| r.0.contains("aggregate")).unwrap();
    assert!(
        agg.1 > pk.1,
        "a full-scan aggregate is slower than a PK lookup"
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 20_000);
    // Only the run folder is left in --out: the scratch dir is gone.
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // An existing file is never written into.
    let o = ladder(&["db", "--quick", "--sqlite", db.to_str().unwrap()]);
    assert_user_error(&o, "exists; name a new file");
}

#[test]
fn managed_postgres_starts_answers_and_leaves_no_process() {
    if !pg_installed() {
        return;
    }
    let server = ManagedPostgres::start().unwrap();
    let pid = server.pid();
    for url in [server.tcp_url(), server.unix_url()] {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
        assert_eq!(one, 1);
    }
    assert!(alive(pid));
    drop(server);
    assert!(!alive(pid), "postmaster {pid} still running");
}

#[test]
fn ladder_db_measures_managed_postgres_over_both_transports_then_stops_it() {
    if !pg_installed() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = db_run(out.path(), &[]);
    let rs = rungs(&run, "postgres");
    for m in [
        "PG prepared PK lookup over TCP",
        "PG prepared PK lookup over unix socket",
        "PG aggregate JOIN over 20000 orders (expensive query) over TCP",
        "PG first query on a new connection (prepare + PK lookup) over TCP",
        "PG connect (startup + auth) over unix socket",
    ] {
        assert!(has_method(&rs, m), "{m} missing from {rs:?}");
    }
    let note = &rs[0].4;
    let pid: u32 = note
        .split("postmaster pid ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {note}"));
    assert!(!alive(pid), "postmaster {pid} left running");
    assert!(run["skipped"].as_array().unwrap().is_empty());
    assert_cold_reads_the_device_and_warm_does_not(&run, "postgres");
    assert_eq!(device_reads(&run, "postgres", "point-lookup-cold").len(), 2);
    // What a warm lookup is made of: one split per transport, parts that are there and
    // an execution inside the whole.
    let splits = run["db_split"].as_array().expect("db_split");
    let transports: Vec<&str> = splits
        .iter()
        .map(|s| s["transport"].as_str().unwrap())
        .collect();
    assert_eq!(transports, ["tcp", "unix-socket"]);
    for s in splits {
        let part = |k: &str| s[k].as_f64().unwrap();
        assert!(
            part("round_trip_ns") > 0.0 && part("planning_ns") > 0.0,
            "{s}"
        );
        assert!(
            0.0 < part("execution_ns") && part("execution_ns") < part("total_ns"),
            "{s}"
        );
    }
    assert_cold_reads_the_device_and_warm_does_not(&run, "sqlite");
}

#[test]
fn the_expensive_query_grows_with_the_orders_it_aggregates() {
    let out = tempfile::tempdir().unwrap();
    // 10k to 100k orders: ten times the rows, a tenfold difference in work.
    let run = db_run(out.path(), &["--rows", "100000"]);
    let ladders = run["db_sizes"].as_array().expect("db_sizes");
    assert!(!ladders.is_empty());
    for l in ladders {
        let points = l["points"].as_array().unwrap();
        let orders: Vec<u64> = points
            .iter()
            .map(|p| p["orders"].as_u64().unwrap())
            .collect();
        assert_eq!(orders, [10_000, 20_000, 50_000, 100_000], "{l}");
        let warm = |i: usize| points[i]["warm_p50_ns"].as_f64().unwrap();
        assert!(warm(3) > 2.0 * warm(0), "100k not slower than 10k: {l}");
        let cold = |i: usize| points[i]["cold_p50_ns"].as_f64();
        if let (Some(lo), Some(hi)) = (cold(0), cold(3)) {
            assert!(hi > lo, "cold 100k not slower than cold 10k: {l}");
        }
    }
    assert!(out
        .path()
        .read_dir()
        .unwrap()
        .flatten()
        .any(|d| d.path().join("db-sizes.csv").is_file()));
}

/// The benches' queries: a cold session restarts the managed server, the next warm
/// query opens a new session, and dropping them drops the schema. On a server that is
/// not ours there is no cold session.
#[test]
fn the_benches_queries_go_cold_and_warm_again_and_leave_no_schema() {
    use latency_ladder::rungs::db::{BenchQueries, DataSet};
    if !pg_installed() {
        return;
    }
    let mut server = ManagedPostgres::start().unwrap();
    let target = server.target().unwrap();
    let url = server.tcp_url();
    let schemas = || run_schemas(&mut postgres::Client::connect(&url, postgres::NoTls).unwrap());
    let data = DataSet::new(20_000, 3);
    let mut user = BenchQueries::postgres(&data, &target, None).unwrap();
    assert!(!user.has_cold());
    assert_eq!(user.cold().err().unwrap().exit_code(), 2);
    drop(user);
    assert_eq!(schemas(), 0);

    let pid = server.pid();
    let mut q = BenchQueries::postgres(&data, &target, Some(&mut server)).unwrap();
    assert!(q.has_cold());
    q.lookup().unwrap();
    let groups = q.aggregate_upto(20_000).unwrap();
    assert!(groups > 1);
    q.cold().unwrap().point().unwrap();
    assert_eq!(q.cold().unwrap().aggregate().unwrap(), groups);
    q.lookup().unwrap();
    assert_eq!(q.aggregate_upto(20_000).unwrap(), groups);
    assert_eq!(schemas(), 1);
    drop(q);
    assert_eq!(schemas(), 0);
    assert_ne!(server.pid(), pid, "a cold session restarts the server");
}

#[test]
fn a_users_table_survives_and_the_run_schema_is_gone() {
    if !pg_installed() {
        return;
    }
    let server = ManagedPostgres::start().unwrap();
    let mut c = postgres::Client::connect(&server.tcp_url(), postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE public.orders (id int PRIMARY KEY, note text);
         INSERT INTO public.orders VALUES (1, 'mine');",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = db_run(out.path(), &["--postgres-url", &server.tcp_url()]);
    assert!(has_method(
        &rungs(&run, "postgres"),
        "PG prepared PK lookup over TCP"
    ));
    // A user's server is measured warm only: never restarted, its cache never emptied.
    assert!(device_reads(&run, "postgres", "point-lookup-cold").is_empty());
    assert!(device_reads(&run, "postgres", "aggregate-cold").is_empty());
    assert!(!device_reads(&run, "postgres", "point-lookup").is_empty());
    let rows = c.query("SELECT id, note FROM public.orders", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(1), "mine");
    assert_eq!(run_schemas(&mut c), 0);
}

#[test]
fn ctrl_c_during_the_load_drops_the_run_schema() {
    if !pg_installed() {
        return;
    }
    let server = ManagedPostgres::start().unwrap();
    let mut c = postgres::Client::connect(&server.tcp_url(), postgres::NoTls).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["db", "--quiet", "--rows", "1000000", "--out"])
        .arg(out.path())
        .args(["--postgres-url", &server.tcp_url()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // SQLite loads first; wait until the PostgreSQL schema exists, then interrupt.
    let start = Instant::now();
    while run_schemas(&mut c) == 0 {
        assert!(start.elapsed() < Duration::from_secs(120), "no run schema");
        assert!(child.try_wait().unwrap().is_none(), "ladder ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid; no memory is touched.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "stderr: {}", stderr(&o));
    assert_eq!(run_schemas(&mut c), 0, "the run schema survived Ctrl-C");
}

#[test]
fn a_closed_port_exits_2_with_one_line_and_no_password() {
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "db",
        "--quick",
        "--out",
        out.path().to_str().unwrap(),
        "--postgres-url",
        "postgres://ladder:hunter2secret@127.0.0.1:1/x",
    ]);
    assert_user_error_without(&o, "127.0.0.1:1", &["hunter2secret"]);
}

#[test]
fn a_wrong_password_exits_2_with_one_line_and_no_password() {
    if !pg_installed() {
        return;
    }
    let server = ManagedPostgres::start().unwrap();
    let url = |pw: &str| {
        format!(
            "postgres://postgres:{pw}@127.0.0.1:{}/postgres",
            server.port
        )
    };
    // The server's own URL works, so the failure below is the password's.
    postgres::Client::connect(&server.tcp_url(), postgres::NoTls).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "db",
        "--quick",
        "--out",
        out.path().to_str().unwrap(),
        "--postgres-url",
        &url("wrong-pw-17"),
    ]);
    assert_user_error_without(&o, "password", &["wrong-pw-17"]);
}
