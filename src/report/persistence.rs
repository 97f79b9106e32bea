//! Redis's persistence settings in words, beside the disk: what `appendfsync always`
//! costs per SET against the storage rung's synced 4 KiB write on the same machine.

use crate::record::rung::{AofFsync, RedisOp, Rung, RungId, StorageOp};
use crate::units::format_ns;

/// One line per persistence setting measured, with the SSD's synced write where it
/// ran; nothing where the settings were not measured.
pub fn lines(rungs: &[Rung]) -> Vec<String> {
    let set = |fsync| {
        rungs.iter().find(|r| {
            matches!(r.id, RungId::Redis { op: RedisOp::SetPersisted { fsync: f }, .. } if f == fsync)
        })
    };
    let measured: Vec<(AofFsync, &Rung)> = AofFsync::ALL
        .iter()
        .filter_map(|&f| set(f).map(|r| (f, r)))
        .collect();
    if measured.is_empty() {
        return Vec::new();
    }
    let parts: Vec<String> = measured
        .iter()
        .map(|(f, r)| {
            let name = match f {
                AofFsync::Off => "no AOF",
                AofFsync::Everysec => "appendfsync everysec",
                AofFsync::Always => "appendfsync always",
            };
            format!(
                "{name} {} (p99 {})",
                format_ns(r.p50_ns),
                format_ns(r.p99_ns)
            )
        })
        .collect();
    let mut out = vec![format!(
        "Redis SET p50 by persistence: {}",
        parts.join(", ")
    )];
    let ssd = rungs.iter().find(|r| {
        r.id == RungId::Storage {
            op: StorageOp::SyncedWrite,
        }
    });
    if let (Some(ssd), Some((_, always))) = (ssd, measured.iter().find(|m| m.0 == AofFsync::Always))
    {
        out.push(format!(
            "the disk's own synced 4 KiB write takes {} (p50): with appendfsync always each \
             SET waits for one ({})",
            format_ns(ssd.p50_ns),
            format_ns(always.p50_ns)
        ));
    }
    out
}
