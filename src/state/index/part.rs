//! One index partition: the entries of one index for one (ledger partition, org), ordered by
//! (declared key values, occurred_at, entry_id).
//!
//! Parts are materialized only for ledgers of at least [`INDEX_MIN_ROWS`] rows: below that, a scan
//! of the org's clustered rows costs the same as an index lookup, and the long tail of small
//! hotels does not pay index upkeep. The planner knows which one it uses and `explain` says so.

use super::def::{IndexDef, MAX_INCLUDED_COLUMNS, MAX_KEY_COLUMNS};
use crate::state::ledger::Row;
use std::collections::BTreeMap;

pub use crate::limits::INDEX_MIN_ROWS;

/// An index entry: declared key values, the row's (occurred_at, entry id), included values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexEntry {
    pub key: [i64; MAX_KEY_COLUMNS],
    pub occurred_at: i64,
    pub entry_id: u64,
    pub include: [i64; MAX_INCLUDED_COLUMNS],
}

impl IndexEntry {
    pub fn of(def: &IndexDef, key: (i64, u64), row: &Row) -> IndexEntry {
        let mut entry = IndexEntry {
            key: [0; MAX_KEY_COLUMNS],
            occurred_at: key.0,
            entry_id: key.1,
            include: [0; MAX_INCLUDED_COLUMNS],
        };
        // A definition holds at most that many columns (checked when it is created or decoded).
        for (slot, column) in entry.key.iter_mut().zip(&def.key) {
            *slot = column.value(key, row);
        }
        for (slot, column) in entry.include.iter_mut().zip(&def.include) {
            *slot = column.value(key, row);
        }
        entry
    }
}

/// What a run holds per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunItem {
    pub occurred_at: i64,
    pub entry_id: u64,
    pub include: [i64; MAX_INCLUDED_COLUMNS],
}

impl RunItem {
    fn position(&self) -> (i64, u64) {
        (self.occurred_at, self.entry_id)
    }
}

/// The entries of one key value, sorted by (occurred_at, entry_id). Postings arrive roughly in
/// time order, so inserts are nearly always pushes; a back-dated one moves only the later part of
/// its own run.
pub type Run = Vec<RunItem>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexPart {
    pub runs: BTreeMap<[i64; MAX_KEY_COLUMNS], Run>,
}

impl IndexPart {
    /// Heap bytes of the part's runs (estimated for the map).
    pub fn heap_bytes(&self) -> usize {
        let kv = std::mem::size_of::<([i64; MAX_KEY_COLUMNS], Run)>();
        crate::state::memory::btree_bytes(self.runs.len(), kv)
            + self
                .runs
                .values()
                .map(|r| r.capacity() * std::mem::size_of::<RunItem>())
                .sum::<usize>()
    }

    pub fn insert(&mut self, e: IndexEntry) {
        let run = self.runs.entry(e.key).or_default();
        let item = RunItem {
            occurred_at: e.occurred_at,
            entry_id: e.entry_id,
            include: e.include,
        };
        if run
            .last()
            .is_none_or(|last| last.position() < item.position())
        {
            run.push(item);
        } else {
            let at = run.partition_point(|x| x.position() < item.position());
            run.insert(at, item);
        }
    }

    /// Removes an entry; returns whether it was there.
    pub fn remove(&mut self, e: &IndexEntry) -> bool {
        let Some(run) = self.runs.get_mut(&e.key) else {
            return false;
        };
        let found = match run.binary_search_by_key(&(e.occurred_at, e.entry_id), RunItem::position)
        {
            Ok(at) => {
                run.remove(at);
                true
            }
            Err(_) => false,
        };
        if run.is_empty() {
            self.runs.remove(&e.key);
        }
        found
    }

    /// Runs whose first `prefix.len()` key values equal `prefix`, in key order.
    pub fn runs_with_prefix<'a>(
        &'a self,
        prefix: &[i64],
    ) -> impl Iterator<Item = (&'a [i64; MAX_KEY_COLUMNS], &'a Run)> + 'a {
        let len = prefix.len().min(MAX_KEY_COLUMNS);
        let mut start = [i64::MIN; MAX_KEY_COLUMNS];
        start[..len].copy_from_slice(&prefix[..len]);
        let fixed = start;
        self.runs
            .range(start..)
            .take_while(move |(k, _)| k[..len] == fixed[..len])
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.runs.values().map(Vec::len).sum()
    }

    #[cfg(feature = "internals")]
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Every entry, in index order.
    pub fn entries(&self) -> impl Iterator<Item = IndexEntry> + '_ {
        self.runs.iter().flat_map(|(key, run)| {
            run.iter().map(|item| IndexEntry {
                key: *key,
                occurred_at: item.occurred_at,
                entry_id: item.entry_id,
                include: item.include,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: i64, at: i64, id: u64) -> IndexEntry {
        IndexEntry {
            key: [key, 0, 0],
            occurred_at: at,
            entry_id: id,
            include: [0; 2],
        }
    }

    #[test]
    fn insert_order_remove_and_prefix() {
        let mut part = IndexPart::default();
        part.insert(entry(2, 10, 1));
        part.insert(entry(1, 5, 2));
        part.insert(entry(2, 3, 3));
        let all: Vec<_> = part.entries().map(|e| (e.key[0], e.occurred_at)).collect();
        assert_eq!(all, vec![(1, 5), (2, 3), (2, 10)]);
        assert!(part.remove(&entry(2, 3, 3)));
        assert!(!part.remove(&entry(2, 3, 3)));
        assert!(part.remove(&entry(1, 5, 2)));
        assert_eq!(part.runs.len(), 1);
        assert_eq!(part.runs_with_prefix(&[2]).count(), 1);
        assert_eq!(part.runs_with_prefix(&[1]).count(), 0);
        assert_eq!(part.len(), 1);
    }
}
