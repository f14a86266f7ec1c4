//! Declared secondary indexes: definitions, the catalog, and their partitions (local to each
//! (ledger month partition, org), maintained by `State::apply` in the same batch as the rows).

pub mod catalog;
pub mod def;
pub mod part;

pub use catalog::IndexCatalog;
pub use def::{table_name, Column, IndexDef, Predicate};
pub use part::{IndexEntry, IndexPart, RunItem, INDEX_MIN_ROWS};
