//! Where the client and the server of a service rung run. A round trip between two
//! processes costs very different amounts depending on placement: on one CPU the
//! request is handed over without waking anything; on two CPUs each direction wakes a
//! sleeping CPU, which in a VM is an inter-processor interrupt through the hypervisor.
//! Both are real, so placement is a decision made here and recorded on every row —
//! never inherited from whatever pinned the process before.

use super::Rung;
use crate::error::{Error, Result};
use crate::record::placement::{Placement, PlacementKind};

/// The CPUs a run gives its services: the server on the first CPU this process may
/// use, the cross-CPU client on the last (where there are two or more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuPlan {
    /// Where managed servers run.
    pub server_cpu: usize,
    /// A second CPU for the cross-CPU client, where the host has one.
    pub other_cpu: Option<usize>,
}

impl CpuPlan {
    /// The plan for the CPUs the calling thread may use now, with those CPUs.
    pub fn here() -> Result<(CpuPlan, Vec<usize>)> {
        let cpus = crate::host::allowed_cpus();
        let plan = CpuPlan::of(&cpus)
            .ok_or_else(|| Error::Unusable("no CPU is available to pin to".into()))?;
        Ok((plan, cpus))
    }

    /// The plan for the CPUs this process may use (`None` when it may use none).
    pub fn of(cpus: &[usize]) -> Option<CpuPlan> {
        let (server, &last) = (crate::services::server_cpu(cpus)?, cpus.last()?);
        Some(CpuPlan {
            server_cpu: server,
            other_cpu: (last != server).then_some(last),
        })
    }

    /// The placements for a server we started on [`CpuPlan::server_cpu`]: same CPU,
    /// then different CPUs where there is a second one.
    pub fn managed(&self) -> Vec<Placement> {
        let server = Some(vec![self.server_cpu]);
        let mut v = vec![Placement {
            kind: PlacementKind::SameCpu,
            client_cpu: self.server_cpu,
            server_cpus: server.clone(),
            interrupts: Vec::new(),
        }];
        if let Some(other) = self.other_cpu {
            v.push(Placement {
                kind: PlacementKind::CrossCpu,
                client_cpu: other,
                server_cpus: server,
                interrupts: Vec::new(),
            });
        }
        v
    }

    /// The one placement for a server that is not ours: the client on the last CPU.
    pub fn user_server(&self) -> Vec<Placement> {
        vec![Placement {
            kind: PlacementKind::ClientOnly,
            client_cpu: self.other_cpu.unwrap_or(self.server_cpu),
            server_cpus: None,
            interrupts: Vec::new(),
        }]
    }
}

/// Runs `measure` once per placement with the calling thread pinned to that
/// placement's client CPU (the pin undone after each), and tags every row it returns.
pub fn measure_placed(
    placements: &[Placement],
    cpus: &[usize],
    mut measure: impl FnMut(usize) -> Result<Vec<Rung>>,
) -> Result<Vec<Rung>> {
    let mut rows = Vec::new();
    for (i, p) in placements.iter().enumerate() {
        let _pin = crate::host::Pinned::to(p.client_cpu, cpus)?;
        let mut measured = measure(i)?;
        for r in &mut measured {
            r.placement = Some(p.clone());
        }
        rows.extend(measured);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cpus_give_both_placements_one_cpu_only_the_same() {
        let plan = CpuPlan::of(&[0, 1]).unwrap();
        let kinds: Vec<PlacementKind> = plan.managed().iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [PlacementKind::SameCpu, PlacementKind::CrossCpu]);
        assert_eq!(plan.managed()[1].client_cpu, 1);
        assert_eq!(plan.managed()[1].server_cpus, Some(vec![0]));
        let one = CpuPlan::of(&[3]).unwrap();
        assert_eq!(one.managed().len(), 1);
        assert_eq!(one.managed()[0].client_cpu, 3);
        assert_eq!(one.user_server()[0].server_cpus, None);
        assert!(CpuPlan::of(&[]).is_none());
    }

    #[test]
    fn labels_name_the_cpus() {
        let plan = CpuPlan::of(&[0, 1]).unwrap();
        assert_eq!(plan.managed()[0].label(), "same CPU (0)");
        assert_eq!(
            plan.managed()[1].label(),
            "different CPUs (client 1, server 0)"
        );
        assert_eq!(
            plan.user_server()[0].label(),
            "client on CPU 1, server placement unknown"
        );
    }

    #[test]
    fn every_row_is_tagged_and_the_pin_is_undone() {
        let cpus = crate::host::allowed_cpus();
        let Some(plan) = CpuPlan::of(&cpus) else {
            return;
        };
        let placements = plan.managed();
        std::thread::spawn(move || {
            let rows = measure_placed(&placements, &cpus, |_| {
                assert_eq!(crate::host::allowed_cpus().len(), 1);
                let mut l = super::super::Latencies::new();
                l.record_ns(1000);
                Ok(vec![l.rung(
                    crate::record::rung::RungId::Http,
                    "test",
                    None,
                )?])
            })
            .unwrap();
            assert_eq!(rows.len(), placements.len());
            for (r, p) in rows.iter().zip(&placements) {
                assert_eq!(r.placement.as_ref(), Some(p));
            }
            assert_eq!(crate::host::allowed_cpus(), cpus);
        })
        .join()
        .unwrap();
    }
}
