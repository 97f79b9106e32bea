//! The web's caches against real servers: the managed origin (ETag, 304 without a
//! body), the managed nginx edge (MISS, then HIT with the origin's count unchanged,
//! STALE while the origin is stopped), phases of a local HTTPS server with
//! `--http-insecure`, and the dnsmasq resolver. Tests that need nginx or dnsmasq say so
//! and return where they are not installed.

use crate::common;

use common::*;
use latency_ladder::labs::web::origin::{product_path, Origin};
use latency_ladder::record::http::{BodySize, CacheStatus, Phase, PhaseTarget};
use latency_ladder::rungs::db::DataSet;
use latency_ladder::rungs::http::client::{Client, Trust};
use latency_ladder::rungs::http::parse_url;
use latency_ladder::services::dnsmasq::ManagedDnsmasq;
use latency_ladder::services::nginx::ManagedNginx;

fn origin(tls: bool) -> Origin {
    Origin::start(&DataSet::new(2_000, 7), 60, tls).unwrap()
}

fn client_of(o: &Origin) -> Client {
    let url = o.url("127.0.0.1", 1, BodySize::K1);
    let trust = match o.certificate() {
        Some(c) => Trust::Pinned(c.clone()),
        None => Trust::Roots,
    };
    Client::new(parse_url(&url).unwrap(), url, trust).unwrap()
}

#[test]
fn origin_answers_with_an_etag_and_a_304_has_no_body() {
    let o = origin(false);
    let mut c = client_of(&o);
    let path = product_path(2, BodySize::K100);
    let full = c.get(&path, &[], true).unwrap();
    assert_eq!(full.status, 200);
    assert!(full.body.len() >= 100 << 10);
    assert_eq!(full.header("cache-control"), Some("public, max-age=60"));
    let etag = full.header("etag").unwrap().to_string();
    let not_modified = c.get(&path, &[("If-None-Match", &etag)], true).unwrap();
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert!(not_modified.received < 300, "{}", not_modified.received);
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    // Another size is another resource, with another validator.
    let small = c
        .get(
            &product_path(2, BodySize::K1),
            &[("If-None-Match", &etag)],
            true,
        )
        .unwrap();
    assert_eq!(small.status, 200);
    assert_eq!(c.get("/products/999999", &[], true).unwrap().status, 404);
    assert_eq!(o.served(), 4);
}

#[test]
fn the_origin_answers_on_both_loopback_families() {
    let o = origin(false);
    if !o.on_ipv6_loopback() {
        eprintln!("SKIP no IPv6 loopback on this host: the origin listens on 127.0.0.1 only");
        return;
    }
    for host in ["127.0.0.1", "[::1]", "localhost"] {
        let url = o.url(host, 1, BodySize::K1);
        let mut c = Client::new(parse_url(&url).unwrap(), url.clone(), Trust::Roots).unwrap();
        assert_eq!(
            c.get(c.path().to_string().as_str(), &[], false)
                .unwrap()
                .status,
            200,
            "{url}"
        );
    }
    // Counted by the origin itself: each request reached it.
    assert_eq!(o.served(), 3);
}

#[test]
fn https_origin_is_trusted_by_pinning_and_its_phases_are_timed() {
    let o = origin(true);
    let mut c = client_of(&o);
    let r = c.get(&product_path(1, BodySize::K1), &[], false).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.timing.tls.is_some() && r.timing.connect.is_some());
    // The system roots do not know a certificate made a moment ago.
    let url = o.url("127.0.0.1", 1, BodySize::K1);
    let mut strict = Client::new(parse_url(&url).unwrap(), url, Trust::Roots).unwrap();
    let e = strict.get("/products/1", &[], false).unwrap_err();
    assert!(e.to_string().contains("TLS handshake"), "{e}");
}

#[test]
fn edge_misses_then_hits_without_the_origin_and_serves_stale_when_it_is_down() {
    if ManagedNginx::binary().is_err() {
        eprintln!("SKIP nginx is not installed (scripts/setup-services.sh)");
        return;
    }
    let mut o = origin(false);
    let rows = latency_ladder::labs::web::edge(&mut o, 4).unwrap();
    let row = |s: CacheStatus| rows.iter().find(|r| r.status == s).unwrap();
    let (miss, hit, stale) = (
        row(CacheStatus::Miss),
        row(CacheStatus::Hit),
        row(CacheStatus::Stale),
    );
    assert_eq!(miss.origin_requests, 4);
    assert_eq!(hit.origin_requests, 0, "a HIT reached the origin");
    assert!(hit.origin_up && miss.origin_up);
    assert!(!stale.origin_up);
    assert_eq!(stale.origin_requests, 0);
    assert_eq!(stale.latency.samples, 4);
}

#[test]
fn web_command_times_a_local_https_server_with_insecure_and_says_so() {
    let o = origin(true);
    let url = format!("https://127.0.0.1:{}/products/3?size=1k", o.port());
    let out = tempfile::tempdir().unwrap();
    let run = ladder(&[
        "web",
        "--quick",
        "--quiet",
        "--json",
        "--http-url",
        &url,
        "--http-insecure",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let phases = v["http"]["phases"].as_array().unwrap();
    let user: Vec<&serde_json::Value> = phases
        .iter()
        .filter(|p| p["target"] == serde_json::json!(PhaseTarget::User))
        .collect();
    assert_eq!(user.len(), 2, "{phases:?}");
    for p in &user {
        assert_eq!(p["tls"], true);
        assert_eq!(p["insecure"], true);
        let names: Vec<&str> = p["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["phase"].as_str().unwrap())
            .collect();
        if p["reuse"] == false {
            for ph in [
                Phase::Dns,
                Phase::Connect,
                Phase::Tls,
                Phase::Ttfb,
                Phase::Total,
            ] {
                let name = serde_json::to_value(ph).unwrap();
                assert!(names.contains(&name.as_str().unwrap()), "{names:?}");
            }
        } else {
            assert!(
                !names.contains(&"tls") && names.contains(&"ttfb"),
                "{names:?}"
            );
        }
    }
    let http = v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rung"] == "http")
        .expect("the External API row");
    assert!(http["method"].as_str().unwrap().contains("NOT checked"));
    let dir = out.path().join(&entries(out.path())[0]);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("WARNING") && report.contains("NOT checked"),
        "{report}"
    );
    assert!(dir.join("web.png").exists() && dir.join("web.svg").exists());
    // The section and the chart are redrawn from run.json alone.
    std::fs::remove_file(dir.join("web.png")).unwrap();
    std::fs::remove_file(dir.join("report.md")).unwrap();
    let redraw = ladder(&["report", "--quiet", dir.to_str().unwrap()]);
    assert!(redraw.status.success(), "{}", stderr(&redraw));
    assert!(dir.join("web.png").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
        report
    );
    if ManagedDnsmasq::binary().is_ok() {
        assert_eq!(v["http"]["dns"]["cached_without_upstream"], true);
    }
    assert_eq!(leaked_servers(), Vec::<u32>::new(), "left running");
    // Without --http-insecure the self-signed server is refused before anything runs.
    let refused = ladder(&[
        "web",
        "--quick",
        "--http-url",
        &url,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_user_error(&refused, "TLS handshake");
}

#[test]
fn bad_web_urls_exit_2_in_one_line() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    assert_user_error(
        &ladder(&["web", "--http-url", "gopher://x/", "--out", o]),
        "not an http:// or https:// URL",
    );
    assert_user_error(
        &ladder(&["web", "--http-url", "https://h:99999/", "--out", o]),
        "bad port",
    );
    assert!(entries(out.path()).is_empty());
}

#[test]
fn the_edge_dies_with_a_sigkilled_ladder() {
    if ManagedNginx::binary().is_err() {
        eprintln!("SKIP nginx is not installed (scripts/setup-services.sh)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["web", "--quiet", "--out", out.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = std::time::Instant::now();
    let nginx = loop {
        let is_nginx = |p: &u32| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "nginx")
        };
        if let Some(p) = servers_of(pid).into_iter().find(is_nginx) {
            break p;
        }
        assert!(start.elapsed().as_secs() < 60, "nginx never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // nginx leads its own process group: no process of that group may live on (a
    // master's workers would).
    let start = std::time::Instant::now();
    while !running_in_group(nginx).is_empty() {
        assert!(
            start.elapsed().as_secs() < 5,
            "nginx outlived ladder: {:?}",
            running_in_group(nginx)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // What a SIGKILL leaves, its dirs, `ladder clean` removes.
    let prefix = format!("ladder-nginx-{pid}-");
    let left = || {
        entries(&std::env::temp_dir())
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .count()
    };
    assert_eq!(left(), 1);
    let clean = ladder(&["clean", "--out", out.path().to_str().unwrap()]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert_eq!(left(), 0);
}

/// Processes of process group `pgid` that run (zombies waiting for their reaper do
/// not).
fn running_in_group(pgid: u32) -> Vec<u32> {
    entries(std::path::Path::new("/proc"))
        .into_iter()
        .filter_map(|n| n.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // After the command name: state, ppid, pgrp.
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
        .collect()
}
