//! Progress bars on stderr, one per phase, with an ETA; hidden with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar for one phase of a run, measured in work units.
pub struct Phase {
    bar: ProgressBar,
}

impl Phase {
    /// Starts a phase of `total` work units, drawn on stderr unless `quiet`.
    pub fn new(name: &str, total: u64, quiet: bool) -> Phase {
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:32}] {percent:>3}% {msg:<20} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        Phase { bar }
    }

    /// Advances by `units` and shows `msg`.
    pub fn advance(&self, units: u64, msg: String) {
        self.bar.inc(units);
        self.bar.set_message(msg);
    }
}

impl Phase {
    /// A phase measured as a fraction done, 0 to 1.
    pub fn fractional(name: &str, quiet: bool) -> Phase {
        Phase::new(name, 1000, quiet)
    }

    /// Sets the fraction done (for phases made with [`Phase::fractional`]).
    pub fn set_fraction(&self, done: f64) {
        self.bar
            .set_position((done.clamp(0.0, 1.0) * 1000.0) as u64);
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
