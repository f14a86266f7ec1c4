//! The engine's own account of its resident (anonymous) memory: what the state and the applier
//! hold, estimated from element sizes and container capacities, by kind. It is what the memory
//! budget is checked against; the benchmarks report the process's `RssAnon` beside it (the
//! allocator's slack and sled's own memory are not in this account; mapped frozen files are
//! file-backed pages the kernel reclaims and are not either).

use super::State;
use std::mem::size_of;

/// Resident bytes by what holds them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Org records (name, currency, time zone, opening balance).
    pub orgs: u64,
    /// Entry-id maps of the rows in memory and every org's gross flows (the applier's).
    pub entry_ids: u64,
    /// Ledger rows in memory (open months, overlays of frozen ones), with their ledgers' roll-ups
    /// and index parts.
    pub rows: u64,
    /// Day rows of the months in memory and each org's month prefix sums.
    pub balances: u64,
    /// Per org, the flows, nets and stale marks of the frozen files' rows; per frozen file, its
    /// reader (not its mapped bytes).
    pub frozen: u64,
    /// Patches of frozen rows.
    pub patches: u64,
    /// Ledger rows in memory (a count, not bytes).
    pub row_count: u64,
}

impl MemoryUsage {
    /// Σ bytes of every kind.
    pub fn total(&self) -> u64 {
        [
            self.orgs,
            self.entry_ids,
            self.rows,
            self.balances,
            self.frozen,
            self.patches,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// Bytes a persistent hash map spends per entry beyond the entry itself (its share of the trie
/// nodes).
const PMAP_SLOT: usize = 16;
/// The counts of an `Arc`'s allocation.
const ARC: usize = 16;

/// An estimate of a persistent hash map's nodes for `len` entries of `entry` bytes each.
pub(crate) fn pmap_bytes(len: usize, entry: usize) -> usize {
    len.saturating_mul(entry + PMAP_SLOT)
}

/// An estimate of a `BTreeMap`'s nodes for `len` entries of `kv` bytes (key and value): leaves
/// of 11 slots about two thirds full, one internal node per six leaves.
pub(crate) fn btree_bytes(len: usize, kv: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let leaves = len.div_ceil(7);
    let leaf = 11 * kv + 16;
    let internal = match leaves {
        1 => 0,
        _ => leaves.div_ceil(6) * (leaf + 12 * size_of::<usize>()),
    };
    leaves * leaf + internal
}

/// An estimate of a hash map's table with room for `capacity` entries of `kv` bytes.
pub(crate) fn hash_bytes(capacity: usize, kv: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    (capacity * 8 / 7 + 1).next_power_of_two() * (kv + 1)
}

/// Makes room for one more element in a vector that is usually small: growing by half (at
/// least one) instead of doubling from four, so that a ledger of one row holds one row's bytes.
pub(crate) fn reserve_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 2).max(1));
    }
}

impl State {
    /// The account of what this state holds (`entry_ids` is the applier's, left 0 here).
    pub fn memory(&self) -> MemoryUsage {
        let mut m = MemoryUsage::default();
        let add = |field: &mut u64, bytes: usize| {
            *field = field.saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        };
        for (_, org) in self.orgs.iter() {
            let bytes = ARC
                + size_of::<super::catalog::OrgState>()
                + org.name.len();
            add(&mut m.orgs, bytes);
        }
        add(&mut m.orgs, self.orgs.heap_bytes());
        for bucket in self.ledgers.values() {
            add(
                &mut m.rows,
                pmap_bytes(bucket.orgs.len(), size_of::<(u64, usize)>()),
            );
            for ledger in bucket.orgs.values() {
                m.row_count += ledger.rows.len() as u64;
                add(&mut m.rows, ARC + ledger.heap_bytes());
            }
        }
        for shard in &self.balances {
            add(
                &mut m.balances,
                pmap_bytes(shard.orgs.len(), size_of::<(u64, usize)>()),
            );
            for b in shard.orgs.values() {
                add(&mut m.balances, ARC + b.heap_bytes());
            }
        }
        let frozen = &self.frozen;
        add(
            &mut m.frozen,
            frozen.flows.heap_bytes() + frozen.nets.heap_bytes() + frozen.stale.heap_bytes(),
        );
        for f in frozen.months().values() {
            add(&mut m.frozen, f.file.resident_bytes() + ARC);
        }
        for (_, set) in self.patches.iter() {
            let kv = size_of::<(u64, super::frozen_set::Patch)>();
            add(
                &mut m.patches,
                ARC + size_of::<super::frozen_set::PatchSet>() + btree_bytes(set.rows.len(), kv),
            );
        }
        m
    }
}
