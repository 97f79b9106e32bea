//! `ladder clean`: finds and removes what killed runs left behind.

use super::stdout_line;
use crate::cli::{CleanArgs, Common};
use crate::error::Result;

/// `ladder clean`: lists what dead runs left (with its age) and removes it, or only
/// lists it with --dry-run.
pub(super) fn execute(common: &Common, args: &CleanArgs) -> Result<()> {
    use crate::clean;
    use crate::suite::leftovers;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removing"
    };
    let show = |found: &[clean::Found]| -> Result<usize> {
        for f in found {
            stdout_line(&format!("{verb} {f}"))?;
        }
        Ok(found.len())
    };
    let mut total = 0;
    // Servers first: their dirs go after them.
    let mut local = clean::find_server_dirs();
    local.extend(clean::find_out_dirs(&common.out));
    total += show(&local)?;
    if !args.dry_run {
        clean::remove_local(&local)?;
    }
    if let Some(url) = &args.redis_url {
        let found = leftovers::find_redis(url)?;
        total += show(&found)?;
        if !args.dry_run {
            leftovers::remove_redis(url, &found)?;
        }
    }
    if let Some(url) = &args.postgres_url {
        let found = leftovers::find_postgres(url)?;
        total += show(&found)?;
        if !args.dry_run {
            leftovers::remove_postgres(url, &found)?;
        }
    }
    stdout_line(&match (total, args.dry_run) {
        (0, _) => "nothing to clean".to_string(),
        (n, true) => format!("{n} leftovers found; run without --dry-run to remove them"),
        (n, false) => format!("{n} leftovers removed"),
    })
}
