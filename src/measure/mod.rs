//! Timing, repetition policy and statistics shared by every kernel and rung.
//!
//! A measurement is a set of trials; each trial is long enough that the timer's own
//! cost is noise. [`Summary`] keeps the minimum (the architectural figure), the median
//! (the typical one), the 99th percentile and the coefficient of variation.

pub mod disturbance;
pub mod modes;
pub mod rounds;
mod stats;

pub(crate) use stats::percentile_sorted;
pub use stats::{median, Summary};

use std::time::{Duration, Instant};

/// How many trials to take and how long each must last.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialPolicy {
    /// Trials per measured point.
    pub trials: usize,
    /// The shortest acceptable trial.
    pub min_trial: Duration,
}

impl TrialPolicy {
    /// The default: 7 trials of at least 10 ms.
    pub const DEFAULT: TrialPolicy = TrialPolicy {
        trials: 7,
        min_trial: Duration::from_millis(10),
    };
    /// For smoke tests (`--quick`): 3 trials of at least 2 ms, one per round.
    pub const QUICK: TrialPolicy = TrialPolicy {
        trials: 3,
        min_trial: Duration::from_millis(2),
    };
}

/// Runs `op(steps)` once and returns the seconds it took.
pub fn time_once(mut op: impl FnMut(u64), steps: u64) -> f64 {
    let start = Instant::now();
    op(steps);
    start.elapsed().as_secs_f64()
}

/// Something to do just outside each timed trial (e.g. enable and read counters), so
/// its own cost is not timed.
pub trait TrialHook {
    /// Called right before a timed trial starts.
    fn begin(&mut self) {}
    /// Called right after a timed trial of `steps` operations ended.
    fn end(&mut self, _steps: u64) {}
}

/// No hook.
impl TrialHook for () {}

/// Measures `op(steps)`, which performs `steps` operations, as nanoseconds per operation.
///
/// The step count is grown from `first_steps` until one run lasts at least
/// `policy.min_trial`, then `policy.trials` trials of that length are timed, each
/// wrapped by `hook` (calibration runs are not). After a signal no further trial is
/// started (at least one is always taken); the caller's next [`crate::signal::check`]
/// then stops the measurement.
pub fn per_op_ns(
    mut op: impl FnMut(u64),
    first_steps: u64,
    policy: TrialPolicy,
    hook: &mut impl TrialHook,
) -> Vec<f64> {
    let target = policy.min_trial.as_secs_f64();
    let mut steps = first_steps.max(1);
    loop {
        let secs = time_once(&mut op, steps);
        if secs >= target {
            break;
        }
        // Aim 20% past the target so the timed trials clear it despite noise.
        let scale = if secs > 0.0 {
            (target * 1.2 / secs).clamp(1.5, 100.0)
        } else {
            100.0
        };
        steps = (steps as f64 * scale).ceil() as u64;
    }
    (0..policy.trials.max(1))
        .take_while(|&i| i == 0 || !crate::signal::interrupted())
        .map(|_| {
            hook.begin();
            let secs = time_once(&mut op, steps);
            hook.end(steps);
            secs * 1e9 / steps as f64
        })
        .collect()
}
