//! `ladder cache-lab` against real servers (a managed redis-server, memcached and
//! PostgreSQL): the counts it reports must agree with the servers' own, bounded caches
//! must stay within their bound, and stampede protection must keep the database to one
//! recompute per expiry. No assertion on timings.

use crate::common;

use common::{assert_user_error, ladder};
use latency_ladder::labs::cache_lab::eviction::{self, EvictionPlan};
use latency_ladder::labs::cache_lab::outage::{self, OutagePlan};
use latency_ladder::labs::cache_lab::staleness::{self, StalenessPlan};
use latency_ladder::labs::cache_lab::stampede::{self, StampedePlan};
use latency_ladder::labs::cache_lab::ttl;
use latency_ladder::labs::cache_lab::Products;
use latency_ladder::labs::product_page::PageDb;
use latency_ladder::record::cache_lab::{Invalidation, Policy, Skip, SkipReason, Strategy};
use latency_ladder::record::Run;
use latency_ladder::rungs::db::DataSet;
use latency_ladder::services::postgres::ManagedPostgres;
use latency_ladder::services::redis::ManagedRedis;
use latency_ladder::target::redis::RedisUrl;
use std::time::Duration;

/// A managed server's URL, parsed.
fn url(s: &str) -> RedisUrl {
    RedisUrl::parse(s).unwrap()
}

#[test]
fn eviction_counts_agree_with_the_servers_and_stay_within_maxmemory() {
    let redis = ManagedRedis::start().unwrap();
    let pg = ManagedPostgres::start().unwrap();
    let target = pg.target().unwrap();
    // 4000 keys of 1000 B take about 5 MB in Redis: 30% is over 1 MiB, so memcached
    // runs too (-m 1, its minimum).
    let plan = EvictionPlan {
        keys: 4000,
        value_bytes: 1000,
        requests: 4000,
        warmup: 4000,
        fraction: 0.3,
        sizes: vec![0.01],
        skews: vec![0.99],
        sweep_skew: 0.99,
        scan: true,
        policies: Policy::ALL.to_vec(),
        seed: 7,
    };
    let (e, skipped) = eviction::measure(&plan, &redis, &target, &|_| {}).unwrap();
    // 1% is far under memcached's 1 MiB: skipped, and said so once.
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        matches!(
            skipped[0],
            Skip::Reason(SkipReason::MemcachedUnderOneMib { fraction, .. }) if fraction == 0.01
        ),
        "{skipped:?}"
    );
    assert_eq!(e.rows.len(), 3 * 5 - 1);
    for r in &e.rows {
        let what = format!("{r:?}");
        assert_eq!(r.client_hits + r.client_misses, plan.requests, "{what}");
        assert!((0.0..=1.0).contains(&r.hit_ratio()), "{what}");
        // Every GET is one lookup on the server: its counts are the client's.
        assert_eq!(r.server_hits, Some(r.client_hits), "{what}");
        assert_eq!(r.server_misses, Some(r.client_misses), "{what}");
        // A cache a fraction of the key set must evict, or refuse (Redis OOM where its
        // own overhead fills a tiny maxmemory).
        assert!(r.evicted.unwrap() > 0 || r.refused_sets > 0, "{what}");
        let used = r.used_bytes.unwrap();
        if r.policy == Policy::Memcached {
            assert!(used <= r.limit_bytes, "{what}");
        } else {
            // Redis evicts before each write: at most one value over.
            assert!(used <= r.limit_bytes + 2 * plan.value_bytes, "{what}");
            assert!(r.limit_bytes > e.redis_baseline_bytes, "{what}");
        }
        assert!(
            r.p99_ns >= r.hit_mean_ns.unwrap_or(0.0).min(r.mean_ns),
            "{what}"
        );
    }
    assert!(e.working_set_bytes > plan.keys * plan.value_bytes);
    // A bigger cache holds more: the hit ratio at 30% beats 1% for every Redis policy
    // (by far: about 0.75 against 0.3 at s = 0.99).
    for p in Policy::ALL.iter().filter(|p| p.redis_name().is_some()) {
        let at = |f: f64| {
            e.rows
                .iter()
                .find(|r| r.policy == *p && r.cache_fraction == f && r.workload.s() == 0.99)
                .map(|r| r.hit_ratio())
                .unwrap()
        };
        assert!(at(0.3) > at(0.01), "{p:?}");
    }
}

#[test]
fn a_lock_lets_one_request_recompute_where_no_protection_lets_many() {
    let redis = ManagedRedis::start().unwrap();
    let pg = ManagedPostgres::start().unwrap();
    let target = pg.target().unwrap();
    let db = PageDb::postgres(&DataSet::new(20_000, 7), &target).unwrap();
    let plan = StampedePlan {
        clients: 20,
        ttl: Duration::from_millis(300),
        window: Duration::from_millis(450),
        interval: Duration::from_millis(2),
    };
    let run = |s: Strategy| {
        stampede::measure(
            &plan,
            s,
            &db,
            &url(&redis.unix_url()),
            &latency_ladder::ownership::redis_prefix(),
        )
        .unwrap()
    };
    // The server's own counters, read around the unprotected run: each of its requests
    // is one GET, each miss one recompute (the client's counts, checked against them).
    // (The run's first connection names it in the ledger, a TYPE lookup the server
    // counts as a miss: done before the counters are read.)
    let mut server = latency_ladder::rungs::redis::connect(&url(&redis.unix_url())).unwrap();
    let mut stat = |name: &str| -> u64 {
        let info: String = redis::cmd("INFO").arg("stats").query(&mut server).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in INFO stats"))
    };
    let (hits0, misses0) = (stat("keyspace_hits"), stat("keyspace_misses"));
    let none = run(Strategy::None);
    let (hits, misses) = (
        stat("keyspace_hits") - hits0,
        stat("keyspace_misses") - misses0,
    );
    let lock = run(Strategy::Lock);
    let xfetch = run(Strategy::Xfetch);
    // The key expires once in the window, and its refill's TTL outlasts the window.
    assert!(none.origin_queries > 1, "{none:?}");
    assert_eq!(none.requests, hits + misses, "{none:?} server: {hits} hits");
    assert_eq!(
        none.origin_queries, misses,
        "{none:?} server: {misses} misses"
    );
    assert_eq!(lock.origin_queries, 1, "{lock:?}");
    assert_eq!(lock.clients_at_origin, 1, "{lock:?}");
    assert!(xfetch.origin_queries >= 1, "{xfetch:?}");
    for r in [&none, &lock, &xfetch] {
        assert!(r.requests >= u64::from(plan.clients), "{r:?}");
        assert!(r.p99_ns <= r.max_ns, "{r:?}");
    }
}

#[test]
fn cache_lab_writes_a_record_that_report_redraws() {
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "--quick",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
        "cache-lab",
        "--keys",
        "1000",
        "--requests",
        "1000",
        "--clients",
        "4",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let dir = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("run.json").exists())
        .unwrap();
    let run = Run::load(&dir.join("run.json")).unwrap();
    let c = run.cache_lab.as_ref().unwrap();
    assert_eq!(c.stampede.as_ref().unwrap().rows.len(), 3);
    assert_eq!(c.ttl.as_ref().unwrap().rows.len(), 4);
    assert_eq!(c.staleness.as_ref().unwrap().rows.len(), 3);
    assert_eq!(c.outage.as_ref().unwrap().failed_requests, 0);
    assert!(!c.eviction.as_ref().unwrap().rows.is_empty());
    // 1000 keys are about 1.2 MB: 10% is under memcached's minimum.
    assert!(
        c.skipped
            .iter()
            .any(|s| matches!(s, Skip::Reason(SkipReason::MemcachedUnderOneMib { .. }))),
        "{:?}",
        c.skipped
    );
    let text = serde_json::to_string(&run).unwrap();
    let back: Run = serde_json::from_str(&text).unwrap();
    assert_eq!(back, run);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("## Caches when full, expiring, stale or down"),
        "{report}"
    );
    assert!(report.contains("requests hit the database"), "{report}");
    assert!(report.contains("cache down for"), "{report}");
    assert!(report.contains("reads stale"), "{report}");
    std::fs::remove_file(dir.join("report.md")).unwrap();
    for chart in ["cache_lab_hit_ratio", "cache_lab_ttl", "cache_lab_outage"] {
        std::fs::remove_file(dir.join(format!("{chart}.png"))).unwrap();
    }
    let o = ladder(&["--quiet", "report", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
        report
    );
    for chart in ["cache_lab_hit_ratio", "cache_lab_ttl", "cache_lab_outage"] {
        assert!(dir.join(format!("{chart}.png")).exists(), "{chart}");
        assert!(dir.join(format!("{chart}.svg")).exists(), "{chart}");
    }
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    assert_user_error(
        &ladder(&["cache-lab", "--cache-fraction", "2"]),
        "outside 0.001..=1",
    );
    assert_user_error(&ladder(&["cache-lab", "--clients", "1"]), "--clients");
    assert_user_error(&ladder(&["cache-lab", "--keys", "10"]), "--keys");
    assert_user_error(&ladder(&["cache-lab", "--parts", "bogus"]), "--parts");
    assert_user_error(
        &ladder(&["cache-lab", "--redis-url", "notaurl"]),
        "bad Redis URL",
    );
    assert_user_error(&ladder(&["run", "--skip", "cache-labs"]), "--skip");
}

#[test]
fn invalidating_writers_leave_fewer_stale_reads_than_ttl_only() {
    let redis = ManagedRedis::start().unwrap();
    let pg = ManagedPostgres::start().unwrap();
    let target = pg.target().unwrap();
    let plan = StalenessPlan {
        keys: 20,
        readers: 3,
        read_interval: Duration::from_millis(1),
        write_interval: Duration::from_millis(4),
        window: Duration::from_millis(800),
        ttl: Duration::from_millis(100),
        seed: 7,
    };
    // The ordering needs writes: on a host stalled by other work (one UPDATE took most of
    // a window once, with every test of this file running at once), try again.
    let mut tries = 0;
    let s = loop {
        let s = staleness::section(&plan, &target, &url(&redis.unix_url()), &|_| {}).unwrap();
        tries += 1;
        if s.rows.iter().all(|r| r.write.n >= 20) || tries == 3 {
            break s;
        }
    };
    let row = |i: Invalidation| s.rows.iter().find(|r| r.strategy == i).unwrap();
    let (wt, dow, ttl) = (
        row(Invalidation::WriteThrough),
        row(Invalidation::DeleteOnWrite),
        row(Invalidation::TtlOnly),
    );
    for r in &s.rows {
        let what = format!("{r:?}");
        assert!(r.reads > 0 && r.stale_reads <= r.reads, "{what}");
        assert!(r.write.n > 0, "{what}");
        // One window per stale read.
        match &r.stale_window {
            Some(w) => {
                assert_eq!(w.n, r.stale_reads, "{what}");
            }
            None => assert_eq!(r.stale_reads, 0, "{what}"),
        }
    }
    // TTL only: a value stays stale until it expires (tens of ms); the others
    // invalidate within one cache command of the commit.
    assert!(ttl.stale_reads > 0, "{ttl:?}");
    assert!(wt.stale_reads < ttl.stale_reads, "{wt:?} {ttl:?}");
    assert!(dow.stale_reads < ttl.stale_reads, "{dow:?} {ttl:?}");
    // Once the TTL passed after the last write, nothing stale is left.
    assert_eq!(ttl.stale_after_settle, 0, "{ttl:?}");
    assert_eq!(ttl.stale_fills, 0, "{ttl:?}");
    assert!(s.plain_update.n > 0);
}

#[test]
fn a_cache_outage_is_answered_from_the_database() {
    let mut redis = ManagedRedis::start().unwrap();
    let pg = ManagedPostgres::start().unwrap();
    let target = pg.target().unwrap();
    let plan = OutagePlan {
        clients: 3,
        interval: Duration::from_millis(2),
        keys: 200,
        skew: 0.99,
        timeout: Duration::from_millis(100),
        before: Duration::from_millis(400),
        down: Duration::from_millis(400),
        after: Duration::from_millis(800),
        bucket: Duration::from_millis(100),
        seed: 7,
    };
    Products::load(&target, plan.keys).unwrap();
    let o = outage::measure(
        &plan,
        &mut redis,
        &target,
        &latency_ladder::ownership::redis_prefix(),
    )
    .unwrap();
    let what = format!("{o:?}");
    // Every request was answered: cache errors fell back to the database.
    assert_eq!(o.failed_requests, 0, "{what}");
    assert!(o.down_at_ms < o.up_at_ms, "{what}");
    let down: Vec<_> = o
        .buckets
        .iter()
        .filter(|b| b.start_ms >= o.down_at_ms + 100 && b.start_ms + 100 <= o.up_at_ms)
        .collect();
    assert!(!down.is_empty(), "{what}");
    for b in &down {
        assert!(b.requests > 0, "{what}");
        assert_eq!(b.hits, 0, "{what}");
        assert_eq!(b.fallbacks, b.requests, "{what}");
    }
    assert!(
        o.buckets.iter().map(|b| b.cache_errors).sum::<u64>() > 0,
        "{what}"
    );
    // Every key cached before: all hits.
    assert!(o.pre_hit_ratio > 0.99, "{what}");
    // Hits again after the restart.
    assert!(
        o.buckets
            .iter()
            .any(|b| b.start_ms > o.up_at_ms && b.hits > 0),
        "{what}"
    );
    // Redis runs again, on the same socket and password.
    let mut c = url(&redis.unix_url()).connect_unregistered().unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn longer_ttls_hit_more_and_expired_keys_are_reclaimed() {
    let redis = ManagedRedis::start().unwrap();
    let mut c = url(&redis.unix_url()).connect_unregistered().unwrap();
    let mut plan = ttl::default_plan(1.0 / 4000.0, 7);
    plan.keys = 2000;
    plan.linger_keys = 2000;
    plan.linger_ttl = Duration::from_millis(300);
    let t = ttl::measure(&plan, &mut c, &latency_ladder::ownership::redis_prefix()).unwrap();
    let what = format!("{t:?}");
    assert_eq!(t.rows.len(), 4);
    for w in t.rows.windows(2) {
        assert!(w[0].ttl_ms < w[1].ttl_ms, "{what}");
        assert!(w[1].hit_ratio() + 0.02 >= w[0].hit_ratio(), "{what}");
    }
    assert!(t.rows[3].hit_ratio() > t.rows[0].hit_ratio(), "{what}");
    let l = t.linger.as_ref().unwrap();
    // Right after the SETs every key is there, with a TTL; then all are reclaimed.
    assert_eq!(l.samples[0].keys, l.keys, "{what}");
    assert_eq!(l.samples[0].expires, l.keys, "{what}");
    assert!(l.gone_ms.is_some(), "{what}");
    let last = l.samples.last().unwrap();
    assert_eq!(last.keys, 0, "{what}");
    assert_eq!(last.expired, l.keys, "{what}");
    assert!(l.gone_ms.unwrap() >= l.ttl_ms, "{what}");
}

#[test]
fn ladder_run_has_a_short_cache_lab_that_skip_leaves_out() {
    let out = tempfile::tempdir().unwrap();
    let others = "memory,cores,ssd,redis,memcached,db,http,web,load";
    let run = |skip: &str| {
        let o = ladder(&[
            "run",
            "--quick",
            "--quiet",
            "--json",
            "--skip",
            skip,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        serde_json::from_slice::<Run>(&o.stdout).unwrap()
    };
    let with = run(others);
    let c = with.cache_lab.as_ref().unwrap();
    let e = c.eviction.as_ref().unwrap();
    let policies: Vec<Policy> = e.rows.iter().map(|r| r.policy).collect();
    assert_eq!(policies, [Policy::AllkeysLru, Policy::AllkeysLfu]);
    assert_eq!(c.staleness.as_ref().unwrap().rows.len(), 3);
    assert_eq!(c.outage.as_ref().unwrap().failed_requests, 0);
    assert!(c.stampede.is_none() && c.ttl.is_none());
    let without = run(&format!("{others},cache-lab"));
    assert!(without.cache_lab.is_none());
    assert!(without
        .skipped
        .iter()
        .any(|s| s.family.name() == "cache-lab" && s.reason == "skipped with --skip"));
}

#[test]
fn a_users_redis_gets_only_the_parts_that_need_no_config_and_keeps_nothing() {
    let Some(user) = common::TestRedis::start(&["--maxmemory-policy", "allkeys-lru"]) else {
        eprintln!("SKIP redis-server is not installed (scripts/setup-services.sh)");
        return;
    };
    let url = format!("redis://127.0.0.1:{}/", user.port);
    let mut c = RedisUrl::parse(&url)
        .unwrap()
        .connect_unregistered()
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("theirs")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = ladder(&[
        "--quick",
        "--quiet",
        "--json",
        "--out",
        out.path().to_str().unwrap(),
        "cache-lab",
        "--clients",
        "4",
        "--redis-url",
        &url,
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let run: Run = serde_json::from_slice(&o.stdout).unwrap();
    let lab = run.cache_lab.unwrap();
    assert!(lab.stampede.is_some() && lab.staleness.is_some());
    assert!(lab.eviction.is_none() && lab.ttl.is_none() && lab.outage.is_none());
    for part in ["eviction", "ttl", "outage"] {
        assert!(
            lab.skipped.iter().any(|s| matches!(
                s,
                Skip::Reason(SkipReason::NeedsOwnServer { part: p }) if p == part
            )),
            "{:?}",
            lab.skipped
        );
    }
    assert_eq!(lab.user_redis.as_deref(), Some(url.as_str()));
    // Nothing of ours left, theirs kept, the configuration unchanged.
    let size: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 1);
    let policy: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory-policy")
        .query(&mut c)
        .unwrap();
    assert_eq!(policy[1], "allkeys-lru");
}
