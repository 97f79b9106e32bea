//! The `ladder` binary: parse the command line, run it, print errors as one line.

use clap::Parser;
use latency_ladder::{app, cli::Cli, redact::redact_text};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || matches!(
                    e.kind(),
                    ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                )
            {
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
            }
            // One clear line: clap's first line names the flag and the reason; the value
            // it echoes may be a URL with a password.
            let text = e.render().to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad arguments");
            eprintln!(
                "ladder: {}",
                redact_text(line.trim_start_matches("error: "))
            );
            return ExitCode::from(2);
        }
    };
    latency_ladder::signal::install();
    match app::run(cli) {
        // A signal that arrived after the last check still means "interrupted".
        _ if latency_ladder::signal::interrupted() => {
            eprintln!("ladder: {}", latency_ladder::Error::Interrupted);
            ExitCode::from(130)
        }
        // The reader of stdout went away (`ladder man | head -1`): stop quietly.
        Ok(()) | Err(latency_ladder::Error::StdoutClosed) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ladder: {}", redact_text(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}
