//! The materialized state: every partition in memory, applied in whole batches by the committer.
//! Readers hold the state's read lock, so they see whole batches only.

pub mod apply;
pub mod balance;
pub mod catalog;
pub mod fenwick;
pub mod frozen_install;
pub mod frozen_set;
pub mod index;
pub mod ledger;
pub mod memory;
pub mod month_map;
pub mod org_map;
pub mod read;
pub mod replay;
pub mod rows;
pub mod validate;
pub mod verify;

use crate::model::{Kind, Lsn, Month, OrgId};
use balance::BalanceShard;
use catalog::OrgState;
use ledger::{MonthBucket, PartitionId};
use std::sync::Arc;

/// A persistent (structurally shared) hash map: cloning is O(1) and a write copies only the path
/// to what it changes, and only while another clone (a snapshot) still shares that path.
pub type PMap<K, V> =
    imbl::GenericHashMap<K, V, rustc_hash::FxBuildHasher, imbl::shared_ptr::DefaultSharedPtr>;

/// A persistent ordered map (B-tree with shared nodes), same sharing rules as [`PMap`].
pub type POrdMap<K, V> = imbl::OrdMap<K, V>;

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
    /// Day rows of a chunk's orgs (of every balance shard) in one month.
    Balance(u64, Month),
    /// The index catalog.
    Catalog,
    /// Patches of a chunk's orgs' rows in one frozen month.
    Patches(Month, u64),
    /// The flows of the frozen files' rows of a chunk's orgs.
    // Made by installing a frozen month, which only the tests do until the freezer runs.
    FrozenFlows(u64),
}

/// The set of store values changed since the last checkpoint took them.
pub type DirtySet = rustc_hash::FxHashSet<DirtyKey>;

/// Where every entry id of every org lives (its ledger partition and key there): one flat map
/// keyed by (org, entry id), so an org with a few rows in memory costs its rows' slots and no
/// table of its own (a million orgs with small maps each cost ~200 MiB more). Also holds each
/// org's gross flows (Σ inflow, Σ outflow), which bound every running sum.
#[derive(Clone, Debug, Default)]
pub struct EntryIndex {
    ids: rustc_hash::FxHashMap<(OrgId, u64), PackedLoc>,
    /// In chunks of consecutive ids ([`org_map::OrgMap`]): 24 bytes an org, where a hash map
    /// of a million orgs took 2,097,152 slots of 25 bytes (and both tables while it grew).
    flows: org_map::OrgMap<(i64, i64)>,
    /// Ids of rows an install moved to a frozen file, still in the map until the freezer
    /// removes them a chunk at a time outside the install's write lock ([`EntryIndex::settle`]).
    /// Found meanwhile, such an id gives the location the file gives: an operation on it is
    /// checked and applied the same either way.
    leaving: Vec<(OrgId, u64)>,
}

/// Equal when they hold the same ids at the same places and the same flows, an org without
/// flows counting as one with flows (0, 0); ids marked to leave count as held.
impl PartialEq for EntryIndex {
    fn eq(&self, other: &EntryIndex) -> bool {
        let same_flows = |a: &EntryIndex, b: &EntryIndex| {
            a.flows.iter().all(|(org, flows)| b.flows(*org) == *flows)
        };
        self.ids == other.ids && same_flows(self, other) && same_flows(other, self)
    }
}

impl Eq for EntryIndex {}

/// An [`catalog::EntryLoc`] in 8 bytes instead of 16: the timestamp doubled, plus one for an
/// expense. The map holds an entry for every row in memory (~2,500,000 at 100,000,000 events
/// over 10 years, in a table of 4,194,304 slots), so a slot is 25 bytes instead of 33. Every
/// timestamp a row can have is within `MIN_TIMESTAMP..=MAX_TIMESTAMP`, far inside the half of
/// `i64` this keeps; [`PackedLoc::of`] refuses any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PackedLoc(i64);

impl PackedLoc {
    fn of(loc: catalog::EntryLoc) -> Option<PackedLoc> {
        let doubled = loc.occurred_at.checked_mul(2)?;
        Some(PackedLoc(doubled | i64::from(loc.kind == Kind::Expense)))
    }

    fn loc(self) -> catalog::EntryLoc {
        catalog::EntryLoc {
            kind: match self.0 & 1 {
                0 => Kind::Revenue,
                _ => Kind::Expense,
            },
            occurred_at: self.0 >> 1,
        }
    }
}

/// An entry location whose timestamp no row can have ([`PackedLoc`]).
pub const LOC_OUT_OF_RANGE: &str = "timestamp out of range";

impl EntryIndex {
    pub fn get(&self, key: &(OrgId, u64)) -> Option<catalog::EntryLoc> {
        self.ids.get(key).map(|p| p.loc())
    }

    /// (Σ amounts that raise the balance, Σ amounts that lower it) of an org's rows.
    pub fn flows(&self, org: OrgId) -> (i64, i64) {
        self.flows.get(&org).copied().unwrap_or((0, 0))
    }

    pub fn set_flows(&mut self, org: OrgId, flows: (i64, i64)) {
        self.flows.insert(org, flows);
    }

    /// Removes the ids of rows that left memory, giving back the map's memory once it mostly
    /// emptied.
    pub fn remove_moved(&mut self, moved: &[(OrgId, u64)]) {
        for key in moved {
            self.ids.remove(key);
        }
        self.shrink();
    }

    /// Marks the ids of rows an install moved to a frozen file for removal by
    /// [`EntryIndex::settle`].
    pub fn leave(&mut self, moved: Vec<(OrgId, u64)>) {
        if self.leaving.is_empty() {
            self.leaving = moved;
        } else {
            self.leaving.extend(moved);
        }
    }

    /// Removes up to `most` of the ids marked by [`EntryIndex::leave`]; whether any are left.
    pub fn settle(&mut self, most: usize) -> bool {
        let mut leaving = std::mem::take(&mut self.leaving);
        let from = leaving.len().saturating_sub(most);
        self.remove_moved(&leaving[from..]);
        leaving.truncate(from);
        if !leaving.is_empty() {
            self.leaving = leaving;
        }
        !self.leaving.is_empty()
    }

    /// A copy with every id marked by [`EntryIndex::leave`] removed: the ids of the rows in
    /// memory alone.
    pub fn settled(&self) -> EntryIndex {
        let mut copy = self.clone();
        copy.settle(usize::MAX);
        copy
    }

    /// Gives back the map's memory once three quarters of it are unused.
    fn shrink(&mut self) {
        if self.ids.len() < self.ids.capacity() / 4 {
            self.ids.shrink_to_fit();
        }
    }

    pub fn contains_key(&self, key: &(OrgId, u64)) -> bool {
        self.get(key).is_some()
    }

    /// Sets the location of `key`; the one it replaced. `Err` ([`LOC_OUT_OF_RANGE`], nothing
    /// changed) for a timestamp no row can have.
    pub fn insert(
        &mut self,
        key: (OrgId, u64),
        loc: catalog::EntryLoc,
    ) -> Result<Option<catalog::EntryLoc>, &'static str> {
        let packed = PackedLoc::of(loc).ok_or(LOC_OUT_OF_RANGE)?;
        Ok(self.ids.insert(key, packed).map(PackedLoc::loc))
    }

    /// Records an entry as the log applies it: a new id is added with its effect on the org's
    /// flows; an id already at `loc` is one the state already reflects (replay over a checkpoint)
    /// and changes nothing; an id elsewhere, or flows that overflow, is `Err` (nothing changed).
    pub fn register(
        &mut self,
        key: (OrgId, u64),
        loc: catalog::EntryLoc,
        flows: impl FnOnce((i64, i64)) -> Option<(i64, i64)>,
    ) -> Result<(), &'static str> {
        use std::collections::hash_map::Entry;
        let loc = PackedLoc::of(loc).ok_or(LOC_OUT_OF_RANGE)?;
        match self.ids.entry(key) {
            Entry::Occupied(at) if *at.get() == loc => Ok(()),
            Entry::Occupied(_) => Err("recorded twice"),
            Entry::Vacant(slot) => {
                let before = self.flows.get(&key.0).copied().unwrap_or((0, 0));
                self.flows.insert(key.0, flows(before).ok_or("flow overflow")?);
                slot.insert(loc);
                Ok(())
            }
        }
    }

    /// Entry ids held: the rows in memory.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Heap bytes of the maps (estimated from their capacities) and of the ids marked to leave.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        memory::hash_bytes(
            self.ids.capacity(),
            size_of::<((OrgId, u64), PackedLoc)>(),
        ) + self.flows.heap_bytes()
            + self.leaving.capacity() * size_of::<(OrgId, u64)>()
    }

    #[cfg(feature = "internals")]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = ((OrgId, u64), catalog::EntryLoc)> + '_ {
        self.ids.iter().map(|(key, loc)| (*key, loc.loc()))
    }
}

/// What only the applier (committer or replica) keeps beside the published state. Readers never
/// need it, so it is not part of what snapshots share and is changed in place without copies.
#[derive(Debug, Default)]
pub struct Applier {
    /// Values changed since the last checkpoint took them.
    pub dirty: DirtySet,
    /// Entry id → location, for duplicate checks and for finding the rows that reversals and
    /// payments mark.
    pub entries: EntryIndex,
    /// While an install is prepared: the orgs whose balances changed since the snapshot it was
    /// prepared against ([`OrgNotes`]).
    pub notes: Option<OrgNotes>,
}

/// The orgs of the entries applied since the state stood at `since`: every org whose balances
/// changed since (entries are the only operations that change balances). An install prepared
/// against the state at `since` redoes only these orgs under the write lock
/// ([`frozen_install::Prepared`]). Past [`OrgNotes::MOST`] notes it stops noting and is
/// `overflowed`: the install then redoes every org it touches.
#[derive(Debug, Default)]
pub struct OrgNotes {
    pub since: Lsn,
    pub orgs: Vec<OrgId>,
    pub overflowed: bool,
}

impl OrgNotes {
    /// The most notes kept (32 MiB).
    pub const MOST: usize = 1 << 22;

    /// Notes the orgs of the entries of `batches`, about to be applied.
    pub fn note(&mut self, batches: &[(Lsn, &[crate::codec::record::LogOp])]) {
        if self.overflowed {
            return;
        }
        for (_, ops) in batches {
            for op in *ops {
                if let crate::codec::record::LogOp::Entry(e) = op {
                    self.orgs.push(OrgId(e.org));
                }
            }
        }
        if self.orgs.len() > Self::MOST {
            self.overflowed = true;
            self.orgs = Vec::new();
        }
    }
}

/// Everything Folio materializes from the log.
///
/// Every level is shared on clone: maps are persistent ([`PMap`], [`POrdMap`]) and their values
/// sit behind `Arc`s, so cloning a `State` (what a snapshot pins) copies a few pointers, and the
/// writer's `Arc::make_mut` copies a value only while a snapshot still shares it.
#[derive(Clone, Debug)]
pub struct State {
    pub shards: u32,
    /// LSN of the last applied batch: the state equals the log prefix up to it.
    pub lsn: Lsn,
    pub orgs: org_map::OrgMap<Arc<OrgState>>,
    pub balances: Vec<BalanceShard>,
    pub ledgers: POrdMap<PartitionId, MonthBucket>,
    /// Declared secondary indexes.
    pub catalog: Arc<index::IndexCatalog>,
    /// Frozen months: their files and the flows of the files' rows ([`frozen_set`]).
    pub frozen: Arc<frozen_set::FrozenSet>,
    /// Changes late reversals and payments made to rows of frozen files.
    pub patches: frozen_set::Patches,
    /// Per UTC month, the LSN of the last batch that changed its rows or patches; per business
    /// month, of the last that changed its day rows. Not stored: a freeze compares them with the
    /// LSN of the snapshot it wrote a file from.
    pub rows_touched: Arc<std::collections::BTreeMap<Month, Lsn>>,
    pub days_touched: Arc<std::collections::BTreeMap<Month, Lsn>>,
    /// Currency codes of the registered orgs, sorted, without repeats (derived, not stored).
    pub currencies: Arc<Vec<[u8; 3]>>,
}

impl State {
    pub fn new(shards: u32) -> State {
        assert!(shards > 0 && shards <= crate::limits::MAX_SHARDS);
        State {
            shards,
            lsn: Lsn(0),
            orgs: org_map::OrgMap::default(),
            balances: (0..shards).map(|_| BalanceShard::default()).collect(),
            ledgers: POrdMap::new(),
            catalog: Arc::new(index::IndexCatalog::default()),
            frozen: Arc::new(frozen_set::FrozenSet::default()),
            patches: frozen_set::Patches::new(),
            rows_touched: Arc::default(),
            days_touched: Arc::default(),
            currencies: Arc::default(),
        }
    }

    /// Currencies of the registered orgs, in code order.
    pub fn currencies(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.currencies.iter().copied()
    }

    /// Notes the currency of a registered org.
    pub fn note_currency(currencies: &mut Arc<Vec<[u8; 3]>>, currency: [u8; 3]) {
        if let Err(at) = currencies.binary_search(&currency) {
            Arc::make_mut(currencies).insert(at, currency);
        }
    }

    /// A copy of this state whose ledgers are only `month`'s partitions: what writing a file of
    /// the month and preparing its install read. A snapshot sharing every partition with the
    /// state makes each write to another month (nearly every write: the months taking them)
    /// copy the org's ledger, rows and all, for as long as the snapshot lives; this one shares
    /// only the month's.
    pub fn with_ledgers_of(&self, month: Month) -> State {
        let mut ledgers = POrdMap::new();
        for kind in [Kind::Revenue, Kind::Expense] {
            let pid = PartitionId { kind, month };
            if let Some(bucket) = self.ledgers.get(&pid) {
                ledgers.insert(pid, bucket.clone());
            }
        }
        State {
            shards: self.shards,
            lsn: self.lsn,
            orgs: self.orgs.clone(),
            balances: self.balances.clone(),
            ledgers,
            catalog: Arc::clone(&self.catalog),
            frozen: Arc::clone(&self.frozen),
            patches: self.patches.clone(),
            rows_touched: Arc::clone(&self.rows_touched),
            days_touched: Arc::clone(&self.days_touched),
            currencies: Arc::clone(&self.currencies),
        }
    }

    /// The balance shard holding `org`.
    pub fn shard(&self, org: OrgId) -> &BalanceShard {
        &self.balances[balance::shard_of(org, self.shards)]
    }

    /// Builds the parts of an index being created for one partition's ledgers.
    pub fn backfill_partition(&mut self, pid: PartitionId) {
        let State {
            ledgers, catalog, ..
        } = self;
        if let Some(bucket) = ledgers.get_mut(&pid) {
            for (_, ledger) in bucket.orgs.iter_mut() {
                Arc::make_mut(ledger).backfill(catalog, pid.kind);
            }
        }
    }

    /// Completes an index creation: backfills every ledger still lacking its part, marks it ready.
    pub fn finish_index_build(&mut self) {
        let partitions: Vec<PartitionId> = self.ledgers.keys().copied().collect();
        for pid in partitions {
            self.backfill_partition(pid);
        }
        Arc::make_mut(&mut self.catalog).building = None;
    }

    /// Rows in memory (open months, overlays of frozen ones) and in the frozen files in force
    /// (an overlay holds only rows applied after its file was written, so none is counted twice).
    pub fn entry_count(&self) -> usize {
        let memory: usize = self
            .ledgers
            .values()
            .flat_map(|b| b.orgs.values())
            .map(|l| l.rows.len())
            .sum();
        let frozen: u64 = self.frozen.months().values().map(|f| f.file.row_count()).sum();
        memory.saturating_add(usize::try_from(frozen).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::catalog::EntryLoc;
    use super::*;
    use crate::model::{MAX_TIMESTAMP, MIN_TIMESTAMP};

    proptest::proptest! {
        /// Every location a row can have comes back from the map as it went in; a timestamp
        /// outside what packing keeps is refused and leaves the map as it was.
        #[test]
        fn locations_come_back_as_they_went_in(
            at in proptest::prop_oneof![
                MIN_TIMESTAMP..=MAX_TIMESTAMP,
                proptest::num::i64::ANY,
            ],
            expense: bool,
            org: u64,
            id: u64,
        ) {
            let kind = if expense { Kind::Expense } else { Kind::Revenue };
            let loc = EntryLoc { kind, occurred_at: at };
            let mut index = EntryIndex::default();
            let key = (OrgId(org), id);
            let fits = at.checked_mul(2).is_some();
            proptest::prop_assert!(fits || !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&at));
            match index.insert(key, loc) {
                Ok(None) => {
                    proptest::prop_assert!(fits);
                    proptest::prop_assert_eq!(index.get(&key), Some(loc));
                    proptest::prop_assert_eq!(index.iter().collect::<Vec<_>>(), vec![(key, loc)]);
                    proptest::prop_assert_eq!(index.register(key, loc, Some), Ok(()));
                    let other = EntryLoc { kind, occurred_at: at ^ 1 };
                    proptest::prop_assert!(index.register(key, other, Some).is_err());
                }
                Ok(Some(_)) => proptest::prop_assert!(false, "an empty map held {key:?}"),
                Err(e) => {
                    proptest::prop_assert!(!fits);
                    proptest::prop_assert_eq!(e, LOC_OUT_OF_RANGE);
                    proptest::prop_assert!(index.register(key, loc, Some).is_err());
                    proptest::prop_assert_eq!(index.len(), 0);
                }
            }
        }
    }
}
