//! The index catalog: the declared indexes of each table, in slot order (a ledger's index parts
//! are stored in the same order). Changed only by logged create/drop records.

use super::def::{default_set, IndexDef};
use crate::model::{Kind, Lsn};
use crate::rng::SplitMix64;

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

    /// A fingerprint of the ready indexes: each one's table, slot and definition (what its
    /// parts hold and where a ledger keeps them). 0 when no index is ready, never 0 otherwise.
    /// A frozen month file records the fingerprint of the catalog its index parts were built
    /// with; a reader whose catalog has another fingerprint does not use them.
    pub fn fingerprint(&self) -> u64 {
        let mix = |h: u64, v: u64| SplitMix64::hash(h ^ SplitMix64::hash(v));
        let mut h = 0u64;
        let mut any = false;
        for table in [Kind::Revenue, Kind::Expense] {
            for (slot, def) in self.ready(table) {
                any = true;
                let r = def.record(true);
                h = mix(h, u64::from(r.table));
                h = mix(h, slot as u64);
                h = r.name.bytes().fold(mix(h, r.name.len() as u64), |h, b| mix(h, u64::from(b)));
                h = r.key.iter().fold(mix(h, r.key.len() as u64), |h, c| mix(h, u64::from(*c)));
                let include = mix(h, r.include.len() as u64);
                h = r.include.iter().fold(include, |h, c| mix(h, u64::from(*c)));
                h = mix(mix(h, u64::from(r.predicate)), r.predicate_value as u64);
            }
        }
        if any {
            h.max(1)
        } else {
            0
        }
    }

    /// Like [`IndexCatalog::find`], only when the index is ready for queries.
    pub fn find_ready(&self, name: &str) -> Option<(usize, &IndexDef)> {
        self.find(name)
            .filter(|_| self.building.as_deref() != Some(name))
    }

    /// The slot of the ready `expenses_pending` index when it is the default set's definition
    /// (expenses, no key column after the org — so its entries run in (occurred_at, entry id)
    /// order —, covering amount then category, pending rows only): what Q4 reads. An index of
    /// that name defined otherwise (dropped and created again) is not used for Q4.
    pub fn pending_slot(&self) -> Option<usize> {
        use super::def::{Column, Predicate};
        self.find_ready("expenses_pending")
            .filter(|(_, def)| {
                def.table == Kind::Expense
                    && def.key.is_empty()
                    && def.include == [Column::Amount, Column::Category]
                    && def.predicate == Some(Predicate::StatusIs(crate::model::ExpenseStatus::Pending))
            })
            .map(|(slot, _)| slot)
    }
}
