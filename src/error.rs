//! The library's error type. Every error knows whether it is the user's (bad input, an
//! unreachable or unusable target: exit 2) or ours (anything else: exit 1), so `main`
//! can print one line and pick the exit code without guessing.

use std::io;
use std::path::PathBuf;

/// What can go wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user: a size, a flag, a path, a URL.
    #[error("{0}")]
    Input(String),
    /// A target that cannot be used: an unreachable server, a refused filesystem.
    #[error("{0}")]
    Unusable(String),
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Ctrl-C or SIGTERM arrived; cleanup ran.
    #[error("interrupted; temporary files, keys and servers of this run were removed")]
    Interrupted,
    /// Anything else: a bug or an environment we did not expect.
    #[error("{0}")]
    Internal(String),
    /// `ladder compare --baseline` found figures slower beyond their noise threshold
    /// (exit 1, as a failed check: the table was printed).
    #[error("{0}")]
    Regressed(String),
    /// Stdout's reader went away (a broken pipe: `ladder man | head -1`): the command
    /// stops quietly with exit 0, as the coreutils do.
    #[error("stdout was closed")]
    StdoutClosed,
}

impl Error {
    /// The process exit code this error maps to (2 for the user's, 1 for ours, 0 for a
    /// reader that stopped reading).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Unusable(_) => 2,
            Error::Io { .. } | Error::Internal(_) | Error::Regressed(_) => 1,
            Error::Interrupted => 130,
            Error::StdoutClosed => 0,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
