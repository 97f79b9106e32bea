//! `ladder cores --quick` end to end: the section under the names scripts read, every
//! ordered pair once, the charts drawn, `ladder report` redrawing it from run.json and
//! `ladder compare` showing it; bad `--cpus` refused with one line.

use crate::common;

use common::*;
use std::path::Path;

fn cores_run(out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["cores", "--quick", "--quiet", "--json", "--out"];
    args.push(out.to_str().unwrap());
    args.extend(extra);
    let o = ladder(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn cores_quick_records_every_part_and_redraws_from_run_json() {
    let out = tempfile::tempdir().unwrap();
    let v = cores_run(out.path(), &[]);
    let c = &v["cores"];
    let cpus: Vec<u64> = c["cpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    let pairs = c["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), cpus.len() * (cpus.len() - 1) * 2);
    for p in pairs {
        for key in [
            "cpu_a",
            "cpu_b",
            "relation",
            "handoff",
            "one_way_ns",
            "round_trip_ns",
            "p99_ns",
        ] {
            assert!(!p[key].is_null(), "{key} missing in {p}");
        }
        assert_ne!(p["cpu_a"], p["cpu_b"]);
        // Bursts spread over the run, and their modes: the figure is one of them.
        let bursts = p["burst_one_way_ns"].as_array().unwrap();
        assert_eq!(bursts.len() as u64, c["bursts_per_pair"].as_u64().unwrap());
        let modes = p["modes"].as_array().unwrap();
        assert!(!modes.is_empty(), "{p}");
        let in_modes: u64 = modes.iter().map(|m| m["bursts"].as_u64().unwrap()).sum();
        assert!(in_modes <= bursts.len() as u64);
        assert!(
            modes.iter().any(|m| m["one_way_ns"] == p["one_way_ns"]),
            "{p}"
        );
    }
    assert!(c["bursts_per_pair"].as_u64().unwrap() >= 2);
    if cpus.len() >= 2 {
        let f = &c["false_sharing"];
        for key in [
            "same_line_ns",
            "padded_ns",
            "atomic_ns",
            "slowdown",
            "same_line_fetch_add_ns",
            "padded_fetch_add_ns",
        ] {
            assert!(f[key].as_f64().unwrap() > 0.0, "{key}: {f}");
        }
        assert_eq!(c["loaded"].as_array().unwrap().len(), 4);
    }
    for key in ["store_forward_ns", "renamed_reload_ns"] {
        assert!(c[key].as_f64().unwrap() > 0.0, "{key}");
    }
    let bw = c["bandwidth"].as_array().unwrap();
    for kind in ["read", "write", "copy"] {
        assert!(
            bw.iter().any(|b| b["level"] == "RAM" && b["kind"] == kind),
            "no RAM {kind}"
        );
    }
    assert_eq!(
        bw.iter().any(|b| b["kind"] == "nt-store"),
        c["no_nt_store"].is_null()
    );
    let threads: Vec<u64> = c["scaling"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["threads"].as_u64().unwrap())
        .collect();
    assert_eq!(threads.first(), Some(&1));
    assert_eq!(threads.last(), Some(&(cpus.len() as u64)));

    let dirs = entries(out.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let dir = out.path().join(&dirs[0]);
    let mut want = vec!["loaded.png", "loaded.svg", "report.md", "run.json"];
    if cpus.len() >= 2 {
        want.splice(0..0, ["cores.png", "cores.svg"]);
    }
    assert_files(&dir, &want);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("## Between the cores"), "{report}");
    assert!(report.contains("### Bandwidth per level"));

    // The report is redrawn from run.json alone, the same words.
    for f in ["report.md", "loaded.png"] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let o = ladder(&["report", "--quiet", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
        report
    );
    assert!(dir.join("loaded.png").exists());
    if cpus.len() >= 2 {
        let svg = std::fs::read_to_string(dir.join("cores.svg")).unwrap();
        assert!(svg.contains("compare-and-swap, one-way"));
    }

    // Compare shows the section beside a run without one.
    let other = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a");
    let o = ladder(&[
        "compare",
        "--quiet",
        "--out",
        other.path().to_str().unwrap(),
        dir.to_str().unwrap(),
        fixture.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cmp = entries(other.path());
    let md = std::fs::read_to_string(other.path().join(&cmp[0]).join("compare.md")).unwrap();
    assert!(
        md.contains("| RAM NT store |") || md.contains("| RAM write |"),
        "{md}"
    );
    assert!(md.contains("false sharing slowdown"), "{md}");
}

#[test]
fn one_cpu_gives_no_pairs_and_says_why() {
    let out = tempfile::tempdir().unwrap();
    let first = latency_ladder::host::allowed_cpus()[0].to_string();
    let v = cores_run(out.path(), &["--cpus", &first]);
    assert!(v["cores"]["pairs"].as_array().unwrap().is_empty());
    assert!(v["cores"]["false_sharing"].is_null());
    let dirs = entries(out.path());
    let report = std::fs::read_to_string(out.path().join(&dirs[0]).join("report.md")).unwrap();
    assert!(report.contains("a pair needs two"), "{report}");
}

#[test]
fn bad_cpus_exit_2_with_one_line() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    assert_user_error(&ladder(&["cores", "--cpus", "x", "--out", o]), "--cpus");
    assert_user_error(&ladder(&["cores", "--cpus", "3-1", "--out", o]), "--cpus");
    assert_user_error(
        &ladder(&["cores", "--cpus", "0,8000", "--out", o]),
        "CPU 8000 does not exist",
    );
    assert_user_error(
        &ladder(&["cores", "--samples", "1", "--out", o]),
        "--samples",
    );
    assert!(entries(out.path()).is_empty());
}

#[test]
fn ladder_run_skips_the_cores_section_when_asked() {
    let out = tempfile::tempdir().unwrap();
    let v = ladder_json(
        out.path(),
        &["run", "--quick", "--skip", "memory,cores,ssd,redis,db"],
    );
    assert!(v.get("cores").is_none());
    assert!(v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["rung"] == "cores" && s["reason"] == "skipped with --skip"));
}
