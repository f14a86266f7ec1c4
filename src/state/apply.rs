//! Applying committed log records to the state: the only code that mutates it.
//!
//! Every physical value remembers the checkpoint LSN it was last persisted at; a record is applied
//! to a value only when its LSN is newer. Replaying the log over a checkpoint that was cut short
//! is therefore exact: nothing is counted twice and nothing is lost.

use super::catalog::{add_flow, EntryLoc, OrgState};
use super::index::IndexCatalog;
use super::ledger::{MonthBucket, PartitionId, Row};
use super::{balance, DirtyKey, State};
use crate::codec::record::{EntryRecord, LogOp, OrgRecord, PayRecord};
use crate::model::{BusinessDay, Category, Kind, Lsn, OrgId, PaymentMethod};
use rustc_hash::FxHashSet as HashSet;
use std::collections::BTreeMap;
use std::str::FromStr;

impl State {
    /// Applies one committed batch. An error means the record contradicts the state (a corrupt or
    /// foreign log); the caller treats it as corruption.
    pub fn apply(&mut self, lsn: Lsn, ops: &[LogOp]) -> Result<(), String> {
        assert!(
            lsn > self.lsn,
            "batches apply in LSN order ({lsn} after {})",
            self.lsn
        );
        for op in ops {
            match op {
                LogOp::Org(r) => self.apply_org(lsn, r)?,
                LogOp::Entry(e) => self.apply_entry(lsn, e)?,
                LogOp::Pay(p) => self.apply_pay(lsn, p)?,
            }
        }
        self.lsn = lsn;
        Ok(())
    }

    fn apply_org(&mut self, lsn: Lsn, r: &OrgRecord) -> Result<(), String> {
        let id = OrgId(r.org);
        if self.orgs.get(&id).is_some_and(|o| o.persisted >= lsn) {
            return Ok(());
        }
        let tz = chrono_tz::Tz::from_str(&r.time_zone)
            .map_err(|_| format!("org {id}: unknown time zone {:?}", r.time_zone))?;
        self.orgs.insert(id, OrgState::new(r.clone(), tz));
        self.dirty.insert(DirtyKey::Orgs(super::chunk_of(id)));
        Ok(())
    }

    fn apply_entry(&mut self, lsn: Lsn, e: &EntryRecord) -> Result<(), String> {
        let org = OrgId(e.org);
        let kind = Kind::from_code(e.kind).ok_or_else(|| format!("bad kind code {}", e.kind))?;
        let row = row_of(e)?;
        let signed = row.signed_amount();
        let State {
            orgs,
            ledgers,
            balances,
            dirty,
            shards,
            catalog,
            ..
        } = self;
        let org_state = orgs
            .get_mut(&org)
            .ok_or_else(|| format!("entry {} of unknown org {org}", e.entry_id))?;
        let pid = PartitionId::of(kind, e.occurred_at);
        let ledger = ledgers.entry(pid).or_default().orgs.entry(org).or_default();
        if ledger.persisted < lsn {
            let key = (e.occurred_at, e.entry_id);
            if ledger.rows.contains_key(&key) || org_state.entries.contains_key(&e.entry_id) {
                return Err(format!("org {org}: entry {} recorded twice", e.entry_id));
            }
            ledger
                .insert_row(catalog, kind, key, row)
                .ok_or_else(|| format!("org {org}: entry {} recorded twice", e.entry_id))?;
            let flows = (org_state.inflow, org_state.outflow);
            (org_state.inflow, org_state.outflow) =
                add_flow(flows, kind, e.reverses != 0, e.amount)
                    .ok_or_else(|| format!("org {org}: flow overflow"))?;
            org_state.entries.insert(
                e.entry_id,
                EntryLoc {
                    kind,
                    occurred_at: e.occurred_at,
                },
            );
            dirty.insert(DirtyKey::Ledger(pid, super::chunk_of(org)));
        }
        if e.reverses != 0 {
            let target =
                org_state.entries.get(&e.reverses).copied().ok_or_else(|| {
                    format!("org {org}: reversal of unknown entry {}", e.reverses)
                })?;
            mark_row(
                ledgers,
                dirty,
                catalog,
                lsn,
                org,
                target,
                e.reverses,
                |row| {
                    row.reversed_by = e.entry_id;
                },
            )?;
        }
        let day = BusinessDay(e.day);
        let month = day.month();
        let shard = balance::shard_of(org, *shards);
        let bal = balances[shard].orgs.entry(org).or_default();
        let persisted = bal.months.get(&month).map_or(Lsn(0), |m| m.persisted);
        if persisted < lsn {
            let (revenue, expense, rows) = match kind {
                Kind::Revenue => (signed, 0, (1, 0)),
                Kind::Expense => (0, signed, (0, 1)),
            };
            bal.add(day, revenue, expense, rows)
                .ok_or_else(|| format!("org {org}: balance overflow"))?;
            dirty.insert(DirtyKey::Balance(shard as u32, super::chunk_of(org), month));
        }
        Ok(())
    }

    fn apply_pay(&mut self, lsn: Lsn, p: &PayRecord) -> Result<(), String> {
        let org = OrgId(p.org);
        let target = self
            .orgs
            .get(&org)
            .and_then(|o| o.entries.get(&p.entry_id))
            .copied()
            .ok_or_else(|| format!("org {org}: payment of unknown entry {}", p.entry_id))?;
        let State {
            ledgers,
            dirty,
            catalog,
            ..
        } = self;
        mark_row(
            ledgers,
            dirty,
            catalog,
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

/// Changes a stored row (a reversal or payment mark) unless its value already reflects `lsn`.
#[allow(clippy::too_many_arguments)]
fn mark_row(
    ledgers: &mut BTreeMap<PartitionId, MonthBucket>,
    dirty: &mut HashSet<DirtyKey>,
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
        ledger
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
