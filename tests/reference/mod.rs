//! The reference model of the ledger's semantics, written once for every test that checks Folio
//! against one: `tests/model/` (random batches, groups, reopens), `tests/crash/` (what a killed
//! writer printed) and the fuzz crate's `model` target (`fuzz/src/model.rs`, which includes this
//! directory with `#[path]`, as `tests/fuzz_regressions.rs` does through `fuzz/src/lib.rs`).
//!
//! Made of `BTreeMap`s, it uses neither Folio's validator nor its state code: business days come
//! from chrono-tz directly, the categories of each ledger are listed here, and the overflow rule
//! is re-derived from the gross flows. It uses Folio's public types only to take operations in and
//! give answers out in the form the engine's reads have (`LedgerEntry`, `DayBalance`, the report
//! lines).
//!
//! * [`Model::record`] applies a batch atomically: every operation valid, and the model changed
//!   (the next LSN) or not (every operation repeats an earlier one: the same LSN); or the batch
//!   rejected, the model unchanged, with every rejection that would be a correct answer (where
//!   one operation has several defects, the order of the checks inside it is not specified;
//!   across operations, the first bad one decides).
//! * [`reads`]: the ledger listing, the balance rows and closing balances the reads must give;
//! * [`reports`]: the monthly report, the ledger page and the pending expenses.
//!
//! Overflow rule: the documented bound of `state::catalog::flows_fit`. With inflow = Σ revenue
//! postings + Σ expense reversals and outflow = Σ expense postings + Σ revenue reversals of an
//! org, `inflow`, `outflow`, `opening + inflow` and `opening - outflow` must all fit in i64. Every
//! balance, day total and running sum then fits, which the reads assert.
#![allow(dead_code)] // each test crate that includes the model uses a part of it

pub mod reads;
pub mod reports;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use folio::limits::{MAX_BATCH_OPS, MAX_ORG_NAME_BYTES, MAX_REFERENCE_BYTES, MAX_TIME_ZONE_BYTES};
use folio::{
    Category, Entry, ExpenseStatus, Kind, Op, Org, OrgId, PayExpense, PaymentMethod, Rejection,
    Reversal,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A registered org.
#[derive(Clone, Debug)]
pub struct ModelOrg {
    pub org: Org,
    pub tz: Tz,
    /// Σ amounts raising the balance (revenue postings, expense reversals), exact.
    inflow: i128,
    /// Σ amounts lowering it (expense postings, revenue reversals), exact.
    outflow: i128,
}

impl ModelOrg {
    /// What the org's entries add to its opening balance.
    pub fn net(&self) -> i128 {
        self.inflow - self.outflow
    }
}

/// A recorded entry: a posting, or a reversal (`reverses` names its original).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub kind: Kind,
    pub occurred_at: i64,
    /// Days since 1970-01-01 of `occurred_at` in the org's time zone.
    pub day: i32,
    pub amount: i64,
    pub category: Category,
    pub payment_method: PaymentMethod,
    /// The status given when posted (expense postings only).
    pub posted_status: Option<ExpenseStatus>,
    pub reference: String,
    pub reverses: Option<u64>,
    pub reversed_by: Option<u64>,
    pub paid_at: Option<i64>,
}

impl ModelEntry {
    /// Whether the entry raises the org's balance (a revenue posting, an expense reversal).
    pub fn raises(&self) -> bool {
        (self.kind == Kind::Revenue) == self.reverses.is_none()
    }

    /// The entry's effect on the balance.
    pub fn signed(&self) -> i128 {
        if self.raises() {
            i128::from(self.amount)
        } else {
            -i128::from(self.amount)
        }
    }

    /// The status a read shows: none for revenues and reversals, `Paid` once paid, else the
    /// status it was posted with.
    pub fn status(&self) -> Option<ExpenseStatus> {
        if self.reverses.is_some() || self.kind == Kind::Revenue {
            None
        } else if self.paid_at.is_some() {
            Some(ExpenseStatus::Paid)
        } else {
            self.posted_status
        }
    }
}

/// A rejection without the details the model does not track (amounts, lengths, reasons).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rej {
    UnknownOrg(u64),
    OrgConflict(u64),
    InvalidOrg(u64),
    NonPositiveAmount(u64, u64),
    Overflow(u64),
    TimestampOutOfRange(u64, u64),
    DuplicateConflict(u64, u64),
    TextTooLong(u64, u64),
    CategoryMismatch(u64, u64),
    BadStatus(u64, u64),
    UnknownEntry(u64, u64),
    AlreadyReversed(u64, u64),
    ReversalOfReversal(u64, u64),
    NotAnExpense(u64, u64),
    AlreadyPaid(u64, u64),
    ZeroEntryId(u64),
    BatchTooLarge(usize),
    Other(String),
}

/// The engine's rejection in the model's terms.
pub fn normalize(r: &Rejection) -> Rej {
    match r {
        Rejection::UnknownOrg(o) => Rej::UnknownOrg(o.0),
        Rejection::OrgConflict(o) => Rej::OrgConflict(o.0),
        Rejection::InvalidOrg { org, .. } => Rej::InvalidOrg(org.0),
        Rejection::NonPositiveAmount { org, entry, .. } => Rej::NonPositiveAmount(org.0, entry.0),
        Rejection::Overflow { org } => Rej::Overflow(org.0),
        Rejection::TimestampOutOfRange { org, entry, .. } => {
            Rej::TimestampOutOfRange(org.0, entry.0)
        }
        Rejection::DuplicateConflict { org, entry } => Rej::DuplicateConflict(org.0, entry.0),
        Rejection::TextTooLong { org, entry, .. } => Rej::TextTooLong(org.0, entry.0),
        Rejection::CategoryMismatch { org, entry, .. } => Rej::CategoryMismatch(org.0, entry.0),
        Rejection::BadStatus { org, entry, .. } => Rej::BadStatus(org.0, entry.0),
        Rejection::UnknownEntry { org, entry } => Rej::UnknownEntry(org.0, entry.0),
        Rejection::AlreadyReversed { org, entry } => Rej::AlreadyReversed(org.0, entry.0),
        Rejection::ReversalOfReversal { org, entry } => Rej::ReversalOfReversal(org.0, entry.0),
        Rejection::NotAnExpense { org, entry } => Rej::NotAnExpense(org.0, entry.0),
        Rejection::AlreadyPaid { org, entry } => Rej::AlreadyPaid(org.0, entry.0),
        Rejection::ZeroEntryId { org } => Rej::ZeroEntryId(org.0),
        Rejection::BatchTooLarge(n) => Rej::BatchTooLarge(*n),
        other => Rej::Other(format!("{other:?}")),
    }
}

/// What a batch does to the model: `Ok(true)` changed it (the next LSN), `Ok(false)` repeated
/// earlier operations only (the same LSN), `Err` lists every rejection that would be a correct
/// answer.
pub type Outcome = Result<bool, Vec<Rej>>;

/// Whether `ts` is a supported instant.
pub fn in_range(ts: i64) -> bool {
    (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&ts)
}

/// Calendar day of `ts` in `tz`, as days since 1970-01-01, computed with chrono-tz directly.
pub fn local_day(ts: i64, tz: Tz) -> i32 {
    let local = tz
        .timestamp_opt(ts, 0)
        .single()
        .expect("an instant has one local time");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    i32::try_from((local.date_naive() - epoch).num_days()).expect("day fits i32")
}

/// The categories each ledger allows.
pub fn category_allowed(category: Category, kind: Kind) -> bool {
    use Category::*;
    let revenue = [Rooms, FoodBeverage, Spa, Events, Other];
    let expense = [Payroll, Supplies, Utilities, Maintenance, Marketing, Other];
    match kind {
        Kind::Revenue => revenue.contains(&category),
        Kind::Expense => expense.contains(&category),
    }
}

/// How to take back one change when a later operation of the batch is rejected.
#[derive(Clone, Debug)]
enum Undo {
    Org(u64),
    Entry((u64, u64)),
    ReversedBy((u64, u64)),
    PaidAt((u64, u64)),
    Flows(u64, i128, i128),
}

/// What the database must hold: orgs, entries and the visible LSN.
#[derive(Clone, Debug, Default)]
pub struct Model {
    orgs: BTreeMap<u64, ModelOrg>,
    entries: BTreeMap<(u64, u64), ModelEntry>,
    lsn: u64,
    /// Changes of the batch being recorded (empty between batches).
    journal: Vec<Undo>,
}

impl Model {
    /// The LSN the database must show: one per batch that changed something.
    pub fn lsn(&self) -> u64 {
        self.lsn
    }

    pub fn org(&self, id: u64) -> Option<&ModelOrg> {
        self.orgs.get(&id)
    }

    /// Registered orgs by id, as `Snapshot::orgs` lists them.
    pub fn orgs(&self) -> Vec<Org> {
        self.orgs.values().map(|o| o.org.clone()).collect()
    }

    pub fn org_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.orgs.keys().copied()
    }

    pub fn entry(&self, org: u64, id: u64) -> Option<&ModelEntry> {
        self.entries.get(&(org, id))
    }

    /// Every entry by (org, id).
    pub fn entries(&self) -> impl Iterator<Item = ((u64, u64), &ModelEntry)> {
        self.entries.iter().map(|(key, x)| (*key, x))
    }

    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// The entries of `org` by id.
    pub fn org_entries(&self, org: u64) -> impl Iterator<Item = (u64, &ModelEntry)> {
        self.entries
            .range((org, 0)..=(org, u64::MAX))
            .map(|((_, id), x)| (*id, x))
    }

    /// Records a batch: every operation applied, or none (see [`Outcome`]).
    pub fn record(&mut self, ops: &[Op]) -> Outcome {
        if ops.len() > MAX_BATCH_OPS {
            return Err(vec![Rej::BatchTooLarge(ops.len())]);
        }
        self.journal.clear();
        let mut changed = false;
        for op in ops {
            match self.apply(op) {
                Ok(c) => changed |= c,
                Err(rejections) => {
                    self.undo();
                    return Err(rejections);
                }
            }
        }
        self.journal.clear();
        if changed {
            self.lsn += 1;
        }
        Ok(changed)
    }

    fn undo(&mut self) {
        while let Some(change) = self.journal.pop() {
            match change {
                Undo::Org(id) => drop(self.orgs.remove(&id)),
                Undo::Entry(key) => drop(self.entries.remove(&key)),
                Undo::ReversedBy(key) => self.entry_mut(key).reversed_by = None,
                Undo::PaidAt(key) => self.entry_mut(key).paid_at = None,
                Undo::Flows(org, inflow, outflow) => {
                    let o = self.orgs.get_mut(&org).expect("org of a journalled flow");
                    (o.inflow, o.outflow) = (inflow, outflow);
                }
            }
        }
    }

    fn entry_mut(&mut self, key: (u64, u64)) -> &mut ModelEntry {
        self.entries.get_mut(&key).expect("a known entry")
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::RegisterOrg(org) => self.register(org),
            Op::Post(e) => self.post(e),
            Op::Reverse(r) => self.reverse(r),
            Op::Pay(p) => self.pay(p),
        }
    }

    fn register(&mut self, org: &Org) -> Outcome {
        let id = org.id.0;
        let mut errs = Vec::new();
        if org.name.len() > MAX_ORG_NAME_BYTES
            || org.time_zone.len() > MAX_TIME_ZONE_BYTES
            || Tz::from_str(&org.time_zone).is_err()
            || !in_range(org.created_at)
        {
            errs.push(Rej::InvalidOrg(id));
        }
        if let Some(existing) = self.orgs.get(&id) {
            if existing.org == *org && errs.is_empty() {
                return Ok(false);
            }
            errs.push(Rej::OrgConflict(id));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let tz = Tz::from_str(&org.time_zone).expect("checked above");
        let registered = ModelOrg {
            org: org.clone(),
            tz,
            inflow: 0,
            outflow: 0,
        };
        self.orgs.insert(id, registered);
        self.journal.push(Undo::Org(id));
        Ok(true)
    }

    fn org_tz(&self, org: OrgId) -> Result<Tz, Vec<Rej>> {
        self.orgs
            .get(&org.0)
            .map(|o| o.tz)
            .ok_or_else(|| vec![Rej::UnknownOrg(org.0)])
    }

    fn common_errors(org: u64, id: u64, ts: i64, reference: &str) -> Vec<Rej> {
        let mut errs = Vec::new();
        if id == 0 {
            errs.push(Rej::ZeroEntryId(org));
        }
        if !in_range(ts) {
            errs.push(Rej::TimestampOutOfRange(org, id));
        }
        if reference.len() > MAX_REFERENCE_BYTES {
            errs.push(Rej::TextTooLong(org, id));
        }
        errs
    }

    fn post(&mut self, e: &Entry) -> Outcome {
        let tz = self.org_tz(e.org)?;
        let (org, id) = (e.org.0, e.id.0);
        let mut errs = Self::common_errors(org, id, e.occurred_at, &e.reference);
        if e.amount.0 <= 0 {
            errs.push(Rej::NonPositiveAmount(org, id));
        }
        if !category_allowed(e.category, e.kind) {
            errs.push(Rej::CategoryMismatch(org, id));
        }
        let status_ok = match e.kind {
            Kind::Revenue => e.status.is_none(),
            Kind::Expense => e.status.is_some(),
        };
        if !status_ok {
            errs.push(Rej::BadStatus(org, id));
        }
        if let Some(x) = self.entries.get(&(org, id)) {
            let same = x.reverses.is_none()
                && x.kind == e.kind
                && x.occurred_at == e.occurred_at
                && x.amount == e.amount.0
                && x.category == e.category
                && x.payment_method == e.payment_method
                && x.posted_status == e.status
                && x.reference == e.reference;
            if same && errs.is_empty() {
                return Ok(false);
            }
            errs.push(Rej::DuplicateConflict(org, id));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let entry = ModelEntry {
            kind: e.kind,
            occurred_at: e.occurred_at,
            day: local_day(e.occurred_at, tz),
            amount: e.amount.0,
            category: e.category,
            payment_method: e.payment_method,
            posted_status: e.status,
            reference: e.reference.clone(),
            reverses: None,
            reversed_by: None,
            paid_at: None,
        };
        self.insert(org, id, entry)?;
        Ok(true)
    }

    fn reverse(&mut self, r: &Reversal) -> Outcome {
        let tz = self.org_tz(r.org)?;
        let (org, id, target) = (r.org.0, r.id.0, r.reverses.0);
        let mut errs = Self::common_errors(org, id, r.occurred_at, &r.reference);
        if let Some(x) = self.entries.get(&(org, id)) {
            // Only a reversal repeats a reversal: a posting's id reused by a reversal conflicts,
            // whatever entry the reversal names.
            let same = x.reverses == Some(target)
                && x.occurred_at == r.occurred_at
                && x.reference == r.reference;
            if same && errs.is_empty() {
                return Ok(false);
            }
            errs.push(Rej::DuplicateConflict(org, id));
            return Err(errs);
        }
        let original = match self.entries.get(&(org, target)) {
            None => Err(Rej::UnknownEntry(org, target)),
            Some(o) if o.reverses.is_some() => Err(Rej::ReversalOfReversal(org, target)),
            Some(o) if o.reversed_by.is_some() => Err(Rej::AlreadyReversed(org, target)),
            Some(o) => Ok(o.clone()),
        };
        let original = match original {
            Ok(o) if errs.is_empty() => o,
            Ok(_) => return Err(errs),
            Err(e) => {
                errs.push(e);
                return Err(errs);
            }
        };
        let entry = ModelEntry {
            occurred_at: r.occurred_at,
            day: local_day(r.occurred_at, tz),
            posted_status: None,
            reference: r.reference.clone(),
            reverses: Some(target),
            reversed_by: None,
            paid_at: None,
            ..original
        };
        self.insert(org, id, entry)?;
        self.entry_mut((org, target)).reversed_by = Some(id);
        self.journal.push(Undo::ReversedBy((org, target)));
        Ok(true)
    }

    fn pay(&mut self, p: &PayExpense) -> Outcome {
        self.org_tz(p.org)?;
        let (org, id) = (p.org.0, p.entry.0);
        let mut errs = Self::common_errors(org, id, p.paid_at, "");
        let verdict = match self.entries.get(&(org, id)) {
            None => Err(Rej::UnknownEntry(org, id)),
            Some(x) if x.kind != Kind::Expense || x.reverses.is_some() => {
                Err(Rej::NotAnExpense(org, id))
            }
            Some(x) if x.reversed_by.is_some() => Err(Rej::AlreadyReversed(org, id)),
            Some(x) if x.paid_at == Some(p.paid_at) => Ok(false),
            Some(x) if x.paid_at.is_some() || x.posted_status == Some(ExpenseStatus::Paid) => {
                Err(Rej::AlreadyPaid(org, id))
            }
            Some(_) => Ok(true),
        };
        match verdict {
            Ok(_) if !errs.is_empty() => Err(errs),
            Ok(false) => Ok(false),
            Ok(true) => {
                self.entry_mut((org, id)).paid_at = Some(p.paid_at);
                self.journal.push(Undo::PaidAt((org, id)));
                Ok(true)
            }
            Err(e) => {
                errs.push(e);
                Err(errs)
            }
        }
    }

    /// Adds a new entry and its flow; `Err(Overflow)` when the org's gross flows no longer fit.
    fn insert(&mut self, org: u64, id: u64, entry: ModelEntry) -> Result<(), Vec<Rej>> {
        let o = self.orgs.get_mut(&org).expect("a registered org");
        self.journal.push(Undo::Flows(org, o.inflow, o.outflow));
        if entry.raises() {
            o.inflow += i128::from(entry.amount);
        } else {
            o.outflow += i128::from(entry.amount);
        }
        let opening = i128::from(o.org.opening_balance.0);
        let fits = |v: i128| i64::try_from(v).is_ok();
        let (inflow, outflow) = (o.inflow, o.outflow);
        self.entries.insert((org, id), entry);
        self.journal.push(Undo::Entry((org, id)));
        if fits(inflow) && fits(outflow) && fits(opening + inflow) && fits(opening - outflow) {
            Ok(())
        } else {
            Err(vec![Rej::Overflow(org)])
        }
    }
}
