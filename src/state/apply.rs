//! Applying committed log records to the state: the only code that mutates it.
//!
//! Every physical value remembers the checkpoint LSN it was last persisted at; a record is applied
//! to a value only when its LSN is newer. Replaying the log over a checkpoint that was cut short
//! is therefore exact: nothing is counted twice and nothing is lost.

use super::catalog::{add_flow, EntryLoc, OrgState};
use super::index::IndexCatalog;
use super::ledger::{MonthBucket, PartitionId, Row};
use super::{balance, Applier, DirtyKey, DirtySet, EntryIndex, PMap, POrdMap, State};
use crate::codec::record::{EntryRecord, LogOp, OrgRecord, PayRecord};
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
        } = self;
        let (dirty, entries) = match side {
            Side::Full(a) => (Some(&mut a.dirty), &mut a.entries),
            Side::Register(e) => (None, e),
        };
        let track = dirty.is_some();
        let mut ledger_side = LedgerSide {
            orgs,
            ledgers,
            dirty: Tracker(dirty),
            entries,
            catalog,
        };
        let mut balance_side = BalanceSide {
            balances,
            shards: *shards,
            track,
            dirty: Vec::new(),
        };
        let (ledger_result, balance_result) = if parallel {
            std::thread::scope(|scope| {
                let other = scope.spawn(|| balance_side.apply(batches));
                let mine = ledger_side.apply(batches);
                (
                    mine,
                    other
                        .join()
                        .unwrap_or_else(|_| Err("balance thread panicked".into())),
                )
            })
        } else {
            (ledger_side.apply(batches), balance_side.apply(batches))
        };
        ledger_result?;
        balance_result?;
        ledger_side.dirty.extend(balance_side.dirty);
        *lsn = previous;
        Ok(())
    }
}

/// Everything but the balances: catalog, ledger rows, index parts.
struct LedgerSide<'a> {
    orgs: &'a mut PMap<OrgId, Arc<OrgState>>,
    ledgers: &'a mut POrdMap<PartitionId, MonthBucket>,
    dirty: Tracker<'a>,
    entries: &'a mut EntryIndex,
    catalog: &'a mut Arc<IndexCatalog>,
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
                month: crate::model::Month(i32::MIN),
            }..=PartitionId {
                kind: table,
                month: crate::model::Month(i32::MAX),
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
                    LogOp::Pay(p) => self.pay(*lsn, p)?,
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
        let pid = PartitionId::of(kind, e.occurred_at);
        let ledger = self
            .ledgers
            .entry(pid)
            .or_default()
            .orgs
            .entry(org)
            .or_default();
        if ledger.persisted < lsn {
            let ledger = Arc::make_mut(ledger);
            let key = (e.occurred_at, e.entry_id);
            let loc = EntryLoc {
                kind,
                occurred_at: e.occurred_at,
            };
            // The entry map first: it refuses a duplicate before the ledger changes.
            self.entries
                .add_entry((org, e.entry_id), loc, |flows| {
                    add_flow(flows, kind, e.reverses != 0, e.amount)
                })
                .map_err(|why| format!("org {org}: entry {} {why}", e.entry_id))?;
            ledger
                .insert_row(self.catalog, kind, key, row)
                .ok_or_else(|| format!("org {org}: entry {} recorded twice", e.entry_id))?;
            self.dirty
                .insert(DirtyKey::Ledger(pid, super::chunk_of(org)));
        }
        if e.reverses != 0 {
            let target = self
                .entries
                .get(&(org, e.reverses))
                .copied()
                .ok_or_else(|| format!("org {org}: reversal of unknown entry {}", e.reverses))?;
            mark_row(
                self.ledgers,
                &mut self.dirty,
                self.catalog,
                lsn,
                org,
                target,
                e.reverses,
                |row| {
                    row.reversed_by = e.entry_id;
                },
            )?;
        }
        Ok(())
    }

    fn pay(&mut self, lsn: Lsn, p: &PayRecord) -> Result<(), String> {
        let org = OrgId(p.org);
        let target = self
            .entries
            .get(&(org, p.entry_id))
            .copied()
            .ok_or_else(|| format!("org {org}: payment of unknown entry {}", p.entry_id))?;
        mark_row(
            self.ledgers,
            &mut self.dirty,
            self.catalog,
            lsn,
            org,
            target,
            p.entry_id,
            |row| {
                row.paid_at = Some(p.paid_at);
            },
        )
    }
}

/// The balance shards: day rows, month nets, Fenwick prefixes.
struct BalanceSide<'a> {
    balances: &'a mut [super::balance::BalanceShard],
    shards: u32,
    /// Whether to collect the changed values in `dirty`.
    track: bool,
    dirty: Vec<DirtyKey>,
}

impl BalanceSide<'_> {
    fn apply(&mut self, batches: &[(Lsn, &[LogOp])]) -> Result<(), String> {
        for (lsn, ops) in batches {
            for op in *ops {
                if let LogOp::Entry(e) = op {
                    self.entry(*lsn, e)?;
                }
            }
        }
        Ok(())
    }

    fn entry(&mut self, lsn: Lsn, e: &EntryRecord) -> Result<(), String> {
        let org = OrgId(e.org);
        let kind = Kind::from_code(e.kind).ok_or_else(|| format!("bad kind code {}", e.kind))?;
        let signed = if e.reverses != 0 { -e.amount } else { e.amount };
        let day = BusinessDay(e.day);
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
            if self.track {
                self.dirty
                    .push(DirtyKey::Balance(shard as u32, super::chunk_of(org), month));
            }
        }
        Ok(())
    }
}

/// Changes a stored row (a reversal or payment mark) unless its value already reflects `lsn`.
#[allow(clippy::too_many_arguments)]
fn mark_row(
    ledgers: &mut POrdMap<PartitionId, MonthBucket>,
    dirty: &mut Tracker<'_>,
    catalog: &IndexCatalog,
    lsn: Lsn,
    org: OrgId,
    target: EntryLoc,
    id: u64,
    mark: impl FnOnce(&mut Row),
) -> Result<(), String> {
    let pid = PartitionId::of(target.kind, target.occurred_at);
    let ledger = ledgers.entry(pid).or_default().orgs.entry(org).or_default();
    if ledger.persisted < lsn {
        Arc::make_mut(ledger)
            .update_row(catalog, target.kind, (target.occurred_at, id), mark)
            .ok_or_else(|| format!("org {org}: entry {id} missing from its partition"))?;
        dirty.insert(DirtyKey::Ledger(pid, super::chunk_of(org)));
    }
    Ok(())
}

/// The stored row of an entry record.
pub fn row_of(e: &EntryRecord) -> Result<Row, String> {
    Ok(Row {
        amount: e.amount,
        day: BusinessDay(e.day),
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
