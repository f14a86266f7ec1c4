//! What the reports must answer for the model's contents: the monthly report (by category, per
//! UTC calendar month of `occurred_at`, with the daily closing balances of the month's business
//! days), the ledger page and the pending expenses.

use super::Model;
use chrono::{Datelike, NaiveDate};
use folio::{
    CategoryLine, ExpenseStatus, Kind, LedgerLine, Money, Month, MonthlyReport, OrgId, PendingLine,
};
use std::collections::BTreeMap;

/// The UTC calendar month of `ts` as a month index (`year * 12 + month - 1`).
pub fn utc_month(ts: i64) -> i32 {
    let at = chrono::DateTime::from_timestamp(ts, 0).expect("a supported instant");
    at.year() * 12 + at.month0() as i32
}

/// The first and the last day (days since 1970-01-01) of the calendar month `index`.
pub fn month_days(index: i32) -> (i32, i32) {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let first_of = |index: i32| {
        let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
        let date = NaiveDate::from_ymd_opt(year, month0 as u32 + 1, 1).expect("a month");
        i32::try_from((date - epoch).num_days()).expect("day fits i32")
    };
    (first_of(index), first_of(index + 1) - 1)
}

fn fit(v: i128, what: &str) -> Result<Money, String> {
    i64::try_from(v)
        .map(Money)
        .map_err(|_| format!("model accepted a state whose {what} leaves i64"))
}

impl Model {
    /// One ledger of `org` in the UTC month `index` by category: signed totals (a reversal
    /// counts negative) and rows, reversals included; sorted by category name, categories
    /// without rows left out.
    fn month_lines(&self, org: u64, kind: Kind, index: i32) -> Result<Vec<CategoryLine>, String> {
        let mut by_name = BTreeMap::new();
        for (_, x) in self.org_entries(org) {
            if x.kind != kind || utc_month(x.occurred_at) != index {
                continue;
            }
            let line = by_name
                .entry(x.category.as_str())
                .or_insert((x.category, 0i128, 0u64));
            line.1 += if x.reverses.is_some() {
                -i128::from(x.amount)
            } else {
                i128::from(x.amount)
            };
            line.2 += 1;
        }
        by_name
            .into_values()
            .map(|(category, total, count)| {
                Ok(CategoryLine {
                    category,
                    total: fit(total, "month total")?,
                    count,
                })
            })
            .collect()
    }

    /// `Db::monthly_report` of `org` (registered) for the UTC month `index`.
    pub fn monthly_report(&self, org: u64, index: i32) -> Result<MonthlyReport, String> {
        let revenue = self.month_lines(org, Kind::Revenue, index)?;
        let expense = self.month_lines(org, Kind::Expense, index)?;
        let sum =
            |lines: &[CategoryLine]| lines.iter().map(|l| i128::from(l.total.0)).sum::<i128>();
        let net = sum(&revenue) - sum(&expense);
        let (first, last) = month_days(index);
        let daily_closing = self
            .balances(org, first, last)?
            .into_iter()
            .map(|b| (b.day, b.closing))
            .collect();
        Ok(MonthlyReport {
            org: OrgId(org),
            month: Month::from_index(index).map_err(|e| format!("month {index}: {e}"))?,
            revenue,
            expense,
            net: fit(net, "month net")?,
            daily_closing,
        })
    }

    /// `Db::ledger_page`: the `limit` most recent entries of `org` with
    /// `from <= occurred_at < to`, newest first, amounts signed (a reversal is negative).
    pub fn ledger_page(&self, org: u64, from: i64, to: i64, limit: usize) -> Vec<LedgerLine> {
        let mut lines: Vec<LedgerLine> = self
            .org_entries(org)
            .filter(|(_, x)| from <= x.occurred_at && x.occurred_at < to)
            .map(|(id, x)| LedgerLine {
                kind: x.kind,
                entry_id: id,
                occurred_at: x.occurred_at,
                amount: Money(if x.reverses.is_some() {
                    -x.amount
                } else {
                    x.amount
                }),
                category: x.category,
            })
            .collect();
        lines.sort_by_key(|l| std::cmp::Reverse((l.occurred_at, l.entry_id)));
        lines.truncate(limit);
        lines
    }

    /// `Db::pending_expenses`: the `limit` oldest expense postings of `org` whose status is
    /// still pending (a reversed one included), by (occurred_at, entry id).
    pub fn pending_expenses(&self, org: u64, limit: usize) -> Vec<PendingLine> {
        let mut lines: Vec<PendingLine> = self
            .org_entries(org)
            .filter(|(_, x)| x.status() == Some(ExpenseStatus::Pending))
            .map(|(id, x)| PendingLine {
                entry_id: id,
                occurred_at: x.occurred_at,
                amount: Money(x.amount),
                category: x.category,
            })
            .collect();
        lines.sort_by_key(|l| (l.occurred_at, l.entry_id));
        lines.truncate(limit);
        lines
    }
}
