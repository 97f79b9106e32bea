//! What `--quick` changes: one table of defaults for a full run and one for smoke
//! tests, instead of an `if quick` beside every flag. A flag the user gives wins.

use super::cache_lab::CacheLabDefaults;
use crate::cli::CacheLabPart;
use crate::cores::pingpong::PairPlan;
use crate::labs::load::LoadDefaults;
use crate::labs::web::WebConfig;
use crate::measure::TrialPolicy;
use crate::record::cache_lab::Policy;
use crate::rungs::db::Plan;
use crate::rungs::kv::KvConfig;
use std::time::Duration;

/// The defaults of every command for one run length.
pub(super) struct Preset {
    /// Whether this is the `--quick` preset (the memory module sizes its defaults by it).
    pub quick: bool,
    /// Sweep points per octave.
    pub per_octave: u32,
    /// Sweep rounds.
    pub rounds: u32,
    /// Trials of the sweep.
    pub sweep_policy: TrialPolicy,
    /// Working set of the TLB chains (`ladder stride`).
    pub tlb_bytes: u64,
    /// Trials of the access patterns.
    pub patterns_policy: TrialPolicy,
    /// Size of the storage test file.
    pub file_size: u64,
    /// Timed storage reads.
    pub storage_samples: u64,
    /// The key-value rungs (Redis, memcached).
    pub kv: KvConfig,
    /// Rows of the database data set.
    pub db_rows: u64,
    /// The database queries.
    pub db_plan: Plan,
    /// Timed HTTP GETs.
    pub http_samples: u64,
    /// `ladder cores`.
    pub cores: CoresPreset,
    /// The cores section of `ladder run` (shorter: it sits beside every other rung).
    pub run_cores: CoresPreset,
    /// The web's caches.
    pub web: WebConfig,
    /// `ladder load`'s window, warm-up and data set.
    pub load: LoadDefaults,
    /// `ladder cache-lab`.
    pub cache_lab: CacheLabDefaults,
    /// The cache-lab section of `ladder run` (a short form, the same for both lengths).
    pub run_cache_lab: CacheLabDefaults,
}

/// The defaults of the cores experiments.
pub(super) struct CoresPreset {
    /// Samples and round trips per pair.
    pub plan: PairPlan,
    /// Increments per thread per false-sharing trial.
    pub increments: u64,
    /// False-sharing trials per layout.
    pub sharing_trials: usize,
    /// Trials of the bandwidth points and the loaded latency.
    pub policy: TrialPolicy,
    /// One scaling trial.
    pub scaling_trial: Duration,
    /// Whether the RAM set takes the smaller floor (64 MiB, not 256 MiB).
    pub small_ram: bool,
}

/// `ladder cores`.
const CORES: CoresPreset = CoresPreset {
    plan: PairPlan {
        samples: 200,
        burst_samples: 5,
        round_trips: 200,
        spread: Duration::from_secs(2),
    },
    increments: 1_000_000,
    sharing_trials: 5,
    policy: TrialPolicy::DEFAULT,
    scaling_trial: Duration::from_millis(100),
    small_ram: false,
};

/// `ladder cores --quick`, and the cores section of `ladder run`: fewer bursts over a
/// shorter spread, each sample as long as in the full run (noisier, never biased).
const CORES_QUICK: CoresPreset = CoresPreset {
    plan: PairPlan {
        samples: 60,
        burst_samples: 5,
        round_trips: 200,
        spread: Duration::from_millis(500),
    },
    increments: 200_000,
    sharing_trials: 3,
    policy: TrialPolicy::QUICK,
    scaling_trial: Duration::from_millis(20),
    small_ram: true,
};

/// A full run.
const FULL: Preset = Preset {
    quick: false,
    per_octave: 4,
    rounds: 3,
    sweep_policy: TrialPolicy::DEFAULT,
    tlb_bytes: 1 << 30,
    patterns_policy: TrialPolicy {
        trials: 5,
        min_trial: Duration::from_millis(10),
    },
    file_size: 1 << 30,
    storage_samples: 5000,
    kv: KvConfig {
        samples: 5000,
        spaced_samples: 200,
        batches: 200,
    },
    db_rows: 1_000_000,
    db_plan: Plan::DEFAULT,
    http_samples: 50,
    cores: CORES,
    run_cores: CORES_QUICK,
    web: WebConfig::DEFAULT,
    load: LoadDefaults::DEFAULT,
    cache_lab: CACHE_LAB_FULL,
    run_cache_lab: CACHE_LAB_IN_RUN,
};

/// A smoke test (`--quick`).
const QUICK: Preset = Preset {
    quick: true,
    per_octave: 2,
    rounds: 2,
    sweep_policy: TrialPolicy::QUICK,
    tlb_bytes: 256 << 20,
    patterns_policy: TrialPolicy::QUICK,
    file_size: 64 << 20,
    storage_samples: 500,
    kv: KvConfig {
        samples: 300,
        spaced_samples: 20,
        batches: 20,
    },
    db_rows: 20_000,
    db_plan: Plan::QUICK,
    http_samples: 5,
    cores: CORES_QUICK,
    run_cores: CORES_QUICK,
    web: WebConfig::QUICK,
    load: LoadDefaults::QUICK,
    cache_lab: CACHE_LAB_QUICK,
    run_cache_lab: CACHE_LAB_IN_RUN,
};

const CACHE_LAB_FULL: CacheLabDefaults = CacheLabDefaults {
    parts: &CacheLabPart::ALL,
    policies: &Policy::ALL,
    scan: true,
    keys: 10_000,
    skews: &[0.6, 0.9, 0.99, 1.2],
    sizes: &[0.01, 0.05, 0.25],
    clients: 50,
    ttl_ms: 1000,
    orders: 100_000,
    requests_per_key: 3,
    ttl_scale: 0.001,
    staleness_ms: 2000,
    outage_ms: [1000, 1000, 2000],
};
const CACHE_LAB_QUICK: CacheLabDefaults = CacheLabDefaults {
    parts: &CacheLabPart::ALL,
    policies: &Policy::ALL,
    scan: true,
    keys: 10_000,
    skews: &[0.99],
    // One size beside --cache-fraction: the hit-ratio chart needs two.
    sizes: &[0.25],
    clients: 20,
    ttl_ms: 500,
    orders: 20_000,
    requests_per_key: 1,
    ttl_scale: 0.0005,
    staleness_ms: 1000,
    outage_ms: [500, 500, 1500],
};
/// `ladder run`'s short form: LRU against LFU at 10% and s = 0.99 on 2000 keys,
/// staleness and an outage, briefly.
const CACHE_LAB_IN_RUN: CacheLabDefaults = CacheLabDefaults {
    parts: &[
        CacheLabPart::Eviction,
        CacheLabPart::Staleness,
        CacheLabPart::Outage,
    ],
    policies: &[Policy::AllkeysLru, Policy::AllkeysLfu],
    scan: false,
    keys: 2000,
    skews: &[0.99],
    sizes: &[],
    clients: 20,
    ttl_ms: 500,
    orders: 20_000,
    requests_per_key: 1,
    ttl_scale: 0.00025,
    staleness_ms: 400,
    outage_ms: [300, 300, 800],
};

impl Preset {
    /// The quick preset when `quick`, else the full one.
    pub fn of(quick: bool) -> &'static Preset {
        if quick {
            &QUICK
        } else {
            &FULL
        }
    }
}
