//! What the reads must answer for the model's contents: the ledger listing (`Db::entries`) and
//! the balance rows (`Db::balance`, `Db::balances`).

use super::{Model, ModelEntry};
use folio::{BusinessDay, DayBalance, EntryId, Kind, LedgerEntry, Money, OrgId};
use std::collections::{BTreeMap, BTreeSet};

/// One business day of an org, exact: (revenue, expense, revenue rows, expense rows). A reversal
/// counts on its own day, negative, in its original's ledger.
pub type DayTotals = (i128, i128, u64, u64);

impl Model {
    /// The entry as the reads list it.
    pub fn ledger_entry(&self, org: u64, id: u64, x: &ModelEntry) -> LedgerEntry {
        LedgerEntry {
            org: OrgId(org),
            id: EntryId(id),
            kind: x.kind,
            occurred_at: x.occurred_at,
            day: BusinessDay::from_days(x.day).expect("the day of a supported instant"),
            amount: Money(x.amount),
            category: x.category,
            payment_method: x.payment_method,
            status: x.status(),
            paid_at: x.paid_at,
            reverses: x.reverses.map(EntryId),
            reversed_by: x.reversed_by.map(EntryId),
            reference: x.reference.clone(),
        }
    }

    /// Entries of `org` with `from <= occurred_at < to`, by (occurred_at, id).
    pub fn listing(&self, org: u64, from: i64, to: i64) -> Vec<LedgerEntry> {
        let mut out: Vec<LedgerEntry> = self
            .org_entries(org)
            .filter(|(_, x)| from <= x.occurred_at && x.occurred_at < to)
            .map(|(id, x)| self.ledger_entry(org, id, x))
            .collect();
        out.sort_by_key(|e| (e.occurred_at, e.id));
        out
    }

    /// Days with at least one row of `org`.
    pub fn touched_days(&self, org: u64) -> BTreeSet<i32> {
        self.org_entries(org).map(|(_, x)| x.day).collect()
    }

    /// Per-day totals of `org`.
    pub fn day_totals(&self, org: u64) -> BTreeMap<i32, DayTotals> {
        let mut days: BTreeMap<i32, DayTotals> = BTreeMap::new();
        for (_, x) in self.org_entries(org) {
            let amount = if x.reverses.is_some() {
                -i128::from(x.amount)
            } else {
                i128::from(x.amount)
            };
            let row = days.entry(x.day).or_default();
            match x.kind {
                Kind::Revenue => {
                    row.0 += amount;
                    row.2 += 1;
                }
                Kind::Expense => {
                    row.1 += amount;
                    row.3 += 1;
                }
            }
        }
        days
    }

    /// Balance rows of `org` (registered) for `from..=to` (business days). `Err` names a value
    /// that leaves i64, which the overflow rule must have ruled out.
    pub fn balances(&self, org: u64, from: i32, to: i32) -> Result<Vec<DayBalance>, String> {
        self.balance_rows(org, &self.day_totals(org), from, to)
    }

    /// [`Model::balances`] from the org's [`Model::day_totals`] (when several reads share them).
    pub fn balance_rows(
        &self,
        org: u64,
        totals: &BTreeMap<i32, DayTotals>,
        from: i32,
        to: i32,
    ) -> Result<Vec<DayBalance>, String> {
        let opening = self.org(org).expect("a registered org").org.opening_balance;
        let mut closing = i128::from(opening.0)
            + totals
                .range(..from)
                .map(|(_, (rev, exp, _, _))| rev - exp)
                .sum::<i128>();
        let fit = |v: i128, what: &str, day: i32| {
            i64::try_from(v).map(Money).map_err(|_| {
                format!("model accepted a state whose {what} of org {org} on day {day} leaves i64")
            })
        };
        let mut out = Vec::new();
        for day in from..=to {
            let (rev, exp, revenue_count, expense_count) =
                totals.get(&day).copied().unwrap_or_default();
            let opening = closing;
            closing = opening + rev - exp;
            out.push(DayBalance {
                org: OrgId(org),
                day: BusinessDay::from_days(day).expect("a business day"),
                opening: fit(opening, "opening", day)?,
                revenue: fit(rev, "revenue", day)?,
                expense: fit(exp, "expense", day)?,
                closing: fit(closing, "closing", day)?,
                revenue_count,
                expense_count,
            });
        }
        Ok(out)
    }

    /// The row `Db::balance` must answer for `org` and `day`: `None` when the org is not
    /// registered, `day` is no business day, or a value leaves i64.
    pub fn balance(&self, org: u64, day: i32) -> Option<DayBalance> {
        self.org(org)?;
        BusinessDay::from_days(day).ok()?;
        self.balances(org, day, day).ok()?.pop()
    }

    /// What all entries of all orgs add to the opening balances.
    pub fn net_total(&self) -> i128 {
        self.org_ids()
            .map(|org| self.org(org).expect("listed").net())
            .sum()
    }
}
