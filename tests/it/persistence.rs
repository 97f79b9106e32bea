//! Redis's persistence settings on managed servers: each setting measured, the
//! append-only files gone afterwards.

use crate::common;

#[test]
fn managed_redis_measures_each_persistence_setting_and_leaves_no_aof() {
    if latency_ladder::services::find_binary("redis-server", &[]).is_none() {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    }
    // On the target dir's filesystem: the AOF lands under --out.
    let out = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let o = common::ladder(&[
        "--quick",
        "--quiet",
        "--json",
        "--out",
        out.path().to_str().unwrap(),
        "redis",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fsyncs: Vec<&str> = v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"]["op"]["set-persisted"]["fsync"].as_str())
        .collect();
    assert_eq!(fsyncs, ["off", "everysec", "always"]);
    let left: Vec<String> = common::entries(out.path())
        .into_iter()
        .filter(|n| n.starts_with(".ladder-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
