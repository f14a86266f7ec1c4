//! Applying committed log records to the state: the only code that mutates it.
//!
//! Every physical value remembers the checkpoint LSN it was last persisted at; a record is applied
//! to a value only when its LSN is newer. Replaying the log over a checkpoint that was cut short
//! is therefore exact: nothing is counted twice and nothing is lost.

use super::catalog::{add_flow, EntryLoc, OrgState};
use super::index::IndexCatalog;
use super::ledger::{MonthBucket, PartitionId, Row};
use super::{balance, Applier, DirtyKey, DirtySet, EntryIndex, POrdMap, State};
use crate::codec::record::{EntryRecord, LogOp, OrgRecord};
use crate::model::{BusinessDay, Category, Kind, Lsn, OrgId, PaymentMethod};
use std::str::FromStr;
use std::sync::Arc;

/// What an apply keeps beside the state it changes.
pub enum Side<'a> {
    /// The primary and replica directories: register entries and track the values a checkpoint
    /// must write.
    Full(&'a mut Applier),
    /// An in-process replica's state: register entries; nothing is checkpointed.
    Register(&'a mut EntryIndex),
}

impl State {
    /// Applies one committed batch. An error means the record contradicts the state (a corrupt or
    /// foreign log); the caller treats it as corruption.
    pub fn apply(&mut self, lsn: Lsn, ops: &[LogOp], side: &mut Applier) -> Result<(), String> {
        self.apply_group(&[(lsn, ops)], false, side)
    }

    /// Applies consecutive committed batches. With `parallel`, the balance shards are updated on
    /// a second thread while this one updates ledgers, indexes and the catalog (they share no
    /// data); the caller holds the write lock, so readers see all of the group or none of it.
    pub fn apply_group(
        &mut self,
        batches: &[(Lsn, &[LogOp])],
        parallel: bool,
        side: &mut Applier,
    ) -> Result<(), String> {
        self.apply_group_with(batches, parallel, Side::Full(side))
    }

    /// [`State::apply_group`] with the bookkeeping `side` asks for.
    ///
    /// The work is split in two halves that share no data: the ledger half (catalog, ledger rows,
    /// index parts) and the key half (balance shards, the entry-id map and each org's flows). The
    /// key half also finds, in log order, the row every reversal and payment marks; the marks are
    /// made after both halves are done. That is the same state as applying operation by operation:
    /// a mark's target is an earlier entry (its row is inserted by then), and inserting a row
    /// never reads another row. A group with an index operation is applied one operation at a
    /// time (index changes are rare and every later row and mark must see them).
    pub fn apply_group_with(
        &mut self,
        batches: &[(Lsn, &[LogOp])],
        parallel: bool,
        side: Side<'_>,
    ) -> Result<(), String> {
        let mut previous = self.lsn;
        for (lsn, _) in batches {
            assert!(
                *lsn > previous,
                "batches apply in LSN order ({lsn} after {previous})"
            );
            previous = *lsn;
        }
        let State {
            shards,
            lsn,
            orgs,
            balances,
            ledgers,
            catalog,
            frozen,
            patches,
            rows_touched,
            days_touched,
            currencies,
        } = self;
        let frozen: &super::frozen_set::FrozenSet = frozen;
        let (dirty, entries) = match side {
            Side::Full(a) => {
                if let Some(notes) = a.notes.as_mut() {
                    notes.note(batches);
                }
                (Some(&mut a.dirty), &mut a.entries)
            }
            Side::Register(e) => (None, e),
        };
        let track = dirty.is_some();
        let mut ledger_side = LedgerSide {
            orgs,
            currencies,
            ledgers,
            dirty: Tracker(dirty),
            catalog,
            frozen,
            patches,
            touched: rows_touched,
        };
        let mut key_side = KeySide {
            balances,
            shards: *shards,
            track,
            dirty: Vec::new(),
            entries,
            frozen,
            touched: days_touched,
            marks: Vec::new(),
        };
        let has_index = batches
            .iter()
            .any(|(_, ops)| ops.iter().any(|op| matches!(op, LogOp::Index(_))));
        if has_index {
            for (at, ops) in batches {
                for op in *ops {
                    let one = [(*at, std::slice::from_ref(op))];
                    key_side.apply(&one)?;
                    ledger_side.apply(&one)?;
                    ledger_side.mark(&mut key_side.marks)?;
                }
            }
        } else {
            let (ledger_result, key_result) = if parallel {
                std::thread::scope(|scope| {
                    let other = scope.spawn(|| key_side.apply(batches));
                    let mine = ledger_side.apply(batches);
                    (
                        mine,
                        other
                            .join()
                            .unwrap_or_else(|_| Err("balance thread panicked".into())),
                    )
                })
            } else {
                (ledger_side.apply(batches), key_side.apply(batches))
            };
            ledger_result?;
            key_result?;
            ledger_side.mark(&mut key_side.marks)?;
        }
        ledger_side.dirty.extend(key_side.dirty);
        *lsn = previous;
        Ok(())
    }
}

/// Records that a batch at `lsn` changed `month`.
fn touch(map: &mut Arc<std::collections::BTreeMap<crate::model::Month, Lsn>>, month: crate::model::Month, lsn: Lsn) {
    if map.get(&month) != Some(&lsn) {
        Arc::make_mut(map).insert(month, lsn);
    }
}

/// A row change found by the key half, made by the ledger half once its rows are in.
struct Mark {
    lsn: Lsn,
    org: OrgId,
    /// The marked row's id and where it is.
    id: u64,
    target: EntryLoc,
    change: Change,
}

enum Change {
    ReversedBy(u64),
    PaidAt(i64),
}

/// The ledger half: catalog, ledger rows, index parts, and the marks the key half found.
struct LedgerSide<'a> {
    orgs: &'a mut super::org_map::OrgMap<Arc<OrgState>>,
    currencies: &'a mut Arc<Vec<[u8; 3]>>,
    ledgers: &'a mut POrdMap<PartitionId, MonthBucket>,
    dirty: Tracker<'a>,
    catalog: &'a mut Arc<IndexCatalog>,
    frozen: &'a super::frozen_set::FrozenSet,
    patches: &'a mut super::frozen_set::Patches,
    /// `State::rows_touched`.
    touched: &'a mut Arc<std::collections::BTreeMap<crate::model::Month, Lsn>>,
}

/// The dirty set, when this apply tracks one.
struct Tracker<'a>(Option<&'a mut DirtySet>);

impl Tracker<'_> {
    fn insert(&mut self, key: DirtyKey) {
        if let Some(set) = &mut self.0 {
            set.insert(key);
        }
    }

    fn extend(&mut self, keys: Vec<DirtyKey>) {
        if let Some(set) = &mut self.0 {
            set.extend(keys);
        }
    }
}

impl LedgerSide<'_> {
    /// Creates or drops an index. A created index is `building` until its parts are backfilled
    /// (`State::backfill_partition`, `State::finish_index_build`); new rows of ledgers that
    /// already have its part are maintained meanwhile.
    fn index(&mut self, lsn: Lsn, r: &crate::codec::record::IndexRecord) -> Result<(), String> {
        if self.catalog.persisted >= lsn {
            return Ok(());
        }
        let def = super::index::IndexDef::from_record(r)
            .filter(|def| def.validate().is_ok())
            .ok_or_else(|| format!("bad index record {:?}", r.name))?;
        if r.create {
            if self.catalog.find(&def.name).is_some() {
                return Err(format!("index {} created twice", def.name));
            }
            let catalog = Arc::make_mut(self.catalog);
            catalog.building = Some(def.name.clone());
            catalog.defs.push(def);
        } else {
            let (slot, found) = self
                .catalog
                .find(&def.name)
                .ok_or_else(|| format!("drop of unknown index {}", def.name))?;
            let table = found.table;
            Arc::make_mut(self.catalog)
                .defs
                .retain(|d| d.name != def.name);
            let range = PartitionId {
                kind: table,
                month: crate::model::Month::MIN,
            }..=PartitionId {
                kind: table,
                month: crate::model::Month::MAX,
            };
            let pids: Vec<PartitionId> = self.ledgers.range(range).map(|(p, _)| *p).collect();
            for pid in pids {
                let Some(bucket) = self.ledgers.get_mut(&pid) else {
                    continue;
                };
                for (_, ledger) in bucket.orgs.iter_mut() {
                    if slot < ledger.indexes.len() {
                        Arc::make_mut(ledger).indexes.remove(slot);
                    }
                }
            }
        }
        self.dirty.insert(DirtyKey::Catalog);
        Ok(())
    }

    fn apply(&mut self, batches: &[(Lsn, &[LogOp])]) -> Result<(), String> {
        for (lsn, ops) in batches {
            for op in *ops {
                match op {
                    LogOp::Org(r) => self.org(*lsn, r)?,
                    LogOp::Entry(e) => self.entry(*lsn, e)?,
                    // Payments only mark rows: `LedgerSide::mark`.
                    LogOp::Pay(_) => {}
                    LogOp::Index(r) => self.index(*lsn, r)?,
                }
            }
        }
        Ok(())
    }

    fn org(&mut self, lsn: Lsn, r: &OrgRecord) -> Result<(), String> {
        let id = OrgId(r.org);
        if self.orgs.get(&id).is_some_and(|o| o.persisted >= lsn) {
            return Ok(());
        }
        let tz = chrono_tz::Tz::from_str(&r.time_zone)
            .map_err(|_| format!("org {id}: unknown time zone {:?}", r.time_zone))?;
        State::note_currency(self.currencies, r.currency);
        self.orgs.insert(id, Arc::new(OrgState::new(r.clone(), tz)));
        self.dirty.insert(DirtyKey::Orgs(super::chunk_of(id)));
        Ok(())
    }

    fn entry(&mut self, lsn: Lsn, e: &EntryRecord) -> Result<(), String> {
        let org = OrgId(e.org);
        let kind = Kind::from_code(e.kind).ok_or_else(|| format!("bad kind code {}", e.kind))?;
        let row = row_of(e)?;
        if !self.orgs.contains_key(&org) {
            return Err(format!("entry {} of unknown org {org}", e.entry_id));
        }
        let pid = PartitionId::of(kind, e.occurred_at).map_err(|e| e.to_string())?;
        let bucket = self.ledgers.entry(pid).or_default();
        let ledger = bucket.orgs.entry(org).or_default();
        if ledger.persisted < lsn {
            let ledger = Arc::make_mut(ledger);
            ledger
                .insert_row(self.catalog, kind, (e.occurred_at, e.entry_id), row)
                .ok_or_else(|| format!("org {org}: entry {} recorded twice", e.entry_id))?;
            let total = ledger.total;
            if kind == Kind::Revenue {
                bucket.revenue_bound.note(org, total);
            }
            self.dirty
                .insert(DirtyKey::Ledger(pid, super::chunk_of(org)));
            touch(self.touched, pid.month, lsn);
        }
        Ok(())
    }

    /// Makes the marks the key half found, in log order, and empties the list.
    fn mark(&mut self, marks: &mut Vec<Mark>) -> Result<(), String> {
        for m in marks.drain(..) {
            let pid =
                PartitionId::of(m.target.kind, m.target.occurred_at).map_err(|e| e.to_string())?;
            let key = (m.target.occurred_at, m.id);
            let in_memory = self
                .ledgers
                .get(&pid)
                .and_then(|b| b.orgs.get(&m.org))
                .is_some_and(|l| l.rows.contains_key(&key));
            if !in_memory && self.frozen.is_frozen(pid.month) {
                self.patch(&m, pid.month);
                continue;
            }
            let ledger = self
                .ledgers
                .entry(pid)
                .or_default()
                .orgs
                .entry(m.org)
                .or_default();
            if ledger.persisted < m.lsn {
                Arc::make_mut(ledger)
                    .update_row(
                        self.catalog,
                        m.target.kind,
                        (m.target.occurred_at, m.id),
                        |row| match m.change {
                            Change::ReversedBy(by) => row.reversed_by = by,
                            Change::PaidAt(at) => row.paid_at = Some(at),
                        },
                    )
                    .ok_or_else(|| {
                        format!("org {}: entry {} missing from its partition", m.org, m.id)
                    })?;
                self.dirty
                    .insert(DirtyKey::Ledger(pid, super::chunk_of(m.org)));
                touch(self.touched, pid.month, m.lsn);
            }
        }
        Ok(())
    }
}

impl LedgerSide<'_> {
    /// Marks a row of a frozen file: a patch beside the file (its bytes never change).
    fn patch(&mut self, m: &Mark, month: crate::model::Month) {
        let set = self.patches.entry((month, m.org)).or_default();
        if set.persisted >= m.lsn {
            return;
        }
        let patch = Arc::make_mut(set).rows.entry(m.id).or_default();
        match m.change {
            Change::ReversedBy(by) => patch.reversed_by = Some(by),
            Change::PaidAt(at) => patch.paid_at = Some(at),
        }
        self.dirty
            .insert(DirtyKey::Patches(month, super::chunk_of(m.org)));
        touch(self.touched, month, m.lsn);
    }
}

/// The key half: balance shards (day rows, month nets, Fenwick prefixes), the entry-id map and
/// each org's flows, and the rows that reversals and payments mark.
struct KeySide<'a> {
    balances: &'a mut [super::balance::BalanceShard],
    shards: u32,
    /// Whether to collect the changed values in `dirty`.
    track: bool,
    dirty: Vec<DirtyKey>,
    entries: &'a mut EntryIndex,
    /// Frozen months: where the targets of reversals and payments not in `entries` are.
    frozen: &'a super::frozen_set::FrozenSet,
    /// `State::days_touched`.
    touched: &'a mut Arc<std::collections::BTreeMap<crate::model::Month, Lsn>>,
    /// Marks found, in log order, for the ledger half to make.
    marks: Vec<Mark>,
}

impl KeySide<'_> {
    fn apply(&mut self, batches: &[(Lsn, &[LogOp])]) -> Result<(), String> {
        for (lsn, ops) in batches {
            for op in *ops {
                match op {
                    LogOp::Entry(e) => self.entry(*lsn, e)?,
                    LogOp::Pay(p) => {
                        let org = OrgId(p.org);
                        let target = self.target(org, p.entry_id, "payment")?;
                        self.marks.push(Mark {
                            lsn: *lsn,
                            org,
                            id: p.entry_id,
                            target,
                            change: Change::PaidAt(p.paid_at),
                        });
                    }
                    LogOp::Org(_) | LogOp::Index(_) => {}
                }
            }
        }
        Ok(())
    }

    fn target(&self, org: OrgId, id: u64, what: &str) -> Result<EntryLoc, String> {
        if let Some(loc) = self.entries.get(&(org, id)) {
            return Ok(loc);
        }
        self.frozen
            .locate(org, id)
            .map_err(|e| format!("org {org}: {what} of entry {id}: {e}"))?
            .ok_or_else(|| format!("org {org}: {what} of unknown entry {id}"))
    }

    fn entry(&mut self, lsn: Lsn, e: &EntryRecord) -> Result<(), String> {
        let org = OrgId(e.org);
        let kind = Kind::from_code(e.kind).ok_or_else(|| format!("bad kind code {}", e.kind))?;
        let (signed, day) = (signed_amount(e)?, day_of(e)?);
        // The entry map holds exactly the ids whose rows are in their ledgers (applied, or loaded
        // from a checkpoint with its flows), so an id found at the same place is an operation the
        // ledger already reflects: the ledger half skips it too, or refuses a twice-logged entry.
        let loc = EntryLoc {
            kind,
            occurred_at: e.occurred_at,
        };
        self.entries
            .register((org, e.entry_id), loc, |flows| {
                add_flow(flows, kind, e.reverses != 0, e.amount)
            })
            .map_err(|why| format!("org {org}: entry {} {why}", e.entry_id))?;
        if e.reverses != 0 {
            let target = self.target(org, e.reverses, "reversal")?;
            self.marks.push(Mark {
                lsn,
                org,
                id: e.reverses,
                target,
                change: Change::ReversedBy(e.entry_id),
            });
        }
        let month = day.month();
        let shard = balance::shard_of(org, self.shards);
        let bal = self.balances[shard].orgs.entry(org).or_default();
        let persisted = bal.months.get(&month).map_or(Lsn(0), |m| m.persisted);
        if persisted < lsn {
            let bal = Arc::make_mut(bal);
            let (revenue, expense, rows) = match kind {
                Kind::Revenue => (signed, 0, (1, 0)),
                Kind::Expense => (0, signed, (0, 1)),
            };
            bal.add(day, revenue, expense, rows)
                .ok_or_else(|| format!("org {org}: balance overflow"))?;
            touch(self.touched, month, lsn);
            if self.track {
                self.dirty
                    .push(DirtyKey::Balance(super::chunk_of(org), month));
            }
        }
        Ok(())
    }
}

/// The business day of an entry record: a day number in range.
fn day_of(e: &EntryRecord) -> Result<BusinessDay, String> {
    BusinessDay::from_days(e.day).map_err(|why| format!("entry {}: {why}", e.entry_id))
}

/// The effect of an entry record on its ledger: its amount, negated for a reversal. The amount
/// must be positive (validation allows nothing else), so the negation is exact.
fn signed_amount(e: &EntryRecord) -> Result<i64, String> {
    if e.amount <= 0 {
        return Err(format!(
            "entry {}: amount {} is not positive",
            e.entry_id, e.amount
        ));
    }
    Ok(if e.reverses != 0 { -e.amount } else { e.amount })
}

/// The stored row of an entry record.
pub fn row_of(e: &EntryRecord) -> Result<Row, String> {
    signed_amount(e)?;
    Ok(Row {
        amount: e.amount,
        day: day_of(e)?,
        category: Category::from_code(e.category)
            .ok_or_else(|| format!("bad category code {}", e.category))?,
        payment_method: PaymentMethod::from_code(e.payment_method)
            .ok_or_else(|| format!("bad payment method code {}", e.payment_method))?,
        posted_status: e.status,
        paid_at: None,
        reverses: e.reverses,
        reversed_by: 0,
        reference: e.reference.as_str().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::record::{IndexRecord, PayRecord};
    use crate::model::{ExpenseStatus, Month};
    use crate::state::balance::MonthBalances;
    use crate::state::index::{Column, IndexDef, Predicate};
    use crate::state::ledger::OrgMonthLedger;
    use proptest::prelude::*;

    const DAY0: i64 = 1_704_067_200;

    fn org(id: u64) -> LogOp {
        LogOp::Org(OrgRecord {
            org: id,
            name: format!("H{id}"),
            currency: *b"EUR",
            time_zone: "UTC".into(),
            opening: 0,
            created_at: 0,
        })
    }

    fn pending_index(create: bool) -> IndexRecord {
        IndexDef::new(
            "pending_by_time",
            Kind::Expense,
            &[Column::OccurredAt],
            &[Column::Amount],
            Some(Predicate::StatusIs(ExpenseStatus::Pending)),
        )
        .record(create)
    }

    /// A log of `n` operations over three orgs: postings, reversals and payments of earlier
    /// entries (often of the same batch), and an index created and maybe dropped on the way.
    fn log_of(choices: &[(u8, u64, i64)], index_at: Option<(usize, bool)>) -> Vec<LogOp> {
        let mut ops = vec![org(1), org(2), org(3)];
        let mut postings: Vec<(u64, u64, u8)> = Vec::new(); // (org, id, kind), not reversed
        let mut pending: Vec<(u64, u64)> = Vec::new();
        let mut next_id = 1;
        for (i, (what, pick, value)) in choices.iter().enumerate() {
            if let Some((at, drop)) = index_at {
                if i == at {
                    ops.push(LogOp::Index(pending_index(true)));
                }
                if drop && i == at + choices.len() / 4 {
                    ops.push(LogOp::Index(pending_index(false)));
                }
            }
            let id = next_id;
            match what % 4 {
                1 if !postings.is_empty() => {
                    let (o, target, kind) = postings.remove(*pick as usize % postings.len());
                    pending.retain(|p| *p != (o, target));
                    next_id += 1;
                    ops.push(LogOp::Entry(EntryRecord {
                        org: o,
                        entry_id: id,
                        occurred_at: DAY0 + value.rem_euclid(86_400 * 60),
                        amount: 1 + value.rem_euclid(5_000),
                        reverses: target,
                        day: 19_723 + value.rem_euclid(60) as i32,
                        kind,
                        category: if kind == 1 { 1 } else { 6 },
                        payment_method: 2,
                        status: crate::codec::record::STATUS_NONE,
                        reference: String::new(),
                    }));
                }
                2 if !pending.is_empty() => {
                    let (o, target) = pending.remove(*pick as usize % pending.len());
                    ops.push(LogOp::Pay(PayRecord {
                        org: o,
                        entry_id: target,
                        paid_at: DAY0 + value.rem_euclid(86_400 * 90),
                    }));
                }
                _ => {
                    let o = 1 + pick % 3;
                    let kind = 1 + (*what / 4) % 2;
                    let status = if kind == 2 { 1 + (*what / 8) % 2 } else { 0 };
                    next_id += 1;
                    ops.push(LogOp::Entry(EntryRecord {
                        org: o,
                        entry_id: id,
                        occurred_at: DAY0 + value.rem_euclid(86_400 * 60),
                        amount: 1 + value.rem_euclid(90_000),
                        reverses: 0,
                        day: 19_723 + value.rem_euclid(60) as i32,
                        kind,
                        category: if kind == 1 { 2 } else { 7 },
                        payment_method: 1 + (*what % 3),
                        status,
                        reference: format!("r{id}"),
                    }));
                    postings.push((o, id, kind));
                    if status == 1 {
                        pending.push((o, id));
                    }
                }
            }
        }
        ops
    }

    type Dump = (
        Vec<(PartitionId, u64, OrgMonthLedger)>,
        Vec<(u64, Vec<(Month, MonthBalances)>)>,
        Vec<((u64, u64), EntryLoc, (i64, i64))>,
        Lsn,
    );

    fn dump(state: &State, entries: &EntryIndex) -> Dump {
        let mut ledgers = Vec::new();
        for (pid, bucket) in &state.ledgers {
            let mut orgs: Vec<_> = bucket.orgs.iter().collect();
            orgs.sort_by_key(|(o, _)| **o);
            for (o, l) in orgs {
                ledgers.push((*pid, o.0, (**l).clone()));
            }
        }
        let mut balances = Vec::new();
        for shard in &state.balances {
            for (o, b) in shard.orgs.iter() {
                let months = b.months.iter().map(|(m, v)| (*m, (**v).clone()));
                balances.push((o.0, months.collect()));
            }
        }
        balances.sort_by_key(|b| b.0);
        let mut ids: Vec<_> = entries
            .iter()
            .map(|((o, id), loc)| ((o.0, id), loc, entries.flows(o)))
            .collect();
        ids.sort_by_key(|e| e.0);
        (ledgers, balances, ids, state.lsn)
    }

    /// Applies `batches` grouped `per_group` batches at a time, then completes any index build.
    fn apply_grouped(batches: &[(Lsn, Vec<LogOp>)], per_group: usize, parallel: bool) -> Dump {
        let mut state = State::new(4);
        let mut applier = Applier::default();
        for group in batches.chunks(per_group) {
            let refs: Vec<(Lsn, &[LogOp])> =
                group.iter().map(|(l, ops)| (*l, ops.as_slice())).collect();
            state.apply_group(&refs, parallel, &mut applier).unwrap();
        }
        state.finish_index_build();
        let check = state.verify(Some(&applier.entries));
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        dump(&state, &applier.entries)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Splitting a group into the ledger half, the key half and deferred marks gives exactly
        /// the state of applying the same log one operation at a time, with or without the
        /// second thread, whatever the batch and group sizes and wherever an index change falls.
        #[test]
        fn a_group_applies_like_its_operations_one_by_one(
            choices in proptest::collection::vec((any::<u8>(), any::<u64>(), any::<i64>()), 1..300),
            index_at in proptest::option::of((0usize..300, any::<bool>())),
            batch in 1usize..40,
            per_group in 1usize..12,
        ) {
            let ops = log_of(&choices, index_at);
            let one_by_one: Vec<(Lsn, Vec<LogOp>)> = ops
                .iter()
                .enumerate()
                .map(|(i, op)| (Lsn(i as u64 + 1), vec![op.clone()]))
                .collect();
            let batched: Vec<(Lsn, Vec<LogOp>)> = ops
                .chunks(batch)
                .enumerate()
                .map(|(i, ops)| (Lsn(i as u64 + 1), ops.to_vec()))
                .collect();
            let mut want = apply_grouped(&one_by_one, 1, false);
            // The same log prefix, numbered by batch.
            want.3 = Lsn(batched.len() as u64);
            prop_assert_eq!(&apply_grouped(&batched, per_group, true), &want);
            prop_assert_eq!(&apply_grouped(&batched, per_group, false), &want);
            prop_assert_eq!(&apply_grouped(&batched, batched.len(), true), &want);
        }
    }

    #[test]
    fn a_duplicate_entry_id_is_refused_wherever_its_second_row_would_go() {
        let entry = |occurred_at: i64, kind: u8| {
            LogOp::Entry(EntryRecord {
                org: 1,
                entry_id: 7,
                occurred_at,
                amount: 10,
                reverses: 0,
                day: 19_723,
                kind,
                category: if kind == 1 { 1 } else { 6 },
                payment_method: 1,
                status: if kind == 1 { 0 } else { 1 },
                reference: String::new(),
            })
        };
        for second in [entry(DAY0, 1), entry(DAY0 + 5, 1), entry(DAY0, 2)] {
            let mut state = State::new(4);
            let mut applier = Applier::default();
            let ops = [org(1), entry(DAY0, 1), second];
            let err = state.apply(Lsn(1), &ops, &mut applier).unwrap_err();
            assert!(err.contains("entry 7 recorded twice"), "{err}");
        }
    }
}
