//! Where the client and the server of a service row ran, and where a storage row's
//! reads ran beside the device's completion interrupt, as the record keeps it; the
//! decisions are made in [`crate::rungs::placement`] and [`crate::rungs::storage`].

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
    /// Storage reads pinned to the CPU the device's completion interrupt lands on
    /// (`server_cpus`): the completion wakes the reader on its own CPU.
    IrqCpu,
    /// Storage reads pinned to another CPU than the interrupt's: each completion wakes
    /// the reader across CPUs (in a VM, an inter-processor interrupt through the
    /// hypervisor).
    OtherThanIrq,
}

/// The CPUs of one measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Same CPU, different CPUs, or client only.
    pub kind: PlacementKind,
    /// The CPU the measuring (client) thread was pinned to.
    pub client_cpu: usize,
    /// The CPUs the server was pinned to (null for a server that is not ours); for
    /// storage rows, the CPU the device's completion interrupt was found on.
    pub server_cpus: Option<Vec<usize>>,
    /// Storage rows: the device's interrupts that fired during the row's reads, per
    /// CPU (/proc/interrupts before and after): the evidence for `server_cpus`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupts: Vec<CpuCount>,
}

/// How many of a device's interrupts one CPU took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuCount {
    /// The CPU.
    pub cpu: usize,
    /// Interrupts.
    pub count: u64,
}

/// Why a storage row's reads could not be placed beside the device's completion
/// interrupt (the reads then ran where the OS put them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoIrqPlacement {
    /// The OS does not show interrupts per CPU (not Linux, or no /proc/interrupts).
    NotShown,
    /// This process may use one CPU: no other CPU to compare with.
    OneCpu,
    /// No block device under the path's filesystem (a network, overlay or RAM
    /// filesystem, a volume over several devices, or btrfs, whose files carry an
    /// anonymous device number).
    NoDevice,
    /// The device's interrupts are not listed (not a PCI device with its own
    /// interrupt lines).
    NoDeviceIrq,
    /// None of the device's interrupts fired during the reads (polled completions).
    NoneFired,
    /// The interrupt lands on a CPU this process may not use.
    IrqCpuNotAllowed,
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
            (PlacementKind::IrqCpu, _) => {
                format!("on the device interrupt's CPU ({})", self.client_cpu)
            }
            (PlacementKind::OtherThanIrq, Some(s)) => format!(
                "CPU {}, device interrupt on CPU {}",
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
