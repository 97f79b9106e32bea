//! What else happened on the measuring CPU while we measured: the hypervisor's steal
//! time (the share of the CPU it gave to other guests, from `/proc/stat`) and our own
//! thread's involuntary context switches (`getrusage`). Both are read before and after
//! a measurement; where the OS does not tell, the figure is unknown, never 0.

use serde::{Deserialize, Serialize};

/// What disturbed a measurement, as far as the OS tells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Disturbance {
    /// The share of the measuring CPU's time that the hypervisor took (steal), 0 to 1.
    pub steal_fraction: Option<f64>,
    /// Times the measuring thread was descheduled against its will.
    pub involuntary_switches: Option<u64>,
}

/// A reading taken at the start of a measurement.
pub struct Watch {
    cpu: usize,
    stat: Option<CpuTimes>,
    switches: Option<u64>,
}

/// Steal and total jiffies of one CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTimes {
    steal: u64,
    total: u64,
}

impl Watch {
    /// Starts watching `cpu` and the calling thread.
    pub fn start(cpu: usize) -> Watch {
        Watch {
            cpu,
            stat: cpu_times(cpu),
            switches: involuntary_switches(),
        }
    }

    /// What happened since [`Watch::start`] (call it on the same thread).
    pub fn finish(&self) -> Disturbance {
        let steal_fraction = match (self.stat, cpu_times(self.cpu)) {
            (Some(a), Some(b)) if b.total > a.total => {
                Some(b.steal.saturating_sub(a.steal) as f64 / (b.total - a.total) as f64)
            }
            _ => None,
        };
        let involuntary_switches = match (self.switches, involuntary_switches()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        Disturbance {
            steal_fraction,
            involuntary_switches,
        }
    }
}

fn cpu_times(cpu: usize) -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_line(&stat, cpu)
}

/// The `cpuN` line of /proc/stat: user nice system idle iowait irq softirq steal ...;
/// guest times are already inside user and nice, so the total stops at steal.
fn parse_cpu_line(stat: &str, cpu: usize) -> Option<CpuTimes> {
    let name = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    (fields.len() == 8).then(|| CpuTimes {
        steal: fields[7],
        total: fields.iter().sum(),
    })
}

#[cfg(target_os = "linux")]
fn involuntary_switches() -> Option<u64> {
    // SAFETY: getrusage writes one rusage struct into memory we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer has no other preconditions.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    (rc == 0).then(|| usage.ru_nivcsw.max(0) as u64)
}

/// Per-thread usage is a Linux call; elsewhere the count is unknown.
#[cfg(not(target_os = "linux"))]
fn involuntary_switches() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steal_column_of_one_cpu_is_read() {
        let stat =
            "cpu  10 0 10 100 0 0 0 5 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 1 1 1 1 1 1 1 3 0 0\n";
        assert_eq!(
            parse_cpu_line(stat, 0),
            Some(CpuTimes {
                steal: 8,
                total: 36
            })
        );
        assert_eq!(
            parse_cpu_line(stat, 1),
            Some(CpuTimes {
                steal: 3,
                total: 10
            })
        );
        assert_eq!(parse_cpu_line(stat, 2), None);
        assert_eq!(parse_cpu_line("cpu0 1 2\n", 0), None);
    }

    #[test]
    fn a_watch_over_real_work_reads_this_host() {
        let w = Watch::start(0);
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let d = w.finish();
        if let Some(f) = d.steal_fraction {
            assert!((0.0..=1.0).contains(&f), "{f}");
        }
        #[cfg(target_os = "linux")]
        assert!(d.involuntary_switches.is_some());
    }
}
