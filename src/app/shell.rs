//! `ladder completions` and `ladder man`: shell completion scripts and the man page,
//! generated from the same clap definition the parser uses, so they never drift from
//! the real flags.

use super::stdout_line;
use crate::cli::Cli;
use crate::error::{Error, Result};
use clap::CommandFactory;

/// Prints the completion script for `shell`.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ladder", &mut out);
    print_bytes(out)
}

/// Prints the man page (roff).
pub(super) fn man() -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Error::Internal(format!("cannot render the man page: {e}")))?;
    print_bytes(out)
}

fn print_bytes(out: Vec<u8>) -> Result<()> {
    let text = String::from_utf8(out)
        .map_err(|e| Error::Internal(format!("generated text is not UTF-8: {e}")))?;
    stdout_line(text.trim_end())
}
