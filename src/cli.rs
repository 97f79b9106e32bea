//! The command line: subcommands and flags (clap derive), nothing else. Typed options
//! are built from these in `app`.

use crate::memory::{Order, PageKind};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Measure every rung of the latency ladder on this machine.
#[derive(Debug, Parser)]
#[command(name = "ladder", version, about, long_about = None)]
pub struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub common: Common,
    /// What to measure.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Folder for results: each run writes a new <date>-<host> folder inside it.
    #[arg(long, global = true, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,
    /// Print the run record (JSON) on stdout and nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
    /// A short run for smoke tests: fewer points, shorter trials.
    #[arg(long, global = true)]
    pub quick: bool,
    /// No progress bars.
    #[arg(long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// What this machine is and what can be measured on it.
    Host,
    /// The pointer-chase sweep over working-set sizes, and the levels it shows.
    Memory(MemoryArgs),
    /// Every rung (today: the memory ladder), written as one run folder.
    Run(MemoryArgs),
    /// Database query latency: SQLite and PostgreSQL, cheap and expensive queries.
    Db(DbArgs),
    /// Redraw report.md and the CSV files of a run folder from its run.json.
    Report {
        /// A run folder holding run.json.
        run_dir: PathBuf,
    },
}

/// Page sizes to sweep with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PagesArg {
    /// 4 KiB base pages only.
    #[value(name = "4k")]
    Small,
    /// 2 MiB transparent huge pages only.
    #[value(name = "2m")]
    Huge,
    /// Both, one series each.
    Both,
}

impl PagesArg {
    /// The page kinds this choice sweeps, in order.
    pub fn kinds(self) -> Vec<PageKind> {
        match self {
            PagesArg::Small => vec![PageKind::Small],
            PagesArg::Huge => vec![PageKind::Huge],
            PagesArg::Both => vec![PageKind::Small, PageKind::Huge],
        }
    }
}

fn size(s: &str) -> Result<u64, String> {
    crate::units::parse_size(s).map(|v| v as u64)
}

/// Flags of the memory sweep.
#[derive(Debug, Clone, Args)]
pub struct MemoryArgs {
    /// Smallest working set (K/M/G suffixes, powers of two).
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "4K")]
    pub min: u64,
    /// Largest working set [default: max(8 x last-level cache, 512M), capped by
    /// available memory; 64M with --quick].
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub max: Option<u64>,
    /// Points per octave [default: 4; 2 with --quick].
    #[arg(long, value_name = "N")]
    pub per_octave: Option<u32>,
    /// Page size of the buffers.
    #[arg(long, value_enum, default_value = "4k")]
    pub pages: PagesArg,
    /// Chain order: tlb-local measures caches and DRAM; random adds page walks.
    #[arg(long, value_enum, default_value = "tlb-local")]
    pub order: Order,
    /// CPU to pin the measuring thread to [default: the last CPU this process may use].
    #[arg(long, value_name = "N")]
    pub cpu: Option<usize>,
    /// Trials per point [default: 7; 3 with --quick].
    #[arg(long, value_name = "N")]
    pub trials: Option<usize>,
    /// Seed of the chain orders (same seed, same chains).
    #[arg(long, value_name = "N", default_value_t = 0x1adde7)]
    pub seed: u64,
}

/// Flags of the database rungs.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Keep the SQLite database in this new file [default: a temp file, removed at the
    /// end].
    #[arg(long, value_name = "PATH")]
    pub sqlite: Option<PathBuf>,
    /// The PostgreSQL server to measure (the run works in its own schema and drops it)
    /// [default: DATABASE_URL, else a managed server].
    #[arg(long, value_name = "URL")]
    pub postgres_url: Option<String>,
    /// Orders in the data set [default: 1000000; 20000 with --quick].
    #[arg(long, value_name = "N")]
    pub rows: Option<u64>,
    /// Seed of the data set and of the query parameters (same seed, same rows).
    #[arg(long, value_name = "N", default_value_t = 0x1adde7)]
    pub seed: u64,
}
