//! `ladder stride --quick` end to end: every section in the record, the headline
//! figures under the names scripts read, charts drawn; bad input refused.

use crate::common;

use common::*;

#[test]
fn stride_quick_records_every_section() {
    let out = tempfile::tempdir().unwrap();
    let v = ladder_json(out.path(), &["stride", "--quick", "--size", "48K"]);
    let p = &v["patterns"];
    for key in [
        "line_size_bytes",
        "tlb_penalty_ns",
        "tlb_penalty_2m_ns",
        "misses_in_flight",
        "stride",
        "line_probe",
        "bandwidth",
        "tlb",
        "parallel",
        "loaded",
    ] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
    let stride = p["stride"].as_array().unwrap();
    assert!(stride.iter().any(|s| s["set"]["level"] == "L1d"));
    assert!(stride.iter().any(|s| s["set"]["level"] == "RAM"));
    assert!(stride
        .iter()
        .any(|s| s["set"]["level"] == "user" && s["set"]["size_bytes"] == 48 * 1024));
    for s in stride {
        let strides: Vec<u64> = s["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["stride_bytes"].as_u64().unwrap())
            .collect();
        assert_eq!(strides, [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]);
    }
    let gbps = |level: &str| {
        p["bandwidth"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["level"] == level)
            .unwrap()["read_gbps"]
            .as_f64()
            .unwrap()
    };
    assert!(
        gbps("L1d") > gbps("RAM"),
        "L1 {} GB/s vs RAM {} GB/s",
        gbps("L1d"),
        gbps("RAM")
    );
    let orders = p["tlb"]["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 4);
    assert!(p["tlb"]["per_page"].as_array().unwrap().len() >= 10);
    let parallel = p["parallel"].as_array().unwrap();
    let ram16 = parallel
        .iter()
        .find(|q| q["level"] == "RAM" && q["chains"] == 16)
        .unwrap();
    assert!(ram16["misses_in_flight"].as_f64().unwrap() > 1.5, "{ram16}");
    assert!(p["misses_in_flight"].is_number());
    assert_eq!(
        p["loaded"].as_array().unwrap().len(),
        4,
        "two CPUs here, so loaded latency runs"
    );

    let dirs = entries(out.path());
    let dir = out.path().join(&dirs[0]);
    for f in [
        "stride.png",
        "stride.svg",
        "parallel.png",
        "parallel.svg",
        "report.md",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for section in [
        "## Access patterns",
        "### Stride",
        "### Bandwidth",
        "### TLB",
        "### Parallel chains",
        "### Loaded latency",
    ] {
        assert!(md.contains(section), "{section} missing");
    }
}

#[test]
fn stride_bad_input_exits_2() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    assert_user_error(&ladder(&["stride", "--size", "0", "--out", o]), "zero");
    assert_user_error(
        &ladder(&["stride", "--quick", "--size", "64T", "--out", o]),
        "memory available",
    );
    assert_user_error(
        &ladder(&["stride", "--quick", "--background-cpu", "4096", "--out", o]),
        "--background-cpu",
    );
    assert!(entries(out.path()).is_empty());
}
