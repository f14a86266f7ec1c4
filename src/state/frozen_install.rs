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

impl State {
    /// Puts `frozen` in force for its month. The file holds every row of the month `base` (the
    /// state it was written from) held — in memory, and in the month's earlier file with its
    /// patches — so those rows, their entry ids and the patches leave memory and the rows'
    /// flows join the frozen flows. What was applied since `base` stays: new rows as the
    /// month's overlay, changes to rows of `base` as patches, day rows as what was added to
    /// each day since.
    ///
    /// # Errors
    /// `Error::Store` when the month's file in force is not the one `base` saw, or the state is
    /// not a later version of `base` (rows gone, fields changed that no write changes), or sums
    /// overflow (never for a consistent state). The state is unchanged then.
    pub fn install_frozen(
        &mut self,
        applier: &mut Applier,
        frozen: FrozenMonth,
        base: FreezeBase,
    ) -> Result<Installed> {
        let month = frozen.entry.month;
        if base.month != month || self.frozen.get(month).map(|f| f.entry) != base.file {
            return Err(Error::Store(format!(
                "the freeze of {month} was written from another version of the month"
            )));
        }
        let mut report = Installed::default();
        let mut set = (*self.frozen).clone();
        let mut dirty: Vec<DirtyKey> = Vec::new();
        let mut moved: Vec<(OrgId, u64)> = Vec::new();
        // Patches of the new version, by org: changes since `base` to rows that are in the file.
        let mut patches: BTreeMap<OrgId, PatchSet> = BTreeMap::new();
        let mut overlays: [Option<MonthBucket>; 2] = [None, None];
        for (k, kind) in KINDS.into_iter().enumerate() {
            let pid = PartitionId { kind, month };
            let then = base.buckets[k].as_ref();
            if let Some(then) = then {
                for (org, ledger) in then.orgs.iter() {
                    let mut flows = set.flows.get(org).copied().unwrap_or((0, 0));
                    for ((_, id), row) in &ledger.rows {
                        flows = super::catalog::add_flow(flows, kind, row.reverses != 0, row.amount)
                            .ok_or_else(|| overflow(*org, "frozen flows"))?;
                        moved.push((*org, *id));
                    }
                    set.flows.insert(*org, flows);
                    report.orgs += 1;
                }
            }
            let Some(now) = self.ledgers.get(&pid) else {
                if then.is_some_and(|b| !b.orgs.is_empty()) {
                    return Err(Error::Store(format!("rows of {month} left memory during its freeze")));
                }
                continue;
            };
            let mut overlay = MonthBucket::default();
            for (org, ledger) in now.orgs.iter() {
                let earlier = then.and_then(|b| b.orgs.get(org));
                let Some(earlier) = earlier else {
                    // Every row came after `base`.
                    report.rows_kept += ledger.rows.len() as u64;
                    overlay.orgs.insert(*org, Arc::clone(ledger));
                    dirty.push(DirtyKey::Ledger(pid, chunk_of(*org)));
                    continue;
                };
                if Arc::ptr_eq(earlier, ledger) {
                    continue;
                }
                let mut kept = OrgMonthLedger::default();
                let mut found = 0usize;
                for (key, row) in &ledger.rows {
                    match earlier.rows.get(key) {
                        Some(file_row) => {
                            found += 1;
                            if file_row != row {
                                let patch = patch_of(*org, key.1, file_row, row)?;
                                patches.entry(*org).or_default().rows.insert(key.1, patch);
                                report.rows_patched += 1;
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
                if !kept.rows.is_empty() {
                    kept.rebuild(&self.catalog, kind)
                        .ok_or_else(|| overflow(*org, "overlay total"))?;
                    report.rows_kept += kept.rows.len() as u64;
                    overlay.orgs.insert(*org, Arc::new(kept));
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
        // Day rows of business month M are in the file as `base` held them: their nets join the
        // frozen nets. A frozen month after M whose file was written before now has a stale
        // anchor for every org whose net of M changed (`FrozenSet::stale`).
        let later_frozen = month.next().is_some_and(|n| set.months.range(n..).next().is_some());
        let mut day_changes: Vec<(usize, OrgId, Option<MonthBalances>)> = Vec::new();
        for (org, (shard, then)) in &base.days {
            let net = set.nets.get(org).copied().unwrap_or(0);
            let net = net.checked_add(then.net).ok_or_else(|| overflow(*org, "frozen nets"))?;
            set.nets.insert(*org, net);
            if then.net != 0 && later_frozen {
                let from = month.next().unwrap_or(month);
                let stale = set.stale.get(org).copied().map_or(from, |m| m.min(from));
                set.stale.insert(*org, stale);
            }
            let now = self.balances[*shard].orgs.get(org).and_then(|b| b.months.get(&month));
            let Some(now) = now else {
                return Err(Error::Store(format!("org {org}: day rows of {month} left memory during its freeze")));
            };
            let rest = match Arc::ptr_eq(now, then) {
                true => None,
                false => {
                    let rest = days_since(now, then).ok_or_else(|| {
                        Error::Store(format!("org {org}: day rows of {month} changed inconsistently during its freeze"))
                    })?;
                    (!rest.days.is_empty()).then_some(rest)
                }
            };
            day_changes.push((*shard, *org, rest));
        }
        report.day_orgs = day_changes.len() as u64;
        let days_changed = self.days_touched.get(&month).is_some_and(|l| *l > base.lsn);
        if days_changed {
            // Orgs whose first day rows of M came after `base`: those rows all stay.
            for (shard, balances) in self.balances.iter().enumerate() {
                for (org, b) in balances.orgs.iter() {
                    if b.months.get(&month).is_some() && !base.days.contains_key(org) {
                        dirty.push(DirtyKey::Balance(shard as u32, chunk_of(*org), month));
                    }
                }
            }
        }
        // Nothing fails from here on: the state changes.
        let mut chunks: Vec<u64> = moved
            .iter()
            .map(|(org, _)| chunk_of(*org))
            .chain(base.days.keys().map(|org| chunk_of(*org)))
            .collect();
        chunks.sort_unstable();
        chunks.dedup();
        for (shard, org, rest) in day_changes {
            let balances = &mut self.balances[shard].orgs;
            let Some(b) = balances.get_mut(&org) else {
                continue;
            };
            let b = Arc::make_mut(b);
            match rest {
                Some(rest) => {
                    b.months.insert(month, Arc::new(rest));
                    dirty.push(DirtyKey::Balance(shard as u32, chunk_of(org), month));
                }
                None => {
                    b.months.remove(&month);
                }
            }
            match b.months.first_month() {
                // The month nets only shrank to what they were in `base` plus later changes,
                // all of which fitted: the prefix sums fit too.
                Some(first) => {
                    let _fits = b.reindex(first);
                }
                None => {
                    balances.remove(&org);
                }
            }
        }
        for key in &moved {
            applier.entries.remove(key);
        }
        let mut orgs: Vec<OrgId> = moved.iter().map(|(org, _)| *org).collect();
        orgs.dedup();
        for org in orgs {
            applier.entries.shrink(org);
        }
        for (k, kind) in KINDS.into_iter().enumerate() {
            let pid = PartitionId { kind, month };
            match overlays[k].take() {
                Some(overlay) => {
                    self.ledgers.insert(pid, overlay);
                }
                None => {
                    self.ledgers.remove(&pid);
                }
            }
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
        // Values of the month's old version are not written any more; the new version's start
        // with what stayed (the checkpoint records which version is in force).
        applier.dirty.retain(|key| match key {
            DirtyKey::Ledger(pid, _) => pid.month != month,
            DirtyKey::Patches(m, _) | DirtyKey::Balance(_, _, m) => *m != month,
            _ => true,
        });
        applier.dirty.extend(dirty);
        applier
            .dirty
            .extend(chunks.into_iter().map(DirtyKey::FrozenFlows));
        set.months.insert(month, frozen);
        self.frozen = Arc::new(set);
        Ok(report)
    }
}
