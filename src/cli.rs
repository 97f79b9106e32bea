//! The command line: subcommands and flags (clap derive), nothing else. Typed options
//! are built from these in `app`.

use crate::record::memory::{Order, PageKind};
use crate::record::rung::Family;
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
    /// Access patterns: stride and line size, read bandwidth per level, TLB cost with
    /// 4 KiB and 2 MiB pages, memory-level parallelism, loaded latency.
    Stride(StrideArgs),
    /// Between the cores and on the write side: core-to-core latency for every pair of
    /// CPUs, false sharing, read/write/copy/non-temporal bandwidth per level, read
    /// bandwidth with 1..N threads, RAM latency under load.
    Cores(CoresArgs),
    /// SSD latency: O_DIRECT 4 KiB random reads at queue depth 1, page-cache reads,
    /// fsync'd writes.
    Storage(StorageArgs),
    /// Redis round trips on REDIS_URL, --url, or a managed redis-server.
    Redis(RedisArgs),
    /// memcached round trips on --url, MEMCACHED_SERVERS, or managed memcached servers.
    Memcached(MemcachedArgs),
    /// Fixed-rate (open-loop) load on a service: latency corrected for coordinated
    /// omission, achieved rate, and for cache-aside the hit ratio, database queries
    /// and server CPU per request.
    Load(LoadArgs),
    /// What caches do when full or stormed, on managed servers: hit ratio per eviction
    /// policy (Redis) and memcached at a bounded size, and a hot key's expiry under
    /// concurrent clients with and without stampede protection.
    CacheLab(CacheLabArgs),
    /// Every rung and the lecture's table beside it, written as one run folder.
    Run(RunArgs),
    /// Several runs side by side: a table, and overlaid curves and ladders. With
    /// --baseline, each run judged against the baseline: every figure's change with a
    /// 95% interval and a verdict (exit 1 when one is slower beyond noise).
    Compare {
        /// Run folders holding run.json (from this machine or copied from others).
        #[arg(required = true, num_args = 1..)]
        run_dirs: Vec<PathBuf>,
        /// A run folder to judge the others against: faster, slower, no change beyond
        /// noise, or not comparable, per figure.
        #[arg(long, value_name = "RUN_DIR")]
        baseline: Option<PathBuf>,
        /// With --baseline: the noise threshold in percent, for every kind of figure
        /// ("10") or per kind ("rung=20,level=5"; kinds: level, bandwidth, core-pair,
        /// rung, spaced-rung) [default: per kind, what repeated identical runs showed].
        #[arg(long, value_name = "PERCENT", requires = "baseline")]
        threshold: Option<String>,
    },
    /// Database query latency: SQLite and PostgreSQL, cheap and expensive queries.
    Db(DbArgs),
    /// The web's caches: ETag and 304, max-age fresh hits, a CDN-style edge (nginx),
    /// request phases (DNS, connect, TLS, first byte, transfer), DNS caching.
    Web(WebArgs),
    /// Write a run folder's figures in a format monitoring systems read: OpenMetrics
    /// text (Prometheus; node_exporter's textfile collector).
    Export {
        /// A run folder holding run.json.
        run_dir: PathBuf,
        /// The format.
        #[arg(long, value_enum, default_value = "openmetrics")]
        format: ExportFormat,
        /// Write to FILE atomically instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Redraw report.md, the CSV files and the plots of a run folder from its run.json.
    Report {
        /// A run folder holding run.json.
        run_dir: PathBuf,
        /// Detect the memory levels again from the saved points with this version's
        /// detector, rewrite run.json (keeping the previous levels beside the new ones)
        /// and say what changed.
        #[arg(long)]
        reanalyse: bool,
    },
    /// Remove what runs that are over left, by proof only: keys and schemas their
    /// records name, temp dirs holding their marker, servers working in those dirs.
    Clean(CleanArgs),
    /// Print a shell completion script (e.g. `ladder completions bash >
    /// ~/.local/share/bash-completion/completions/ladder`).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, roff (e.g. `ladder man > ~/.local/share/man/man1/ladder.1`).
    Man,
}

/// What `ladder export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The OpenMetrics text exposition (Prometheus reads it too).
    Openmetrics,
}

/// Flags of `ladder clean`.
#[derive(Debug, Clone, Args)]
pub struct CleanArgs {
    /// List what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A Redis to remove the keys of runs that are over from: only runs its ledger
    /// (ladder:runs) names (SCAN, never KEYS/FLUSH).
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// A PostgreSQL to drop the run schemas of runs that are over from: only schemas
    /// whose comment names their run.
    #[arg(long, value_name = "URL")]
    pub postgres_url: Option<String>,
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

/// The default seed of the chain orders and of the database data set.
pub const DEFAULT_SEED: u64 = 0x1adde7;

/// A checked `--counters` list (a newtype, so clap takes it as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterList(pub Vec<String>);

fn counter_list(s: &str) -> Result<CounterList, String> {
    crate::counters::parse_list(s).map(CounterList)
}

/// A CPU to measure on: its number, or a kind of core where the OS tells kinds apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuArg {
    /// A logical CPU by number.
    Number(usize),
    /// The last CPU of this kind ("performance", "efficiency").
    Kind(String),
}

fn cpu_arg(s: &str) -> Result<CpuArg, String> {
    if let Ok(n) = s.parse::<usize>() {
        return Ok(CpuArg::Number(n));
    }
    match s.to_ascii_lowercase().as_str() {
        "performance" | "p" => Ok(CpuArg::Kind("performance".into())),
        "efficiency" | "e" => Ok(CpuArg::Kind("efficiency".into())),
        _ => Err("expected a CPU number or a core kind (performance, efficiency)".into()),
    }
}

fn size(s: &str) -> Result<u64, String> {
    crate::units::parse_size(s).map(|v| v as u64)
}

/// The smallest and largest `--file-size`: one block, one TiB.
pub const FILE_SIZE_RANGE: (u64, u64) = (4 << 10, 1 << 40);
/// The smallest and largest `--rows`: the range query needs a few hundred orders to
/// find ~100; a hundred million rows is minutes of loading.
pub const ROWS_RANGE: (u64, u64) = (1_000, 100_000_000);

fn file_size(s: &str) -> Result<u64, String> {
    let v = size(s)?;
    let (lo, hi) = FILE_SIZE_RANGE;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "'{s}' is outside {}..={}",
            crate::units::format_size(lo),
            crate::units::format_size(hi)
        ))
    }
}

/// Flags of the memory sweep.
#[derive(Debug, Clone, Args)]
pub struct MemoryArgs {
    /// Smallest working set (K/M/G suffixes, powers of two).
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "4K")]
    pub min: u64,
    /// Largest working set [default: max(4 x last-level cache, 512M), capped by half
    /// the available memory; max(4 x last-level cache, 64M) with --quick].
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub max: Option<u64>,
    /// Points per octave, 1 to 64 [default: 4; 2 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub per_octave: Option<u32>,
    /// Page size of the buffers.
    #[arg(long, value_enum, default_value = "4k")]
    pub pages: PagesArg,
    /// Times the whole grid is swept, alternating direction; each point's trials are
    /// spread over the rounds and rounds that disagree mark the point unstable
    /// [default: 3; 2 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub rounds: Option<u32>,
    /// Chain order: tlb-local measures caches and DRAM; random adds page walks.
    #[arg(long, value_enum, default_value = "tlb-local")]
    pub order: Order,
    /// CPU to pin the measuring thread to: a number, or `performance` / `efficiency`
    /// for the last CPU of that kind on a hybrid CPU [default: the last CPU this
    /// process may use].
    #[arg(long, value_name = "N|KIND", value_parser = cpu_arg)]
    pub cpu: Option<CpuArg>,
    /// Trials per point, 1 to 1000 [default: 7; 3 with --quick].
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub trials: Option<usize>,
    /// Perf counters to read around each timed trial: perf's names (cycles,
    /// instructions, L1-dcache-load-misses, LLC-load-misses, dTLB-load-misses,
    /// task-clock, page-faults, context-switches, cpu-migrations), raw rNNNN, or none
    /// [default: all of the named ones].
    #[arg(long, value_name = "LIST", value_parser = counter_list)]
    pub counters: Option<CounterList>,
    /// Seed of the chain orders (same seed, same chains).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// A checked `--cpus` list (a newtype, so clap takes it as one value): sorted, no
/// repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

fn cpu_list(s: &str) -> Result<CpuList, String> {
    let mut cpus = crate::units::parse_cpu_list(s).ok_or_else(|| {
        format!(
            "'{s}' is not a CPU list (e.g. 0-3,8,10-11; CPU numbers 0 to {})",
            crate::units::MAX_CPU
        )
    })?;
    cpus.sort_unstable();
    cpus.dedup();
    Ok(CpuList(cpus))
}

/// Flags of `ladder cores`.
#[derive(Debug, Clone, Args)]
pub struct CoresArgs {
    /// CPUs to measure, as a kernel CPU list (`0-3,8`); the matrix covers every ordered
    /// pair of them [default: every CPU this process may use].
    #[arg(long, value_name = "LIST", value_parser = cpu_list)]
    pub cpus: Option<CpuList>,
    /// Timed samples per pair and handoff, 5 to 10000, taken in bursts of 5 spread
    /// over the run; a sample is the mean of 200 round trips [default: 200; 60 with
    /// --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(5..=10_000))]
    pub samples: Option<u32>,
}

/// Flags of the storage rung.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// A directory on the filesystem to measure [default: the --out folder's].
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Size of the test file; larger than any device cache [default: 1G; 64M with
    /// --quick].
    #[arg(long, value_name = "SIZE", value_parser = file_size)]
    pub file_size: Option<u64>,
    /// Timed reads of each kind (writes: a tenth), 10 to 10000000 [default: 5000; 500
    /// with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(10..=10_000_000))]
    pub samples: Option<u64>,
    /// Measure a tmpfs or ramfs path anyway (it is RAM, not a disk).
    #[arg(long)]
    pub allow_ram: bool,
}

/// Flags of the Redis rung.
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// A Redis to measure (redis://[:password@]host:port/db or redis+unix:///path)
    /// [default: REDIS_URL, else a managed redis-server on loopback].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Flags of the memcached rung.
#[derive(Debug, Clone, Args)]
pub struct MemcachedArgs {
    /// A memcached to measure (memcache://[user:pass@]host:port, host:port, or a unix
    /// socket path) [default: the first of MEMCACHED_SERVERS, else managed memcached
    /// servers on loopback and a unix socket].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// What `ladder load` sends its requests to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadTargetArg {
    /// GET of one existing key on Redis.
    Redis,
    /// GET of one existing key on memcached.
    Memcached,
    /// The product page straight from PostgreSQL.
    Postgres,
    /// The product page straight from SQLite.
    Sqlite,
    /// The product page three ways: from the database (PostgreSQL where there is one,
    /// else SQLite), cache-aside via Redis, cache-aside via memcached.
    CacheAside,
}

/// The bounds of `--rate` (requests per second).
pub const RATE_RANGE: (f64, f64) = (1.0, 1_000_000.0);

fn rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    let (lo, hi) = RATE_RANGE;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' is outside {lo}..={hi} requests per second"))
    }
}

/// Seconds from `10`, `10s`, `500ms` or `2m`, within 0..=3600.
fn seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v = num
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("'{s}' is not a duration (10, 10s, 500ms, 2m)"))?
        * scale;
    if (0.0..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' is outside 0..=3600 s"))
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v = seconds(s)?;
    if v >= 0.1 {
        Ok(v)
    } else {
        Err(format!("'{s}' is under 100 ms"))
    }
}

fn zipf_s(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=5.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("'{s}' is outside 0..=5"))
    }
}

/// Flags of `ladder load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// What the requests go to.
    #[arg(long, value_enum)]
    pub target: LoadTargetArg,
    /// Target requests per second, all connections together, 1 to 1000000 (for
    /// cache-aside: lowered to what the database alone sustains, and said so)
    /// [default: 1000].
    #[arg(long, value_name = "R", value_parser = rate)]
    pub rate: Option<f64>,
    /// A latency-against-rate curve: the target at each rate in turn, rising, same
    /// connections, duration and warm-up each (redis, memcached, postgres, sqlite);
    /// draws load-rate.png.
    #[arg(long, value_name = "R1,R2,...", value_parser = rate, value_delimiter = ',',
          conflicts_with = "rate")]
    pub rates: Vec<f64>,
    /// Client connections, one thread each, 1 to 256 [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub connections: Option<u32>,
    /// The measured window: 10, 10s, 500ms, 2m (at most 1 h) [default: 10s; 3s with
    /// --quick].
    #[arg(long, value_name = "D", value_parser = positive_seconds)]
    pub duration: Option<f64>,
    /// Run before the measured window, left out of the percentiles (kept in the
    /// per-second series) [default: 2s; 1s with --quick].
    #[arg(long, value_name = "D", value_parser = seconds)]
    pub warmup: Option<f64>,
    /// Zipf exponent of the product keys, 0 (uniform) to 5.
    #[arg(long, value_name = "S", value_parser = zipf_s, default_value_t = 0.99)]
    pub zipf: f64,
    /// Expiry of a cached page, seconds, 1 to 86400.
    #[arg(long, value_name = "S", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub ttl: u64,
    /// Orders in the product catalogue (one product per 100 orders), 1000 to 100000000
    /// [default: 100000; 20000 with --quick].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(ROWS_RANGE.0..=ROWS_RANGE.1))]
    pub rows: Option<u64>,
    /// A Redis [default: REDIS_URL, else a managed redis-server].
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// A memcached [default: MEMCACHED_SERVERS, else managed memcached].
    #[arg(long, value_name = "URL")]
    pub memcached_url: Option<String>,
    /// A PostgreSQL [default: DATABASE_URL, else a managed server, else SQLite].
    #[arg(long, value_name = "URL")]
    pub postgres_url: Option<String>,
    /// Seed of the data set and the key streams.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

/// Flags of `ladder run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The memory sweep's flags.
    #[command(flatten)]
    pub memory: MemoryArgs,
    /// Rungs to leave out, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "RUNG,...")]
    pub skip: Vec<Family>,
    /// An http:// or https:// URL for the External API row (timed GETs phase by
    /// phase, a new connection each and on one kept connection).
    #[arg(long, value_name = "URL")]
    pub http_url: Option<String>,
    /// Do not check the --http-url server's certificate (only for a self-signed test
    /// server of your own; the report says so loudly).
    #[arg(long, requires = "http_url")]
    pub http_insecure: bool,
    /// A Redis to measure [default: REDIS_URL, else a managed redis-server].
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// A PostgreSQL to measure [default: DATABASE_URL, else a managed server].
    #[arg(long, value_name = "URL")]
    pub postgres_url: Option<String>,
    /// A memcached to measure [default: MEMCACHED_SERVERS, else managed servers].
    #[arg(long, value_name = "URL")]
    pub memcached_url: Option<String>,
    /// A directory on the disk to measure [default: the --out folder's].
    #[arg(long, value_name = "DIR")]
    pub storage_path: Option<PathBuf>,
    /// Also write the run's figures as OpenMetrics text to FILE, atomically (for
    /// node_exporter's textfile collector: name a `*.prom` file in its directory).
    #[arg(long, value_name = "FILE")]
    pub openmetrics: Option<PathBuf>,
}

/// Flags of `ladder web`.
#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Also time this http:// or https:// URL phase by phase (the External API row).
    #[arg(long, value_name = "URL")]
    pub http_url: Option<String>,
    /// Do not check the --http-url server's certificate (only for a self-signed test
    /// server of your own; the report says so loudly).
    #[arg(long, requires = "http_url")]
    pub http_insecure: bool,
    /// Orders in the data set whose product catalogue the origin serves (one product
    /// per 100 orders), 1000 to 100000000 [default: 1000000; 20000 with --quick].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(ROWS_RANGE.0..=ROWS_RANGE.1))]
    pub rows: Option<u64>,
}

/// Flags of `ladder stride`.
#[derive(Debug, Clone, Args)]
pub struct StrideArgs {
    /// Also measure this working set (repeatable), beside one per detected level.
    #[arg(long = "size", value_name = "SIZE", value_parser = size)]
    pub sizes: Vec<u64>,
    /// Working set of the TLB chains [default: 1G; 256M with --quick].
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub tlb_size: Option<u64>,
    /// CPU of the measuring thread: a number, or `performance` / `efficiency`
    /// [default: the last CPU].
    #[arg(long, value_name = "N|KIND", value_parser = cpu_arg)]
    pub cpu: Option<CpuArg>,
    /// CPU of the background stream for loaded latency [default: another CPU than
    /// --cpu, if there is one].
    #[arg(long, value_name = "N")]
    pub background_cpu: Option<usize>,
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
    /// Orders in the data set, 1000 to 100000000 [default: 1000000; 20000 with
    /// --quick].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(ROWS_RANGE.0..=ROWS_RANGE.1))]
    pub rows: Option<u64>,
    /// Seed of the data set and of the query parameters (same seed, same rows).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

fn cache_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.001..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "'{s}' is outside 0.001..=1 (a fraction of the working set)"
        ))
    }
}

/// Flags of `ladder cache-lab`.
#[derive(Debug, Clone, Args)]
pub struct CacheLabArgs {
    /// The cache size every workload runs at, as a fraction of the working set's bytes
    /// (0.001 to 1) [default: 0.1].
    #[arg(long, value_name = "F", value_parser = cache_fraction, default_value_t = 0.1)]
    pub cache_fraction: f64,
    /// Distinct keys of the eviction replay, 1000 to 1000000 [default: 10000].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1_000..=1_000_000))]
    pub keys: Option<u64>,
    /// Measured requests per eviction replay, 1000 to 10000000 [default: 3 x keys; 1 x
    /// keys with --quick].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1_000..=10_000_000))]
    pub requests: Option<u64>,
    /// Concurrent clients (threads) of the stampede, 2 to 256 [default: 50; 20 with
    /// --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=256))]
    pub clients: Option<u32>,
    /// Seed of the key sequences and the data set.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Run only these parts, comma-separated [default: all].
    #[arg(long, value_name = "PART", value_delimiter = ',')]
    pub parts: Vec<CacheLabPart>,
    /// A user's Redis for the parts that need no CONFIG (stampede, staleness), inside
    /// the run's key prefix; the other parts are skipped [default: a managed
    /// redis-server for every part].
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
}

/// A part of `ladder cache-lab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheLabPart {
    /// Bounded caches under each eviction policy.
    Eviction,
    /// A hot key expiring under many clients.
    Stampede,
    /// Hit ratio against (scaled) TTL, and lingering expired keys.
    Ttl,
    /// Stale reads per invalidation strategy under a writer.
    Staleness,
    /// The cache killed and restarted mid-run.
    Outage,
}

impl CacheLabPart {
    /// The name `--parts` takes.
    pub fn name(self) -> &'static str {
        match self {
            CacheLabPart::Eviction => "eviction",
            CacheLabPart::Stampede => "stampede",
            CacheLabPart::Ttl => "ttl",
            CacheLabPart::Staleness => "staleness",
            CacheLabPart::Outage => "outage",
        }
    }

    /// Every part, in run order.
    pub const ALL: [CacheLabPart; 5] = [
        CacheLabPart::Eviction,
        CacheLabPart::Stampede,
        CacheLabPart::Ttl,
        CacheLabPart::Staleness,
        CacheLabPart::Outage,
    ];
}
