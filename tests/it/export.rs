//! `ladder export --format openmetrics`: the text is checked by Prometheus' own
//! `promtool check metrics`, and served by a real node_exporter (its textfile
//! collector, on a loopback port) and scraped over HTTP. Both skip with a note where
//! the tool is not installed (scripts/setup-services.sh installs them).

use crate::common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xeon")
}

fn tool(name: &str) -> Option<PathBuf> {
    let found = latency_ladder::services::find_binary(name, &[]);
    if found.is_none() {
        eprintln!("SKIP {name} not installed (the prometheus package has promtool, prometheus-node-exporter the exporter)");
    }
    found
}

/// `promtool check metrics` on `text`: whether it passed, and what it said.
fn promtool_check(promtool: &Path, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn promtool_accepts_the_export() {
    let o = ladder(&["export", fixture_dir().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    for family in [
        "ladder_memory_latency_seconds",
        "ladder_memory_capacity_bytes",
        "ladder_bandwidth_bytes_per_second",
        "ladder_core_to_core_latency_seconds",
        "ladder_rung_latency_seconds",
        "ladder_run_info",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
    }
    assert!(text.contains(r#"level="L2",pages="4k"} "#), "{text}");
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let (ok, said) = promtool_check(&promtool, &text);
    assert!(ok, "promtool: {said}");
    assert!(said.trim().is_empty(), "promtool's lint: {said}");
    // Planted: a family without HELP is what promtool reports (the check above can
    // fail).
    let bad = text.replace(
        "# HELP ladder_memory_capacity_bytes",
        "# HELP_GONE ladder_memory_capacity_bytes",
    );
    let (ok, said) = promtool_check(&promtool, &bad);
    assert!(!ok, "promtool accepted a family without HELP: {said}");
}

/// A node_exporter the test owns, killed on drop.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, the body).
fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

#[test]
fn node_exporter_serves_the_export_from_its_textfile_directory() {
    let Some(bin) = tool("prometheus-node-exporter") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("ladder.prom");
    let o = ladder(&[
        "export",
        "--format",
        "openmetrics",
        fixture_dir().to_str().unwrap(),
        "--output",
        prom.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // Only the file: the temp file it was written as is gone.
    assert_eq!(entries(dir.path()), vec!["ladder.prom".to_string()]);
    let port = latency_ladder::services::free_port().unwrap();
    let _exporter = Exporter(
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--collector.disable-defaults")
            .arg("--collector.textfile")
            .arg(format!(
                "--collector.textfile.directory={}",
                dir.path().display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let page = loop {
        match get(port, "/metrics") {
            Ok(p) if p.contains("node_textfile_scrape_error") => break p,
            _ => {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "node_exporter did not answer"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert!(page.contains("node_textfile_scrape_error 0"), "{page}");
    let ours: Vec<&str> = page.lines().filter(|l| l.starts_with("ladder_")).collect();
    assert!(
        ours.iter().any(
            |l| l.starts_with("ladder_memory_latency_seconds{") && l.contains(r#"level="L1d""#)
        ),
        "{page}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("ladder_rung_latency_seconds_count{")),
        "{page}"
    );
    // Every sample of the file is served.
    let written = std::fs::read_to_string(&prom).unwrap();
    let samples = written
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert_eq!(ours.len(), samples, "{page}");
    for l in ours.iter().take(3) {
        println!("scraped: {l}");
    }
}

#[test]
fn export_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture_dir();
    let f = fixture.to_str().unwrap();
    let missing = dir.path().join("no/such/dir/ladder.prom");
    let o = ladder(&["export", f, "--output", missing.to_str().unwrap()]);
    assert_user_error(&o, "does not exist");
    let o = ladder(&["export", f, "--output", dir.path().to_str().unwrap()]);
    assert_user_error(&o, "is a folder");
    let o = ladder(&["export", dir.path().to_str().unwrap()]);
    assert_user_error(&o, "cannot read");
    let o = ladder(&["export", "--format", "csv", f]);
    assert_user_error(&o, "csv");
}
