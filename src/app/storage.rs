//! `ladder storage`: 4 KiB random reads past the page cache, and synced writes.

use super::preset::Preset;
use super::Recorder;
use crate::cli::{Common, StorageArgs};
use crate::error::Result;
use crate::progress::Phase;
use crate::record::rung::Rung;
use crate::report;
use crate::rungs::{self, storage::StorageConfig};
use std::path::Path;

/// The storage configuration for a directory (default sizes per --quick).
pub(super) fn storage_config(
    common: &Common,
    dir: Option<&Path>,
    args: Option<&StorageArgs>,
) -> StorageConfig {
    let preset = Preset::of(common.quick);
    StorageConfig {
        dir: dir.map_or_else(|| common.out.clone(), Path::to_path_buf),
        file_size: args.and_then(|a| a.file_size).unwrap_or(preset.file_size),
        samples: args
            .and_then(|a| a.samples)
            .unwrap_or(preset.storage_samples),
        allow_ram: args.is_some_and(|a| a.allow_ram),
        seed: 0x55d,
    }
}

pub(super) fn storage_rungs(cfg: &StorageConfig, quiet: bool) -> Result<Vec<Rung>> {
    let phase = Phase::fractional("storage", quiet);
    rungs::storage::measure(cfg, |f| phase.set_fraction(f))
}

pub(super) fn execute(common: &Common, args: &StorageArgs) -> Result<()> {
    let rec = Recorder::start();
    report::check_writable(&common.out)?;
    let cfg = storage_config(common, args.path.as_deref(), Some(args));
    let rungs = storage_rungs(&cfg, common.quiet)?;
    rec.finish(common, "storage", None, rungs)
}
