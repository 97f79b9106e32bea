//! Integration tests: the real `ladder` binary on small memory sweeps and bad input.

use crate::common;

use common::*;
use latency_ladder::record::memory::LevelName;

#[test]
fn small_sweep_puts_l1_below_ram_and_its_record_round_trips() {
    let out = tempfile::tempdir().unwrap();
    // No --max: the quick grid reaches four times this host's last-level cache.
    let printed = ladder_json(out.path(), &["memory", "--min", "4K", "--quick"]);

    let dirs = entries(out.path());
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let dir = out.path().join(&dirs[0]);
    assert_files(
        &dir,
        &[
            "latency.png",
            "latency.svg",
            "memory.csv",
            "report.md",
            "run.json",
        ],
    );

    let run = latency_ladder::record::Run::load(&dir.join("run.json")).unwrap();
    assert_eq!(serde_json::to_value(&run).unwrap(), printed);
    let mem = run.memory.expect("memory section");
    let (first, last) = (&mem.points[0], &mem.points[mem.points.len() - 1]);
    let (l1, ram) = (first.ns_per_access, last.ns_per_access);
    assert!(l1 * 5.0 < ram, "L1 {l1} ns vs RAM {ram} ns");
    let level = |name: LevelName| mem.levels.iter().find(|l| l.name == name && l.detected);
    assert!(
        level(LevelName::L1D).is_some() && level(LevelName::Ram).is_some(),
        "{:?}",
        mem.levels
    );

    let csv = std::fs::read_to_string(dir.join("memory.csv")).unwrap();
    assert!(csv.starts_with("size_bytes,pages,pages_requested,ns_per_access,ns_median"));
    assert_eq!(csv.lines().count(), mem.points.len() + 1);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Memory hierarchy") && md.contains("| L1d |"));

    // `ladder report` redraws the same report from run.json alone.
    std::fs::remove_file(dir.join("report.md")).unwrap();
    let o = ladder(&["report", "--quiet", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(dir.join("report.md")).unwrap(), md);
}

#[test]
fn huge_pages_are_checked_not_assumed() {
    let out = tempfile::tempdir().unwrap();
    let v = ladder_json(
        out.path(),
        &[
            "memory", "--min", "4M", "--max", "8M", "--pages", "both", "--quick",
        ],
    );
    let points = v["memory"]["points"].as_array().unwrap();
    assert!(points.iter().any(|p| p["pages_requested"] == "4k"));
    assert!(points.iter().any(|p| p["pages_requested"] == "2m"));
    for p in points {
        assert!(["4k", "2m", "mixed", "unknown"].contains(&p["pages"].as_str().unwrap()));
        if p["pages_requested"] == "4k" {
            assert_eq!(p["pages"], "4k", "{p}");
        }
    }
}

#[test]
fn host_json_describes_the_machine() {
    let o = ladder(&["host", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for field in [
        "cpu_model",
        "caches",
        "page_size",
        "thp",
        "clock_ghz",
        "hypervisor",
        "counters",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    let counters = v["counters"].as_array().unwrap();
    let task_clock = counters.iter().find(|c| c["name"] == "task-clock").unwrap();
    assert_eq!(task_clock["availability"]["status"], "available");
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let o_arg = out.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["memory", "--min", "12X"], "unknown size suffix"),
        (&["memory", "--max", "lots"], "not a size"),
        (
            &["memory", "--min", "8M", "--max", "4M"],
            "larger than --max",
        ),
        (&["memory", "--per-octave", "0"], "--per-octave"),
        (&["memory", "--cpu", "fast"], "core kind"),
        (&["memory", "--trials", "0"], "--trials"),
        (&["memory", "--max", "64T"], "memory available"),
        (&["memory", "--cpu", "4096"], "--cpu 4096"),
        (&["memory", "--pages", "1g"], "--pages"),
        (&["memory", "--frobnicate"], "--frobnicate"),
    ];
    for (args, needle) in cases {
        let mut full = args.to_vec();
        full.extend(["--quick", "--out", o_arg]);
        assert_user_error(&ladder(&full), needle);
    }
    assert!(entries(out.path()).is_empty(), "{:?}", entries(out.path()));
}

#[test]
fn unwritable_out_is_refused_before_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = ladder(&["memory", "--quick", "--out", file.to_str().unwrap()]);
    assert_user_error(&o, "not writable");
}

#[test]
fn report_refuses_an_unknown_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.json"), r#"{"schema_version": 999}"#).unwrap();
    let o = ladder(&["report", dir.path().to_str().unwrap()]);
    assert_user_error(&o, "schema version 999");
    let o = ladder(&["report", "/nonexistent/run"]);
    assert_user_error(&o, "not a run folder");
}

#[test]
fn completions_and_the_man_page_name_every_subcommand() {
    use clap::CommandFactory;
    let names: Vec<String> = latency_ladder::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    let check = |args: &[&str], marker: &str| {
        let o = ladder(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        // roff writes a hyphen in a name as `\-`.
        let text = String::from_utf8(o.stdout).unwrap().replace("\\-", "-");
        assert!(text.contains(marker), "{args:?} lacks {marker:?}");
        for name in &names {
            assert!(
                text.contains(name.as_str()),
                "{args:?} does not name {name}"
            );
        }
    };
    check(&["completions", "bash"], "complete -F");
    check(&["completions", "zsh"], "#compdef ladder");
    check(&["completions", "fish"], "complete -c ladder");
    check(&["completions", "powershell"], "Register-ArgumentCompleter");
    check(&["man"], ".TH ladder");
    assert_user_error(&ladder(&["completions", "tcsh"]), "tcsh");
}

#[test]
fn host_ends_with_what_can_run_here_and_how_to_enable_the_rest() {
    let o = ladder(&["host"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let ready = text
        .split("ready to measure:")
        .nth(1)
        .expect("a readiness list");
    for rung in [
        "memory", "ssd", "redis", "sqlite", "postgres", "http", "counters",
    ] {
        assert!(ready.contains(rung), "{rung} missing from {ready}");
    }
    // Without redis-server on PATH the redis line says how to get it.
    let o = ladder_env(&["host"], &[("PATH", "/nonexistent")]);
    let text = String::from_utf8(o.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("redis "))
        .unwrap();
    assert!(
        line.contains("not installed: scripts/setup-services.sh"),
        "{line}"
    );
}

/// Runs `ladder ARGS` with stdout a pipe whose reader is already gone (what `| head -1`
/// leaves once head has exited): the first write fails with EPIPE every time.
fn ladder_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly_with_exit_0() {
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run-a");
    std::fs::create_dir(&run_dir).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a");
    for name in entries(&fixture) {
        std::fs::copy(fixture.join(&name), run_dir.join(&name)).unwrap();
    }
    let (out_s, run_s) = (out.path().to_str().unwrap(), run_dir.to_str().unwrap());
    let cases: [&[&str]; 10] = [
        &["man"],
        &["completions", "bash"],
        &["host"],
        &["host", "--json"],
        &["--quiet", "report", run_s],
        &["--quiet", "--json", "report", run_s],
        &["--quiet", "--out", out_s, "compare", run_s, run_s],
        &["--out", out_s, "clean", "--dry-run"],
        &[
            "--quiet", "--out", out_s, "memory", "--min", "4K", "--max", "64K", "--quick",
        ],
        &[
            "--quiet", "--json", "--out", out_s, "memory", "--min", "4K", "--max", "64K", "--quick",
        ],
    ];
    for args in cases {
        let o = ladder_into_closed_pipe(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?} said something on stderr");
    }
}

#[test]
fn a_reader_that_stops_after_one_line_sees_exit_0_and_silence() {
    use std::io::BufRead;
    for args in [&["man"][..], &["completions", "bash"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ladder"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{args:?} printed nothing");
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}
