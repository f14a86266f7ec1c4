//! Reads over the state: day balances, balance ranges and ledger listings.

use super::balance::{DayRow, OrgBalances, ReadCost};
use super::ledger::Row;
use super::State;
use crate::error::{Error, Result};
use crate::limits::{MAX_LIST_ENTRIES, MAX_RANGE_DAYS};
use crate::model::{
    BusinessDay, Category, EntryId, ExpenseStatus, Kind, Money, Month, OrgId, PaymentMethod,
    Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP,
};

/// One org's cash position on one business day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayBalance {
    /// The org.
    pub org: OrgId,
    /// The business day (a calendar date in the org's time zone).
    pub day: BusinessDay,
    /// Closing balance of the previous day.
    pub opening: Money,
    /// Revenue of the day, in minor units: revenue postings of the day minus revenue reversals
    /// of the day (a reversal counts on its own business day, not its original's).
    pub revenue: Money,
    /// Expense of the day, in minor units (positive for money out): expense postings of the day
    /// minus expense reversals of the day.
    pub expense: Money,
    /// Balance at the end of the day: `opening + revenue - expense`, in minor units.
    pub closing: Money,
    /// Revenue rows of the day, reversals of revenues included.
    pub revenue_count: u64,
    /// Expense rows of the day, reversals of expenses included.
    pub expense_count: u64,
}

/// A ledger entry as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The org.
    pub org: OrgId,
    /// The entry's id (its idempotency key).
    pub id: EntryId,
    /// The ledger it is in: a reversal is in its original's.
    pub kind: Kind,
    /// When the money moved, in UTC seconds.
    pub occurred_at: Timestamp,
    /// The org's business day of `occurred_at`, fixed when the entry was recorded.
    pub day: BusinessDay,
    /// As posted: always positive. A reversal's effect is `-amount`.
    pub amount: Money,
    /// The entry's category (a reversal's is its original's).
    pub category: Category,
    /// How the money moved (a reversal's is its original's).
    pub payment_method: PaymentMethod,
    /// Current status of an expense posting; `None` for revenues and reversals.
    pub status: Option<ExpenseStatus>,
    /// When the expense was paid, in UTC seconds; `None` while pending, for revenues and
    /// reversals, and for an expense posted as paid.
    pub paid_at: Option<Timestamp>,
    /// For a reversal, the entry it cancels.
    pub reverses: Option<EntryId>,
    /// For a reversed posting, the reversal that cancels it.
    pub reversed_by: Option<EntryId>,
    /// Free text as recorded (invoice or folio number; a reversal's reason).
    pub reference: String,
}

impl LedgerEntry {
    pub(crate) fn of(org: OrgId, kind: Kind, key: (i64, u64), row: &Row) -> LedgerEntry {
        let status = super::index::def::current_status(row);
        LedgerEntry {
            org,
            id: EntryId(key.1),
            kind,
            occurred_at: key.0,
            day: row.day,
            amount: Money(row.amount),
            category: row.category,
            payment_method: row.payment_method,
            status,
            paid_at: row.paid_at,
            reverses: (row.reverses != 0).then_some(EntryId(row.reverses)),
            reversed_by: (row.reversed_by != 0).then_some(EntryId(row.reversed_by)),
            reference: row.reference.to_string(),
        }
    }

    /// Signed effect on the balance; `None` when it leaves `i64` (only for an amount of
    /// `i64::MIN`, which no recorded entry has: amounts are positive).
    pub fn signed_amount(&self) -> Option<Money> {
        let raises = matches!(
            (self.kind, self.reverses.is_some()),
            (Kind::Revenue, false) | (Kind::Expense, true)
        );
        match raises {
            true => Some(self.amount),
            false => self.amount.checked_neg(),
        }
    }
}

/// A balance of `org` that leaves `i64` (validation rules it out).
pub fn overflow(org: OrgId) -> Error {
    Error::InvalidArgument(format!("org {org}: balance overflows i64"))
}

/// The number of days after `from` of `to`: `InvalidArgument` for an inverted range or one of
/// more than [`MAX_RANGE_DAYS`] days.
pub fn check_day_range(from: BusinessDay, to: BusinessDay) -> Result<i32> {
    if to < from {
        return Err(Error::InvalidArgument(format!(
            "day range {from}..={to} is inverted"
        )));
    }
    let span = from.days_until(to);
    if span >= MAX_RANGE_DAYS {
        return Err(Error::InvalidArgument(format!(
            "day range over {MAX_RANGE_DAYS} days"
        )));
    }
    Ok(span)
}

/// One balance row per day of `from..=to` (a range [`check_day_range`] accepts): `closing` is
/// the closing balance of the day before `from`, `row` the day row of a day with activity.
pub fn day_balances(
    org: OrgId,
    from: BusinessDay,
    to: BusinessDay,
    mut closing: Money,
    row: impl Fn(BusinessDay) -> Option<DayRow>,
) -> Result<Vec<DayBalance>> {
    let span = from.days_until(to).max(0);
    let mut out = Vec::with_capacity(usize::try_from(span).map_or(0, |s| s + 1));
    for offset in 0..=span {
        let Some(day) = from.checked_add_days(i64::from(offset)) else {
            break;
        };
        let row = row(day).unwrap_or_default();
        let opening = closing;
        let net = row.net().ok_or_else(|| overflow(org))?;
        closing = Money(opening.0.checked_add(net).ok_or_else(|| overflow(org))?);
        out.push(DayBalance {
            org,
            day,
            opening,
            revenue: Money(row.revenue),
            expense: Money(row.expense),
            closing,
            revenue_count: row.revenue_count,
            expense_count: row.expense_count,
        });
    }
    Ok(out)
}

impl State {
    fn org_balances(&self, org: OrgId) -> Result<(i64, Option<&OrgBalances>)> {
        let state = self.orgs.get(&org).ok_or(Error::UnknownOrg(org))?;
        Ok((
            state.opening,
            self.shard(org).orgs.get(&org).map(|b| &**b),
        ))
    }

    /// Closing balance of `day` and what the read cost.
    ///
    /// The nets of the months in memory (open months, and the overlays of frozen ones) come from
    /// the org's balances; those of frozen months from their files (`file_net_before`, and the
    /// running net of the day's month when it is frozen).
    pub fn closing(&self, org: OrgId, day: BusinessDay) -> Result<(Money, ReadCost)> {
        let (opening, balances) = self.org_balances(org)?;
        let (mut net, mut cost) = match balances {
            Some(b) => b.net_through(day).ok_or_else(|| overflow(org))?,
            None => (0, ReadCost::default()),
        };
        if !self.frozen.months().is_empty() {
            let (before, blocks) = self.file_net_before(org, day.month())?;
            let within = self.frozen_through(org, day)?;
            cost.frozen_blocks = blocks + u32::from(self.is_frozen(day.month()));
            net = net
                .checked_add(before)
                .and_then(|n| n.checked_add(within))
                .ok_or_else(|| overflow(org))?;
        }
        Ok((
            Money(opening.checked_add(net).ok_or_else(|| overflow(org))?),
            cost,
        ))
    }

    /// The org's day row of `day`: the in-memory one plus, for a frozen month, the file's.
    fn day_row(&self, org: OrgId, balances: Option<&OrgBalances>, day: BusinessDay) -> Result<Option<DayRow>> {
        let memory = balances.and_then(|b| b.row(day)).copied();
        let Some(file) = self.frozen_day(org, day)? else {
            return Ok(memory);
        };
        let Some(m) = memory else {
            return Ok(Some(file));
        };
        let sum = |a: i64, b: i64| a.checked_add(b).ok_or_else(|| overflow(org));
        let count = |a: u64, b: u64| a.checked_add(b).ok_or_else(|| overflow(org));
        Ok(Some(DayRow {
            day,
            revenue: sum(file.revenue, m.revenue)?,
            expense: sum(file.expense, m.expense)?,
            revenue_count: count(file.revenue_count, m.revenue_count)?,
            expense_count: count(file.expense_count, m.expense_count)?,
            through: sum(file.through, m.through)?,
        }))
    }

    /// The balance row of one org and day.
    pub fn balance(&self, org: OrgId, day: BusinessDay) -> Result<DayBalance> {
        let (closing, _) = self.closing(org, day)?;
        let (_, balances) = self.org_balances(org)?;
        let row = self.day_row(org, balances, day)?.unwrap_or_default();
        let net = row.net().ok_or_else(|| overflow(org))?;
        Ok(DayBalance {
            org,
            day,
            opening: Money(closing.0.checked_sub(net).ok_or_else(|| overflow(org))?),
            revenue: Money(row.revenue),
            expense: Money(row.expense),
            closing,
            revenue_count: row.revenue_count,
            expense_count: row.expense_count,
        })
    }

    /// One row per day of `from..=to`, days without activity included.
    pub fn balances(
        &self,
        org: OrgId,
        from: BusinessDay,
        to: BusinessDay,
    ) -> Result<Vec<DayBalance>> {
        check_day_range(from, to)?;
        #[cfg(test)]
        crate::test_hooks::reached(crate::test_hooks::Point::Scan);
        let (opening, balances) = self.org_balances(org)?;
        // Nothing lies before the first day: its opening is the org's opening balance.
        let closing = match from.prev() {
            Some(before) => self.closing(org, before)?.0,
            None => Money(opening),
        };
        if self.frozen.months().is_empty() {
            return day_balances(org, from, to, closing, |day| {
                balances.and_then(|b| b.row(day)).copied()
            });
        }
        // A frozen month's day rows merged once (one block read), not day by day.
        let mut frozen_rows = std::collections::BTreeMap::new();
        let mut month = Some(from.month());
        while let Some(m) = month.filter(|m| *m <= to.month()) {
            if self.is_frozen(m) {
                for row in self.month_days(org, m)? {
                    frozen_rows.insert(row.day, row);
                }
            }
            month = m.next();
        }
        day_balances(org, from, to, closing, |day| match self.is_frozen(day.month()) {
            true => frozen_rows.get(&day).copied(),
            false => balances.and_then(|b| b.row(day)).copied(),
        })
    }

    /// Entries of both ledgers with `from <= occurred_at < to`, in (occurred_at, entry id) order.
    pub fn entries(&self, org: OrgId, from: Timestamp, to: Timestamp) -> Result<Vec<LedgerEntry>> {
        if to <= from {
            return Err(Error::InvalidArgument(format!(
                "time range {from}..{to} is empty or inverted"
            )));
        }
        if !self.orgs.contains_key(&org) {
            return Err(Error::UnknownOrg(org));
        }
        // Nothing exists outside the supported range; clamping keeps month arithmetic in range.
        let (from, to) = (from.max(MIN_TIMESTAMP), to.min(MAX_TIMESTAMP + 1));
        if to <= from {
            return Ok(Vec::new());
        }
        #[cfg(test)]
        crate::test_hooks::reached(crate::test_hooks::Point::Scan);
        // `from < to`, so `to - 1` cannot overflow.
        let (first, last) = (Month::of_utc(from)?, Month::of_utc(to - 1)?);
        let mut out = Vec::new();
        for kind in [Kind::Revenue, Kind::Expense] {
            for pid in self.partitions_in(kind, first, last) {
                let Some(ledger) = self.org_ledger(pid, org)? else {
                    continue;
                };
                for (key, row) in ledger.rows.range((from, 0)..(to, 0)) {
                    if out.len() == MAX_LIST_ENTRIES {
                        return Err(Error::InvalidArgument(format!(
                            "range holds more than {MAX_LIST_ENTRIES} entries; narrow it"
                        )));
                    }
                    out.push(LedgerEntry::of(org, pid.kind, *key, row));
                }
            }
        }
        out.sort_unstable_by_key(|e| (e.occurred_at, e.id));
        Ok(out)
    }
}
