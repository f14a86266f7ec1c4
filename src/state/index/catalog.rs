//! The index catalog: the declared indexes of each table, in slot order (a ledger partition's
//! index parts are stored in the same order).

use super::def::{default_set, IndexDef};
use crate::model::Kind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexCatalog {
    pub defs: Vec<IndexDef>,
}

impl Default for IndexCatalog {
    fn default() -> IndexCatalog {
        IndexCatalog {
            defs: default_set(),
        }
    }
}

impl IndexCatalog {
    /// (slot within its table, definition) of every index of `table`.
    pub fn of_table(&self, table: Kind) -> impl Iterator<Item = (usize, &IndexDef)> {
        self.defs
            .iter()
            .filter(move |d| d.table == table)
            .enumerate()
    }

    pub fn count(&self, table: Kind) -> usize {
        self.of_table(table).count()
    }

    pub fn find(&self, name: &str) -> Option<(usize, &IndexDef)> {
        let def = self.defs.iter().find(|d| d.name == name)?;
        self.of_table(def.table).find(|(_, d)| d.name == name)
    }
}
