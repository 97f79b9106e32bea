//! Microarchitectures and what their vendors and reviewers document about their caches
//! (`data/uarch.csv`, one row per microarchitecture, each figure with its source): a
//! second witness beside the measured curve, never the source of a level's name or of
//! how many levels there are.
//!
//! A row is found from the CPU's identity ([`CpuId`]: x86 family and model, Arm MIDR
//! implementer and part, macOS hw.cpufamily). [`check`] then writes beside each
//! measured level the cycles documented for a level of that name, and a doubt where
//! the measured cycles disagree: far from every documented level (a transition or
//! partial hits read as a level, a busy SMT sibling, a VM's share of a cache), or
//! nearer to another documented level than to its own. An unknown CPU says so and
//! loses nothing else.

use crate::record::host::CpuId;
use crate::record::memory::{Level, LevelDoubt, LevelName};
use std::sync::OnceLock;

/// The table, compiled in.
const TABLE: &str = include_str!("../data/uarch.csv");

/// A measured level further than this from every documented one (30%) is in doubt.
const FAR: f64 = 1.3;

/// A documented latency in core cycles: (lowest, highest).
pub type Cycles = (f64, f64);

/// One microarchitecture of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Uarch {
    /// "Zen 3", "Emerald Rapids (Raptor Cove)".
    pub name: String,
    /// Documented L1d, L2 and L3 load-to-use cycles, where known.
    pub cycles: [Option<Cycles>; 3],
    /// Where the figures come from.
    pub source: String,
    patterns: Vec<Pattern>,
}

/// How a row recognises a CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pattern {
    X86 { family: u32, models: (u32, u32) },
    Arm { implementer: u32, part: u32 },
    Apple { cpufamily: u32 },
}

fn hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

fn pattern(p: &str) -> Option<Pattern> {
    let parts: Vec<&str> = p.split(':').collect();
    match parts.as_slice() {
        ["x86", family, models] => {
            let (lo, hi) = models.split_once('-').unwrap_or((models, models));
            Some(Pattern::X86 {
                family: family.parse().ok()?,
                models: (hex(lo)?, hex(hi)?),
            })
        }
        ["arm", implementer, part] => Some(Pattern::Arm {
            implementer: hex(implementer)?,
            part: hex(part)?,
        }),
        ["apple", cpufamily] => Some(Pattern::Apple {
            cpufamily: hex(cpufamily)?,
        }),
        _ => None,
    }
}

fn cycles(cell: &str) -> Option<Cycles> {
    let (lo, hi) = cell.split_once('-').unwrap_or((cell, cell));
    Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?))
}

/// Parses a table in the format of `data/uarch.csv`; a malformed row is an error naming
/// its line.
fn parse(text: &str) -> Result<Vec<Uarch>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.map_err(|e| format!("uarch table: {e}"))?;
            let line = r.position().map_or(0, |p| p.line());
            let field = |i: usize| r.get(i).unwrap_or("").trim();
            let patterns = field(2)
                .split_whitespace()
                .map(|p| {
                    pattern(p).ok_or_else(|| format!("uarch table line {line}: bad match {p:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let cell = |i: usize| -> Result<Option<Cycles>, String> {
                match field(i) {
                    "" => Ok(None),
                    c => cycles(c)
                        .map(Some)
                        .ok_or_else(|| format!("uarch table line {line}: bad cycles {c:?}")),
                }
            };
            Ok(Uarch {
                name: field(0).to_string(),
                cycles: [cell(3)?, cell(4)?, cell(5)?],
                source: field(9).to_string(),
                patterns,
            })
        })
        .collect()
}

/// Every microarchitecture the table knows.
pub fn table() -> &'static [Uarch] {
    static PARSED: OnceLock<Vec<Uarch>> = OnceLock::new();
    // The table is compiled in and checked by a unit test, so it parses.
    PARSED.get_or_init(|| parse(TABLE).unwrap_or_default())
}

impl Uarch {
    fn matches(&self, id: &CpuId) -> bool {
        self.patterns.iter().any(|p| match *p {
            Pattern::X86 { family, models } => {
                id.family == Some(family)
                    && id.model.is_some_and(|m| (models.0..=models.1).contains(&m))
                    && id.implementer.is_none()
            }
            Pattern::Arm { implementer, part } => {
                id.implementer == Some(implementer) && id.part == Some(part)
            }
            Pattern::Apple { cpufamily } => id.cpufamily == Some(cpufamily),
        })
    }

    /// The documented cycles of a cache level (L1d, L2, L3), where known.
    pub fn documented(&self, level: LevelName) -> Option<Cycles> {
        match level {
            LevelName::Cache(n @ 1..=3) => self.cycles[usize::from(n - 1)],
            _ => None,
        }
    }
}

/// The microarchitecture of a CPU, where the table knows it.
pub fn identify(id: &CpuId) -> Option<&'static Uarch> {
    table().iter().find(|u| u.matches(id))
}

/// The microarchitecture a recorded host names, from its CPU identity (absent in
/// records made before the identity was kept).
pub fn of_host(host: &crate::record::host::Host) -> Option<&'static Uarch> {
    host.cpu_id.as_ref().and_then(identify)
}

/// How far (as a ratio, >= 1) a measured figure lies from a documented range.
fn distance(measured: f64, (lo, hi): Cycles) -> f64 {
    if measured < lo {
        lo / measured
    } else if measured > hi {
        measured / hi
    } else {
        1.0
    }
}

/// Writes the documented cycles beside each detected cache level and the doubt, where
/// the measured cycles disagree with the documented ones.
pub fn check(levels: &mut [Level], uarch: Option<&Uarch>) {
    for level in levels.iter_mut() {
        level.documented_cycles = None;
        level.doubt = None;
        let Some(u) = uarch else { continue };
        if level.is_ram() {
            continue;
        }
        level.documented_cycles = u.documented(level.name);
        let Some(measured) = level.latency_cycles.filter(|_| level.detected) else {
            continue;
        };
        let documented: Vec<(LevelName, f64)> = (1..=3u8)
            .map(LevelName::Cache)
            .filter_map(|n| Some((n, distance(measured, u.documented(n)?))))
            .collect();
        let Some(&(nearest, d)) = documented.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
            continue;
        };
        let own = documented
            .iter()
            .find(|(n, _)| *n == level.name)
            .map(|x| x.1);
        level.doubt = match own {
            // Within reach of its own documented figure: no doubt.
            Some(o) if o <= FAR => None,
            _ if nearest != level.name && d <= FAR => Some(LevelDoubt::NearerTo { level: nearest }),
            // Far from its own figure and from every other one.
            Some(_) => Some(LevelDoubt::FarFromDocumented),
            // Its own figure is not documented, and it matches no other: nothing to say.
            None => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x86(vendor: &str, family: u32, model: u32) -> CpuId {
        CpuId {
            vendor: vendor.into(),
            family: Some(family),
            model: Some(model),
            ..CpuId::default()
        }
    }

    #[test]
    fn the_table_parses_and_no_cpu_matches_two_rows() {
        let rows = parse(TABLE).unwrap();
        assert!(rows.len() >= 20, "{}", rows.len());
        assert!(rows
            .iter()
            .all(|r| !r.source.is_empty() && !r.patterns.is_empty()));
        let mut ids: Vec<CpuId> = Vec::new();
        for family in [6, 23, 25, 26] {
            ids.extend((0..=0xff).map(|m| x86("x", family, m)));
        }
        for id in &ids {
            let hits = rows.iter().filter(|r| r.matches(id)).count();
            assert!(hits <= 1, "{id:?} matches {hits} rows");
        }
        assert!(parse("name,vendor,match,a,b,c,d,e,f,source\nX,x,bogus,4,,,,,,s\n").is_err());
        assert!(parse("name,vendor,match,a,b,c,d,e,f,source\nX,x,x86:6:0x1,4-x,,,,,,s\n").is_err());
    }

    #[test]
    fn the_hosts_we_have_met_are_named() {
        let name = |id: &CpuId| identify(id).map(|u| u.name.clone());
        assert_eq!(name(&x86("AuthenticAMD", 25, 1)).as_deref(), Some("Zen 3"));
        assert_eq!(name(&x86("AuthenticAMD", 26, 2)).as_deref(), Some("Zen 5"));
        assert_eq!(name(&x86("AuthenticAMD", 23, 1)).as_deref(), Some("Zen 1"));
        assert!(name(&x86("GenuineIntel", 6, 207))
            .unwrap()
            .starts_with("Emerald Rapids"));
        let graviton3 = CpuId {
            vendor: "arm".into(),
            implementer: Some(0x41),
            part: Some(0xd40),
            ..CpuId::default()
        };
        assert_eq!(name(&graviton3).as_deref(), Some("Neoverse V1"));
        assert_eq!(name(&x86("GenuineIntel", 6, 0x01)), None);
    }

    fn level(name: LevelName, cycles: f64) -> Level {
        Level {
            name,
            detected: true,
            size_bytes: None,
            sysfs_size_bytes: None,
            latency_ns: Some(cycles / 3.0),
            latency_cycles: Some(cycles),
            plateau_bytes: None,
            pages: None,
            size_range_bytes: None,
            documented_cycles: None,
            doubt: None,
        }
    }

    #[test]
    fn a_level_far_from_every_documented_one_is_in_doubt() {
        let zen3 = identify(&x86("AuthenticAMD", 25, 1));
        // The busy Zen 3 run's report: L2 at 31.6 cycles (a stretch of the L2-to-L3
        // transition), between the documented 12 and 46.
        let mut levels = vec![
            level(LevelName::L1D, 4.1),
            level(LevelName::L2, 31.6),
            level(LevelName::L3, 12.6),
            level(LevelName::Ram, 520.0),
        ];
        check(&mut levels, zen3);
        assert_eq!(levels[0].doubt, None);
        assert_eq!(levels[0].documented_cycles, Some((4.0, 4.0)));
        assert_eq!(levels[1].doubt, Some(LevelDoubt::FarFromDocumented));
        assert_eq!(
            levels[2].doubt,
            Some(LevelDoubt::NearerTo {
                level: LevelName::L2
            })
        );
        assert_eq!(levels[3].documented_cycles, None);
        // Emerald Rapids documents no L3 cycles: a 92-cycle L3 is no doubt there, while
        // a 17-cycle "L3" matches its documented L2.
        let emr = identify(&x86("GenuineIntel", 6, 207));
        let mut levels = vec![level(LevelName::L2, 16.0), level(LevelName::L3, 92.5)];
        check(&mut levels, emr);
        assert_eq!((levels[0].doubt, levels[1].doubt), (None, None));
        assert_eq!(levels[1].documented_cycles, None);
        levels[1].latency_cycles = Some(17.0);
        check(&mut levels, emr);
        assert_eq!(
            levels[1].doubt,
            Some(LevelDoubt::NearerTo {
                level: LevelName::L2
            })
        );
        // The same levels on an unknown CPU: no figures, no doubts.
        check(&mut levels, None);
        assert!(levels
            .iter()
            .all(|l| l.doubt.is_none() && l.documented_cycles.is_none()));
    }
}
