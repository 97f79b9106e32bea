//! `ladder compare --baseline`: the real binary on a real run of the development machine
//! (tests/fixtures/xeon: a default `ladder run` on a 2-vCPU Xeon guest, trimmed to host,
//! memory, cores and rungs), changed on purpose: re-sampled, one level slowed, another
//! CPU, a missing section, an unknown schema.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xeon/run.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Writes `run` as `<dir>/<name>/run.json`; the folder.
fn write_run(dir: &Path, name: &str, run: &Value) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("run.json"), serde_json::to_string(run).unwrap()).unwrap();
    d
}

/// The same run measured again, as far as the comparison can tell: every point's rounds
/// and every core pair's bursts re-sampled (a fixed draw with replacement: each
/// repetition i replaced by repetition (7 i + 3) mod n).
fn resampled(mut run: Value) -> Value {
    let redraw = |v: &mut Vec<Value>| {
        let old = v.clone();
        let n = old.len();
        for (i, x) in v.iter_mut().enumerate() {
            *x = old[(7 * i + 3) % n].clone();
        }
    };
    for p in run["memory"]["points"].as_array_mut().unwrap() {
        redraw(p["rounds"].as_array_mut().unwrap());
    }
    for p in run["cores"]["pairs"].as_array_mut().unwrap() {
        redraw(p["burst_one_way_ns"].as_array_mut().unwrap());
    }
    run
}

/// `run` with `level`'s plateau points (their rounds and figures) and its latency
/// scaled by `factor`.
fn scaled_level(mut run: Value, level: &str, factor: f64) -> Value {
    let l = run["memory"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == level)
        .unwrap()
        .clone();
    let (lo, hi) = (
        l["plateau_bytes"][0].as_u64().unwrap(),
        l["plateau_bytes"][1].as_u64().unwrap(),
    );
    let scale = |v: &mut Value| *v = (v.as_f64().unwrap() * factor).into();
    for p in run["memory"]["points"].as_array_mut().unwrap() {
        let size = p["size_bytes"].as_u64().unwrap();
        if size < lo || size > hi {
            continue;
        }
        for k in ["ns_per_access", "ns_median", "ns_p99"] {
            scale(&mut p[k]);
        }
        for r in p["rounds"].as_array_mut().unwrap() {
            scale(&mut r["best_ns"]);
            scale(&mut r["median_ns"]);
        }
    }
    for l in run["memory"]["levels"].as_array_mut().unwrap() {
        if l["name"] == level {
            scale(&mut l["latency_ns"]);
        }
    }
    run
}

/// `ladder compare --json --out OUT --baseline BASE RUN`: exit code and the comparisons.
fn compare(out: &Path, base: &Path, run: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec![
        "compare",
        "--quiet",
        "--json",
        "--out",
        out.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = ladder(&args);
    let code = o.status.code().unwrap();
    assert!(code == 0 || code == 1, "{}", stderr(&o));
    (
        code,
        serde_json::from_slice(&o.stdout).expect("stdout is JSON"),
    )
}

/// One row: key, verdict, interval.
type Verdicted = (String, String, Option<(f64, f64)>);

/// The rows of the first comparison.
fn rows(cs: &[Value]) -> Vec<Verdicted> {
    cs[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let i = r["interval"]
                .as_array()
                .map(|i| (i[0].as_f64().unwrap(), i[1].as_f64().unwrap()));
            (
                r["key"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
                i,
            )
        })
        .collect()
}

#[test]
fn a_resampled_run_is_no_change_and_a_slowed_level_alone_is_slower() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_run(dir.path(), "base", &fixture());
    let again = write_run(dir.path(), "again", &resampled(fixture()));
    let (code, cs) = compare(&dir.path().join("out"), &base, &again, &[]);
    let r = rows(&cs);
    let levels = r.iter().filter(|x| x.0.starts_with("level/")).count();
    assert!(levels >= 3, "{r:?}");
    assert!(r.iter().any(|x| x.0.starts_with("core/") && x.2.is_some()));
    for (key, verdict, _) in &r {
        assert_eq!(verdict, "no-change", "{key}");
    }
    assert_eq!(code, 0);

    let slow = write_run(
        dir.path(),
        "slow",
        &scaled_level(resampled(fixture()), "L2", 1.3),
    );
    let (code, cs) = compare(&dir.path().join("out"), &base, &slow, &[]);
    assert_eq!(code, 1, "a slower figure fails the check");
    for (key, verdict, interval) in rows(&cs) {
        if key == "level/L2" {
            assert_eq!(verdict, "slower");
            let (lo, hi) = interval.expect("a level has an interval");
            assert!(lo > 0.0, "the interval excludes no change: {lo} {hi}");
            assert!(lo < 0.3 && hi > 0.25, "{lo} {hi}");
        } else {
            assert_eq!(verdict, "no-change", "{key}");
        }
    }
    // The same change, the other way round, is faster; and a threshold above it hides it.
    let (code, cs) = compare(&dir.path().join("out"), &slow, &base, &[]);
    assert_eq!(code, 0);
    let l2 = rows(&cs).into_iter().find(|x| x.0 == "level/L2").unwrap();
    assert_eq!(l2.1, "faster");
    let (code, _) = compare(
        &dir.path().join("out"),
        &base,
        &slow,
        &["--threshold", "40"],
    );
    assert_eq!(code, 0);
}

/// `run` with the rung whose method is `method` (and placement `placement`) made
/// `factor` times slower: every sample of its histogram and its percentiles.
fn scaled_rung(mut run: Value, method: &str, placement: &str, factor: f64) -> Value {
    use latency_ladder::record::rung::Rung;
    let r = run["rungs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["method"] == method && r["placement"]["kind"] == placement)
        .unwrap();
    let rung: Rung = serde_json::from_value(r.clone()).unwrap();
    let h = rung
        .decode_histogram()
        .expect("the fixture keeps histograms");
    let mut slow = latency_ladder::rungs::latency_histogram();
    for v in h.iter_recorded() {
        slow.record_n(
            (v.value_iterated_to() as f64 * factor) as u64,
            v.count_at_value(),
        )
        .unwrap();
    }
    r["histogram"] = Rung::encode_histogram(&slow).unwrap().into();
    for k in ["p50_ns", "p90_ns", "p99_ns", "mean_ns", "min_ns", "max_ns"] {
        r[k] = (r[k].as_f64().unwrap() * factor).into();
    }
    run
}

#[test]
fn a_rung_twice_as_slow_is_slower_with_an_interval_from_its_samples() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_run(dir.path(), "base", &fixture());
    let method = "PG prepared PK lookup over TCP";
    let slow = write_run(
        dir.path(),
        "slow",
        &scaled_rung(fixture(), method, "cross-cpu", 2.0),
    );
    let (code, cs) = compare(&dir.path().join("out"), &base, &slow, &[]);
    assert_eq!(code, 1);
    let key = format!("rung/postgres/{method}/cross-cpu");
    for (k, verdict, interval) in rows(&cs) {
        if k.starts_with("rung/") {
            assert!(interval.is_some(), "{k}: no interval from the histogram");
        }
        if k == key {
            assert_eq!(verdict, "slower");
            let (lo, hi) = interval.unwrap();
            assert!(lo > 0.9 && hi < 1.1, "{lo} {hi}");
        } else {
            assert_eq!(verdict, "no-change", "{k}");
        }
    }
}

#[test]
fn another_cpu_is_not_comparable_and_a_new_microcode_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_run(dir.path(), "base", &fixture());
    let mut other = resampled(fixture());
    other["host"]["cpu_id"]["model"] = 143.into();
    other["host"]["uarch"] = "Sapphire Rapids".into();
    let other = write_run(dir.path(), "other", &other);
    let (code, cs) = compare(&dir.path().join("out"), &base, &other, &[]);
    assert_eq!(code, 0, "not comparable is not a regression");
    assert!(cs[0]["not_comparable"]
        .as_str()
        .unwrap()
        .contains("Sapphire Rapids"));
    let r = rows(&cs);
    assert!(!r.is_empty());
    assert!(r.iter().all(|x| x.1 == "not-comparable"), "{r:?}");

    let mut updated = scaled_level(resampled(fixture()), "L2", 1.3);
    updated["host"]["cpu_id"]["microcode"] = "0x2b000620".into();
    let updated = write_run(dir.path(), "updated", &updated);
    let (code, cs) = compare(&dir.path().join("out"), &base, &updated, &[]);
    assert_eq!(code, 1);
    let changes: Vec<&str> = cs[0]["host_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        changes.contains(&"microcode: 0x1 -> 0x2b000620"),
        "{changes:?}"
    );
}

#[test]
fn the_folder_has_the_tables_and_one_chart_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_run(dir.path(), "base", &fixture());
    let slow = write_run(
        dir.path(),
        "slow",
        &scaled_level(resampled(fixture()), "L3", 1.3),
    );
    let out = dir.path().join("out");
    let o = ladder(&[
        "compare",
        "--out",
        out.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        slow.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("1 figure(s) slower than the baseline base"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("slow against base: 1 slower"), "{text}");
    let folder = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_files(
        &folder,
        &[
            "baseline.json",
            "baseline.md",
            "change.png",
            "change.svg",
            "compare.md",
            "history.png",
            "history.svg",
            "latency.png",
            "latency.svg",
        ],
    );
    let md = std::fs::read_to_string(folder.join("baseline.md")).unwrap();
    assert!(md.contains("| memory level | L3 latency |"), "{md}");
    assert!(md.contains("| slower |"), "{md}");
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let base = write_run(dir.path(), "base", &fixture());
    let base = base.to_str().unwrap();
    // One run and no baseline: nothing to compare.
    let o = ladder(&["compare", "--out", out, base]);
    assert_user_error(&o, "compare needs two run folders");
    let against = |run: &Path| {
        ladder(&[
            "compare",
            "--out",
            out,
            "--baseline",
            base,
            run.to_str().unwrap(),
        ])
    };
    // A run without the sections the baseline has.
    let mut empty = fixture();
    empty["memory"] = Value::Null;
    empty["cores"] = Value::Null;
    empty["rungs"] = Value::Array(Vec::new());
    let empty = write_run(dir.path(), "empty", &empty);
    let o = against(&empty);
    assert_user_error(&o, "no figure in common");
    // An unknown schema.
    let mut future = fixture();
    future["schema_version"] = 99.into();
    let future = write_run(dir.path(), "future", &future);
    let o = against(&future);
    assert_user_error(&o, "schema version 99");
    // A threshold that is not a percentage.
    let o = ladder(&[
        "compare",
        "--out",
        out,
        "--threshold=-5",
        "--baseline",
        base,
        base,
    ]);
    assert_user_error(&o, "--threshold -5: -5 is not a percentage");
    assert!(!Path::new(out).exists(), "nothing written on bad input");
}
