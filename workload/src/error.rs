//! Errors of loading and running the workload: the engine's, or a bad line of an input file.

use std::path::PathBuf;

/// An error of [`crate::ingest`] or [`crate::run`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] folio::Error),
    /// Workload parameters that cannot drive a workload.
    #[error("invalid workload parameters: {0}")]
    Params(#[from] crate::ParamsError),
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
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Engine(folio::Error::io(path, source))
    }
}

/// The result of workload operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
