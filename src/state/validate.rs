//! Validating batches against the state plus the batches validated before them in the same group
//! (accepted but not yet applied). Validation decides everything; applying cannot fail.

use super::catalog::{add_flow, flows_fit};
use super::State;
use crate::codec::record::{EntryRecord, LogBatch, LogOp, OrgRecord, PayRecord, STATUS_NONE};
use crate::error::Rejection;
use crate::limits::{MAX_BATCH_OPS, MAX_ORG_NAME_BYTES, MAX_REFERENCE_BYTES, MAX_TIME_ZONE_BYTES};
use crate::model::{
    Batch, BusinessDay, Entry, EntryId, ExpenseStatus, Kind, Op, Org, OrgId, PayExpense, Reversal,
    MAX_TIMESTAMP, MIN_TIMESTAMP,
};
use chrono_tz::Tz;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::str::FromStr;

/// Effects of accepted batches that the state does not hold yet.
#[derive(Default)]
pub struct Pending {
    orgs: HashMap<OrgId, (OrgRecord, Tz)>,
    entries: HashMap<(OrgId, u64), EntryRecord>,
    reversed: HashSet<(OrgId, u64)>,
    paid: HashMap<(OrgId, u64), i64>,
    flows: HashMap<OrgId, (i64, i64)>,
}

/// How to take back one change to [`Pending`] when a later operation of the batch fails.
enum Undo {
    Org(OrgId),
    Entry((OrgId, u64)),
    Reversed((OrgId, u64)),
    Paid((OrgId, u64)),
    Flows(OrgId, Option<(i64, i64)>),
}

impl Pending {
    fn undo(&mut self, journal: Vec<Undo>) {
        for change in journal.into_iter().rev() {
            match change {
                Undo::Org(org) => drop(self.orgs.remove(&org)),
                Undo::Entry(key) => drop(self.entries.remove(&key)),
                Undo::Reversed(key) => drop(self.reversed.remove(&key)),
                Undo::Paid(key) => drop(self.paid.remove(&key)),
                Undo::Flows(org, Some(before)) => drop(self.flows.insert(org, before)),
                Undo::Flows(org, None) => drop(self.flows.remove(&org)),
            }
        }
    }
}

/// The day number of an entry's business day (every checked timestamp has one).
fn business_day(org: OrgId, entry: EntryId, ts: i64, tz: Tz) -> Result<i32, Rejection> {
    BusinessDay::of(ts, tz)
        .map(BusinessDay::days)
        .map_err(|_| Rejection::TimestampOutOfRange { org, entry, ts })
}

/// What validation needs to know of an existing entry.
struct Facts {
    kind: Kind,
    occurred_at: i64,
    amount: i64,
    category: u8,
    payment_method: u8,
    posted_status: u8,
    reverses: u64,
    reference: String,
    reversed: bool,
    paid_at: Option<i64>,
}

/// Validates batches of one commit group in order.
pub struct Validator<'a> {
    state: &'a State,
    entries: &'a super::EntryIndex,
    group: Pending,
    /// Changes the current batch made to `group`.
    journal: Vec<Undo>,
    /// The org looked up last: an operation asks for its org up to three times.
    last_org: std::cell::Cell<Option<(OrgId, &'a super::catalog::OrgState)>>,
    /// A frozen file that failed its check while an entry was looked up in it: the batch cannot
    /// be judged, and fails with this error.
    fault: std::cell::RefCell<Option<crate::error::Error>>,
}

impl<'a> Validator<'a> {
    pub fn new(state: &'a State, entries: &'a super::EntryIndex) -> Validator<'a> {
        Validator {
            state,
            entries,
            group: Pending::default(),
            journal: Vec::new(),
            last_org: std::cell::Cell::new(None),
            fault: std::cell::RefCell::new(None),
        }
    }

    /// Checks a whole batch. On success returns the records to log (operations that repeat an
    /// identical earlier one are left out); on failure nothing of the batch is remembered, and
    /// the error carries the index of the operation at fault (`None`: the batch as a whole).
    pub fn batch(&mut self, batch: &Batch) -> Result<LogBatch, crate::error::BatchError> {
        self.judge(batch).map_err(|(op_index, rejection)| {
            let error = match self.fault.borrow_mut().take() {
                Some(fault) => fault,
                None => crate::error::Error::Rejected(rejection),
            };
            crate::error::BatchError { error, op_index }
        })
    }

    fn judge(&mut self, batch: &Batch) -> Result<LogBatch, (Option<usize>, Rejection)> {
        if batch.ops.len() > MAX_BATCH_OPS {
            return Err((None, Rejection::BatchTooLarge(batch.ops.len())));
        }
        self.journal.clear();
        let mut ops = Vec::with_capacity(batch.ops.len());
        for (index, op) in batch.ops.iter().enumerate() {
            let record = match op {
                Op::RegisterOrg(org) => self.org_op(org),
                Op::Post(entry) => self.post(entry),
                Op::Reverse(reversal) => self.reverse(reversal),
                Op::Pay(pay) => self.pay(pay),
            };
            match record {
                Ok(_) if self.fault.borrow().is_some() => {
                    let journal = std::mem::take(&mut self.journal);
                    self.group.undo(journal);
                    return Err((Some(index), Rejection::BatchTooLarge(0)));
                }
                Ok(record) => ops.extend(record),
                Err(rejection) => {
                    let journal = std::mem::take(&mut self.journal);
                    self.group.undo(journal);
                    return Err((Some(index), rejection));
                }
            }
        }
        Ok(LogBatch { ops })
    }

    /// Checks an index creation or removal against the catalog.
    pub fn index(
        &mut self,
        record: &crate::codec::record::IndexRecord,
    ) -> Result<LogBatch, Rejection> {
        let def = super::index::IndexDef::from_record(record)
            .ok_or_else(|| Rejection::InvalidIndex("unknown column or predicate code".into()))?;
        let exists = self.state.catalog.find(&def.name).is_some();
        if record.create {
            def.validate()
                .map_err(|e| Rejection::InvalidIndex(e.to_string()))?;
            if exists {
                return Err(Rejection::IndexExists(def.name));
            }
        } else if !exists {
            return Err(Rejection::UnknownIndex(def.name));
        }
        if self.state.catalog.building.is_some() {
            return Err(Rejection::InvalidIndex(
                "another index is being built".into(),
            ));
        }
        Ok(LogBatch {
            ops: vec![LogOp::Index(record.clone())],
        })
    }

    /// The org's state as of the last applied batch (cached for consecutive lookups).
    fn state_org(&self, org: OrgId) -> Option<&'a super::catalog::OrgState> {
        if let Some((id, state)) = self.last_org.get() {
            if id == org {
                return Some(state);
            }
        }
        let found = self.state.orgs.get(&org)?;
        self.last_org.set(Some((org, found)));
        Some(found)
    }

    fn org_info(&self, org: OrgId) -> Result<(i64, Tz), Rejection> {
        if let Some((r, tz)) = self.group.orgs.get(&org) {
            return Ok((r.opening, *tz));
        }
        self.state_org(org)
            .map(|o| (o.opening, o.tz))
            .ok_or(Rejection::UnknownOrg(org))
    }

    fn flows(&self, org: OrgId) -> (i64, i64) {
        self.group
            .flows
            .get(&org)
            .copied()
            .unwrap_or_else(|| self.entries.flows(org))
    }

    fn facts(&self, org: OrgId, id: u64) -> Option<Facts> {
        let key = (org, id);
        let mut facts = match self.group.entries.get(&key) {
            Some(r) => Facts {
                kind: Kind::from_code(r.kind)?,
                occurred_at: r.occurred_at,
                amount: r.amount,
                category: r.category,
                payment_method: r.payment_method,
                posted_status: r.status,
                reverses: r.reverses,
                reference: r.reference.clone(),
                reversed: false,
                paid_at: None,
            },
            None => {
                let looked_up = match self.entries.get(&key) {
                    Some(loc) => Ok(Some(loc)),
                    None => self.state.frozen.locate(org, id),
                };
                let loc = self.noted(looked_up)??;
                let pid = super::ledger::PartitionId::of(loc.kind, loc.occurred_at).ok()?;
                let row = self.noted(self.state.find_row(pid, org, (loc.occurred_at, id)))??;
                Facts {
                    kind: loc.kind,
                    occurred_at: loc.occurred_at,
                    amount: row.amount,
                    category: row.category.code(),
                    payment_method: row.payment_method.code(),
                    posted_status: row.posted_status,
                    reverses: row.reverses,
                    reference: row.reference.to_string(),
                    reversed: row.reversed_by != 0,
                    paid_at: row.paid_at,
                }
            }
        };
        facts.reversed |= self.group.reversed.contains(&key);
        if let Some(at) = self.group.paid.get(&key) {
            facts.paid_at = Some(*at);
        }
        Some(facts)
    }

    /// The value of a lookup in the frozen files; a failed check is kept as the batch's fault.
    fn noted<T>(&self, result: crate::error::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.fault.borrow_mut().get_or_insert(e);
                None
            }
        }
    }

    fn set_flows(&mut self, org: OrgId, flows: (i64, i64)) {
        let before = self.group.flows.insert(org, flows);
        self.journal.push(Undo::Flows(org, before));
    }

    fn add_entry(&mut self, key: (OrgId, u64), record: EntryRecord) {
        self.group.entries.insert(key, record);
        self.journal.push(Undo::Entry(key));
    }

    fn org_op(&mut self, org: &Org) -> Result<Option<LogOp>, Rejection> {
        let invalid = |why: String| Rejection::InvalidOrg { org: org.id, why };
        if org.name.len() > MAX_ORG_NAME_BYTES {
            return Err(invalid(format!(
                "name is {} bytes, over {MAX_ORG_NAME_BYTES}",
                org.name.len()
            )));
        }
        if org.time_zone.len() > MAX_TIME_ZONE_BYTES {
            return Err(invalid("time zone name too long".into()));
        }
        let tz = Tz::from_str(&org.time_zone)
            .map_err(|_| invalid(format!("unknown IANA time zone {:?}", org.time_zone)))?;
        if !org.currency.is_known() {
            return Err(Rejection::UnknownCurrency {
                org: org.id,
                code: String::from_utf8_lossy(&org.currency.0).into_owned(),
            });
        }
        if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&org.created_at) {
            return Err(invalid(format!(
                "created_at {} out of range",
                org.created_at
            )));
        }
        let record = OrgRecord {
            org: org.id.0,
            name: org.name.clone(),
            currency: org.currency.0,
            time_zone: org.time_zone.clone(),
            opening: org.opening_balance.0,
            created_at: org.created_at,
        };
        let existing = match self.group.orgs.get(&org.id) {
            Some((r, _)) => Some(*r == record),
            None => self.state.orgs.get(&org.id).map(|o| o.is(&record)),
        };
        if let Some(same) = existing {
            return if same {
                Ok(None)
            } else {
                Err(Rejection::OrgConflict(org.id))
            };
        }
        // An opening balance alone must leave room for nothing else: it fits by construction.
        self.group.orgs.insert(org.id, (record.clone(), tz));
        self.journal.push(Undo::Org(org.id));
        Ok(Some(LogOp::Org(record)))
    }

    fn check_common(org: OrgId, entry: EntryId, ts: i64, reference: &str) -> Result<(), Rejection> {
        if entry.0 == 0 {
            return Err(Rejection::ZeroEntryId { org });
        }
        if !(MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts) {
            return Err(Rejection::TimestampOutOfRange { org, entry, ts });
        }
        if reference.len() > MAX_REFERENCE_BYTES {
            return Err(Rejection::TextTooLong {
                org,
                entry,
                field: "reference",
                len: reference.len(),
                limit: MAX_REFERENCE_BYTES,
            });
        }
        Ok(())
    }

    fn post(&mut self, e: &Entry) -> Result<Option<LogOp>, Rejection> {
        let (opening, tz) = self.org_info(e.org)?;
        Self::check_common(e.org, e.id, e.occurred_at, &e.reference)?;
        if e.amount.0 <= 0 {
            return Err(Rejection::NonPositiveAmount {
                org: e.org,
                entry: e.id,
                amount: e.amount.0,
            });
        }
        if !e.category.allowed_for(e.kind) {
            return Err(Rejection::CategoryMismatch {
                org: e.org,
                entry: e.id,
                category: e.category.as_str(),
                kind: e.kind.as_str(),
            });
        }
        let status = match (e.kind, e.status) {
            (Kind::Revenue, None) => STATUS_NONE,
            (Kind::Expense, Some(s)) => s.code(),
            (Kind::Revenue, Some(_)) => {
                return Err(Rejection::BadStatus {
                    org: e.org,
                    entry: e.id,
                    why: "a revenue has no status",
                })
            }
            (Kind::Expense, None) => {
                return Err(Rejection::BadStatus {
                    org: e.org,
                    entry: e.id,
                    why: "an expense needs a status",
                })
            }
        };
        if let Some(f) = self.facts(e.org, e.id.0) {
            let same = f.reverses == 0
                && f.kind == e.kind
                && f.occurred_at == e.occurred_at
                && f.amount == e.amount.0
                && f.category == e.category.code()
                && f.payment_method == e.payment_method.code()
                && f.posted_status == status
                && f.reference == e.reference;
            return if same {
                Ok(None)
            } else {
                Err(Rejection::DuplicateConflict {
                    org: e.org,
                    entry: e.id,
                })
            };
        }
        let flows = add_flow(self.flows(e.org), e.kind, false, e.amount.0)
            .filter(|f| flows_fit(opening, *f))
            .ok_or(Rejection::Overflow { org: e.org })?;
        let record = EntryRecord {
            org: e.org.0,
            entry_id: e.id.0,
            occurred_at: e.occurred_at,
            amount: e.amount.0,
            reverses: 0,
            day: business_day(e.org, e.id, e.occurred_at, tz)?,
            kind: e.kind.code(),
            category: e.category.code(),
            payment_method: e.payment_method.code(),
            status,
            reference: e.reference.clone(),
        };
        self.set_flows(e.org, flows);
        self.add_entry((e.org, e.id.0), record.clone());
        Ok(Some(LogOp::Entry(record)))
    }

    fn reverse(&mut self, r: &Reversal) -> Result<Option<LogOp>, Rejection> {
        let (opening, tz) = self.org_info(r.org)?;
        Self::check_common(r.org, r.id, r.occurred_at, &r.reference)?;
        if let Some(f) = self.facts(r.org, r.id.0) {
            // Only a reversal repeats a reversal (a posting's `reverses` is 0, which a reversal
            // of entry 0 would otherwise match).
            let same = f.reverses != 0
                && f.reverses == r.reverses.0
                && f.occurred_at == r.occurred_at
                && f.reference == r.reference;
            return if same {
                Ok(None)
            } else {
                Err(Rejection::DuplicateConflict {
                    org: r.org,
                    entry: r.id,
                })
            };
        }
        let original = self
            .facts(r.org, r.reverses.0)
            .ok_or(Rejection::UnknownEntry {
                org: r.org,
                entry: r.reverses,
            })?;
        if original.reverses != 0 {
            return Err(Rejection::ReversalOfReversal {
                org: r.org,
                entry: r.reverses,
            });
        }
        if original.reversed {
            return Err(Rejection::AlreadyReversed {
                org: r.org,
                entry: r.reverses,
            });
        }
        let flows = add_flow(self.flows(r.org), original.kind, true, original.amount)
            .filter(|f| flows_fit(opening, *f))
            .ok_or(Rejection::Overflow { org: r.org })?;
        let record = EntryRecord {
            org: r.org.0,
            entry_id: r.id.0,
            occurred_at: r.occurred_at,
            amount: original.amount,
            reverses: r.reverses.0,
            day: business_day(r.org, r.id, r.occurred_at, tz)?,
            kind: original.kind.code(),
            category: original.category,
            payment_method: original.payment_method,
            status: STATUS_NONE,
            reference: r.reference.clone(),
        };
        self.set_flows(r.org, flows);
        self.add_entry((r.org, r.id.0), record.clone());
        self.group.reversed.insert((r.org, r.reverses.0));
        self.journal.push(Undo::Reversed((r.org, r.reverses.0)));
        Ok(Some(LogOp::Entry(record)))
    }

    fn pay(&mut self, p: &PayExpense) -> Result<Option<LogOp>, Rejection> {
        self.org_info(p.org)?;
        Self::check_common(p.org, p.entry, p.paid_at, "")?;
        let f = self
            .facts(p.org, p.entry.0)
            .ok_or(Rejection::UnknownEntry {
                org: p.org,
                entry: p.entry,
            })?;
        if f.kind != Kind::Expense || f.reverses != 0 {
            return Err(Rejection::NotAnExpense {
                org: p.org,
                entry: p.entry,
            });
        }
        if f.reversed {
            return Err(Rejection::AlreadyReversed {
                org: p.org,
                entry: p.entry,
            });
        }
        if f.paid_at == Some(p.paid_at) {
            return Ok(None);
        }
        if f.paid_at.is_some() || f.posted_status == ExpenseStatus::Paid.code() {
            return Err(Rejection::AlreadyPaid {
                org: p.org,
                entry: p.entry,
            });
        }
        self.group.paid.insert((p.org, p.entry.0), p.paid_at);
        self.journal.push(Undo::Paid((p.org, p.entry.0)));
        Ok(Some(LogOp::Pay(PayRecord {
            org: p.org.0,
            entry_id: p.entry.0,
            paid_at: p.paid_at,
        })))
    }
}
