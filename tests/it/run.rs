//! `ladder run --quick` end to end: every rung on managed servers the run starts and
//! stops itself, the lecture's table, the caching patterns, and the run folder.

use crate::common;

use common::*;
use std::io::{Read, Write};

/// A tiny HTTP server on loopback answering one request per connection, until the
/// test ends.
fn http_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut s = stream.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => req.extend_from_slice(&buf[..k]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    port
}

#[test]
fn quick_run_measures_every_rung_and_leaves_no_server_behind() {
    let have_redis = latency_ladder::services::find_binary("redis-server", &[]).is_some();
    let have_pg = latency_ladder::services::postgres::ManagedPostgres::bin_dir().is_ok();
    let have_web = latency_ladder::services::nginx::ManagedNginx::binary().is_ok()
        && latency_ladder::services::dnsmasq::ManagedDnsmasq::binary().is_ok();
    let port = http_server();
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/api");
    let metrics = tempfile::tempdir().unwrap();
    let prom = metrics.path().join("ladder.prom");
    let o = ladder(&[
        "run",
        "--quick",
        "--quiet",
        "--json",
        "--http-url",
        &url,
        "--openmetrics",
        prom.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // --openmetrics: the run's figures beside the folder, the memory levels and the
    // rungs among them.
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("ladder_memory_latency_seconds{"), "{text}");
    assert!(text.contains(r#"rung="http""#), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The external API is not ours: only the client is placed.
    let http = v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rung"] == "http")
        .expect("an http row");
    assert_eq!(http["placement"]["kind"], "client-only", "{http}");
    assert!(http["placement"]["server_cpus"].is_null());

    let ladder = v["ladder"].as_array().unwrap();
    let measured = |name: &str| {
        ladder
            .iter()
            .find(|r| r["rung"] == name)
            .unwrap_or_else(|| panic!("no {name} row"))["measured_ns"]
            .as_f64()
    };
    for row in [
        "L1 CPU cache",
        "RAM",
        "SSD",
        "External API",
        "Database (point lookup)",
    ] {
        assert!(
            measured(row).is_some(),
            "{row} not measured: {}\nlevels: {}\ncurve: {:?}",
            stderr(&o),
            v["memory"]["levels"],
            v["memory"]["points"].as_array().map(|ps| ps
                .iter()
                .map(|p| (
                    p["size_bytes"].clone(),
                    p["ns_per_access"].clone(),
                    p["rounds"].clone()
                ))
                .collect::<Vec<_>>())
        );
    }
    assert!(measured("L1 CPU cache").unwrap() < measured("RAM").unwrap());
    assert_eq!(measured("Redis").is_some(), have_redis);
    if have_redis && have_pg {
        let caching = v["caching"].as_array().unwrap();
        assert_eq!(caching[0]["engine"], "PG over TCP");
        let c = &caching[0];
        assert!(c["miss_ns"].as_f64().unwrap() > c["hit_ns"].as_f64().unwrap());
        let comparisons = v["comparisons"].as_array().unwrap();
        assert!(
            comparisons.iter().all(|c| c["measured_factor"].is_number()),
            "{comparisons:?}"
        );
    } else {
        eprintln!("SKIP (in part) redis-server or PostgreSQL is not installed (scripts/setup-services.sh)");
    }

    let dirs = entries(out.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    // The cores section adds its charts (the heat map where there are two CPUs), and
    // the web family ran by default: its section and its chart.
    let mut want = RUN_FILES.to_vec();
    want.extend(["loaded.png", "loaded.svg", "web.png", "web.svg"]);
    if !v["cores"]["pairs"].as_array().unwrap().is_empty() {
        want.extend(["cores.png", "cores.svg"]);
    }
    // The short fixed-rate GET load on the run's Redis (and memcached): its chart.
    if have_redis {
        let runs = v["load"]["runs"].as_array().unwrap();
        assert_eq!(runs[0]["target"]["kind"], "redis-get", "{runs:?}");
        assert!(runs.iter().all(|r| r["errors"] == 0), "{runs:?}");
        want.extend(["load.png", "load.svg"]);
    }
    // cache-lab's short form (managed Redis and PostgreSQL): the outage chart; one cache
    // size draws no hit-ratio-against-size chart.
    if have_redis && have_pg {
        assert!(
            v["cache_lab"]["staleness"].is_object(),
            "{}",
            v["cache_lab"]
        );
        want.extend(["cache_lab_outage.png", "cache_lab_outage.svg"]);
    }
    // The database taken apart: the size ladder (SQLite at least), and with PostgreSQL
    // what a warm lookup is made of.
    want.extend(["db-sizes.csv", "db-sizes.png", "db-sizes.svg"]);
    if have_pg {
        want.extend(["db-split.png", "db-split.svg"]);
    }
    want.sort();
    assert_files(&out.path().join(&dirs[0]), &want);
    assert_eq!(v["http"]["origin"].as_array().unwrap().len(), 9);
    assert_eq!(v["http"]["edge"].as_array().unwrap().len() == 3, have_web);
    assert_eq!(leaked_servers(), Vec::<u32>::new(), "left running");
}

#[test]
fn skipped_rungs_are_listed_with_their_reason() {
    let out = tempfile::tempdir().unwrap();
    let v = ladder_json(
        out.path(),
        &["run", "--quick", "--skip", "ssd,redis,db,memory,web"],
    );
    let skipped: Vec<(String, String)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["rung"].as_str().unwrap().into(),
                s["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        v["cores"].is_object(),
        "the cores section runs unless skipped"
    );
    for rung in ["memory", "ssd", "redis", "database", "web"] {
        assert!(
            skipped.contains(&(rung.into(), "skipped with --skip".into())),
            "{skipped:?}"
        );
    }
    assert!(skipped.contains(&("http".into(), "pass --http-url".into())));
    let verdict = |key: &str| {
        v["ladder"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()["verdict"]
            .clone()
    };
    assert_eq!(verdict("external-api"), "not measured: pass --http-url");
    // Every skipped family gives its own reason, the database rows included.
    for key in [
        "l1",
        "ram",
        "redis",
        "ssd",
        "db-point-lookup",
        "db-expensive-query",
    ] {
        assert_eq!(verdict(key), "not measured: skipped with --skip", "{key}");
    }
}

#[test]
fn bad_run_input_exits_2_before_measuring() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    assert_user_error(
        &ladder(&["run", "--quick", "--skip", "cpu", "--out", o]),
        "--skip",
    );
    assert_user_error(
        &ladder(&[
            "run",
            "--quick",
            "--http-url",
            "ftp://example.com",
            "--out",
            o,
        ]),
        "not an http:// or https:// URL",
    );
    assert_user_error(
        &ladder(&[
            "run",
            "--quick",
            "--redis-url",
            "redis://127.0.0.1:1/",
            "--out",
            o,
        ]),
        "cannot use Redis",
    );
    assert!(entries(out.path()).is_empty());
}
