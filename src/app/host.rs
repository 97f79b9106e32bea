//! `ladder host`: what this machine is and what can be measured on it.

use super::stdout_line;
use crate::cli::Common;
use crate::error::{Error, Result};
use crate::memory;
use crate::record::host::Host;
use crate::units::format_size;

pub(super) fn execute(common: &Common) -> Result<()> {
    let h = Host::probe();
    if common.json {
        let json = serde_json::to_string_pretty(&h)
            .map_err(|e| Error::Internal(format!("cannot serialise the host: {e}")))?;
        return stdout_line(&json);
    }
    stdout_line(&host_text(&h))
}

/// The human description of a host, as `ladder host` prints it.
pub fn host_text(h: &Host) -> String {
    use crate::counters::Availability;
    let mut s = String::new();
    let unknown = || "unknown".to_string();
    s += &format!("host        {}\n", h.hostname);
    s += &format!(
        "cpu         {}\n",
        h.cpu_model.clone().unwrap_or_else(unknown)
    );
    s += &format!("microarch   {}\n", crate::report::host::cpu_identity(h));
    s += &format!(
        "cpus        {} ({})\n",
        h.cpus.len(),
        crate::units::cpu_list(&h.cpus, ",")
    );
    s += &format!(
        "clock       {}\n",
        h.clock_ghz
            .map(|g| format!("{g:.3} GHz (calibrated with dependent adds)"))
            .unwrap_or_else(|| "unknown (no calibration kernel for this architecture)".into())
    );
    s += &format!(
        "hypervisor  {}\n",
        match (&h.hypervisor, h.virtualized) {
            (Some(v), _) => format!("yes ({v})"),
            (None, true) => "yes (vendor not visible)".into(),
            (None, false) => "no".into(),
        }
    );
    s += &format!("page size   {}\n", format_size(h.page_size));
    s += &format!(
        "huge page   {}\n",
        h.huge_page_bytes.map(format_size).unwrap_or_else(unknown)
    );
    s += &format!(
        "THP         {}\n",
        h.thp
            .clone()
            .or_else(|| h.huge_pages_note.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| "unavailable".into())
    );
    s += &format!(
        "cache line  {}\n",
        h.line_bytes
            .map(|b| format!("{b} B"))
            .unwrap_or_else(|| format!("unknown (chain nodes assumed {} B)", memory::NODE_BYTES))
    );
    if let Some(hz) = h.counter_hz {
        s += &format!("timer       {:.3} MHz (CNTFRQ_EL0)\n", hz as f64 / 1e6);
    }
    s += &format!(
        "memory      {} available\n",
        h.mem_available_bytes
            .map(format_size)
            .unwrap_or_else(unknown)
    );
    s += &format!(
        "pinning     {}\n",
        match (&h.pinning_note, h.pinning) {
            (Some(note), _) => note.to_string(),
            (None, true) => "works".into(),
            (None, false) => "refused".into(),
        }
    );
    for k in &h.core_kinds {
        let cpus = match k.cpus.is_empty() {
            true => String::new(),
            false => format!(" ({})", crate::units::cpu_list(&k.cpus, ",")),
        };
        s += &format!(
            "core kind   {} x{}{cpus}  from {}\n",
            k.kind, k.count, k.source
        );
    }
    s += "caches (sysfs):\n";
    if h.caches.is_empty() {
        s += "  none reported\n";
    }
    for c in &h.caches {
        s += &format!(
            "  {:<4} {:<12} {:>9}  line {} B  shared by CPUs {}\n",
            c.name(),
            c.kind,
            format_size(c.size_bytes),
            c.line_bytes,
            c.shared_cpus
        );
    }
    s += "perf counters:\n";
    for p in &h.counters {
        let kind = format!("{:?}", p.kind).to_lowercase();
        let state = match &p.availability {
            Availability::Available => "available".to_string(),
            Availability::Unsupported(why) => format!("unsupported: {why}"),
            Availability::NotPermitted(why) => format!("not permitted: {why}"),
        };
        s += &format!("  {:<22} {:<8} {state}\n", p.name, kind);
    }
    s += "ready to measure:\n";
    for (rung, state) in readiness(h) {
        s += &format!("  {rung:<22} {state}\n");
    }
    s.trim_end().to_string()
}

/// Each rung, whether it can run here, and the one thing that would enable it where it
/// cannot.
fn readiness(h: &Host) -> Vec<(&'static str, String)> {
    use crate::counters::{Availability, EventKind};
    use crate::services::{postgres::ManagedPostgres, redis::ManagedRedis};
    let managed = |found: bool, what: &str, package: &str, flag: &str| {
        if found {
            format!("ready (a managed {what} on loopback), or {flag}")
        } else {
            format!(
                "{what} not installed: scripts/setup-services.sh (apt-get install {package}), \
                 or {flag}"
            )
        }
    };
    let hardware: Vec<&Availability> = h
        .counters
        .iter()
        .filter(|p| p.kind == EventKind::Hardware)
        .map(|p| &p.availability)
        .collect();
    let counters = if hardware
        .iter()
        .any(|a| matches!(a, Availability::Available))
    {
        "ready".to_string()
    } else if hardware
        .iter()
        .any(|a| matches!(a, Availability::NotPermitted(_)))
    {
        "not permitted: sysctl kernel.perf_event_paranoid=1 (as root)".to_string()
    } else {
        "unsupported here: no PMU is visible (VMs often hide it); software counters only"
            .to_string()
    };
    let web_readiness = || {
        use crate::services::{dnsmasq::ManagedDnsmasq, nginx::ManagedNginx};
        let missing: Vec<&str> = [
            ("nginx", ManagedNginx::binary().is_ok()),
            ("dnsmasq", ManagedDnsmasq::binary().is_ok()),
        ]
        .into_iter()
        .filter_map(|(name, found)| (!found).then_some(name))
        .collect();
        if missing.is_empty() {
            "ready (origin, nginx edge, dnsmasq resolver on loopback)".to_string()
        } else {
            format!(
                "origin ready; {} not installed: scripts/setup-services.sh",
                missing.join(" and ")
            )
        }
    };
    vec![
        ("memory, stride", "ready".to_string()),
        (
            "ssd",
            "ready on the --out folder's filesystem; a tmpfs is refused: pass --path DIR".into(),
        ),
        (
            "redis",
            managed(
                ManagedRedis::binary().is_ok(),
                "redis-server",
                "redis-server",
                "pass --url / REDIS_URL",
            ),
        ),
        ("db: sqlite", "ready (built in)".to_string()),
        (
            "db: postgres",
            managed(
                ManagedPostgres::bin_dir().is_ok(),
                "PostgreSQL",
                "postgresql",
                "pass --postgres-url / DATABASE_URL",
            ),
        ),
        (
            "http",
            "pass --http-url URL (http or https) to ladder run".to_string(),
        ),
        ("web", web_readiness()),
        ("hardware counters", counters),
    ]
}
