//! What `--quick` changes: one table of defaults for a full run and one for smoke
//! tests, instead of an `if quick` beside every flag. A flag the user gives wins.

use crate::cores::pingpong::PairPlan;
use crate::measure::TrialPolicy;
use crate::suite::db::Plan;
use crate::suite::load::LoadDefaults;
use crate::suite::redis::RedisConfig;
use crate::suite::web::WebConfig;
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
    /// The Redis rung.
    pub redis: RedisConfig,
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
    redis: RedisConfig::DEFAULT,
    db_rows: 1_000_000,
    db_plan: Plan::DEFAULT,
    http_samples: 50,
    cores: CORES,
    run_cores: CORES_QUICK,
    web: WebConfig::DEFAULT,
    load: LoadDefaults::DEFAULT,
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
    redis: RedisConfig::QUICK,
    db_rows: 20_000,
    db_plan: Plan::QUICK,
    http_samples: 5,
    cores: CORES_QUICK,
    run_cores: CORES_QUICK,
    web: WebConfig::QUICK,
    load: LoadDefaults::QUICK,
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
