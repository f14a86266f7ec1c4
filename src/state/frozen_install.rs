//! Putting a frozen file in force while writers go on.
//!
//! A freeze writes month `M`'s file from a snapshot `S` of the state (a clone, free) without
//! stopping writers; by the time the file is written, the state `C` may hold more of `M`: rows
//! applied after `S`, rows of `S` that a reversal or payment marked since, more day rows. The
//! [`FreezeBase`] keeps what the file was written from — `S`'s values of `M`, shared, not
//! copied — and [`State::install_frozen`] moves exactly that out of memory: a row of `S` leaves
//! (its changes since become a [`Patch`]), a row applied after `S` stays as overlay, and an
//! org's day rows of `M` keep only what was added after `S`. The state after the install
//! answers every read as before it, which is what lets the freezer spill the month that takes
//! the writes (see `db::freeze`).

use super::balance::{DayRow, MonthBalances};
use super::frozen_set::{FrozenMonth, Patch, PatchSet};
use super::ledger::{MonthBucket, OrgMonthLedger, PartitionId, Row};
use super::{chunk_of, Applier, DirtyKey, State};
use crate::error::{Error, Result};
use crate::frozen::ManifestEntry;
use crate::model::{Kind, Lsn, Month, OrgId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a frozen file of one month was written from: that month's ledger rows, patches and day
/// rows in a snapshot of the state, held by shared pointers (taking it copies nothing of the
/// rows).
#[derive(Clone, Debug)]
pub struct FreezeBase {
    month: Month,
    lsn: Lsn,
    /// The file in force for the month in the snapshot.
    file: Option<ManifestEntry>,
    /// The month's ledger partitions (revenues, expenses).
    buckets: [Option<MonthBucket>; 2],
    patches: BTreeMap<OrgId, Arc<PatchSet>>,
    /// Per org with day rows of the month: its shard and the month's value.
    days: rustc_hash::FxHashMap<OrgId, (usize, Arc<MonthBalances>)>,
}

const KINDS: [Kind; 2] = [Kind::Revenue, Kind::Expense];

impl FreezeBase {
    /// The values of `month` in `state` (the state a file of the month is written from).
    pub fn of(state: &State, month: Month) -> FreezeBase {
        let buckets = KINDS.map(|kind| state.ledgers.get(&PartitionId { kind, month }).cloned());
        let patches = state
            .patches
            .range((month, OrgId(0))..=(month, OrgId(u64::MAX)))
            .map(|((_, org), p)| (*org, Arc::clone(p)))
            .collect();
        let mut days = rustc_hash::FxHashMap::default();
        for (shard, balances) in state.balances.iter().enumerate() {
            for (org, b) in balances.orgs.iter() {
                if let Some(value) = b.months.get(&month) {
                    days.insert(*org, (shard, Arc::clone(value)));
                }
            }
        }
        FreezeBase {
            month,
            lsn: state.lsn,
            file: state.frozen.get(month).map(|f| f.entry),
            buckets,
            patches,
            days,
        }
    }

    /// The file in force for the month in the snapshot (`None` while it was open).
    pub fn file(&self) -> Option<ManifestEntry> {
        self.file
    }
}

/// What installing a frozen file moved out of memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Installed {
    /// Ledger rows dropped from memory (now read from the file).
    pub rows: u64,
    /// Orgs whose rows moved.
    pub orgs: u64,
    /// Patches folded into the file.
    pub patches: u64,
    /// Orgs whose day rows of the month moved.
    pub day_orgs: u64,
    /// Rows applied after the snapshot the file was written from: they stay, as overlay.
    pub rows_kept: u64,
    /// Rows of the snapshot that writes marked since: they left memory, their changes are
    /// patches now.
    pub rows_patched: u64,
    /// Whether the balance shards came from [`State::prepare_shards`] (only the orgs written
    /// since were redone under the write lock).
    pub shards_prepared: bool,
}

fn overflow(org: OrgId, what: &str) -> Error {
    Error::Store(format!("org {org}: {what} overflow"))
}

/// The patch that turns `file` (the row as the file holds it) into `now`; `Err` when the two
/// differ in a field no write changes (a damaged state).
fn patch_of(org: OrgId, id: u64, file: &Row, now: &Row) -> Result<Patch> {
    let mut same = now.clone();
    same.reversed_by = file.reversed_by;
    same.paid_at = file.paid_at;
    if same != *file {
        return Err(Error::Store(format!(
            "org {org}: entry {id} changed more than its reversal or payment"
        )));
    }
    Ok(Patch {
        reversed_by: (now.reversed_by != file.reversed_by).then_some(now.reversed_by),
        paid_at: if now.paid_at != file.paid_at {
            now.paid_at
        } else {
            None
        },
    })
}

/// `now − then` per day (`then` is an earlier version of the same value: its rows are a subset,
/// counts never fall), days without change left out, running nets rebuilt; `None` on overflow
/// or when `then` is not an earlier version of `now`.
fn days_since(now: &MonthBalances, then: &MonthBalances) -> Option<MonthBalances> {
    let mut out = MonthBalances::default();
    let earlier: BTreeMap<_, &DayRow> = then.days.iter().map(|d| (d.day, d)).collect();
    if earlier.len() != then.days.len() {
        return None;
    }
    let mut matched = 0usize;
    let mut through = 0i64;
    for d in &now.days {
        let mut row = *d;
        if let Some(e) = earlier.get(&d.day) {
            matched += 1;
            row.revenue = row.revenue.checked_sub(e.revenue)?;
            row.expense = row.expense.checked_sub(e.expense)?;
            row.revenue_count = row.revenue_count.checked_sub(e.revenue_count)?;
            row.expense_count = row.expense_count.checked_sub(e.expense_count)?;
        }
        if row.revenue_count == 0 && row.expense_count == 0 {
            if row.revenue != 0 || row.expense != 0 {
                return None;
            }
            continue;
        }
        through = through.checked_add(row.net()?)?;
        row.through = through;
        out.days.push(row);
    }
    if matched != earlier.len() {
        return None;
    }
    out.net = now.net.checked_sub(then.net)?;
    (out.net == through).then_some(out)
}

/// What changes in one org's ledger of the month when its file is put in force.
#[derive(Clone, Debug, Default)]
struct LedgerDelta {
    /// Rows applied after the base: the org's overlay (roll-ups rebuilt).
    kept: Option<Arc<OrgMonthLedger>>,
    /// Changes since the base to rows the file holds.
    patches: Vec<(u64, Patch)>,
}

/// The delta of one org's ledger `now` against its value `earlier` in the base (`None`: none
/// then). `Ok(None)` when it is the base's value.
fn ledger_delta(
    org: OrgId,
    month: Month,
    kind: Kind,
    earlier: Option<&Arc<OrgMonthLedger>>,
    now: &Arc<OrgMonthLedger>,
    catalog: &super::index::IndexCatalog,
) -> Result<Option<LedgerDelta>> {
    let Some(earlier) = earlier else {
        // Every row came after the base.
        return Ok(Some(LedgerDelta {
            kept: Some(Arc::clone(now)),
            patches: Vec::new(),
        }));
    };
    if Arc::ptr_eq(earlier, now) {
        return Ok(None);
    }
    let mut kept = OrgMonthLedger::default();
    let mut patches = Vec::new();
    let mut found = 0usize;
    for (key, row) in &now.rows {
        match earlier.rows.get(key) {
            Some(file_row) => {
                found += 1;
                if file_row != row {
                    patches.push((key.1, patch_of(org, key.1, file_row, row)?));
                }
            }
            None => {
                kept.rows.insert(*key, row.clone());
            }
        }
    }
    if found != earlier.rows.len() {
        return Err(Error::Store(format!(
            "org {org}: rows of {month} left memory during its freeze"
        )));
    }
    let kept = match kept.rows.is_empty() {
        true => None,
        false => {
            kept.rebuild(catalog, kind)
                .ok_or_else(|| overflow(org, "overlay total"))?;
            Some(Arc::new(kept))
        }
    };
    Ok(Some(LedgerDelta { kept, patches }))
}

/// What stays of one org's day rows of the month (`now`) once the base's (`then`) are in the
/// file: `None` when nothing was added since.
fn day_rest(
    org: OrgId,
    month: Month,
    now: &Arc<MonthBalances>,
    then: &Arc<MonthBalances>,
) -> Result<Option<MonthBalances>> {
    if Arc::ptr_eq(now, then) {
        return Ok(None);
    }
    let rest = days_since(now, then).ok_or_else(|| {
        Error::Store(format!(
            "org {org}: day rows of {month} changed inconsistently during its freeze"
        ))
    })?;
    Ok((!rest.days.is_empty()).then_some(rest))
}

/// An org's day rows of the month being frozen are gone from memory (a damaged state).
fn days_left(org: OrgId, month: Month) -> Error {
    Error::Store(format!(
        "org {org}: day rows of {month} left memory during its freeze"
    ))
}

/// One org's day rows of the month once the base's (`then`) are in the file: what stays of
/// them, and the org's balances after the install (`None`: no month left). `b` is the org's
/// balances now; `Err` when they no longer hold the month or are not a later version of `then`.
fn day_step(
    org: OrgId,
    month: Month,
    b: &super::balance::OrgBalances,
    then: &Arc<MonthBalances>,
) -> Result<(Option<MonthBalances>, Option<Arc<super::balance::OrgBalances>>)> {
    let now = b.months.get(&month).ok_or_else(|| days_left(org, month))?;
    let rest = day_rest(org, month, now, then)?;
    let after = balances_after(b, month, rest.as_ref()).map(Arc::new);
    Ok((rest, after))
}

/// An org's balances with the month's day rows replaced by `rest` (removed when `None`); `None`
/// when no month is left.
fn balances_after(
    b: &super::balance::OrgBalances,
    month: Month,
    rest: Option<&MonthBalances>,
) -> Option<super::balance::OrgBalances> {
    let mut b = b.clone();
    match rest {
        Some(rest) => {
            b.months.insert(month, Arc::new(rest.clone()));
        }
        None => {
            b.months.remove(&month);
        }
    }
    // The month nets only shrank to what they were in the base plus later changes, all of
    // which fitted: the prefix sums fit too.
    let first = b.months.first_month()?;
    let _fits = b.reindex(first);
    Some(b)
}

/// What [`frozen_part`] computes.
type FrozenPart = (super::frozen_set::FrozenSet, Vec<(OrgId, u64)>, u64);

/// The frozen set with the base's flows, nets and stale marks added (its months unchanged), the
/// (org, entry id) of the rows that leave memory, and the number of (org, kind) ledgers they
/// come from. Depends on the base and the frozen set only.
fn frozen_part(
    from: &super::frozen_set::FrozenSet,
    base: &FreezeBase,
) -> Result<FrozenPart> {
    let month = base.month;
    let mut set = from.clone();
    let mut moved = Vec::new();
    let mut orgs = 0u64;
    // In org order (revenues before expenses within one): the per-org maps are chunks of
    // consecutive ids, so each chunk is copied and searched while in cache, not once per org in
    // hash order.
    let mut ledgers: Vec<(OrgId, Kind, &Arc<OrgMonthLedger>)> = Vec::new();
    for (k, kind) in KINDS.into_iter().enumerate() {
        let bucket = base.buckets[k].iter().flat_map(|b| b.orgs.iter());
        ledgers.extend(bucket.map(|(org, ledger)| (*org, kind, ledger)));
    }
    ledgers.sort_by_key(|(org, _, _)| *org);
    for (org, kind, ledger) in ledgers {
        let mut flows = set.flows.get(&org).copied().unwrap_or((0, 0));
        for ((_, id), row) in &ledger.rows {
            flows = super::catalog::add_flow(flows, kind, row.reverses != 0, row.amount)
                .ok_or_else(|| overflow(org, "frozen flows"))?;
            moved.push((org, *id));
        }
        set.flows.insert(org, flows);
        orgs += 1;
    }
    // Day rows of business month M are in the file as the base held them: their nets join the
    // frozen nets. A frozen month after M whose file was written before now has a stale anchor
    // for every org whose net of M changed (`FrozenSet::stale`).
    let later_frozen = month.next().is_some_and(|n| set.months().range(n..).next().is_some());
    let mut days: Vec<(&OrgId, &Arc<MonthBalances>)> =
        base.days.iter().map(|(org, (_, then))| (org, then)).collect();
    days.sort_unstable_by_key(|(org, _)| **org);
    for (org, then) in days {
        let net = set.nets.get(org).copied().unwrap_or(0);
        let net = net.checked_add(then.net).ok_or_else(|| overflow(*org, "frozen nets"))?;
        set.nets.insert(*org, net);
        if then.net != 0 && later_frozen {
            let from = month.next().unwrap_or(month);
            let stale = set.stale.get(org).copied().map_or(from, |m| m.min(from));
            set.stale.insert(*org, stale);
        }
    }
    Ok((set, moved, orgs))
}

/// The chunks of the orgs whose frozen flows or nets an install changes, sorted.
fn changed_chunks(moved: &[(OrgId, u64)], base: &FreezeBase) -> Vec<u64> {
    let mut chunks: Vec<u64> = moved
        .iter()
        .map(|(org, _)| chunk_of(*org))
        .chain(base.days.keys().map(|org| chunk_of(*org)))
        .collect();
    chunks.sort_unstable();
    chunks.dedup();
    chunks
}

/// What an install replaced, handed back so that the caller frees it after releasing the write
/// lock: the month's buckets and patches of the state before, its orgs' balances before, the
/// base and what was left of the preparation.
#[derive(Debug, Default)]
pub struct Replaced {
    buckets: Vec<MonthBucket>,
    patches: Vec<(OrgId, Arc<PatchSet>)>,
    /// The balance shards the install swapped out.
    shards: Vec<BalanceMap>,
    base: Option<FreezeBase>,
    prepared: Prepared,
}

/// An install's work done before the write lock ([`State::prepare_install`]), against a
/// snapshot `N` taken after the file was written: under the lock it is reused for every org
/// whose value is still the one `N` held (compared by pointer), and redone only for those that
/// writes changed since `N` — so the lock is held for a pass of pointer comparisons, not for
/// the month's rows.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The frozen set the preparation started from, and what installing adds to it (months
    /// aside).
    frozen: Option<(Arc<super::frozen_set::FrozenSet>, super::frozen_set::FrozenSet)>,
    moved: Vec<(OrgId, u64)>,
    moved_orgs: u64,
    /// The chunks whose frozen flows or nets the install changes, sorted.
    chunks: Vec<u64>,
    /// The catalog `N` held (a changed one invalidates `ledgers`: overlays carry index parts).
    catalog: Option<Arc<super::index::IndexCatalog>>,
    /// Per kind, per org of `N`'s bucket that differs from the base: `N`'s ledger and its delta.
    ledgers: [rustc_hash::FxHashMap<OrgId, (Arc<OrgMonthLedger>, LedgerDelta)>; 2],
    /// Per org of the base's day rows: `N`'s balances of the org, what stays of the month, and
    /// the balances after the install (`None`: no month left).
    days: rustc_hash::FxHashMap<OrgId, DayMemo>,
    /// The balance shards after the install as of a snapshot ([`State::prepare_shards`]).
    shards: Option<PreparedShards>,
}

type BalanceMap = super::PMap<OrgId, Arc<super::balance::OrgBalances>>;

/// Every balance shard as it will be after the install, built from a snapshot at `at` (maps
/// that share all they did not change with the snapshot's), with the day-row values the install
/// leaves to be written. Under the write lock only the orgs whose entries were applied since
/// `at` ([`super::OrgNotes`]) are redone and the shards swapped whole: the lock is held for the
/// writes of the window, not for every org of the month.
#[derive(Debug)]
struct PreparedShards {
    at: Lsn,
    shards: Vec<BalanceMap>,
    dirty: Vec<DirtyKey>,
}

type DayMemo = (
    Arc<super::balance::OrgBalances>,
    Option<MonthBalances>,
    Option<Arc<super::balance::OrgBalances>>,
);

impl State {
    /// Does before the write lock what installing `base`'s file will need (see [`Prepared`]);
    /// `self` is a snapshot taken after the file was written. What `previous` (an earlier
    /// preparation of the same install, or `Prepared::default()`) computed is reused where it
    /// still matches, so a second preparation right before the lock is quick and leaves only
    /// the writes of a short window to the lock. Errors are left for the install to find and
    /// report.
    pub fn prepare_install(&self, base: &FreezeBase, mut previous: Prepared) -> Prepared {
        let month = base.month;
        let mut prepared = Prepared {
            catalog: Some(Arc::clone(&self.catalog)),
            ..Prepared::default()
        };
        match previous.frozen.take() {
            Some((from, set)) if Arc::ptr_eq(&from, &self.frozen) => {
                prepared.frozen = Some((from, set));
                prepared.moved = std::mem::take(&mut previous.moved);
                prepared.moved_orgs = previous.moved_orgs;
                prepared.chunks = std::mem::take(&mut previous.chunks);
            }
            _ => {
                if let Ok((set, moved, orgs)) = frozen_part(&self.frozen, base) {
                    prepared.frozen = Some((Arc::clone(&self.frozen), set));
                    prepared.chunks = changed_chunks(&moved, base);
                    prepared.moved = moved;
                    prepared.moved_orgs = orgs;
                }
            }
        }
        if !previous
            .catalog
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &self.catalog))
        {
            previous.ledgers = Default::default();
        }
        for (k, kind) in KINDS.into_iter().enumerate() {
            let Some(now) = self.ledgers.get(&PartitionId { kind, month }) else {
                continue;
            };
            let then = base.buckets[k].as_ref();
            for (org, ledger) in now.orgs.iter() {
                if let Some((seen, delta)) = previous.ledgers[k].remove(org) {
                    if Arc::ptr_eq(&seen, ledger) {
                        prepared.ledgers[k].insert(*org, (seen, delta));
                        continue;
                    }
                }
                let earlier = then.and_then(|b| b.orgs.get(org));
                if let Ok(Some(delta)) =
                    ledger_delta(*org, month, kind, earlier, ledger, &self.catalog)
                {
                    prepared.ledgers[k].insert(*org, (Arc::clone(ledger), delta));
                }
            }
        }
        for (org, (shard, then)) in &base.days {
            let Some(b) = self.balances[*shard].orgs.get(org) else {
                continue;
            };
            if let Some(memo) = previous.days.remove(org) {
                if Arc::ptr_eq(&memo.0, b) {
                    prepared.days.insert(*org, memo);
                    continue;
                }
            }
            if let Ok((rest, after)) = day_step(*org, month, b, then) {
                prepared.days.insert(*org, (Arc::clone(b), rest, after));
            }
        }
        prepared
    }

    /// Builds, after [`State::prepare_install`] against the same snapshot `self`, every balance
    /// shard as the install will leave it ([`PreparedShards`]). The caller starts noting the
    /// orgs of the entries applied after `self` ([`Applier::notes`], since `self.lsn`) as it
    /// takes `self`, and drops `self` before the install (else writers would copy what it
    /// shares). Leaves nothing when the state is not a later version of the base (the install
    /// then finds and reports it).
    pub fn prepare_shards(&self, base: &FreezeBase, prepared: &mut Prepared) {
        prepared.shards = self.shards_for(base, &prepared.days).ok();
    }

    /// Every balance shard of `self` as installing `base`'s file leaves it: for each org with
    /// day rows of the month in the base, what stays of them ([`day_step`], taken from `memo`
    /// when it was computed against the org's balances now), with the day-row values left to
    /// be written.
    fn shards_for(
        &self,
        base: &FreezeBase,
        memo: &rustc_hash::FxHashMap<OrgId, DayMemo>,
    ) -> Result<PreparedShards> {
        let month = base.month;
        let mut shards: Vec<BalanceMap> = self.balances.iter().map(|b| b.orgs.clone()).collect();
        let mut dirty = Vec::new();
        for (org, (shard, then)) in &base.days {
            let b = self.balances[*shard]
                .orgs
                .get(org)
                .ok_or_else(|| days_left(*org, month))?;
            let (rest, after) = match memo.get(org) {
                Some((seen, rest, after)) if Arc::ptr_eq(seen, b) => (rest.is_some(), after.clone()),
                _ => {
                    let (rest, after) = day_step(*org, month, b, then)?;
                    (rest.is_some(), after)
                }
            };
            if rest {
                dirty.push(DirtyKey::Balance(chunk_of(*org), month));
            }
            match after {
                Some(after) => shards[*shard].insert(*org, after),
                None => shards[*shard].remove(org),
            };
        }
        if self.days_touched.get(&month).is_some_and(|l| *l > base.lsn) {
            // Orgs whose first day rows of the month came after `base`: those rows all stay.
            for balances in &self.balances {
                for (org, b) in balances.orgs.iter() {
                    if b.months.get(&month).is_some() && !base.days.contains_key(org) {
                        dirty.push(DirtyKey::Balance(chunk_of(*org), month));
                    }
                }
            }
        }
        dirty.sort_unstable();
        dirty.dedup();
        Ok(PreparedShards {
            at: self.lsn,
            shards,
            dirty,
        })
    }

    /// The balance shards after the install from `prepared` (see [`PreparedShards`]), with the
    /// orgs of `notes` redone against the state now; `None` when the preparation does not
    /// cover every change since (no notes, too many, or taken at another state).
    fn shards_after(
        &self,
        base: &FreezeBase,
        prepared: Option<PreparedShards>,
        notes: Option<super::OrgNotes>,
    ) -> Result<Option<PreparedShards>> {
        let (Some(mut prepared), Some(notes)) = (prepared, notes) else {
            return Ok(None);
        };
        if notes.overflowed || notes.since != prepared.at {
            return Ok(None);
        }
        let month = base.month;
        let mut orgs = notes.orgs;
        orgs.sort_unstable();
        orgs.dedup();
        for org in orgs {
            let shard = super::balance::shard_of(org, self.shards);
            let into = &mut prepared.shards[shard];
            let Some(b) = self.balances[shard].orgs.get(&org) else {
                into.remove(&org);
                continue;
            };
            match base.days.get(&org) {
                Some((_, then)) => {
                    let (rest, after) = day_step(org, month, b, then)?;
                    if rest.is_some() {
                        prepared.dirty.push(DirtyKey::Balance(chunk_of(org), month));
                    }
                    match after {
                        Some(after) => into.insert(org, after),
                        None => into.remove(&org),
                    };
                }
                None => {
                    if b.months.get(&month).is_some() {
                        prepared.dirty.push(DirtyKey::Balance(chunk_of(org), month));
                    }
                    into.insert(org, Arc::clone(b));
                }
            }
        }
        Ok(Some(prepared))
    }

    /// Puts `frozen` in force for its month. The file holds every row of the month `base` (the
    /// state it was written from) held — in memory, and in the month's earlier file with its
    /// patches — so those rows, their entry ids and the patches leave memory and the rows'
    /// flows join the frozen flows. What was applied since `base` stays: new rows as the
    /// month's overlay, changes to rows of `base` as patches, day rows as what was added to
    /// each day since. [`State::install_prepared`] does the same with work done beforehand.
    ///
    /// # Errors
    /// `Error::Store` when the month's file in force is not the one `base` saw, or the state is
    /// not a later version of `base` (rows gone, fields changed that no write changes), or sums
    /// overflow (never for a consistent state). The state is unchanged then.
    #[cfg(feature = "internals")]
    pub fn install_frozen(
        &mut self,
        applier: &mut Applier,
        frozen: FrozenMonth,
        base: FreezeBase,
    ) -> Result<Installed> {
        let (installed, _) = self.install_prepared(applier, frozen, base, Prepared::default())?;
        applier.entries.settle(usize::MAX);
        Ok(installed)
    }

    /// [`State::install_frozen`], reusing `prepared` for every value it still matches; what it
    /// replaced comes back to be freed after the write lock is released. The moved rows' entry
    /// ids are only marked to leave the applier's map ([`super::EntryIndex::leave`]): the caller
    /// removes them with [`super::EntryIndex::settle`], a chunk at a time.
    ///
    /// # Errors
    /// As [`State::install_frozen`].
    #[allow(clippy::too_many_lines)]
    pub fn install_prepared(
        &mut self,
        applier: &mut Applier,
        frozen: FrozenMonth,
        base: FreezeBase,
        mut prepared: Prepared,
    ) -> Result<(Installed, Replaced)> {
        let month = frozen.entry.month;
        let notes = applier.notes.take();
        if base.month != month || self.frozen.get(month).map(|f| f.entry) != base.file {
            return Err(Error::Store(format!(
                "the freeze of {month} was written from another version of the month"
            )));
        }
        let mut report = Installed::default();
        let (mut set, moved, moved_orgs, chunks) = match prepared.frozen.take() {
            Some((from, set)) if Arc::ptr_eq(&from, &self.frozen) => (
                set,
                std::mem::take(&mut prepared.moved),
                prepared.moved_orgs,
                std::mem::take(&mut prepared.chunks),
            ),
            _ => {
                let (set, moved, orgs) = frozen_part(&self.frozen, &base)?;
                let chunks = changed_chunks(&moved, &base);
                (set, moved, orgs, chunks)
            }
        };
        report.orgs = moved_orgs;
        if !prepared
            .catalog
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &self.catalog))
        {
            prepared.ledgers = Default::default();
        }
        let mut dirty: Vec<DirtyKey> = Vec::new();
        // Patches of the new version, by org: changes since `base` to rows that are in the file.
        let mut patches: BTreeMap<OrgId, PatchSet> = BTreeMap::new();
        let mut overlays: [Option<MonthBucket>; 2] = [None, None];
        for (k, kind) in KINDS.into_iter().enumerate() {
            let pid = PartitionId { kind, month };
            let then = base.buckets[k].as_ref();
            let Some(now) = self.ledgers.get(&pid) else {
                if then.is_some_and(|b| !b.orgs.is_empty()) {
                    return Err(Error::Store(format!("rows of {month} left memory during its freeze")));
                }
                continue;
            };
            let memo = &mut prepared.ledgers[k];
            let mut overlay = MonthBucket::default();
            for (org, ledger) in now.orgs.iter() {
                let earlier = then.and_then(|b| b.orgs.get(org));
                if earlier.is_some_and(|e| Arc::ptr_eq(e, ledger)) {
                    continue;
                }
                let delta = match memo.remove(org) {
                    Some((seen, delta)) if Arc::ptr_eq(&seen, ledger) => delta,
                    _ => match ledger_delta(*org, month, kind, earlier, ledger, &self.catalog)? {
                        Some(delta) => delta,
                        None => continue,
                    },
                };
                if !delta.patches.is_empty() {
                    report.rows_patched += delta.patches.len() as u64;
                    patches.entry(*org).or_default().rows.extend(delta.patches);
                }
                if let Some(kept) = delta.kept {
                    report.rows_kept += kept.rows.len() as u64;
                    overlay.orgs.insert(*org, kept);
                    dirty.push(DirtyKey::Ledger(pid, chunk_of(*org)));
                }
            }
            if kind == Kind::Revenue {
                // Q5's bound over the overlay, exact again (what left memory no longer counts).
                let mut bound = super::ledger::RevenueBound::default();
                for (org, ledger) in overlay.orgs.iter() {
                    bound.note(*org, ledger.total);
                }
                overlay.revenue_bound = bound;
            }
            overlays[k] = (!overlay.orgs.is_empty()).then_some(overlay);
        }
        report.rows = moved.len() as u64;
        // Patches of the earlier version written since `base` (the file folded those `base`
        // held); a patch already in the file changes nothing, but is dropped all the same.
        let current: Vec<(OrgId, Arc<PatchSet>)> = self
            .patches
            .range((month, OrgId(0))..=(month, OrgId(u64::MAX)))
            .map(|((_, org), p)| (*org, Arc::clone(p)))
            .collect();
        for (org, now) in &current {
            let then = base.patches.get(org);
            if then.is_some_and(|t| Arc::ptr_eq(t, now)) {
                continue;
            }
            for (id, patch) in &now.rows {
                if then.and_then(|t| t.rows.get(id)) != Some(patch) {
                    let mine = patches.entry(*org).or_default().rows.entry(*id).or_default();
                    mine.reversed_by = patch.reversed_by.or(mine.reversed_by);
                    mine.paid_at = patch.paid_at.or(mine.paid_at);
                }
            }
        }
        report.patches = base.patches.values().map(|p| p.rows.len() as u64).sum();
        report.day_orgs = base.days.len() as u64;
        // The balance shards after the install: prepared but for the orgs written since, else
        // built now (reusing what the preparation computed for orgs unchanged since).
        let shards = match self.shards_after(&base, prepared.shards.take(), notes)? {
            Some(shards) => {
                report.shards_prepared = true;
                shards
            }
            None => self.shards_for(&base, &prepared.days)?,
        };
        // Nothing fails from here on: the state changes. The entry ids are marked to leave the
        // applier's map, which the caller does a chunk at a time after the write lock
        // ([`super::EntryIndex::settle`]): until then they give the locations the file gives.
        let mut replaced = Replaced::default();
        let Applier {
            dirty: applier_dirty,
            entries,
            ..
        } = applier;
        entries.leave(moved);
        dirty.extend(shards.dirty);
        for (into, after) in self.balances.iter_mut().zip(shards.shards) {
            replaced.shards.push(std::mem::replace(&mut into.orgs, after));
        }
        for (k, kind) in KINDS.into_iter().enumerate() {
            let pid = PartitionId { kind, month };
            let before = match overlays[k].take() {
                Some(overlay) => self.ledgers.insert(pid, overlay),
                None => self.ledgers.remove(&pid),
            };
            replaced.buckets.extend(before);
        }
        for (org, _) in &current {
            self.patches.remove(&(month, *org));
        }
        for (org, set) in patches {
            if !set.rows.is_empty() {
                self.patches.insert((month, org), Arc::new(set));
                dirty.push(DirtyKey::Patches(month, chunk_of(org)));
            }
        }
        // Values of the month's old version are not written any more; the new version's
        // start with what stayed (the checkpoint records which version is in force).
        applier_dirty.retain(|key| match key {
            DirtyKey::Ledger(pid, _) => pid.month != month,
            DirtyKey::Patches(m, _) | DirtyKey::Balance(_, m) => *m != month,
            _ => true,
        });
        applier_dirty.extend(dirty);
        applier_dirty.extend(chunks.into_iter().map(DirtyKey::FrozenFlows));
        set.insert(month, frozen);
        self.frozen = Arc::new(set);
        replaced.patches = current;
        replaced.base = Some(base);
        replaced.prepared = prepared;
        Ok((report, replaced))
    }
}
