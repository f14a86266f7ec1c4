//! The `folio` command's library: the benchmark (`folio bench`) and the side-by-side comparison
//! with PostgreSQL and SQLite (`folio compare`), on top of the engine (`folio`) and the
//! hotel-ledger-v1 workload (`folio-workload`). Embedders depend on `folio` alone.

pub mod bench;
pub mod compare;
mod error;

pub use error::{Error, Result};
