//! Errors of the `folio` command: the engine's, a bad input line, a failed comparison backend.

use std::path::PathBuf;

/// Every error the `folio` command reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] folio::Error),
    /// A line of an input file could not be read, parsed or recorded.
    #[error("{}: line {line}: {why}", file.display())]
    Input {
        /// The input file.
        file: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        why: String,
    },
    /// A command-line argument the command cannot use.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `folio compare`: another engine failed; names the engine and the step.
    #[error("{backend}: {step}: {why}")]
    Backend {
        /// The engine (postgres, sqlite, folio).
        backend: &'static str,
        /// What it was doing.
        step: String,
        /// Its error.
        why: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Engine(folio::Error::io(path, source))
    }
}

impl From<folio_workload::Error> for Error {
    fn from(e: folio_workload::Error) -> Error {
        match e {
            folio_workload::Error::Engine(e) => Error::Engine(e),
            folio_workload::Error::Input { file, line, why } => Error::Input { file, line, why },
            other => Error::InvalidArgument(other.to_string()),
        }
    }
}

impl From<folio_workload::ParamsError> for Error {
    fn from(e: folio_workload::ParamsError) -> Error {
        Error::InvalidArgument(e.to_string())
    }
}

/// The result of the command's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
