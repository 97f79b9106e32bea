//! Reports and plots drawn from fixture run records: golden report.md and ladder.csv,
//! pictures that decode and are not blank, SVG text, and `ladder compare`.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A copy of a fixture run folder (run.json only) in a temp dir.
fn fixture_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(
        Path::new(FIXTURES).join(name).join("run.json"),
        dir.join("run.json"),
    )
    .unwrap();
    (tmp, dir)
}

/// Compares with a golden file; `UPDATE_GOLDEN=1` rewrites the golden instead.
fn golden(actual: &Path, golden: &Path) {
    let got = std::fs::read_to_string(actual).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(golden).unwrap();
    assert_eq!(
        got,
        want,
        "{} differs from {}",
        actual.display(),
        golden.display()
    );
}

/// A PNG of the chart size with real content: many non-white pixels, several colours.
fn assert_png_drawn(path: &Path) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width, info.height),
        latency_ladder::plot::SIZE,
        "{}",
        path.display()
    );
    let px = info.line_size / info.width as usize;
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    assert!(
        inked * 50 > pixels.len(),
        "{} is nearly blank",
        path.display()
    );
    let mut colours: Vec<[u8; 3]> = pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort();
    colours.dedup();
    assert!(
        colours.len() > 10,
        "{} has {} colours",
        path.display(),
        colours.len()
    );
}

#[test]
fn report_redraws_golden_files_and_plots_from_run_json_alone() {
    let (_tmp, dir) = fixture_copy("run-a");
    let o = ladder(&["report", "--quiet", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let fixtures = Path::new(FIXTURES).join("run-a");
    golden(&dir.join("report.md"), &fixtures.join("report.md"));
    golden(&dir.join("ladder.csv"), &fixtures.join("ladder.csv"));
    golden(&dir.join("memory.csv"), &fixtures.join("memory.csv"));
    assert_files(&dir, &RUN_FILES);
    assert_png_drawn(&dir.join("latency.png"));
    assert_png_drawn(&dir.join("ladder.png"));
    let svg = std::fs::read_to_string(dir.join("latency.svg")).unwrap();
    assert!(svg.contains("working-set size (log2 scale)"));
    assert!(svg.contains("latency per access (ns, log scale)"));
    assert!(svg.contains("L1d 32 KiB (sysfs)"));
    let svg = std::fs::read_to_string(dir.join("ladder.svg")).unwrap();
    assert!(svg.contains("latency (log scale)"));
    assert!(svg.contains("External API"));
}

#[test]
fn the_ladder_names_the_lecture_rungs_and_says_what_was_not_measured() {
    // Written by this build from the record alone (the copy holds only run.json).
    let (_tmp, dir) = fixture_copy("run-a");
    let o = ladder(&["report", "--quiet", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.join("ladder.csv")).unwrap();
    let rungs: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        rungs,
        [
            "L1 CPU cache",
            "L2/L3 CPU cache (L2)",
            "L2/L3 CPU cache (L3)",
            "RAM",
            "Redis",
            "SSD",
            "Database (point lookup)",
            "Database (expensive query)",
            "External API"
        ]
    );
    assert!(csv
        .lines()
        .last()
        .unwrap()
        .ends_with("not measured: pass --http-url"));
}

#[test]
fn compare_puts_two_machines_side_by_side() {
    let (_a, run_a) = fixture_copy("run-a");
    let (_b, run_b) = fixture_copy("run-b");
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "compare",
        run_a.to_str().unwrap(),
        run_b.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    for want in [
        "run-a",
        "run-b",
        "Example CPU 9000",
        "L1d latency",
        "Redis p50",
    ] {
        assert!(table.contains(want), "{want} missing from\n{table}");
    }
    let dirs = entries(out.path());
    assert_eq!(dirs.len(), 1);
    let dir = out.path().join(&dirs[0]);
    let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
    assert!(md.contains("| what | run-a | run-b |"), "{md}");
    assert_png_drawn(&dir.join("latency.png"));
    assert_png_drawn(&dir.join("ladder.png"));
}

#[test]
fn compare_refuses_an_unknown_schema_version() {
    let (_a, run_a) = fixture_copy("run-a");
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("run.json"), r#"{"schema_version": 999}"#).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "compare",
        run_a.to_str().unwrap(),
        bad.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_user_error(&o, "schema version 999");
    assert!(entries(out.path()).is_empty());
}

#[test]
fn reanalyse_redetects_levels_keeps_the_old_ones_and_says_what_changed() {
    // A record whose levels an older detector got wrong: plant nonsense levels under no
    // detector version (as records made before the version was kept).
    let (_tmp, dir) = fixture_copy("run-a");
    let path = dir.join("run.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mem = &mut run["memory"];
    let truth = mem["levels"].clone();
    mem["levels"][1]["latency_ns"] = serde_json::json!(42.0);
    mem["levels"][1]["size_bytes"] = serde_json::json!(7);
    mem.as_object_mut().unwrap().remove("detector_version");
    std::fs::write(&path, serde_json::to_string(&run).unwrap()).unwrap();

    let o = ladder(&["report", "--quiet", "--reanalyse", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("L2 (4k pages): 42.0 ns (7 B) -> 3.8"), "{out}");
    assert!(out.contains("L1d (4k pages): unchanged"), "{out}");

    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mem = &after["memory"];
    assert_eq!(mem["detector_version"], 2);
    assert_eq!(mem["previous_levels"]["detector_version"], 1);
    assert_eq!(mem["previous_levels"]["levels"][1]["latency_ns"], 42.0);
    // The new L2 is the curve's, not the planted one: within 10% of what was recorded.
    let l2 = mem["levels"][1]["latency_ns"].as_f64().unwrap();
    let recorded = truth[1]["latency_ns"].as_f64().unwrap();
    assert!((l2 / recorded - 1.0).abs() < 0.1, "{l2} vs {recorded}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        !md.contains("42.0 ns"),
        "report.md still shows the planted level"
    );

    // A second pass keeps what the first detector said, not its own result.
    let o = ladder(&["report", "--quiet", "--reanalyse", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        again["memory"]["previous_levels"]["levels"][1]["latency_ns"],
        42.0
    );
}

#[test]
fn reanalyse_refuses_a_run_without_a_memory_sweep() {
    let (_tmp, dir) = fixture_copy("run-a");
    let path = dir.join("run.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    run.as_object_mut().unwrap().remove("memory");
    std::fs::write(&path, serde_json::to_string(&run).unwrap()).unwrap();
    let o = ladder(&["report", "--quiet", "--reanalyse", dir.to_str().unwrap()]);
    assert_user_error(&o, "no memory sweep to reanalyse");
}
