//! `ladder clean`: finds and removes what runs that are over left behind, by proof
//! (see [`crate::ownership`]).

use super::stdout_line;
use crate::cli::{CleanArgs, Common};
use crate::error::Result;
use crate::target::postgres::PgTarget;
use crate::target::redis::RedisUrl;

/// `ladder clean`: lists what runs that are over left, each with its proof, and
/// removes it (or only lists it with --dry-run); says what it leaves alone and why.
pub(super) fn execute(common: &Common, args: &CleanArgs) -> Result<()> {
    use crate::ownership::{self as clean, leftovers, Survey};
    // Both URLs parsed before anything is looked at: a bad one is exit 2 at once.
    let redis = args.redis_url.as_deref().map(RedisUrl::parse).transpose()?;
    let postgres = args
        .postgres_url
        .as_deref()
        .map(PgTarget::from_url)
        .transpose()?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removing"
    };
    let show = |survey: &Survey| -> Result<usize> {
        for f in &survey.found {
            stdout_line(&format!("{verb} {f}"))?;
        }
        for l in &survey.left {
            stdout_line(&format!("left alone: {l}"))?;
        }
        Ok(survey.found.len())
    };
    let mut total = 0;
    let mut local = clean::find_server_dirs();
    local.extend(clean::find_out_dirs(&common.out));
    total += show(&local)?;
    if !args.dry_run {
        clean::remove_local(&local.found)?;
    }
    if let Some(url) = &redis {
        let survey = leftovers::find_redis(url)?;
        total += show(&survey)?;
        if !args.dry_run {
            leftovers::remove_redis(url, &survey.found)?;
        }
    }
    if let Some(url) = &postgres {
        let survey = leftovers::find_postgres(url)?;
        total += show(&survey)?;
        if !args.dry_run {
            leftovers::remove_postgres(url, &survey.found)?;
        }
    }
    stdout_line(&match (total, args.dry_run) {
        (0, _) => "nothing to clean".to_string(),
        (n, true) => format!("{n} leftovers found; run without --dry-run to remove them"),
        (n, false) => format!("{n} leftovers removed"),
    })
}
