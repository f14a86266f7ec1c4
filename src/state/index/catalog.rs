//! The index catalog: the declared indexes of each table, in slot order (a ledger's index parts
//! are stored in the same order). Changed only by logged create/drop records.

use super::def::{default_set, IndexDef};
use crate::model::{Kind, Lsn};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexCatalog {
    pub defs: Vec<IndexDef>,
    /// An index whose parts are still being backfilled: maintained for ledgers that have its
    /// part, never used by queries, not checked by `verify`.
    pub building: Option<String>,
    /// LSN of the checkpoint the catalog was last written at (0 = never).
    pub persisted: Lsn,
}

impl Default for IndexCatalog {
    fn default() -> IndexCatalog {
        IndexCatalog {
            defs: default_set(),
            building: None,
            persisted: Lsn(0),
        }
    }
}

impl IndexCatalog {
    /// (slot within its table, definition) of every index of `table`, building ones included.
    pub fn of_table(&self, table: Kind) -> impl Iterator<Item = (usize, &IndexDef)> {
        self.defs
            .iter()
            .filter(move |d| d.table == table)
            .enumerate()
    }

    /// Like [`IndexCatalog::of_table`], without an index that is still being built.
    pub fn ready(&self, table: Kind) -> impl Iterator<Item = (usize, &IndexDef)> {
        self.of_table(table)
            .filter(move |(_, d)| self.building.as_deref() != Some(d.name.as_str()))
    }

    pub fn count(&self, table: Kind) -> usize {
        self.of_table(table).count()
    }

    pub fn find(&self, name: &str) -> Option<(usize, &IndexDef)> {
        let def = self.defs.iter().find(|d| d.name == name)?;
        self.of_table(def.table).find(|(_, d)| d.name == name)
    }

    /// Like [`IndexCatalog::find`], only when the index is ready for queries.
    pub fn find_ready(&self, name: &str) -> Option<(usize, &IndexDef)> {
        self.find(name)
            .filter(|_| self.building.as_deref() != Some(name))
    }
}
