//! Fault cases, table-driven, against the real binary and real servers on loopback:
//! every bad flag value and every unusable target gives its exit code and one line
//! naming the problem, no secret in any output, nothing of the user's changed (their
//! Redis keys, their PostgreSQL table) and nothing of ours left (no results folder, no
//! temp dir, no run keys, no run schema, no managed server).
//!
//! Faults that could fill a disk or eat memory are refused before anything is written
//! (`--file-size` past the free space, working sets past the memory available).

use crate::common;

use common::{
    alive, assert_user_error, entries, ladder, ladder_env, leaked_servers, servers_of, stderr,
    TestRedis,
};
use latency_ladder::ownership::ledger::{RedisEntry, LEDGER_KEY, SCHEMA_COMMENT_TAG};
use latency_ladder::ownership::Owner;
use latency_ladder::services::postgres::ManagedPostgres;
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One fault: the arguments (`{redis}`, `{silent}`, `{drip}`, `{hugechunk}`, `{pg}` are
/// filled in with ports), extra environment, the exit code, a substring of the
/// one line on stderr, and secrets that must appear nowhere.
struct Case {
    args: &'static str,
    env: &'static [(&'static str, &'static str)],
    code: i32,
    needle: &'static str,
    secrets: &'static [&'static str],
}

const fn case(args: &'static str, code: i32, needle: &'static str) -> Case {
    Case {
        args,
        env: &[],
        code,
        needle,
        secrets: &[],
    }
}

const fn secret(
    args: &'static str,
    needle: &'static str,
    secrets: &'static [&'static str],
) -> Case {
    Case {
        args,
        env: &[],
        code: 2,
        needle,
        secrets,
    }
}

const CASES: &[Case] = &[
    // Numeric flags: bounded, one line, exit 2.
    case("memory --per-octave 4294967295", 2, "--per-octave"),
    case("memory --per-octave 0", 2, "--per-octave"),
    case("memory --trials 0", 2, "--trials"),
    case("memory --trials 18446744073709551616", 2, "--trials"),
    case("memory --cpu 99999", 2, "--cpu 99999"),
    case("memory --cpu -1", 2, "'-1'"),
    case("memory --min 1", 2, "--min"),
    case("memory --min 1G --max 4K", 2, "larger than --max"),
    case("memory --max 1P", 2, "--max"),
    case("memory --max 64T", 2, "memory available"),
    case("memory --pages 1g", 2, "--pages"),
    case("memory --counters bogus", 2, "--counters"),
    case("db --rows 9223372036854775808", 2, "--rows"),
    case("db --rows 10", 2, "--rows"),
    case("db --rows abc", 2, "--rows"),
    case("storage --file-size 18446744073709551615", 2, "--file-size"),
    case("storage --file-size 0", 2, "--file-size"),
    case("storage --file-size 1Q", 2, "--file-size"),
    case("storage --file-size 1T --quick", 2, "free"),
    case("storage --samples 0", 2, "--samples"),
    case("storage --samples 99999999999", 2, "--samples"),
    case("storage --path /nonexistent/dir --quick", 2, "--path"),
    case("stride --size 1T", 2, "memory available"),
    case("stride --tlb-size 1T", 2, "memory available"),
    case("stride --background-cpu 99999", 2, "--background-cpu"),
    case("run --skip bogus", 2, "--skip"),
    case("run --http-url ftp://example.com", 2, "http:// or https://"),
    case("web --http-url ftp://example.com", 2, "http:// or https://"),
    case("web --http-url http://127.0.0.1:1/", 2, "cannot GET"),
    // An unreachable API fails in the check step, before anything is measured.
    secret(
        "run --quick --http-url http://127.0.0.1:1/api?token=runhttpsecret",
        "cannot GET",
        &["runhttpsecret"],
    ),
    // CPU lists are bounded before anything is allocated, then by the CPUs here.
    case("cores --cpus 0-100000000000", 2, "not a CPU list"),
    case("cores --cpus 0-8000", 2, "does not exist"),
    // Hostile HTTP servers: headers, then a byte every 2 s (the request's deadline ends
    // it); a chunk size of 2^64-1 (refused, never allocated).
    case(
        "web --quick --http-url http://127.0.0.1:{drip}/",
        2,
        "within 30 s",
    ),
    case(
        "run --quick --http-url http://127.0.0.1:{drip}/",
        2,
        "within 30 s",
    ),
    case(
        "web --quick --http-url http://127.0.0.1:{hugechunk}/",
        2,
        "larger than 16 MiB",
    ),
    case("report /nonexistent/run", 2, "not a run folder"),
    case(
        "compare /nonexistent/run",
        2,
        "compare needs two run folders",
    ),
    case("db --sqlite /etc/hostname", 2, "exists"),
    // Secrets in every URL form, in our messages and in clap's echo.
    secret(
        "redis redis://:clapsecret@h/",
        "unexpected argument",
        &["clapsecret"],
    ),
    secret(
        "redis --url redis://:pw1secret@127.0.0.1:1/",
        "cannot use Redis",
        &["pw1secret"],
    ),
    secret(
        "redis --url redis+unix:///nonexistent.sock?pass=unixsecret",
        "cannot use Redis",
        &["unixsecret"],
    ),
    secret(
        "redis --url 'not a url:badsecret@'",
        "bad Redis URL",
        &["badsecret"],
    ),
    secret(
        "db --quick --postgres-url postgres://u:pa/sssecret@127.0.0.1:1/db",
        "cannot connect",
        &["pa/sssecret", "sssecret"],
    ),
    secret(
        "db --quick --postgres-url 'host=127.0.0.1 port=1 user=u password=kvsecret'",
        "cannot connect",
        &["kvsecret"],
    ),
    secret(
        "db --quick --postgres-url 'postgres://127.0.0.1:1/db?password=qsecret'",
        "cannot connect",
        &["qsecret"],
    ),
    secret(
        "db --quick --postgres-url 'postgres://u:portsecret@h:notaport/db'",
        "not a PostgreSQL URL",
        &["portsecret"],
    ),
    secret(
        "run --http-url 'http://u:hsecret@:80/?token=tsecret'",
        "no host",
        &["hsecret", "tsecret"],
    ),
    secret(
        "clean --redis-url redis://:csecret@127.0.0.1:1/",
        "cannot use Redis",
        &["csecret"],
    ),
    secret(
        "clean --postgres-url postgres://u:c2secret@127.0.0.1:1/d",
        "cannot connect",
        &["c2secret"],
    ),
    Case {
        args: "db --quick",
        env: &[("DATABASE_URL", "postgres://u:envsecret@127.0.0.1:1/db")],
        code: 2,
        needle: "cannot connect",
        secrets: &["envsecret"],
    },
    // Targets that accept and never answer: one line, exit 2, within the timeouts.
    case(
        "redis --quick --url redis://127.0.0.1:{silent}/",
        2,
        "cannot use Redis",
    ),
    case(
        "db --quick --postgres-url postgres://u@127.0.0.1:{silent}/db",
        2,
        "no answer within",
    ),
    case(
        "run --quick --skip memory,ssd,db,http --redis-url redis://127.0.0.1:{silent}/",
        2,
        "cannot use Redis",
    ),
    Case {
        args: "redis --quick",
        env: &[("REDIS_URL", "redis://127.0.0.1:{silent}/")],
        code: 2,
        needle: "cannot use Redis",
        secrets: &[],
    },
    // Real servers the run may not use.
    case("redis --quick --url redis://127.0.0.1:{redis}/", 2, "Redis"),
    secret(
        "redis --quick --url redis://:wrongsecret@127.0.0.1:{redis}/",
        "Redis",
        &["wrongsecret"],
    ),
    secret(
        "db --quick --postgres-url postgres://postgres:wrongpgsecret@127.0.0.1:{pg}/postgres",
        "password",
        &["wrongpgsecret"],
    ),
    secret(
        "db --quick --postgres-url postgres://ro:rosecret@127.0.0.1:{pg}/postgres",
        "may not CREATE",
        &["rosecret"],
    ),
];

/// Held by the tests that kill a run and then run `ladder clean`, which looks at every
/// dead run's dirs: one at a time, so one's clean does not take the other's evidence.
static KILL_AND_CLEAN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A listener that accepts connections and never answers.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    (port, h)
}

/// A listener that answers every request with `head`, then (with `drip`) one more
/// byte every 2 s for as long as the client reads.
fn scripted_server(head: &'static str, drip: bool) -> u16 {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = s.read(&mut request);
                let mut sent = s.write_all(head.as_bytes());
                while drip && sent.is_ok() {
                    std::thread::sleep(Duration::from_secs(2));
                    sent = s.write_all(b"x");
                }
            });
        }
    });
    port
}

/// Every key on the test's own Redis (KEYS is fine there), as (key, value) pairs.
fn redis_keys(conn: &mut redis::Connection) -> BTreeSet<(String, String)> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(conn).unwrap();
    keys.into_iter()
        .map(|k| {
            let v: String = redis::cmd("GET").arg(&k).query(conn).unwrap_or_default();
            (k, v)
        })
        .collect()
}

/// Run schemas and the user's rows on a PostgreSQL.
fn pg_state(url: &str) -> (Vec<String>, Vec<String>) {
    let schemas = pg_schemas(url);
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let rows = c
        .query("SELECT note FROM public.keepme ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (schemas, rows)
}

/// The managed servers' dirs of the ladder process `pid`.
fn server_dirs(pid: u32) -> Vec<std::path::PathBuf> {
    let tmp = std::env::temp_dir();
    entries(&tmp)
        .into_iter()
        .filter(|n| {
            n.starts_with("ladder-") && n.split('-').nth(2) == Some(pid.to_string().as_str())
        })
        .map(|n| tmp.join(n))
        .collect()
}

/// Our leftovers of the ladder process `pid`: server dirs and servers.
fn our_leftovers(pid: u32) -> Vec<String> {
    let mut left: Vec<String> = server_dirs(pid)
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    left.extend(servers_of(pid).iter().map(|p| format!("process {p}")));
    left
}

/// Runs `ladder` with `args` split like a shell would (single quotes group), waiting at
/// most `limit`; returns (exit code, stdout, stderr, pid).
fn run_ladder(
    args: &str,
    env: &[(&str, String)],
    limit: Duration,
) -> (Option<i32>, String, String, u32) {
    let words = shell_words(args);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
    cmd.args(&words)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("ladder {args} still runs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr(&o),
        pid,
    )
}

fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

#[test]
fn every_fault_gives_its_exit_code_one_line_no_secret_and_leaves_nothing() {
    assert!(CASES.len() >= 35, "{} cases", CASES.len());
    let (silent, _silent) = silent_server();
    let drip = scripted_server("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", true);
    let hugechunk = scripted_server(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nffffffffffffffff\r\n",
        false,
    );
    // The user's Redis: a password, and keys of theirs.
    let user_redis = TestRedis::start(&["--requirepass", "userredissecret"]);
    let pg_installed = ManagedPostgres::bin_dir().is_ok();
    let user_pg = pg_installed.then(|| ManagedPostgres::start().unwrap());
    if let Some(pg) = &user_pg {
        let mut c = postgres::Client::connect(&pg.tcp_url(), postgres::NoTls).unwrap();
        c.batch_execute(
            "CREATE TABLE public.keepme (note text); INSERT INTO public.keepme VALUES ('mine');
             CREATE ROLE ro LOGIN PASSWORD 'rosecret';",
        )
        .unwrap();
    }
    let mut redis_conn = user_redis.as_ref().map(|r| {
        let mut c = redis::Client::open(format!("redis://:userredissecret@127.0.0.1:{}/", r.port))
            .unwrap()
            .get_connection()
            .unwrap();
        for i in 0..100 {
            let _: () = redis::cmd("SET")
                .arg(format!("user:{i}"))
                .arg(format!("value {i}"))
                .query(&mut c)
                .unwrap();
        }
        c
    });
    let redis_before = redis_conn.as_mut().map(redis_keys);
    let pg_before = user_pg.as_ref().map(|pg| pg_state(&pg.tcp_url()));

    let mut failures = Vec::new();
    let mut ran = 0;
    for c in CASES {
        if (c.args.contains("{redis}") && user_redis.is_none())
            || ((c.args.contains("{pg}")) && user_pg.is_none())
        {
            eprintln!("SKIP fault case {:?}: its server is not installed", c.args);
            continue;
        }
        ran += 1;
        let fill = |s: &str| {
            s.replace("{silent}", &silent.to_string())
                .replace("{drip}", &drip.to_string())
                .replace("{hugechunk}", &hugechunk.to_string())
                .replace(
                    "{redis}",
                    &user_redis.as_ref().map_or(0, |r| r.port).to_string(),
                )
                .replace("{pg}", &user_pg.as_ref().map_or(0, |p| p.port).to_string())
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let args = format!("{} --out {}", fill(c.args), out.display());
        let env: Vec<(&str, String)> = c.env.iter().map(|(k, v)| (*k, fill(v))).collect();
        let (code, stdout, err, pid) = run_ladder(&args, &env, Duration::from_secs(60));
        let mut problems = Vec::new();
        if code != Some(c.code) {
            problems.push(format!("exit {code:?}, want {}", c.code));
        }
        if err.trim_end().lines().count() != 1 || !err.contains(c.needle) {
            problems.push(format!("stderr {err:?} lacks one line with {:?}", c.needle));
        }
        if err.contains("panicked") || !stdout.is_empty() {
            problems.push(format!("panic or stdout: {stdout:?} {err:?}"));
        }
        for s in c.secrets {
            if err.contains(s) || stdout.contains(s) {
                problems.push(format!("secret {s} leaked: {err:?}"));
            }
        }
        if !entries(&out).is_empty() {
            problems.push(format!("left in --out: {:?}", entries(&out)));
        }
        let left = our_leftovers(pid);
        if !left.is_empty() {
            problems.push(format!("left behind: {left:?}"));
        }
        if let (Some(conn), Some(before)) = (redis_conn.as_mut(), &redis_before) {
            if &redis_keys(conn) != before {
                problems.push("the user's Redis changed".into());
            }
        }
        if let (Some(pg), Some(before)) = (&user_pg, &pg_before) {
            if &pg_state(&pg.tcp_url()) != before {
                problems.push("the user's PostgreSQL changed".into());
            }
        }
        if !problems.is_empty() {
            failures.push(format!("ladder {args}: {}", problems.join("; ")));
        }
    }
    eprintln!("fault cases: {} of {ran} pass", ran - failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn managed_servers_refuse_a_login_without_the_password() {
    let Ok(server) = latency_ladder::services::redis::ManagedRedis::start() else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let refused = redis::cmd("PING").query::<String>(&mut c).unwrap_err();
    assert!(refused.to_string().contains("NOAUTH"), "{refused}");
    let mut c = redis::Client::open(server.tcp_url())
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(redis::cmd("PING").query::<String>(&mut c).unwrap(), "PONG");
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(server.socket.parent().unwrap()), 0o700);
    if ManagedPostgres::bin_dir().is_err() {
        eprintln!(
            "SKIP PostgreSQL is not installed: only Redis checked (scripts/setup-services.sh)"
        );
        return;
    }
    let pg = ManagedPostgres::start().unwrap();
    for url in [
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port),
        format!("postgres://postgres:wrong@127.0.0.1:{}/postgres", pg.port),
    ] {
        let e = postgres::Client::connect(&url, postgres::NoTls)
            .err()
            .expect("refused");
        // Without a password the client gives up when the server asks for one.
        assert!(format!("{e:?}").contains("password"), "{e:?}");
    }
    postgres::Client::connect(&pg.tcp_url(), postgres::NoTls).unwrap();
    postgres::Client::connect(&pg.unix_url(), postgres::NoTls).unwrap();
    assert_eq!(mode(&pg.socket_dir), 0o700);
    // No password on any server's command line.
    for pid in [server.pid(), pg.pid()] {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(
            !cmdline.contains("requirepass") && !cmdline.contains("pwfile"),
            "{cmdline}"
        );
    }
}

/// Starts `ladder args` in its own process group (as a shell job), waits until
/// `ready` says the run is in the middle, then sends `signal` to the whole group.
/// A `ladder run` of only the service rungs (results under `out`), sent `signal` once
/// its managed servers are up.
fn interrupt_with_servers_up(out: &str, signal: libc::c_int) -> (std::process::Output, u32) {
    interrupt_when(
        &[
            "run",
            "--quick",
            "--quiet",
            "--skip",
            "memory,ssd,http",
            "--out",
            out,
        ],
        &[],
        signal,
        |pid| !servers_of(pid).is_empty(),
    )
}

fn interrupt_when(
    args: &[&str],
    env: &[(&str, &str)],
    signal: libc::c_int,
    mut ready: impl FnMut(u32) -> bool,
) -> (std::process::Output, u32) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ladder"));
    cmd.args(args)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let start = Instant::now();
    while !ready(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never got ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on the process group of our own child.
    unsafe {
        libc::kill(-(pid as libc::pid_t), signal);
    }
    (child.wait_with_output().unwrap(), pid)
}

#[test]
fn a_terminal_ctrl_c_or_hangup_exits_130_writes_nothing_and_stops_the_servers() {
    if latency_ladder::services::redis::ManagedRedis::binary().is_err() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    for signal in [libc::SIGINT, libc::SIGHUP] {
        let out = tempfile::tempdir().unwrap();
        let o = out.path().to_str().unwrap();
        let (output, pid) = interrupt_with_servers_up(o, signal);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(130), "{err}");
        assert!(err.contains("interrupted"), "{err}");
        assert!(entries(out.path()).is_empty(), "{:?}", entries(out.path()));
        let start = Instant::now();
        while !our_leftovers(pid).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{:?}",
                our_leftovers(pid)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn after_a_sigkill_the_servers_die_and_ladder_clean_removes_the_rest() {
    let _one_at_a_time = KILL_AND_CLEAN.lock().unwrap_or_else(|e| e.into_inner());
    if ManagedPostgres::bin_dir().is_err() {
        eprintln!("SKIP PostgreSQL is not installed (scripts/setup-services.sh)");
        return;
    }
    let Some(user_redis) = TestRedis::start(&[]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let user_pg = ManagedPostgres::start().unwrap();
    let redis_url = format!("redis://127.0.0.1:{}/", user_redis.port);
    let mut rc = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("theirs")
        .arg("1")
        .query(&mut rc)
        .unwrap();
    let mut probe = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let pg_url = user_pg.tcp_url();
    let schemas = |url: &str| pg_schemas(url);
    let (output, pid) = interrupt_when(
        &[
            "run",
            "--quick",
            "--quiet",
            "--skip",
            "memory,http",
            "--out",
            o,
            "--redis-url",
            &redis_url,
            "--postgres-url",
            &pg_url,
        ],
        &[],
        libc::SIGKILL,
        |_| {
            let run_keys: Vec<String> = redis::cmd("KEYS")
                .arg("ladder:*")
                .query(&mut probe)
                .unwrap();
            !schemas(&pg_url).is_empty() && !run_keys.is_empty()
        },
    );
    assert_eq!(output.status.code(), None);
    // The managed servers of the run (none here but the run's own) die with it.
    let start = Instant::now();
    while !servers_of(pid).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "servers outlived ladder"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let keys = |c: &mut redis::Connection| -> Vec<String> {
        redis::cmd("KEYS").arg("ladder:*").query(c).unwrap()
    };
    let before = (
        keys(&mut rc).len(),
        schemas(&pg_url).len(),
        entries(out.path()).len(),
    );
    eprintln!(
        "left by SIGKILL: {} keys, {} schemas, {} dirs under --out",
        before.0, before.1, before.2
    );
    for k in keys(&mut rc) {
        let ttl: i64 = redis::cmd("TTL").arg(&k).query(&mut rc).unwrap();
        assert!(ttl > 0, "{k} has no expiry");
    }
    let dry = ladder_env(
        &[
            "clean",
            "--dry-run",
            "--out",
            o,
            "--redis-url",
            &redis_url,
            "--postgres-url",
            &pg_url,
        ],
        &[],
    );
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(
        schemas(&pg_url).len(),
        before.1,
        "dry run removed something"
    );
    let clean = ladder_env(
        &[
            "clean",
            "--out",
            o,
            "--redis-url",
            &redis_url,
            "--postgres-url",
            &pg_url,
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(
        text.contains("proof: ") && text.contains("its process is gone"),
        "{text}"
    );
    assert!(keys(&mut rc).is_empty());
    assert!(schemas(&pg_url).is_empty());
    assert!(entries(out.path()).is_empty(), "{:?}", entries(out.path()));
    assert!(our_leftovers(pid).is_empty(), "{:?}", our_leftovers(pid));
    let theirs: String = redis::cmd("GET").arg("theirs").query(&mut rc).unwrap();
    assert_eq!(theirs, "1");
    eprintln!("after ladder clean: 0 keys, 0 schemas, 0 dirs");
    assert!(!alive(pid));
}

/// The run schemas on a PostgreSQL.
fn pg_schemas(url: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ladder%'",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn secrets_reach_no_output_file_and_an_evicting_redis_gets_a_warning() {
    if ManagedPostgres::bin_dir().is_err() {
        eprintln!("SKIP PostgreSQL is not installed (scripts/setup-services.sh)");
        return;
    }
    let Some(user_redis) = TestRedis::start(&[
        "--requirepass",
        "redisfilesecret",
        "--maxmemory",
        "64mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let pg = ManagedPostgres::start().unwrap();
    let pg_url = pg.tcp_url();
    let pg_secret = pg_url
        .split('@')
        .next()
        .and_then(|u| u.rsplit(':').next())
        .unwrap()
        .to_string();
    let redis_url = format!("redis://:redisfilesecret@127.0.0.1:{}/", user_redis.port);
    let out = tempfile::tempdir().unwrap();
    let o = ladder_env(
        &[
            "run",
            "--quick",
            "--quiet",
            "--skip",
            "memory,ssd",
            "--redis-url",
            &redis_url,
            "--postgres-url",
            &pg_url,
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning") && err.contains("allkeys-lru"),
        "{err}"
    );
    let dirs = entries(out.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let mut texts = vec![err, String::from_utf8_lossy(&o.stdout).into_owned()];
    for f in entries(&out.path().join(&dirs[0])) {
        if f.ends_with(".png") {
            continue;
        }
        texts.push(std::fs::read_to_string(out.path().join(&dirs[0]).join(f)).unwrap());
    }
    let record = std::fs::read_to_string(out.path().join(&dirs[0]).join("run.json")).unwrap();
    for rung in ["\"rung\": \"redis\"", "\"rung\": \"postgres\""] {
        assert!(record.contains(rung), "no {rung} row: {record}");
    }
    for secret in ["redisfilesecret", pg_secret.as_str()] {
        assert!(texts.iter().all(|t| !t.contains(secret)), "{secret} leaked");
    }
    assert!(pg_schemas(&pg_url).is_empty());

    // libpq's key/value form with spaces around `=` (which it accepts): the password
    // reaches no output either (terminal, run.json, report.md, CSV).
    let kv = format!(
        "host=127.0.0.1 port={} user=postgres password = {pg_secret} dbname=postgres",
        pg.port
    );
    let out = tempfile::tempdir().unwrap();
    let o = ladder_env(
        &[
            "db",
            "--quick",
            "--postgres-url",
            &kv,
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dirs = entries(out.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let mut texts = vec![stderr(&o), String::from_utf8_lossy(&o.stdout).into_owned()];
    for f in entries(&out.path().join(&dirs[0])) {
        if !f.ends_with(".png") {
            texts.push(std::fs::read_to_string(out.path().join(&dirs[0]).join(f)).unwrap());
        }
    }
    assert!(
        texts.iter().any(|t| t.contains("password = ***")),
        "{texts:?}"
    );
    assert!(
        texts.iter().all(|t| !t.contains(&pg_secret)),
        "the spaced form leaked"
    );
}

#[test]
fn managed_servers_die_with_a_sigkilled_ladder_and_clean_removes_dirs_and_orphans() {
    let _one_at_a_time = KILL_AND_CLEAN.lock().unwrap_or_else(|e| e.into_inner());
    if latency_ladder::services::redis::ManagedRedis::binary().is_err() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let (output, pid) = interrupt_with_servers_up(o, libc::SIGKILL);
    assert_eq!(output.status.code(), None);
    let start = Instant::now();
    while !servers_of(pid).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "servers outlived ladder"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!server_dirs(pid).is_empty(), "a SIGKILL leaves the dirs");
    // An orphan as an older version would leave it: a server in a dead run's dir.
    let orphan_dir = server_dirs(pid)[0].clone();
    let mut orphan = TestRedis::start_in(&orphan_dir, &[]).unwrap();
    let start = Instant::now();
    while !servers_of(pid).contains(&orphan.pid()) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "orphan did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let clean = ladder_env(&["clean", "--out", o], &[]);
    let text = String::from_utf8_lossy(&clean.stdout);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(
        text.contains(&format!("managed server pid {}", orphan.pid())),
        "{text}"
    );
    assert_eq!(orphan.wait(), None, "the orphan was killed");
    assert!(our_leftovers(pid).is_empty(), "{:?}", our_leftovers(pid));
}

#[test]
fn ctrl_c_in_the_memory_sweep_stops_between_trials_with_130_and_no_folder() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let started = Instant::now();
    let (output, _) = interrupt_when(
        &[
            "memory", "--quiet", "--max", "256M", "--trials", "1000", "--out", o,
        ],
        &[],
        libc::SIGINT,
        |_| started.elapsed() > Duration::from_secs(2),
    );
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(entries(out.path()).is_empty(), "{:?}", entries(out.path()));
}

/// An owner record like a run's: a fresh run id, this machine's facts, then `edit`.
fn owner_record(edit: impl FnOnce(&mut Owner)) -> Owner {
    let mut o = Owner {
        run_id: format!("{:032x}", rand::random::<u128>()),
        ..Owner::this_run()
    };
    edit(&mut o);
    o
}

/// The pid of a process that has exited (a run of this machine that is over).
fn exited_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A dir `parent/name` holding `owner`'s marker (what `ladder` writes in its dirs).
fn marked_dir(parent: &Path, name: &str, owner: &Owner) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join(latency_ladder::ownership::MARKER),
        serde_json::to_string(owner).unwrap(),
    )
    .unwrap();
    dir
}

#[test]
fn the_leak_check_sees_a_planted_leak() {
    let _one_at_a_time = KILL_AND_CLEAN.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = std::env::temp_dir();
    let dead = owner_record(|o| o.pid = exited_pid());
    let dir = marked_dir(&tmp, &format!("ladder-redis-{}-planted", dead.pid), &dead);
    let Some(leak) = TestRedis::start_in(&dir, &[]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    // redis-server rewrites its command line: only the marker in its cwd shows it.
    let seen = leaked_servers();
    let pid = leak.pid();
    drop(leak);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen.contains(&pid), "planted leak {pid} not seen: {seen:?}");
    eprintln!("planted leak seen: redis-server pid {pid}");
}

#[test]
fn clean_removes_only_what_a_record_proves_ours_and_over() {
    let _one_at_a_time = KILL_AND_CLEAN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(user_redis) = TestRedis::start(&[]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    if ManagedPostgres::bin_dir().is_err() {
        eprintln!("SKIP PostgreSQL is not installed (scripts/setup-services.sh)");
        return;
    }
    let user_pg = ManagedPostgres::start().unwrap();
    let pg_url = user_pg.tcp_url();
    let redis_url = format!("redis://127.0.0.1:{}/", user_redis.port);
    let mut rc = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut pg = postgres::Client::connect(&pg_url, postgres::NoTls).unwrap();
    let (now, _): (u64, u64) = redis::cmd("TIME").query(&mut rc).unwrap();

    // Runs in the ledger: one of another host, over by its heartbeat; one of another
    // host, live (fresh heartbeat); one of this host whose process is gone.
    let over_elsewhere = owner_record(|o| {
        o.host = "gone-host".into();
        o.heartbeat = now - 3600;
    });
    let live_elsewhere = owner_record(|o| {
        o.host = "busy-host".into();
        o.heartbeat = now;
    });
    let over_here = owner_record(|o| {
        o.pid = exited_pid();
        o.heartbeat = now;
    });
    let unnamed = format!("{:032x}", rand::random::<u128>());
    for o in [&over_elsewhere, &live_elsewhere, &over_here] {
        let entry = RedisEntry {
            key_prefix: format!("ladder:{}:", o.run_id),
            owner: o.clone(),
        };
        let _: () = redis::cmd("HSET")
            .arg(LEDGER_KEY)
            .arg(&o.run_id)
            .arg(serde_json::to_string(&entry).unwrap())
            .query(&mut rc)
            .unwrap();
        for i in 0..3 {
            let _: () = redis::cmd("SET")
                .arg(format!("ladder:{}:0badcafe:k{i}", o.run_id))
                .arg("x")
                .query(&mut rc)
                .unwrap();
        }
    }
    // The user's look-alikes: leaderboard keys, an old-style name, and one with a run
    // id's shape that no ledger names.
    let lookalike_keys = [
        "ladder:2024:season-1".to_string(),
        "ladder:users:42".to_string(),
        "ladder:123:456:0abc:hit".to_string(),
        format!("ladder:{unnamed}:0:k"),
    ];
    for k in &lookalike_keys {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("theirs")
            .query(&mut rc)
            .unwrap();
    }
    // PostgreSQL: the user's schemas (one with a table and a row), one with a run
    // schema's exact shape and no comment, one whose comment names another run id;
    // and run schemas with their comments (over elsewhere, live elsewhere, over here).
    let comment = |o: &Owner| {
        format!("{SCHEMA_COMMENT_TAG}{}", serde_json::to_string(o).unwrap()).replace('\'', "''")
    };
    let schema = |o: &Owner| format!("ladder_run_{}_0", o.run_id);
    let forged = format!("ladder_run_{unnamed}_1");
    pg.batch_execute(&format!(
        "CREATE SCHEMA ladder_run_archive; CREATE TABLE ladder_run_archive.t (v text);
         INSERT INTO ladder_run_archive.t VALUES ('row');
         CREATE SCHEMA ladder_run_2024;
         CREATE SCHEMA ladder_run_{unnamed}_0;
         CREATE SCHEMA {forged}; COMMENT ON SCHEMA {forged} IS '{}';
         CREATE SCHEMA {}; COMMENT ON SCHEMA {} IS '{}';
         CREATE SCHEMA {}; COMMENT ON SCHEMA {} IS '{}';
         CREATE SCHEMA {}; COMMENT ON SCHEMA {} IS '{}';",
        comment(&over_elsewhere),
        schema(&over_elsewhere),
        schema(&over_elsewhere),
        comment(&over_elsewhere),
        schema(&live_elsewhere),
        schema(&live_elsewhere),
        comment(&live_elsewhere),
        schema(&over_here),
        schema(&over_here),
        comment(&over_here),
    ))
    .unwrap();
    // Dirs: the user's look-alike (no marker) under --out and the temp dir, a dir of
    // a run that is over, a dir of this live process; and a user's server working in
    // a look-alike dir.
    let out = tempfile::tempdir().unwrap();
    let user_dir = out.path().join(".ladder-tmp-1-mine");
    std::fs::create_dir(&user_dir).unwrap();
    std::fs::write(user_dir.join("notes.txt"), "mine").unwrap();
    let user_server_tmp = tempfile::Builder::new()
        .prefix(&format!("ladder-redis-{}-", std::process::id()))
        .tempdir()
        .unwrap();
    let user_server_dir = user_server_tmp.path().to_path_buf();
    let mut user_server = TestRedis::start_in(&user_server_dir, &[]).unwrap();
    let over_dir = marked_dir(out.path(), ".ladder-tmp-2-over", &over_here);
    let live_dir = marked_dir(out.path(), ".ladder-tmp-3-live", &Owner::this_run());

    let args = |dry: bool| {
        let mut a = vec![
            "clean",
            "--out",
            out.path().to_str().unwrap(),
            "--redis-url",
            &redis_url,
            "--postgres-url",
            &pg_url,
        ];
        if dry {
            a.push("--dry-run");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |dry: bool| {
        let a = args(dry);
        let o = ladder_env(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let exists = |c: &mut redis::Connection, k: &str| -> bool {
        redis::cmd("EXISTS").arg(k).query::<i64>(c).unwrap() == 1
    };
    let key_count = |c: &mut redis::Connection, o: &Owner| -> usize {
        (0..3)
            .filter(|i| exists(c, &format!("ladder:{}:0badcafe:k{i}", o.run_id)))
            .count()
    };

    let dry = run(true);
    assert!(
        dry.contains(&format!(
            "would remove redis keys ladder:{}:* (3)",
            over_elsewhere.run_id
        )) && dry.contains("last heartbeat 60 min ago")
            && dry.contains("its process is gone"),
        "{dry}"
    );
    assert_eq!(
        key_count(&mut rc, &over_elsewhere),
        3,
        "the dry run removed keys"
    );
    assert!(over_dir.exists(), "the dry run removed a dir");

    let text = run(false);
    eprintln!("{text}");
    // Removed: what a record proves ours and over.
    let pg_schemas_now = pg_schemas(&pg_url);
    for o in [&over_elsewhere, &over_here] {
        assert_eq!(key_count(&mut rc, o), 0, "{} keys left", o.run_id);
        let field: bool = redis::cmd("HEXISTS")
            .arg(LEDGER_KEY)
            .arg(&o.run_id)
            .query(&mut rc)
            .unwrap();
        assert!(!field, "ledger entry of {} left", o.run_id);
        assert!(!pg_schemas_now.contains(&schema(o)), "{} left", schema(o));
    }
    assert!(!over_dir.exists(), "the dir of a run that is over was left");
    // Survived: the live run of another host, this live process's dir, and every
    // look-alike of the user's.
    let mut survived = Vec::new();
    let mut check = |what: String, ok: bool| {
        eprintln!("{what}: {}", if ok { "survived" } else { "REMOVED" });
        survived.push((what, ok));
    };
    for k in &lookalike_keys {
        check(format!("redis key {k}"), exists(&mut rc, k));
    }
    check(
        "live run of another host (redis)".into(),
        key_count(&mut rc, &live_elsewhere) == 3,
    );
    for s in [
        "ladder_run_archive".to_string(),
        "ladder_run_2024".to_string(),
        format!("ladder_run_{unnamed}_0"),
        forged.clone(),
        schema(&live_elsewhere),
    ] {
        check(format!("postgres schema {s}"), pg_schemas_now.contains(&s));
    }
    let row: String = pg
        .query_one("SELECT v FROM ladder_run_archive.t", &[])
        .map(|r| r.get(0))
        .unwrap_or_default();
    check("the row in ladder_run_archive.t".into(), row == "row");
    check(
        format!("dir {}", user_dir.display()),
        user_dir.join("notes.txt").is_file(),
    );
    check(
        format!("dir {}", user_server_dir.display()),
        user_server_dir.is_dir(),
    );
    check(format!("dir {}", live_dir.display()), live_dir.is_dir());
    check(
        format!("the user's redis-server pid {}", user_server.pid()),
        user_server.runs(),
    );
    drop(user_server);
    let removed: Vec<&String> = survived
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(w, _)| w)
        .collect();
    assert!(removed.is_empty(), "removed: {removed:?}\n{text}");
    assert!(
        text.contains("left alone: redis: 4 keys under ladder: that no entry"),
        "{text}"
    );
}

#[test]
fn load_refuses_more_connections_than_a_users_busy_postgres_has_room_for() {
    if ManagedPostgres::bin_dir().is_err() {
        eprintln!("SKIP PostgreSQL is not installed (scripts/setup-services.sh)");
        return;
    }
    // "The user's" server, 300 sessions, of which their own clients hold 280.
    let user_pg = ManagedPostgres::start().unwrap();
    let url = user_pg.tcp_url();
    let theirs: Vec<postgres::Client> = (0..280)
        .map(|_| postgres::Client::connect(&url, postgres::NoTls).unwrap())
        .collect();
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
        "load",
        "--target",
        "postgres",
        "--postgres-url",
        &url,
        "--connections",
        "64",
    ]);
    assert_user_error(&o, "--connections 64: PostgreSQL at");
    assert!(stderr(&o).contains("max_connections 300"), "{}", stderr(&o));
    // Refused before anything was made or measured, and their sessions all live.
    assert!(pg_schemas(&url).is_empty(), "{:?}", pg_schemas(&url));
    assert!(entries(out.path()).is_empty(), "{:?}", entries(out.path()));
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let open: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, theirs.len() as i64 + 1);
}
