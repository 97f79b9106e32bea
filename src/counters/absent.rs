//! The backend of [`super::CounterGroup`] where the OS has no perf_event_open: every
//! counter is "unsupported", with that reason.

use super::{Availability, Totals};

/// Why no counter opens here.
const REASON: &str = "no perf_event_open on this OS";

/// Whether one counter opens here: never.
pub fn probe(_name: &str) -> Availability {
    Availability::Unsupported(REASON.into())
}

/// Nothing to enable or read.
pub struct Group;

impl Group {
    /// Every name is unsupported.
    pub fn open(names: &[String]) -> (Group, Vec<Availability>) {
        let why = Availability::Unsupported(REASON.into());
        (Group, names.iter().map(|_| why.clone()).collect())
    }

    /// Nothing to enable.
    pub fn begin(&mut self) {}

    /// Nothing to read.
    pub fn end(&mut self, _totals: &mut [Totals]) {}
}
