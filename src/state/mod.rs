//! The materialized state: every partition in memory, applied in whole batches by the committer.
//! Readers hold the state's read lock, so they see whole batches only.

pub mod apply;
pub mod balance;
pub mod catalog;
pub mod fenwick;
pub mod ledger;
pub mod read;
pub mod validate;

use crate::model::{Lsn, Month, OrgId};
use balance::BalanceShard;
use catalog::OrgState;
use ledger::{MonthBucket, PartitionId};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A physical value changed since the last checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DirtyKey {
    Org(OrgId),
    Ledger(PartitionId, OrgId),
    Balance(OrgId, Month),
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
    pub dirty: HashSet<DirtyKey>,
}

impl State {
    pub fn new(shards: u32) -> State {
        assert!(shards > 0 && shards <= crate::limits::MAX_SHARDS);
        State {
            shards,
            lsn: Lsn(0),
            orgs: HashMap::new(),
            balances: (0..shards).map(|_| BalanceShard::default()).collect(),
            ledgers: BTreeMap::new(),
            dirty: HashSet::new(),
        }
    }

    /// The balance shard holding `org`.
    pub fn shard(&self, org: OrgId) -> &BalanceShard {
        &self.balances[balance::shard_of(org, self.shards)]
    }

    /// Number of entries (rows of both ledgers) held.
    pub fn entry_count(&self) -> usize {
        self.orgs.values().map(|o| o.entries.len()).sum()
    }
}
