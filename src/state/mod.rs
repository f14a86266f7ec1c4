//! The materialized state: every partition in memory, applied in whole batches by the committer.
//! Readers hold the state's read lock, so they see whole batches only.

pub mod apply;
pub mod balance;
pub mod catalog;
pub mod fenwick;
pub mod index;
pub mod ledger;
pub mod read;
pub mod validate;
pub mod verify;

use crate::model::{Lsn, Month, OrgId};
use balance::BalanceShard;
use catalog::OrgState;
use ledger::{MonthBucket, PartitionId};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;

/// Org ids are grouped in chunks of `1 << CHUNK_BITS` consecutive ids; the store keeps one
/// packed value per chunk (per partition), so a checkpoint writes few, large values.
pub const CHUNK_BITS: u32 = 6;

/// The chunk of an org id.
pub fn chunk_of(org: OrgId) -> u64 {
    org.0 >> CHUNK_BITS
}

/// The org ids of a chunk.
pub fn chunk_orgs(chunk: u64) -> impl Iterator<Item = OrgId> {
    let first = chunk << CHUNK_BITS;
    (first..=first | ((1 << CHUNK_BITS) - 1)).map(OrgId)
}

/// A physical value of the store changed since the last checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DirtyKey {
    /// Org records of a chunk.
    Orgs(u64),
    /// Rows of a chunk's orgs in one ledger partition.
    Ledger(PartitionId, u64),
    /// Day rows of a chunk's orgs in one balance shard and month.
    Balance(u32, u64, Month),
    /// The index catalog.
    Catalog,
}

/// Everything Folio materializes from the log.
#[derive(Debug)]
pub struct State {
    pub shards: u32,
    /// LSN of the last applied batch: the state equals the log prefix up to it.
    pub lsn: Lsn,
    pub orgs: HashMap<OrgId, OrgState>,
    pub balances: Vec<BalanceShard>,
    pub ledgers: BTreeMap<PartitionId, MonthBucket>,
    /// Values changed since the last checkpoint took them. Behind a mutex so a checkpoint can
    /// take the set and pack the values under one read lock (apply reaches it with `get_mut`).
    pub dirty: parking_lot::Mutex<HashSet<DirtyKey>>,
    /// Declared secondary indexes.
    pub catalog: index::IndexCatalog,
}

impl State {
    pub fn new(shards: u32) -> State {
        assert!(shards > 0 && shards <= crate::limits::MAX_SHARDS);
        State {
            shards,
            lsn: Lsn(0),
            orgs: HashMap::default(),
            balances: (0..shards).map(|_| BalanceShard::default()).collect(),
            ledgers: BTreeMap::new(),
            dirty: parking_lot::Mutex::new(HashSet::default()),
            catalog: index::IndexCatalog::default(),
        }
    }

    /// The balance shard holding `org`.
    pub fn shard(&self, org: OrgId) -> &BalanceShard {
        &self.balances[balance::shard_of(org, self.shards)]
    }

    /// Number of entries (rows of both ledgers) held.
    /// Builds the parts of an index being created for one partition's ledgers.
    pub fn backfill_partition(&mut self, pid: PartitionId) {
        let State {
            ledgers, catalog, ..
        } = self;
        if let Some(bucket) = ledgers.get_mut(&pid) {
            for ledger in bucket.orgs.values_mut() {
                ledger.backfill(catalog, pid.kind);
            }
        }
    }

    /// Completes an index creation: backfills every ledger still lacking its part, marks it ready.
    pub fn finish_index_build(&mut self) {
        let partitions: Vec<PartitionId> = self.ledgers.keys().copied().collect();
        for pid in partitions {
            self.backfill_partition(pid);
        }
        self.catalog.building = None;
    }

    pub fn entry_count(&self) -> usize {
        self.orgs.values().map(|o| o.entries.len()).sum()
    }
}
