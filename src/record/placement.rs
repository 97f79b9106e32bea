//! Where the client and the server of a service row ran, as the record keeps it; the
//! decision is made in [`crate::suite::placement`].

use serde::{Deserialize, Serialize};

/// How client and server share the CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementKind {
    /// Client and server pinned to one CPU: the software path alone.
    SameCpu,
    /// Client and server pinned to different CPUs: the wake-up a deployment pays.
    CrossCpu,
    /// A server that is not ours: only the client is placed.
    ClientOnly,
}

/// The CPUs of one measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Same CPU, different CPUs, or client only.
    pub kind: PlacementKind,
    /// The CPU the measuring (client) thread was pinned to.
    pub client_cpu: usize,
    /// The CPUs the server was pinned to (null for a server that is not ours).
    pub server_cpus: Option<Vec<usize>>,
}

impl Placement {
    /// "same CPU (0)", "different CPUs (client 1, server 0)", "client on CPU 1".
    pub fn label(&self) -> String {
        match (self.kind, &self.server_cpus) {
            (PlacementKind::SameCpu, _) => format!("same CPU ({})", self.client_cpu),
            (PlacementKind::CrossCpu, Some(s)) => format!(
                "different CPUs (client {}, server {})",
                self.client_cpu,
                crate::units::cpu_list(s, ",")
            ),
            _ => format!(
                "client on CPU {}, server placement unknown",
                self.client_cpu
            ),
        }
    }
}
