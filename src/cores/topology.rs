//! Which CPUs share a core, a last-level cache, a package: parsed from sysfs-style text
//! (pure, so fixtures test it) and used to name how two CPUs of a pair are related.

use crate::record::cores::{CpuPlace, Relation};
use crate::units::parse_cpu_list;

impl CpuPlace {
    /// A CPU the OS says nothing about.
    pub fn unknown(cpu: usize) -> CpuPlace {
        CpuPlace {
            cpu,
            core_cpus: Vec::new(),
            llc_cpus: Vec::new(),
            llc_level: None,
            package: None,
            node: None,
        }
    }

    /// Builds a place from the text of sysfs files: `thread_siblings_list`, the
    /// last-level cache's level and `shared_cpu_list`, `physical_package_id`; and the
    /// NUMA node. Unreadable or malformed text leaves that fact unknown.
    pub fn parse(
        cpu: usize,
        thread_siblings: Option<&str>,
        llc: Option<(u32, &str)>,
        package: Option<&str>,
        node: Option<u32>,
    ) -> CpuPlace {
        let list = |s: Option<&str>| s.and_then(parse_cpu_list).unwrap_or_default();
        CpuPlace {
            cpu,
            core_cpus: list(thread_siblings),
            llc_cpus: list(llc.map(|l| l.1)),
            llc_level: llc.map(|l| l.0),
            // Some hypervisors write -1 for "no package".
            package: package.and_then(|p| p.trim().parse().ok()),
            node,
        }
    }
}

impl Relation {
    /// How `a` and `b` are related: SMT siblings first, then packages, then the
    /// last-level cache; [`Relation::Unknown`] where the places do not say.
    pub fn between(a: &CpuPlace, b: &CpuPlace) -> Relation {
        if a.core_cpus.contains(&b.cpu) || b.core_cpus.contains(&a.cpu) {
            return Relation::SameCore;
        }
        if let (Some(pa), Some(pb)) = (a.package, b.package) {
            if pa != pb {
                return Relation::OtherSocket;
            }
        }
        match (a.llc_cpus.is_empty(), b.llc_cpus.is_empty()) {
            (false, _) if a.llc_cpus.contains(&b.cpu) => Relation::SameL3,
            (false, false) => Relation::OtherL3,
            _ => Relation::Unknown,
        }
    }

    /// What a report calls it.
    pub fn label(self) -> &'static str {
        match self {
            Relation::SameCore => "same core (SMT)",
            Relation::SameL3 => "same L3",
            Relation::OtherL3 => "other L3",
            Relation::OtherSocket => "other socket",
            Relation::Unknown => "unknown",
        }
    }
}

/// The relation of `a` and `b` among `places` (unknown where either is missing).
pub fn relation(places: &[CpuPlace], a: usize, b: usize) -> Relation {
    let find = |c| places.iter().find(|p| p.cpu == c);
    match (find(a), find(b)) {
        (Some(pa), Some(pb)) => Relation::between(pa, pb),
        _ => Relation::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture host: `cpus` CPUs, `smt` threads per core, `per_llc` CPUs per
    /// last-level cache, `per_package` CPUs per package, written as sysfs writes them.
    fn host(cpus: usize, smt: usize, per_llc: usize, per_package: usize) -> Vec<CpuPlace> {
        let range = |c: usize, n: usize| {
            let first = c / n * n;
            format!("{}-{}", first, first + n - 1)
        };
        (0..cpus)
            .map(|c| {
                let siblings = if smt == 1 {
                    c.to_string()
                } else {
                    range(c, smt)
                };
                CpuPlace::parse(
                    c,
                    Some(&format!("{siblings}\n")),
                    Some((3, &range(c, per_llc))),
                    Some(&format!("{}\n", c / per_package)),
                    Some((c / per_package) as u32),
                )
            })
            .collect()
    }

    #[test]
    fn smt_siblings_are_the_same_core() {
        let h = host(4, 2, 4, 4);
        assert_eq!(h[0].core_cpus, vec![0, 1]);
        assert_eq!(relation(&h, 0, 1), Relation::SameCore);
        assert_eq!(relation(&h, 1, 0), Relation::SameCore);
        assert_eq!(relation(&h, 0, 2), Relation::SameL3);
    }

    #[test]
    fn two_l3_groups_in_one_package_are_other_l3() {
        let h = host(8, 1, 4, 8);
        assert_eq!(relation(&h, 0, 3), Relation::SameL3);
        assert_eq!(relation(&h, 0, 4), Relation::OtherL3);
        assert_eq!(relation(&h, 7, 2), Relation::OtherL3);
    }

    #[test]
    fn two_sockets_are_other_socket_even_with_smt() {
        let h = host(8, 2, 4, 4);
        assert_eq!(relation(&h, 0, 1), Relation::SameCore);
        assert_eq!(relation(&h, 0, 2), Relation::SameL3);
        assert_eq!(relation(&h, 0, 4), Relation::OtherSocket);
        assert_eq!(h[5].node, Some(1));
    }

    #[test]
    fn what_the_os_does_not_say_stays_unknown() {
        let a = CpuPlace::unknown(0);
        let b = CpuPlace::parse(1, Some("garbage"), None, Some("-1"), None);
        assert!(b.core_cpus.is_empty());
        assert_eq!(b.package, None);
        assert_eq!(Relation::between(&a, &b), Relation::Unknown);
        assert_eq!(relation(&[a], 0, 7), Relation::Unknown);
    }
}
