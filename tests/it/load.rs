//! `ladder load` end to end with real servers: bad input, and a short cache-aside run
//! whose cache warms up and spares the database.

use crate::common;

use common::{assert_user_error, ladder, ladder_json};

#[test]
fn bad_load_input_exits_2_in_one_line() {
    for (args, needle) in [
        (vec!["load", "--target", "redis", "--rate", "0"], "--rate"),
        (
            vec!["load", "--target", "redis", "--rate", "fast"],
            "--rate",
        ),
        (vec!["load", "--target", "mongo"], "--target"),
        (
            vec!["load", "--target", "redis", "--connections", "0"],
            "--connections",
        ),
        (
            vec!["load", "--target", "redis", "--duration", "soon"],
            "--duration",
        ),
        (
            vec!["load", "--target", "redis", "--duration", "2h"],
            "--duration",
        ),
        (
            vec!["load", "--target", "cache-aside", "--zipf=-1"],
            "--zipf",
        ),
        (
            vec!["load", "--target", "cache-aside", "--zipf", "9"],
            "--zipf",
        ),
        (
            vec!["load", "--target", "cache-aside", "--ttl", "0"],
            "--ttl",
        ),
        (
            vec![
                "load",
                "--target",
                "memcached",
                "--memcached-url",
                "http://x",
            ],
            "not a memcached address",
        ),
        (vec!["load", "--target", "redis", "--rates", ""], "--rates"),
        (
            vec!["load", "--target", "redis", "--rates", "100,0"],
            "--rates",
        ),
        (
            vec!["load", "--target", "redis", "--rates", "200,100"],
            "rise",
        ),
        (
            vec!["load", "--target", "redis", "--rates", "100,100"],
            "rise",
        ),
        (
            vec!["load", "--target", "redis", "--rates", "100", "--rate", "5"],
            "--rate",
        ),
        (
            vec!["load", "--target", "cache-aside", "--rates", "10,20"],
            "--rates",
        ),
    ] {
        let mut all = vec!["--quiet"];
        all.extend(args);
        assert_user_error(&ladder(&all), needle);
    }
}

#[test]
fn a_rate_sweep_records_one_run_per_rate_and_draws_the_curve() {
    if latency_ladder::services::find_binary("redis-server", &[]).is_none() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let v = ladder_json(
        out.path(),
        &[
            "load",
            "--target",
            "redis",
            "--rates",
            "50,100,200",
            "--connections",
            "1",
            "--duration",
            "1",
            "--warmup",
            "0",
        ],
    );
    let runs = v["load"]["runs"].as_array().unwrap();
    let asked: Vec<f64> = runs
        .iter()
        .map(|r| r["rate_target"].as_f64().unwrap())
        .collect();
    assert_eq!(asked, [50.0, 100.0, 200.0]);
    let achieved: Vec<f64> = runs
        .iter()
        .map(|r| r["rate_achieved"].as_f64().unwrap())
        .collect();
    assert!(achieved.windows(2).all(|w| w[0] < w[1]), "{achieved:?}");
    for r in runs {
        assert_eq!(r["target"]["kind"], "redis-get");
        assert_eq!(r["errors"], 0, "{r}");
    }
    let dir = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(dir.path().join("load-rate.png").is_file());
    assert!(dir.path().join("load-rate.svg").is_file());
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("Redis GET against rate: p99"), "{md}");
    assert!(md.contains("load-rate.png"), "{md}");
    assert_eq!(common::leaked_servers(), Vec::<u32>::new());
}

#[test]
fn a_cache_aside_run_warms_up_and_spares_the_database() {
    let find = |b| latency_ladder::services::find_binary(b, &[]).is_some();
    if !find("redis-server") || !find("memcached") {
        eprintln!("SKIP redis-server or memcached is not installed (scripts/setup-services.sh)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let v = ladder_json(
        out.path(),
        &[
            "load",
            "--target",
            "cache-aside",
            "--rate",
            "100",
            "--connections",
            "2",
            "--duration",
            "2",
            "--warmup",
            "1",
            "--rows",
            "5000",
        ],
    );
    let load = &v["load"];
    let setup = &load["product_page"];
    assert!(setup["rate_used"].as_f64().unwrap() <= 100.0);
    let runs = load["runs"].as_array().unwrap();
    let caches: Vec<&str> = runs
        .iter()
        .map(|r| r["target"]["cache"].as_str().unwrap())
        .collect();
    assert_eq!(caches, ["none", "redis", "memcached"]);
    for r in runs {
        let achieved = r["rate_achieved"].as_f64().unwrap();
        let queries = r["db_queries_per_s"].as_f64().unwrap();
        assert!(r["percentiles_ns"]["p50"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        if r["target"]["cache"] == "none" {
            assert!(r.get("hit_ratio").is_none());
            assert!((queries - achieved).abs() < 1e-6 * achieved.max(1.0));
            continue;
        }
        // Fewer queries than requests, and the hit ratio rises from the cold start.
        assert!(queries < achieved, "{queries} >= {achieved}");
        let secs = r["per_second"].as_array().unwrap();
        let ratio = |s: &serde_json::Value| {
            s["hits"].as_f64().unwrap() / s["requests"].as_f64().unwrap().max(1.0)
        };
        let (first, last) = (ratio(&secs[0]), ratio(secs.last().unwrap()));
        assert!(first < last, "hit ratio {first} then {last}");
        assert!(r["hit_ratio"].as_f64().unwrap() > 0.0);
    }
    let dir = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(dir.path().join("load.png").is_file());
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("without cache the database served"), "{md}");
    assert_eq!(common::leaked_servers(), Vec::<u32>::new());
}
