//! The subcommands, one file each: typed options from the CLI, validation (bad input
//! fails before any measuring), the measurement, and the outputs. What they share —
//! the recorder of a run, writing the run folder, printing — lives here.

mod cache_lab;
mod clean;
mod cores;
mod db;
mod host;
mod load;
mod memcached;
mod memory;
mod preset;
mod redis;
mod report;
mod run;
mod shell;
mod storage;
mod stride;
mod web;

pub use host::host_text;
pub use memory::plan as sweep_config;

use crate::cli::{Cli, Command, Common, CpuArg};
use crate::error::{Error, Result};
use crate::record::host::Host;
use crate::record::memory::MemorySection;
use crate::record::rung::{Rung, Skipped};
use crate::record::{utc_now, Run, SCHEMA_VERSION};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    // The process's CPUs, before any thread pins itself: managed servers go there.
    crate::host::process_cpus();
    let result = run_command(&cli);
    // Every guard of the command has removed its keys by now.
    crate::ownership::ledger::release_redis();
    result
}

fn run_command(cli: &Cli) -> Result<()> {
    let common = &cli.common;
    match &cli.command {
        Command::Host => host::execute(common),
        Command::Memory(args) => memory::execute(common, args, "memory"),
        Command::Stride(args) => stride::execute(common, args),
        Command::Cores(args) => cores::execute(common, args),
        Command::Storage(args) => storage::execute(common, args),
        Command::Redis(args) => redis::execute(common, args),
        Command::Memcached(args) => memcached::execute(common, args),
        Command::Load(args) => load::execute(common, args),
        Command::CacheLab(args) => cache_lab::execute(common, args),
        Command::Run(args) => run::execute(common, args),
        Command::Db(args) => db::execute(common, args),
        Command::Web(args) => web::execute(common, args),
        Command::Export {
            run_dir,
            format: crate::cli::ExportFormat::Openmetrics,
            output,
        } => report::export(run_dir, output.as_deref()),
        Command::Report { run_dir, reanalyse } => report::redraw(common, run_dir, *reanalyse),
        Command::Compare {
            run_dirs,
            baseline,
            threshold,
        } => match baseline {
            Some(b) => report::against_baseline(common, b, run_dirs, threshold.as_deref()),
            None => report::compare(common, run_dirs),
        },
        Command::Clean(args) => clean::execute(common, args),
        Command::Completions { shell } => shell::completions(*shell),
        Command::Man => shell::man(),
    }
}

/// Prints `text` and a newline on stdout; a reader that went away (`| head -1`) is
/// [`Error::StdoutClosed`], which ends the command quietly with exit 0.
fn stdout_line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Error::StdoutClosed,
            _ => Error::Internal(format!("cannot write to stdout: {e}")),
        })
}

/// The CPU to measure on: the one asked for, checked, else the last this process may use.
fn measuring_cpu(asked: Option<&CpuArg>, host: &Host) -> Result<usize> {
    let list = |cpus: &[usize]| crate::units::cpu_list(cpus, ", ");
    let cpu = match asked {
        Some(CpuArg::Number(c)) => *c,
        Some(CpuArg::Kind(kind)) => {
            let named = host.core_kinds.iter().find(|k| &k.kind == kind);
            let kinds: Vec<&str> = host.core_kinds.iter().map(|k| k.kind.as_str()).collect();
            match named {
                None if kinds.is_empty() => {
                    return Err(Error::Input(format!(
                        "--cpu {kind}: this host does not tell core kinds apart; give a CPU \
                         number ({})",
                        list(&host.cpus)
                    )))
                }
                None => {
                    return Err(Error::Input(format!(
                        "--cpu {kind}: no such cores here (kinds: {})",
                        kinds.join(", ")
                    )))
                }
                Some(k) => *k
                    .cpus
                    .iter()
                    .rfind(|c| host.cpus.contains(c))
                    .ok_or_else(|| {
                        Error::Input(format!(
                            "--cpu {kind}: the OS does not say which CPUs are {kind} cores, or \
                             none of them is allowed to this process"
                        ))
                    })?,
            }
        }
        None => *host
            .cpus
            .last()
            .ok_or_else(|| Error::Unusable("no CPU is available to pin to".into()))?,
    };
    if !host.cpus.contains(&cpu) {
        return Err(Error::Input(format!(
            "--cpu {cpu} does not exist here (CPUs: {})",
            list(&host.cpus)
        )));
    }
    Ok(cpu)
}

/// The start of a recorded run: when, and on what host.
struct Recorder {
    started: Instant,
    stamp: String,
    host: Host,
}

impl Recorder {
    fn start() -> Recorder {
        let started = Instant::now();
        let (stamp, _) = utc_now();
        Recorder {
            started,
            stamp,
            host: Host::probe(),
        }
    }

    /// Builds the record, writes the run folder and prints the summary.
    fn finish(
        self,
        common: &Common,
        command: &str,
        memory: Option<MemorySection>,
        rungs: Vec<Rung>,
    ) -> Result<()> {
        let run = self.record(command, memory, rungs, Vec::new());
        write_and_print(common, &run)
    }

    /// The record of what was measured.
    fn record(
        self,
        command: &str,
        memory: Option<MemorySection>,
        rungs: Vec<Rung>,
        skipped: Vec<Skipped>,
    ) -> Run {
        Run {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            started_at: self.stamp,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            host: self.host,
            memory,
            patterns: None,
            cores: None,
            caching: Vec::new(),
            db_sizes: Vec::new(),
            db_split: Vec::new(),
            http: None,
            load: None,
            cache_lab: None,
            rungs,
            skipped,
            ladder: Vec::new(),
            comparisons: Vec::new(),
        }
    }
}

/// Writes the run folder (named for the run's start date) and prints the summary.
fn write_and_print(common: &Common, run: &Run) -> Result<()> {
    let date = run.started_at.get(..10).unwrap_or("undated");
    let dir = crate::report::write_run_dir(run, &common.out, date)?;
    finish(common, run, &dir)
}

/// Prints the summary (stderr with --json, where stdout holds the record) and the JSON.
fn finish(common: &Common, run: &Run, dir: &Path) -> Result<()> {
    let summary = format!("{}results: {}", crate::report::terminal(run), dir.display());
    if common.json {
        if !common.quiet {
            eprintln!("{summary}");
        }
        let json = serde_json::to_string_pretty(run)
            .map_err(|e| Error::Internal(format!("cannot serialise the run: {e}")))?;
        stdout_line(&json)
    } else {
        stdout_line(&summary)
    }
}

/// REDIS_URL when set and not empty.
fn env_url(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::host::CoreKind;
    use clap::Parser;

    /// The flags of one subcommand (`T`), parsed as clap parses them.
    pub(crate) fn args<T: clap::Args>(flags: &[&str]) -> T {
        #[derive(clap::Parser)]
        struct Only<T: clap::Args> {
            #[command(flatten)]
            args: T,
        }
        let argv = std::iter::once("ladder").chain(flags.iter().copied());
        Only::<T>::try_parse_from(argv).unwrap().args
    }

    /// A recorded host (two CPUs, 32 KiB L1d, 1 MiB L2, 32 MiB L3, 24 GB available), so
    /// a plan reads the same here as on any machine.
    pub(crate) fn fixture_host() -> Host {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-a/run.json");
        crate::record::Run::load(&path).unwrap().host
    }

    #[test]
    fn cpu_by_kind_picks_the_last_allowed_cpu_of_that_kind() {
        let mut host = Host::probe();
        let Some(&first) = host.cpus.first() else {
            return;
        };
        let kind = |k: &str| Some(CpuArg::Kind(k.into()));
        // This host's own answer: kinds only where the OS names them.
        if host.core_kinds.is_empty() {
            let e = measuring_cpu(kind("performance").as_ref(), &host).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(
                e.to_string().contains("does not tell core kinds apart"),
                "{e}"
            );
        }
        // A hybrid host: the efficiency cores are the first CPU and a CPU not allowed.
        host.core_kinds = vec![
            CoreKind::new("efficiency", vec![first, 999], "test"),
            CoreKind::new("performance", host.cpus[1..].to_vec(), "test"),
        ];
        assert_eq!(
            measuring_cpu(kind("efficiency").as_ref(), &host).unwrap(),
            first
        );
        if host.cpus.len() > 1 {
            assert_eq!(
                measuring_cpu(kind("performance").as_ref(), &host).unwrap(),
                *host.cpus.last().unwrap()
            );
        }
        host.core_kinds.truncate(1);
        let e = measuring_cpu(kind("performance").as_ref(), &host).unwrap_err();
        assert!(e.to_string().contains("kinds: efficiency"), "{e}");
        let e = measuring_cpu(Some(&CpuArg::Number(999)), &host).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
