//! Frozen months as the state sees them: the files in force, the exact flows of their rows,
//! and the patches that late reversals and payments made to their rows.
//!
//! A month `M` is frozen when the state holds a [`FrozenMonth`] for it. Its ledger rows as of the
//! file's LSN are then in the file alone; the state's ledger partitions of `M` hold only the
//! **overlay**: rows applied after the month was frozen (late postings, reversals). A row of the
//! file that a later reversal or payment marks keeps its bytes in the file and gets a
//! [`Patch`] here. Reads of `(kind, M, org)` go through [`State::org_ledger`], which merges
//! the file's rows (patched) with the overlay's into one ledger value, so every read answers the
//! same whether a month is open, frozen, or frozen with an overlay.
//!
//! Day rows of a frozen business month are read from the file too; memory keeps only what was
//! added to each day after the file was written (`State::month_days`). Putting a file in force
//! is `state::frozen_install`.

use super::catalog::EntryLoc;
use super::ledger::{MonthBucket, OrgMonthLedger, PartitionId, Row};
use super::{POrdMap, State};
use crate::error::{Error, Result};
use crate::frozen::{FrozenFile, ManifestEntry};
use crate::model::{BusinessDay, Kind, Lsn, Month, OrgId};
use super::balance::DayRow;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One frozen month in force: its manifest entry and its open (mapped) file.
#[derive(Clone, Debug)]
pub struct FrozenMonth {
    pub entry: ManifestEntry,
    pub file: Arc<FrozenFile>,
}

/// The frozen months of a state.
#[derive(Clone, Debug, Default)]
pub struct FrozenSet {
    /// By month ([`FrozenSet::insert`] keeps `id_max` with it).
    months: BTreeMap<Month, FrozenMonth>,
    /// The largest entry id of any file's rows (0 without rows): an id above it is in no file,
    /// which answers a new entry's look-up without visiting every file.
    id_max: u64,
    /// Per org, the gross flows (Σ inflow, Σ outflow) of its rows in the files: what a load adds
    /// to the flows of the rows it reads, since it never reads the files' rows.
    pub flows: super::org_map::OrgMap<(i64, i64)>,
    /// Per org, Σ of its month nets in the files (day rows by business month): with the nets
    /// of the months in memory, what a closing balance of an open month adds to the opening.
    pub nets: super::org_map::OrgMap<i64>,
    /// Per org, the first month whose file's anchor (file-net prefix) may be stale: a month
    /// before it was frozen or frozen again, with a new net for the org, after that file was
    /// written. Closings of such months walk the later files instead.
    pub stale: super::org_map::OrgMap<Month>,
}

impl FrozenSet {
    pub fn get(&self, month: Month) -> Option<&FrozenMonth> {
        self.months.get(&month)
    }

    /// The frozen months, by month.
    pub fn months(&self) -> &BTreeMap<Month, FrozenMonth> {
        &self.months
    }

    /// Puts `frozen` in force for `month` (replacing the version before).
    pub fn insert(&mut self, month: Month, frozen: FrozenMonth) {
        self.months.insert(month, frozen);
        self.id_max = self.months.values().map(|f| f.file.id_max()).max().unwrap_or(0);
    }

    pub fn is_frozen(&self, month: Month) -> bool {
        self.months.contains_key(&month)
    }

    /// Where the org's entry is, when a frozen file holds it (newest month first; each file
    /// answers most misses from its id range and filter without touching a block).
    ///
    /// # Errors
    /// [`Error::Corruption`] when a part of a file it reads fails its check.
    pub fn locate(&self, org: OrgId, entry_id: u64) -> Result<Option<EntryLoc>> {
        if entry_id > self.id_max {
            return Ok(None);
        }
        for frozen in self.months.values().rev() {
            if let Some(loc) = frozen.file.contains(org, entry_id)? {
                return Ok(Some(loc));
            }
        }
        Ok(None)
    }
}

/// New values of the fields a late reversal or payment changes in a frozen row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Patch {
    /// Entry id of the reversal, when a reversal marked the row after it was frozen.
    pub reversed_by: Option<u64>,
    /// When a payment marked the row after it was frozen.
    pub paid_at: Option<i64>,
}

impl Patch {
    pub fn apply(&self, row: &mut Row) {
        if let Some(by) = self.reversed_by {
            row.reversed_by = by;
        }
        if let Some(at) = self.paid_at {
            row.paid_at = Some(at);
        }
    }
}

/// The patches of one org's rows in one frozen month: one physical value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchSet {
    /// By entry id.
    pub rows: BTreeMap<u64, Patch>,
    /// LSN of the checkpoint this value was last written at (0 = never).
    pub persisted: Lsn,
}

/// Patches by (frozen month, org).
pub type Patches = POrdMap<(Month, OrgId), Arc<PatchSet>>;

impl State {
    /// Whether `month` is frozen.
    pub fn is_frozen(&self, month: Month) -> bool {
        self.frozen.is_frozen(month)
    }

    /// The org's ledger of one partition, whole: the in-memory value of an open month, or for a
    /// frozen month the file's rows (with their patches) merged with the overlay's rows, its
    /// totals and index parts rebuilt for the state's catalog. `None` when the org has no rows
    /// there.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block of the org fails its check; `Error::Store`
    /// when the merged rows do not fit a ledger (a damaged overlay).
    pub fn org_ledger(&self, pid: PartitionId, org: OrgId) -> Result<Option<Cow<'_, OrgMonthLedger>>> {
        let memory = self.ledgers.get(&pid).and_then(|b| b.orgs.get(&org));
        self.org_ledger_with(pid, org, memory)
    }

    /// [`State::org_ledger`] given the org's in-memory ledger of the partition (`memory`, as
    /// `self` holds it: found by the caller in a pass over the partition).
    ///
    /// # Errors
    /// As [`State::org_ledger`].
    pub fn org_ledger_with<'s>(
        &'s self,
        pid: PartitionId,
        org: OrgId,
        memory: Option<&'s Arc<OrgMonthLedger>>,
    ) -> Result<Option<Cow<'s, OrgMonthLedger>>> {
        let Some(frozen) = self.frozen.get(pid.month) else {
            return Ok(memory.map(|l| Cow::Borrowed(&**l)));
        };
        let block = match frozen.file.org(org)? {
            Some(block) if block.row_count(pid.kind) > 0 => block,
            _ => return Ok(memory.map(|l| Cow::Borrowed(&**l))),
        };
        let patches = self.patches.get(&(pid.month, org));
        let mut ledger = OrgMonthLedger::default();
        for row in block.rows(pid.kind) {
            let key = (row.occurred_at(), row.entry_id());
            let mut value = row.ledger_row();
            if let Some(patch) = patches.and_then(|p| p.rows.get(&key.1)) {
                patch.apply(&mut value);
            }
            ledger.rows.insert(key, value);
        }
        if let Some(memory) = memory {
            for (key, row) in &memory.rows {
                if ledger.rows.insert(*key, row.clone()).is_some() {
                    return Err(Error::Store(format!(
                        "org {org}: entry {} is in the frozen file of {} and in its overlay",
                        key.1, pid.month
                    )));
                }
            }
        }
        ledger
            .rebuild(&self.catalog, pid.kind)
            .ok_or_else(|| Error::Store(format!("org {org}: total of {} overflows", pid.month)))?;
        Ok(Some(Cow::Owned(ledger)))
    }

    /// The orgs with rows in a partition, in id order: the in-memory ones, and for a frozen
    /// month those of its file with rows of the partition's kind.
    ///
    /// # Errors
    /// [`Error::Corruption`] when a directory page or block of the file fails its check.
    pub fn partition_orgs(&self, pid: PartitionId) -> Result<Vec<OrgId>> {
        let mut orgs: Vec<OrgId> = self
            .ledgers
            .get(&pid)
            .map(|b| b.orgs.keys().copied().collect())
            .unwrap_or_default();
        if let Some(frozen) = self.frozen.get(pid.month) {
            for org in frozen.file.orgs() {
                let org = org?;
                if let Some(block) = frozen.file.org(org)? {
                    if block.row_count(pid.kind) > 0 {
                        orgs.push(org);
                    }
                }
            }
        }
        orgs.sort_unstable();
        orgs.dedup();
        Ok(orgs)
    }

    /// The partitions with rows, in order: the in-memory ones and the frozen months' (both
    /// kinds of each frozen month).
    pub fn partition_ids(&self) -> Vec<PartitionId> {
        let mut pids: Vec<PartitionId> = self.ledgers.keys().copied().collect();
        for month in self.frozen.months().keys() {
            for kind in [Kind::Revenue, Kind::Expense] {
                pids.push(PartitionId {
                    kind,
                    month: *month,
                });
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// The org's row `(occurred_at, entry_id)` of a frozen month's file, patched; `None` when the
    /// month is open or its file does not hold the row (see [`State::find_row`], which looks in
    /// memory first).
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check.
    fn file_row(&self, pid: PartitionId, org: OrgId, key: (i64, u64)) -> Result<Option<Row>> {
        let Some(frozen) = self.frozen.get(pid.month) else {
            return Ok(None);
        };
        let Some(block) = frozen.file.org(org)? else {
            return Ok(None);
        };
        let Some(found) = block.entry(key.1) else {
            return Ok(None);
        };
        if found.kind() != pid.kind || found.occurred_at() != key.0 {
            return Ok(None);
        }
        let mut row = found.ledger_row();
        if let Some(patch) = self
            .patches
            .get(&(pid.month, org))
            .and_then(|p| p.rows.get(&key.1))
        {
            patch.apply(&mut row);
        }
        Ok(Some(row))
    }

    /// Rows of UTC month `month` held in memory (both ledgers, every org): all of an open
    /// month's, the overlay of a frozen one.
    pub fn memory_rows(&self, month: Month) -> u64 {
        [Kind::Revenue, Kind::Expense]
            .into_iter()
            .filter_map(|kind| self.ledgers.get(&PartitionId { kind, month }))
            .flat_map(|bucket| bucket.orgs.values())
            .map(|l| l.rows.len() as u64)
            .sum()
    }

    /// Whether nothing in memory changes the org's part of frozen month `month`'s file: no
    /// overlay rows of either kind, no patches of its rows, no day rows added to its business
    /// days. (The block's anchor may still differ from the org's file-net prefix now: see
    /// [`State::file_net_before`].) False for an open month.
    #[cfg(feature = "internals")]
    pub fn unchanged_since_file(&self, month: Month, org: OrgId) -> bool {
        let overlay = [Kind::Revenue, Kind::Expense].into_iter().any(|kind| {
            self.ledgers
                .get(&PartitionId { kind, month })
                .and_then(|b| b.orgs.get(&org))
                .is_some_and(|l| !l.rows.is_empty())
        });
        let days = self.memory_days(org, month).is_some();
        self.unchanged_but_memory(month, org, overlay || days)
    }

    /// The org's day rows of business month `month` in memory (`None` when it has none).
    pub fn memory_days(&self, org: OrgId, month: Month) -> Option<&Arc<super::balance::MonthBalances>> {
        let days = self.shard(org).orgs.get(&org)?.months.get(&month)?;
        (!days.days.is_empty()).then_some(days)
    }

    /// Whether nothing in memory changes the org's part of frozen month `month`'s file, given
    /// whether it has overlay rows or day rows of the month in memory (`in_memory`, found by the
    /// caller): then only patches of its rows would. False for an open month.
    pub fn unchanged_but_memory(&self, month: Month, org: OrgId, in_memory: bool) -> bool {
        let patched = self
            .patches
            .get(&(month, org))
            .is_some_and(|p| !p.rows.is_empty());
        self.is_frozen(month) && !(in_memory || patched)
    }

    /// Patched rows of frozen month `month`.
    pub fn patch_count(&self, month: Month) -> u64 {
        self.patches
            .range((month, OrgId(0))..=(month, OrgId(u64::MAX)))
            .map(|(_, p)| p.rows.len() as u64)
            .sum()
    }
}

/// A ledger's derived sums without its rows: what Q2, chain totals and Q5 read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Σ signed amounts of the rows.
    pub total: i64,
    /// Per category code (slot 0 unused): (Σ signed amounts, rows).
    pub by_category: [(i64, u64); super::ledger::CATEGORY_SLOTS],
    /// Rows.
    pub rows: u64,
}

impl Rollup {
    fn of(ledger: &OrgMonthLedger) -> Rollup {
        Rollup {
            total: ledger.total,
            by_category: ledger.by_category(),
            rows: ledger.rows.len() as u64,
        }
    }

    /// The roll-up of two disjoint sets of rows; `None` on overflow.
    fn add(mut self, other: &Rollup) -> Option<Rollup> {
        self.total = self.total.checked_add(other.total)?;
        for (slot, more) in self.by_category.iter_mut().zip(other.by_category.iter()) {
            slot.0 = slot.0.checked_add(more.0)?;
            slot.1 = slot.1.checked_add(more.1)?;
        }
        self.rows = self.rows.checked_add(other.rows)?;
        Some(self)
    }
}

impl State {
    /// Q5 candidates of a frozen month with an overlay, when a short read of the file's top
    /// list settles them: per currency, the first `2 × limit + 16` orgs of the list and the
    /// overlay's leaders ([`super::ledger::RevenueBound`]), with exact merged totals, and a
    /// proof that no other org can reach the `limit`-th of them — an org not read has a file
    /// total of at most the last one read (0 when the list ran out) and an overlay total of at
    /// most the bound's `rest_max`. `None` when that proof fails (the caller then reads every
    /// overlay org).
    ///
    /// # Errors
    /// [`Error::Corruption`] when the top list or a leader's block fails its check.
    fn bounded_top_revenue(
        &self,
        frozen: &FrozenMonth,
        pid: PartitionId,
        overlay: &super::ledger::MonthBucket,
        limit: usize,
    ) -> Result<Option<Vec<(crate::model::Currency, OrgId, i64)>>> {
        let bound = &overlay.revenue_bound;
        if limit == 0 {
            return Ok(None);
        }
        let depth = limit.saturating_mul(2).saturating_add(16);
        let listed = frozen.file.top_revenue(depth)?;
        let mut runs: BTreeMap<[u8; 3], &[(crate::model::Currency, OrgId, i64)]> = listed
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| (run[0].0 .0, run))
            .collect();
        // Every currency of a registered org: one the file's list lacks has no org with revenue
        // in the file, and needs its `limit` candidates among the leaders.
        for o in self.currencies() {
            runs.entry(o).or_insert(&[]);
        }
        let more = |org: &OrgId| overlay.orgs.get(org).map_or(0, |l| l.total);
        let mut leaders: Vec<([u8; 3], OrgId)> = Vec::with_capacity(bound.leaders.len());
        for (_, org) in &bound.leaders {
            match self.orgs.get(org) {
                Some(o) => leaders.push((o.currency, *org)),
                None => return Ok(None),
            }
        }
        let mut out = Vec::new();
        for (code, run) in runs {
            let mut merged: Vec<(i64, OrgId)> = Vec::with_capacity(run.len() + 8);
            for (_, org, file_total) in run {
                let Some(total) = file_total.checked_add(more(org)) else {
                    return Ok(None);
                };
                merged.push((total, *org));
            }
            for (currency, org) in &leaders {
                if *currency != code || run.iter().any(|(_, o, _)| o == org) {
                    continue;
                }
                if let Some(rollup) = self.org_rollup(pid, *org)? {
                    merged.push((rollup.total, *org));
                }
            }
            if merged.len() < limit {
                return Ok(None);
            }
            merged.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let threshold = merged[limit - 1].0;
            let file_floor = match run.len() == depth {
                true => run[run.len() - 1].2.max(0),
                false => 0,
            };
            match file_floor.checked_add(bound.rest_max.max(0)) {
                Some(unread) if unread < threshold => {}
                _ => return Ok(None),
            }
            let currency = crate::model::Currency(code);
            out.extend(merged.into_iter().take(limit).map(|(t, org)| (currency, org, t)));
        }
        Ok(Some(out))
    }
}

/// Reads that answer alike whether a month is open or frozen (with or without an overlay).
impl State {
    /// The version of the frozen file in force for `month`, if it is frozen.
    pub fn frozen_version(&self, month: Month) -> Option<u32> {
        self.frozen.get(month).map(|f| f.entry.version)
    }

    /// The partitions of `kind` in months `first..=last` that may hold rows of an org, in month
    /// order: the in-memory ones and every frozen month's (an org without rows there has no
    /// ledger, [`State::org_ledger`] says `None`). Empty when `first > last`.
    pub fn partitions_in(&self, kind: Kind, first: Month, last: Month) -> Vec<PartitionId> {
        self.months_in(kind, first, last)
            .map(|(month, _, _)| PartitionId { kind, month })
            .collect()
    }

    /// The months of [`State::partitions_in`], in order, each with its frozen file (when
    /// frozen) and its in-memory partition of `kind` (an open month's rows, or a frozen
    /// month's overlay): the two ordered maps merged, nothing looked up again.
    pub fn months_in(
        &self,
        kind: Kind,
        first: Month,
        last: Month,
    ) -> impl Iterator<Item = (Month, Option<&FrozenMonth>, Option<&MonthBucket>)> + '_ {
        let (memory, frozen) = match first <= last {
            true => (
                Some(self.ledgers.range(
                    PartitionId { kind, month: first }..=PartitionId { kind, month: last },
                )),
                Some(self.frozen.months().range(first..=last)),
            ),
            false => (None, None),
        };
        let mut memory = memory.into_iter().flatten().peekable();
        let mut frozen = frozen.into_iter().flatten().peekable();
        std::iter::from_fn(move || {
            let next_memory = memory.peek().map(|(pid, _)| pid.month);
            let next_frozen = frozen.peek().map(|(month, _)| **month);
            let month = match (next_memory, next_frozen) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            };
            let bucket = memory
                .next_if(|(pid, _)| pid.month == month)
                .map(|(_, bucket)| bucket);
            let file = frozen.next_if(|(m, _)| **m == month).map(|(_, f)| f);
            Some((month, file, bucket))
        })
    }

    /// Whether partition `pid` holds rows (as the in-memory ledgers of an open month say by
    /// existing): its overlay does, or its frozen file has an org with rows of its kind.
    ///
    /// # Errors
    /// [`Error::Corruption`] when a directory page or block of the file fails its check.
    pub fn partition_has_rows(&self, pid: PartitionId) -> Result<bool> {
        if self.ledgers.contains_key(&pid) {
            return Ok(true);
        }
        let Some(frozen) = self.frozen.get(pid.month) else {
            return Ok(false);
        };
        for org in frozen.file.orgs() {
            if frozen
                .file
                .org(org?)?
                .is_some_and(|block| block.row_count(pid.kind) > 0)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The partitions that hold rows, in order: the in-memory ones and those of frozen months
    /// whose file or overlay holds rows of the partition's kind.
    ///
    /// # Errors
    /// [`Error::Corruption`] when a part of a frozen file fails its check.
    pub fn partitions_with_rows(&self) -> Result<Vec<PartitionId>> {
        let mut out = Vec::new();
        for pid in self.partition_ids() {
            if !self.is_frozen(pid.month) || self.partition_has_rows(pid)? {
                out.push(pid);
            }
        }
        Ok(out)
    }

    /// Rows of one org in one partition (the file's and the overlay's of a frozen month),
    /// without merging them.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block of the org fails its check.
    pub fn org_row_count(&self, pid: PartitionId, org: OrgId) -> Result<u64> {
        let memory = self
            .ledgers
            .get(&pid)
            .and_then(|b| b.orgs.get(&org))
            .map_or(0, |l| l.rows.len() as u64);
        let Some(frozen) = self.frozen.get(pid.month) else {
            return Ok(memory);
        };
        let file = frozen
            .file
            .org(org)?
            .map_or(0, |block| block.row_count(pid.kind) as u64);
        Ok(memory + file)
    }

    /// The org's roll-up of one partition (total, per category, rows): the ledger's own for an
    /// open month; for a frozen month the file block's plus the overlay's (patches change no
    /// amount), without merging rows. `None` when the org has no rows there.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block of the org fails its check; `Error::Store`
    /// when the sums overflow (never for a consistent state).
    pub fn org_rollup(&self, pid: PartitionId, org: OrgId) -> Result<Option<Rollup>> {
        let memory = self
            .ledgers
            .get(&pid)
            .and_then(|b| b.orgs.get(&org))
            .map(|l| Rollup::of(l));
        let Some(frozen) = self.frozen.get(pid.month) else {
            return Ok(memory);
        };
        let file = match frozen.file.org(org)? {
            Some(block) if block.row_count(pid.kind) > 0 => Rollup {
                total: block.total(pid.kind),
                by_category: block.by_category(pid.kind),
                rows: block.row_count(pid.kind) as u64,
            },
            _ => return Ok(memory),
        };
        match memory {
            None => Ok(Some(file)),
            Some(memory) => file.add(&memory).map(Some).ok_or_else(|| {
                Error::Store(format!("org {org}: total of {} overflows", pid.month))
            }),
        }
    }

    /// The candidates for Q5 of a frozen month: per currency, at least the `limit` orgs with
    /// the most revenue that have no overlay rows (from the file's top list alone, in its rank
    /// order), and every org with overlay revenue rows with its merged total. `None` when the
    /// month is not frozen. The caller ranks them per currency.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the top list or an overlay org's block fails its check;
    /// [`Error::UnknownOrg`] for overlay rows of an unregistered org.
    pub fn frozen_top_revenue(
        &self,
        month: Month,
        limit: usize,
    ) -> Result<Option<Vec<(crate::model::Currency, OrgId, i64)>>> {
        let Some(frozen) = self.frozen.get(month) else {
            return Ok(None);
        };
        let pid = PartitionId {
            kind: Kind::Revenue,
            month,
        };
        if let Some(bucket) = self.ledgers.get(&pid).filter(|b| !b.orgs.is_empty()) {
            if let Some(found) = self.bounded_top_revenue(frozen, pid, bucket, limit)? {
                return Ok(Some(found));
            }
        }
        let mut overlay: Vec<OrgId> = self
            .ledgers
            .get(&pid)
            .map(|b| b.orgs.keys().copied().collect())
            .unwrap_or_default();
        overlay.sort_unstable();
        // Every overlay org may be among the first of its currency in the file: reading
        // `limit` more per currency leaves `limit` others where the currency has them.
        let mut out = Vec::new();
        let mut taken: BTreeMap<crate::model::Currency, usize> = BTreeMap::new();
        for (currency, org, total) in frozen
            .file
            .top_revenue(limit.saturating_add(overlay.len()))?
        {
            if overlay.binary_search(&org).is_ok() {
                continue;
            }
            let n = taken.entry(currency).or_default();
            if *n < limit {
                *n += 1;
                out.push((currency, org, total));
            }
        }
        for org in overlay {
            let Some(rollup) = self.org_rollup(pid, org)? else {
                continue;
            };
            if rollup.rows == 0 {
                continue;
            }
            let currency = self
                .orgs
                .get(&org)
                .map(|o| crate::model::Currency(o.currency))
                .ok_or(Error::UnknownOrg(org))?;
            out.push((currency, org, rollup.total));
        }
        Ok(Some(out))
    }

    /// Visits every org's whole ledger of every partition, in partition order: the in-memory
    /// ledgers of open months as they are, and for frozen months the merged ones
    /// ([`State::org_ledger`]). A frozen month whose file fails a check is reported to
    /// `visit` as an error and the visit goes on with the next partition.
    pub fn visit_ledgers(
        &self,
        mut visit: impl FnMut(PartitionId, OrgId, Result<&OrgMonthLedger>),
    ) {
        for pid in self.partition_ids() {
            if !self.is_frozen(pid.month) {
                if let Some(bucket) = self.ledgers.get(&pid) {
                    for (org, ledger) in bucket.orgs.iter() {
                        visit(pid, *org, Ok(ledger));
                    }
                }
                continue;
            }
            let orgs = match self.partition_orgs(pid) {
                Ok(orgs) => orgs,
                Err(e) => {
                    visit(pid, OrgId(0), Err(e));
                    continue;
                }
            };
            for org in orgs {
                match self.org_ledger(pid, org) {
                    Ok(Some(ledger)) => visit(pid, org, Ok(&ledger)),
                    Ok(None) => {}
                    Err(e) => visit(pid, org, Err(e)),
                }
            }
        }
    }

    /// The org's row `key` of partition `pid` as reads see it: borrowed from memory for an
    /// open month or an overlay row, else read (patched) from the month's file.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check.
    pub fn find_row(&self, pid: PartitionId, org: OrgId, key: (i64, u64)) -> Result<Option<Cow<'_, Row>>> {
        if let Some(row) = self
            .ledgers
            .get(&pid)
            .and_then(|b| b.orgs.get(&org))
            .and_then(|l| l.rows.get(&key))
        {
            return Ok(Some(Cow::Borrowed(row)));
        }
        Ok(self.file_row(pid, org, key)?.map(Cow::Owned))
    }
}

impl State {
    /// Visits the org's rows of partition `pid` with `from <= occurred_at < to` in key order
    /// (newest first when `newest_first`), as [`State::org_ledger`] would hold them (a frozen
    /// month's file rows patched, merged with its overlay), until `visit` returns `false`.
    /// Unlike `org_ledger` it builds nothing: a page of a large org's month reads only the rows
    /// it visits.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check; `Error::Store` when a row
    /// is in the file and in the overlay (a damaged overlay).
    pub fn visit_rows(
        &self,
        pid: PartitionId,
        org: OrgId,
        (from, to): (i64, i64),
        newest_first: bool,
        mut visit: impl FnMut((i64, u64), Cow<'_, Row>) -> bool,
    ) -> Result<()> {
        let memory = self.ledgers.get(&pid).and_then(|b| b.orgs.get(&org));
        let in_memory = || {
            let rows = memory.map(|l| l.rows.range((from, 0)..(to, 0)));
            let rows = rows.into_iter().flatten().map(|(k, r)| (*k, Cow::Borrowed(r)));
            let rows: Box<dyn Iterator<Item = ((i64, u64), Cow<'_, Row>)>> = match newest_first {
                true => Box::new(rows.rev()),
                false => Box::new(rows),
            };
            rows
        };
        let block = match self.frozen.get(pid.month) {
            Some(frozen) => frozen.file.org(org)?,
            None => None,
        };
        let Some(block) = block.filter(|b| b.row_count(pid.kind) > 0) else {
            for (key, row) in in_memory() {
                if !visit(key, row) {
                    break;
                }
            }
            return Ok(());
        };
        let patches = self.patches.get(&(pid.month, org));
        let file = block.rows_between(pid.kind, from, to).map(|r| {
            let key = (r.occurred_at(), r.entry_id());
            let mut row = r.ledger_row();
            if let Some(patch) = patches.and_then(|p| p.rows.get(&key.1)) {
                patch.apply(&mut row);
            }
            (key, Cow::<Row>::Owned(row))
        });
        let mut file: Box<dyn Iterator<Item = ((i64, u64), Cow<'_, Row>)>> = match newest_first {
            true => Box::new(file.rev()),
            false => Box::new(file),
        };
        let mut overlay = in_memory().peekable();
        let mut next_file = file.next();
        loop {
            let take_file = match (&next_file, overlay.peek()) {
                (None, None) => return Ok(()),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((a, _)), Some((b, _))) if a == b => {
                    return Err(Error::Store(format!(
                        "org {org}: entry {} is in the frozen file of {} and in its overlay",
                        a.1, pid.month
                    )));
                }
                (Some((a, _)), Some((b, _))) => (a > b) == newest_first,
            };
            let (key, row) = match take_file {
                true => {
                    let item = next_file.take();
                    next_file = file.next();
                    item
                }
                false => overlay.next(),
            }
            .ok_or_else(|| Error::Store("merged rows ran out".into()))?;
            if !visit(key, row) {
                return Ok(());
            }
        }
    }
}

/// Files a closing read looks back over for the org's anchor before summing forward.
const BACK_FILES: usize = 3;

impl State {
    /// Σ of the org's month nets in the frozen files of the months before `month`, and the
    /// file blocks read. Without frozen months at or after `month` it is the org's frozen net
    /// (no file is read). Else the anchor of the nearest file at or before `month` holding the
    /// org (plus that file's net when it is before `month`), unless the org's anchors are stale
    /// there; else the anchor of the first file from `month` on holding the org, unless stale;
    /// then the frozen net less the nets of the files from `month` on, or, when fewer files lie
    /// between the first stale month and `month`, the prefix before that month plus the nets
    /// of those files.
    ///
    /// # Errors
    /// [`Error::Corruption`] when a file part it reads fails its check; `Error::Store` on
    /// overflow (inconsistent files).
    pub fn file_net_before(&self, org: OrgId, month: Month) -> Result<(i64, u32)> {
        let frozen = &*self.frozen;
        let total = frozen.nets.get(&org).copied().unwrap_or(0);
        if frozen.months().range(month..).next().is_none() {
            return Ok((total, 0));
        }
        let overflow = || Error::Store(format!("org {org}: frozen nets overflow"));
        let stale = frozen.stale.get(&org).copied();
        let mut blocks = 0u32;
        // Back over at most a few files for one holding the org (an org without activity in a
        // month has no block there); past that the forward sum is as cheap and always exact.
        for (m, f) in frozen.months().range(..=month).rev().take(BACK_FILES) {
            if stale.is_some_and(|s| s <= *m) {
                break;
            }
            blocks += 1;
            if let Some(block) = f.file.org(org)? {
                let mut sum = block.anchor();
                if *m < month {
                    sum = sum.checked_add(block.month_net()).ok_or_else(overflow)?;
                }
                return Ok((sum, blocks));
            }
        }
        if frozen.months().range(..month).next().is_none() {
            return Ok((0, blocks));
        }
        // Stale from `s` on: when fewer files lie between `s` and `month` than from `month` on,
        // sum forward from a file before `s` (whose anchors are current) instead.
        if let Some(s) = stale.filter(|s| *s <= month) {
            let between = frozen.months().range(s..month).count();
            if between < frozen.months().range(month..).count() {
                if let Some(sum) = self.file_net_from_before(org, s, month, &mut blocks)? {
                    return Ok((sum, blocks));
                }
            }
        }
        // Forward from `month` to the first file holding the org: the files passed hold no
        // block of it, so its anchor there is the prefix before `month` too, unless it is
        // stale; then every later file's is (stale marks hold from a month on), and the nets
        // of the files from `month` on come off the frozen net instead.
        let mut sum = total;
        let mut first = true;
        for (m, f) in frozen.months().range(month..) {
            blocks += 1;
            if let Some(block) = f.file.org(org)? {
                if first && stale.is_none_or(|s| s > *m) {
                    return Ok((block.anchor(), blocks));
                }
                first = false;
                sum = sum.checked_sub(block.month_net()).ok_or_else(overflow)?;
            }
        }
        Ok((sum, blocks))
    }

    /// [`State::file_net_before`] of `month` summed forward from the files before `stale`, the
    /// first month whose anchor may be stale for the org (`stale <= month`): the prefix
    /// through the nearest of at most [`BACK_FILES`] files before `stale` holding the org (0
    /// when no file lies before `stale`), plus the nets of the files from `stale` to `month`.
    /// `None` when no file within reach holds the org (the caller sums from the other end).
    fn file_net_from_before(
        &self,
        org: OrgId,
        stale: Month,
        month: Month,
        blocks: &mut u32,
    ) -> Result<Option<i64>> {
        let frozen = &*self.frozen;
        let overflow = || Error::Store(format!("org {org}: frozen nets overflow"));
        let mut prefix = None;
        for (_, f) in frozen.months().range(..stale).rev().take(BACK_FILES) {
            *blocks += 1;
            if let Some(block) = f.file.org(org)? {
                prefix = Some(block.anchor().checked_add(block.month_net()).ok_or_else(overflow)?);
                break;
            }
        }
        if frozen.months().range(..stale).next().is_none() {
            prefix = Some(0);
        }
        let Some(mut sum) = prefix else {
            return Ok(None);
        };
        for (_, f) in frozen.months().range(stale..month) {
            *blocks += 1;
            if let Some(block) = f.file.org(org)? {
                sum = sum.checked_add(block.month_net()).ok_or_else(overflow)?;
            }
        }
        Ok(Some(sum))
    }

    /// The org's day row of `day` in the frozen file of its business month, when there is one.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check.
    pub fn frozen_day(&self, org: OrgId, day: BusinessDay) -> Result<Option<DayRow>> {
        let Some(frozen) = self.frozen.get(day.month()) else {
            return Ok(None);
        };
        Ok(frozen.file.org(org)?.and_then(|block| block.day(day)))
    }

    /// The org's running net through `day` in the frozen file of its business month (0 when
    /// the month is open or the file does not hold the org).
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check.
    pub fn frozen_through(&self, org: OrgId, day: BusinessDay) -> Result<i64> {
        let Some(frozen) = self.frozen.get(day.month()) else {
            return Ok(0);
        };
        Ok(frozen.file.org(org)?.map_or(0, |block| block.net_through(day)))
    }
}

impl State {
    /// The org's day rows of business month `month`, whole: the in-memory rows of an open
    /// month, or for a frozen one the file's rows plus the overlay's (summed per day), with
    /// running nets.
    ///
    /// # Errors
    /// [`Error::Corruption`] when the file's block fails its check; `Error::Store` on overflow.
    pub fn month_days(&self, org: OrgId, month: Month) -> Result<Vec<DayRow>> {
        let memory = self.memory_days(org, month);
        self.month_days_with(org, month, memory.map(|m| &**m))
    }

    /// [`State::month_days`] given the org's in-memory day rows of the month (`memory`, as
    /// `self` holds them: found by the caller in a pass over the balances).
    ///
    /// # Errors
    /// As [`State::month_days`].
    pub fn month_days_with(
        &self,
        org: OrgId,
        month: Month,
        memory: Option<&super::balance::MonthBalances>,
    ) -> Result<Vec<DayRow>> {
        let file = match self.frozen.get(month) {
            Some(f) => f.file.org(org)?,
            None => None,
        };
        let Some(block) = file else {
            return Ok(memory.map(|m| m.days.clone()).unwrap_or_default());
        };
        let overflow = || Error::Store(format!("org {org}: day rows of {month} overflow"));
        let mut days: BTreeMap<BusinessDay, DayRow> = block.days().map(|d| (d.day, d)).collect();
        for d in memory.iter().flat_map(|m| m.days.iter()) {
            let row = days.entry(d.day).or_insert(DayRow {
                day: d.day,
                ..DayRow::default()
            });
            row.revenue = row.revenue.checked_add(d.revenue).ok_or_else(overflow)?;
            row.expense = row.expense.checked_add(d.expense).ok_or_else(overflow)?;
            row.revenue_count = row.revenue_count.checked_add(d.revenue_count).ok_or_else(overflow)?;
            row.expense_count = row.expense_count.checked_add(d.expense_count).ok_or_else(overflow)?;
        }
        let mut through = 0i64;
        let mut out = Vec::with_capacity(days.len());
        for (_, mut row) in days {
            through = row.net().and_then(|n| through.checked_add(n)).ok_or_else(overflow)?;
            row.through = through;
            out.push(row);
        }
        Ok(out)
    }
}
