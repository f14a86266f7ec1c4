//! Running a planned query: visit the plan's partitions month by month, read each org's ledger
//! through the chosen index (its matching key runs) or its clustered rows, filter, then page rows
//! in time order or fold them into groups.

use super::builder::{Cursor, GroupBy, Order, Query};
use super::plan::{prefix_values, Access, Plan};
use crate::error::{Error, Result};
use crate::model::{
    BusinessDay, Category, Currency, ExpenseStatus, Kind, Money, Month, OrgId, PaymentMethod,
};
use crate::limits::MAX_KEY_COLUMNS;
use crate::state::index::{Column, IndexDef, RunItem};
use crate::state::ledger::{OrgMonthLedger, PartitionId, Row};
use crate::state::read::LedgerEntry;
use crate::state::State;
use std::collections::BTreeMap;

/// What a group is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    /// Rows of one category ([`crate::GroupBy::Category`]).
    Category(Category),
    /// Rows moved with one payment method ([`crate::GroupBy::PaymentMethod`]).
    PaymentMethod(PaymentMethod),
    /// Rows of one business day of their org ([`crate::GroupBy::Day`]).
    Day(BusinessDay),
    /// Rows of one UTC month of `occurred_at` ([`crate::GroupBy::Month`]).
    Month(Month),
    /// Every row ([`crate::GroupBy::Nothing`]).
    All,
}

/// Aggregates of one group over signed amounts. Amounts of different currencies are never added:
/// a query over several orgs has one group per (currency, key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// What the group's rows share.
    pub key: GroupKey,
    /// The currency of every amount in the group.
    pub currency: Currency,
    /// Sum of the rows' signed amounts, in minor units: a reversal counts negative, an expense
    /// positive as in its ledger (so over both ledgers revenues and expenses add alike).
    pub sum: Money,
    /// Rows in the group, reversals included.
    pub count: u64,
    /// Smallest signed amount of a row, in minor units.
    pub min: Money,
    /// Largest signed amount of a row, in minor units.
    pub max: Money,
}

/// One value of a projected column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `occurred_at`, in UTC seconds.
    Time(i64),
    /// The entry id.
    EntryId(u64),
    /// Signed: a reversal is negative.
    Amount(Money),
    /// The entry's category.
    Category(Category),
    /// The entry's payment method.
    PaymentMethod(PaymentMethod),
    /// `None` for revenues and reversals.
    Status(Option<ExpenseStatus>),
    /// The org's business day of the entry.
    Day(BusinessDay),
}

impl Value {
    fn of(column: Column, raw: i64) -> Option<Value> {
        Some(match column {
            Column::OccurredAt => Value::Time(raw),
            Column::EntryId => Value::EntryId(raw as u64),
            Column::Amount => Value::Amount(Money(raw)),
            Column::Category => Value::Category(Category::from_code(u8::try_from(raw).ok()?)?),
            Column::PaymentMethod => {
                Value::PaymentMethod(PaymentMethod::from_code(u8::try_from(raw).ok()?)?)
            }
            Column::Status => Value::Status(ExpenseStatus::from_code(u8::try_from(raw).ok()?)),
            Column::Day => Value::Day(BusinessDay::from_days(i32::try_from(raw).ok()?).ok()?),
        })
    }
}

/// A row of a projection: which entry, and the selected columns' values in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectedRow {
    /// The entry's org.
    pub org: OrgId,
    /// The entry's ledger.
    pub kind: Kind,
    /// The selected columns' values, in the order of [`crate::Query::select`].
    pub values: Vec<Value>,
}

/// A query's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryOutput {
    /// A page of rows; `next` continues after its last row when the page is full.
    Rows {
        /// The entries of the page, in the query's order.
        rows: Vec<LedgerEntry>,
        /// Where the next page starts ([`crate::Query::after`]); `None` when the page is not full
        /// (the last one).
        next: Option<Cursor>,
    },
    /// A page of projected rows (see [`Query::select`]).
    Projected {
        /// The selected columns, in the order asked.
        columns: Vec<Column>,
        /// The projected rows of the page, in the query's order.
        rows: Vec<ProjectedRow>,
        /// Where the next page starts; `None` when the page is not full (the last one).
        next: Option<Cursor>,
    },
    /// Groups by currency code, then key order.
    Groups(Vec<Group>),
}

/// One candidate row, read from a row (in memory or copied out of a frozen file) or from an
/// index entry.
pub(super) struct Candidate<'a> {
    pub(super) org: OrgId,
    pub(super) kind: Kind,
    pub(super) at: i64,
    pub(super) id: u64,
    pub(super) source: Source<'a>,
}

pub(super) enum Source<'a> {
    Row(&'a Row),
    /// A row copied out of a frozen month file.
    Owned(Row),
    /// An index entry and the ledger whose row it points to.
    Index(
        &'a IndexDef,
        &'a [i64; MAX_KEY_COLUMNS],
        &'a RunItem,
        &'a OrgMonthLedger,
    ),
}

impl Candidate<'_> {
    fn row(&self) -> Option<&Row> {
        match &self.source {
            Source::Row(row) => Some(row),
            Source::Owned(row) => Some(row),
            Source::Index(.., ledger) => ledger.rows.get(&(self.at, self.id)),
        }
    }

    /// A column's value: from the index entry when it holds it, else from the row.
    fn get(&self, column: Column) -> Option<i64> {
        match (column, &self.source) {
            (Column::OccurredAt, _) => Some(self.at),
            (Column::EntryId, _) => Some(self.id as i64),
            (_, Source::Index(def, key, item, _)) => {
                if let Some(i) = def.key.iter().position(|c| *c == column) {
                    return Some(key[i]);
                }
                if let Some(j) = def.include.iter().position(|c| *c == column) {
                    return Some(item.include[j]);
                }
                if let Some(v) = def.fixed_value(column) {
                    return Some(v);
                }
                self.row().map(|r| column.value((self.at, self.id), r))
            }
            (_, Source::Row(row)) => Some(column.value((self.at, self.id), row)),
            (_, Source::Owned(row)) => Some(column.value((self.at, self.id), row)),
        }
    }

    pub(super) fn matches(&self, q: &Query) -> bool {
        let eq = |column, want: Option<i64>| want.is_none_or(|w| self.get(column) == Some(w));
        if q.time
            .is_some_and(|(from, to)| !(from..to).contains(&self.at))
        {
            return false;
        }
        if let Some((first, last)) = q.days {
            if !self
                .get(Column::Day)
                .is_some_and(|d| (i64::from(first.days())..=i64::from(last.days())).contains(&d))
            {
                return false;
            }
        }
        let amount_ok = match q.amount {
            (None, None) => true,
            (min, max) => self
                .get(Column::Amount)
                .is_some_and(|a| min.is_none_or(|m| a >= m) && max.is_none_or(|m| a <= m)),
        };
        amount_ok
            && eq(Column::Category, q.category.map(|c| c.code() as i64))
            && eq(
                Column::PaymentMethod,
                q.payment_method.map(|p| p.code() as i64),
            )
            && eq(Column::Status, q.status.map(|s| s.code() as i64))
    }

    fn position(&self) -> (i64, u64, u8, u64) {
        (self.at, self.id, self.kind.code(), self.org.0)
    }
}

impl State {
    /// Plans and runs a query.
    pub fn query(&self, q: &Query) -> Result<(QueryOutput, Plan)> {
        q.validate()?;
        if let Some(org) = q.org {
            if !self.orgs.contains_key(&org) {
                return Err(Error::UnknownOrg(org));
            }
        }
        let plan = self.plan(q)?;
        let mut months: Vec<Month> = plan.partitions.iter().map(|p| p.month).collect();
        months.dedup();
        if q.order == Order::TimeDesc {
            months.reverse();
        }
        let mut rows = Vec::new();
        let mut projected = Vec::new();
        let mut groups: BTreeMap<(Currency, GroupKey), Group> = BTreeMap::new();
        for month in months {
            // A frozen month's ledgers are merged (file, patches, overlay) into owned values
            // that live while its candidates do.
            let frozen = self.is_frozen(month);
            let mut merged: Vec<(OrgId, Kind, usize, OrgMonthLedger)> = Vec::new();
            if frozen {
                for (at, (kind, _)) in plan.access.iter().enumerate() {
                    let pid = PartitionId { kind: *kind, month };
                    let orgs = match q.org {
                        Some(org) => vec![org],
                        None => self.partition_orgs(pid)?,
                    };
                    for org in orgs {
                        if let Some(ledger) = self.org_ledger(pid, org)? {
                            merged.push((org, *kind, at, ledger.into_owned()));
                        }
                    }
                }
            }
            let mut candidates = Vec::new();
            for (org, kind, at, ledger) in &merged {
                self.collect(*org, *kind, ledger, &plan.access[*at].1, q, &mut candidates);
            }
            for (kind, access) in plan.access.iter().filter(|_| !frozen) {
                let Some(bucket) = self.ledgers.get(&PartitionId { kind: *kind, month }) else {
                    continue;
                };
                match q.org {
                    Some(org) => {
                        if let Some(ledger) = bucket.orgs.get(&org) {
                            self.collect(org, *kind, ledger, access, q, &mut candidates);
                        }
                    }
                    None => {
                        for (org, ledger) in &bucket.orgs {
                            self.collect(*org, *kind, ledger, access, q, &mut candidates);
                        }
                    }
                }
            }
            match q.group_by {
                Some(by) => fold(&mut groups, by, &candidates, |org| self.currency_of(org))?,
                None => {
                    if let Some(next) = page(&mut rows, &mut projected, candidates, q)? {
                        return Ok((output(q, rows, projected, Some(next)), plan));
                    }
                }
            }
        }
        let output = match q.group_by {
            Some(_) => QueryOutput::Groups(groups.into_values().collect()),
            None => output(q, rows, projected, None),
        };
        Ok((output, plan))
    }

    fn collect<'a>(
        &'a self,
        org: OrgId,
        kind: Kind,
        ledger: &'a OrgMonthLedger,
        access: &Access,
        q: &Query,
        out: &mut Vec<Candidate<'a>>,
    ) {
        let (from, to) = q.time.unwrap_or((i64::MIN, i64::MAX));
        let index = match access {
            Access::Index { slot, .. } if ledger.has_indexes() => self
                .catalog
                .of_table(kind)
                .nth(*slot)
                .map(|(_, def)| (*slot, def)),
            _ => None,
        };
        let before = out.len();
        match index {
            Some((slot, def)) => {
                let prefix = prefix_values(def, q);
                for (key, run) in ledger.indexes[slot].runs_with_prefix(&prefix) {
                    let start = run.partition_point(|i| i.occurred_at < from);
                    for item in run[start..].iter().take_while(|i| i.occurred_at < to) {
                        let source = Source::Index(def, key, item, ledger);
                        out.push(Candidate {
                            org,
                            kind,
                            at: item.occurred_at,
                            id: item.entry_id,
                            source,
                        });
                    }
                }
            }
            None => {
                for (&(at, id), row) in ledger.rows.range((from, 0)..(to, 0)) {
                    out.push(Candidate {
                        org,
                        kind,
                        at,
                        id,
                        source: Source::Row(row),
                    });
                }
            }
        }
        let mut kept = before;
        for i in before..out.len() {
            if out[i].matches(q) {
                out.swap(kept, i);
                kept += 1;
            }
        }
        out.truncate(kept);
    }
}

pub(super) fn output(
    q: &Query,
    rows: Vec<LedgerEntry>,
    projected: Vec<ProjectedRow>,
    next: Option<Cursor>,
) -> QueryOutput {
    match &q.select {
        Some(columns) => QueryOutput::Projected {
            columns: columns.clone(),
            rows: projected,
            next,
        },
        None => QueryOutput::Rows { rows, next },
    }
}

/// Adds one month's candidates to the page; returns the cursor when the page is full.
pub(super) fn page(
    rows: &mut Vec<LedgerEntry>,
    projected: &mut Vec<ProjectedRow>,
    mut candidates: Vec<Candidate<'_>>,
    q: &Query,
) -> Result<Option<Cursor>> {
    candidates.sort_unstable_by_key(Candidate::position);
    if q.order == Order::TimeDesc {
        candidates.reverse();
    }
    for c in candidates {
        if let Some(after) = q.after {
            let past = match q.order {
                Order::TimeAsc => c.position() > after.position(),
                Order::TimeDesc => c.position() < after.position(),
            };
            if !past {
                continue;
            }
        }
        let taken = match &q.select {
            Some(columns) => {
                let missing = || Error::InvalidArgument("index entry without its row".into());
                let values = columns
                    .iter()
                    .map(|col| {
                        c.get(*col)
                            .and_then(|raw| Value::of(*col, raw))
                            .ok_or_else(missing)
                    })
                    .collect::<Result<Vec<_>>>()?;
                projected.push(ProjectedRow {
                    org: c.org,
                    kind: c.kind,
                    values,
                });
                projected.len()
            }
            None => {
                let Some(row) = c.row() else { continue };
                rows.push(LedgerEntry::of(c.org, c.kind, (c.at, c.id), row));
                rows.len()
            }
        };
        if taken == q.limit {
            return Ok(Some(Cursor {
                occurred_at: c.at,
                entry_id: c.id,
                kind: c.kind,
                org: c.org,
                query: q.fingerprint(),
            }));
        }
    }
    Ok(None)
}

/// Adds candidates to their (currency, key) groups; `currency_of` gives an org's currency.
pub(super) fn fold(
    groups: &mut BTreeMap<(Currency, GroupKey), Group>,
    by: GroupBy,
    candidates: &[Candidate<'_>],
    currency_of: impl Fn(OrgId) -> Option<Currency>,
) -> Result<()> {
        let mut last: Option<(OrgId, Currency)> = None;
        let missing = || Error::InvalidArgument("index entry without its row".into());
        for c in candidates {
            let key = match by {
                GroupBy::Category => GroupKey::Category(
                    c.get(Column::Category)
                        .and_then(|v| Category::from_code(u8::try_from(v).ok()?))
                        .ok_or_else(missing)?,
                ),
                GroupBy::PaymentMethod => GroupKey::PaymentMethod(
                    c.get(Column::PaymentMethod)
                        .and_then(|v| PaymentMethod::from_code(u8::try_from(v).ok()?))
                        .ok_or_else(missing)?,
                ),
                GroupBy::Day => GroupKey::Day(
                    c.get(Column::Day)
                        .and_then(|v| BusinessDay::from_days(i32::try_from(v).ok()?).ok())
                        .ok_or_else(missing)?,
                ),
                GroupBy::Month => GroupKey::Month(Month::of_utc(c.at)?),
                GroupBy::Nothing => GroupKey::All,
            };
            let currency = match last {
                Some((org, currency)) if org == c.org => currency,
                _ => {
                    let currency = currency_of(c.org).ok_or(Error::UnknownOrg(c.org))?;
                    last = Some((c.org, currency));
                    currency
                }
            };
            let amount = c.get(Column::Amount).ok_or_else(missing)?;
            let g = groups.entry((currency, key)).or_insert(Group {
                key,
                currency,
                sum: Money(0),
                count: 0,
                min: Money(amount),
                max: Money(amount),
            });
            g.sum = Money(
                g.sum
                    .0
                    .checked_add(amount)
                    .ok_or_else(|| Error::InvalidArgument("sum overflows i64".into()))?,
            );
            g.count += 1;
            g.min = g.min.min(Money(amount));
            g.max = g.max.max(Money(amount));
        }
        Ok(())
    }
