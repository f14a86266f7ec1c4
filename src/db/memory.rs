//! The engine's account of its resident memory against its budget ([`Db::memory`]).

use super::Db;
pub use crate::state::memory::MemoryUsage;

/// What [`Db::memory`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryReport {
    /// The state's resident bytes by kind (an estimate from element sizes and capacities).
    pub engine: MemoryUsage,
    /// sled's page cache capacity: a quarter of the budget, 4 MiB to 256 MiB.
    pub store_cache: u64,
    /// `Options::memory_budget`.
    pub budget: u64,
}

impl MemoryReport {
    /// The engine's bytes plus sled's cache capacity: what the budget is compared with.
    pub fn accounted(&self) -> u64 {
        self.engine.total().saturating_add(self.store_cache)
    }

    /// Whether [`MemoryReport::accounted`] exceeds the budget.
    pub fn over_budget(&self) -> bool {
        self.accounted() > self.budget
    }

    /// How many rows of the month that takes the writes the background freezer lets gather in
    /// memory while the account is over the budget before it spills them to the month's frozen
    /// file: an eighth of the budget at 256 bytes a row, at least 4,096.
    pub fn spill_rows(&self) -> u64 {
        super::freeze::spill_rows(self.budget)
    }
}

impl Db {
    /// The engine's account of its resident memory: org records, entry-id maps, rows and day
    /// rows in memory, frozen-file readers and per-org frozen sums, patches, and sled's cache.
    /// Walks the state (a snapshot, so writers go on): linear in orgs and rows in memory.
    pub fn memory(&self) -> MemoryReport {
        self.shared.memory()
    }
}

impl super::Shared {
    /// [`Db::memory`].
    pub(super) fn memory(&self) -> MemoryReport {
        let (state, entry_ids) = {
            let current = self.state.read();
            (current.state.clone(), current.applier.entries.heap_bytes())
        };
        let mut engine = state.memory();
        engine.entry_ids = u64::try_from(entry_ids).unwrap_or(u64::MAX);
        MemoryReport {
            engine,
            store_cache: self.store_cache,
            budget: self.memory_budget,
        }
    }
}
