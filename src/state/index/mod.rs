//! Declared secondary indexes: definitions, the catalog, and their partitions (local to each
//! (ledger month partition, org), maintained by `State::apply` in the same batch as the rows).

pub mod catalog;
pub mod def;
pub mod part;

pub use catalog::IndexCatalog;
pub use def::{Column, IndexDef, Predicate, MAX_INCLUDED_COLUMNS, MAX_KEY_COLUMNS};
pub use part::{IndexEntry, IndexPart, Run, RunItem, INDEX_MIN_ROWS};
