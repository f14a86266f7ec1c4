//! hotel-ledger-v1 query instances (Q1–Q5): typed execution, and answers in the answer shapes of
//! WORKLOAD.md so they compare exactly with other engines' answers.

use crate::{calendar_month, QueryInstance, MAX_MONTH};
use folio::{BusinessDay, Error, Money, Month, OrgId, Result, Snapshot};
use folio::{CategoryLine, LedgerLine, PendingLine, TopLine};
use serde_json::{json, Value};

/// The year of hotel-ledger-v1's month 1 (2024-01; month 13 is 2025-01, see
/// [`crate::calendar_month`]).
pub const WORKLOAD_YEAR: i32 = 2024;
/// Rows of a Q3 ledger page, Q4 pending list and Q5 top list.
pub const Q3_ROWS: usize = 50;
pub const Q4_ROWS: usize = 100;
pub const Q5_ROWS: usize = 10;

/// A typed result of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Closing(Money),
    Month {
        revenue: Vec<CategoryLine>,
        expense: Vec<CategoryLine>,
        net: Money,
    },
    Page(Vec<LedgerLine>),
    Pending(Vec<PendingLine>),
    Top(Vec<TopLine>),
}

fn month(m: u32) -> Result<Month> {
    calendar_month(m)
        .ok_or_else(|| Error::InvalidArgument(format!("month {m} is not 1..={MAX_MONTH}")))
}

/// Runs one instance. Q1–Q4 about an org that is not registered are `Error::UnknownOrg`, as
/// `Db::balance` and every other per-org read answer: such an org has no currency, no opening
/// balance and no rows, and a 0 or an empty list would pass for a real answer. (A SQL engine
/// answers 0 or nothing; hotel-ledger-v1 only asks about registered orgs.)
pub fn execute(view: &Snapshot, q: &QueryInstance) -> Result<Outcome> {
    let known = |org: u64| {
        let org = OrgId(org);
        view.org(org)?.map(|_| org).ok_or(Error::UnknownOrg(org))
    };
    Ok(match *q {
        QueryInstance::Q1 { org, day } => Outcome::Closing(
            view.closing_with_cost(known(org)?, BusinessDay::from_days(day)?)?
                .0,
        ),
        QueryInstance::Q2 { org, month: m } => {
            let (revenue, expense, net) = view.month_totals(known(org)?, month(m)?)?;
            Outcome::Month {
                revenue,
                expense,
                net,
            }
        }
        QueryInstance::Q3 { org, from, to } => {
            Outcome::Page(view.ledger_page(known(org)?, from, to, Q3_ROWS)?)
        }
        QueryInstance::Q4 { org } => Outcome::Pending(view.pending_expenses(known(org)?, Q4_ROWS)?),
        QueryInstance::Q5 { month: m } => Outcome::Top(view.top_revenue(month(m)?, Q5_ROWS)?),
    })
}

impl Outcome {
    /// The answer in WORKLOAD.md's shape.
    pub fn to_json(&self) -> Value {
        let categories = |ls: &[CategoryLine]| {
            ls.iter()
                .map(|l| json!({"category": l.category.as_str(), "total": l.total.0, "count": l.count}))
                .collect::<Vec<_>>()
        };
        match self {
            Outcome::Closing(m) => json!(m.0),
            Outcome::Month { revenue, expense, net } => {
                json!({"revenue": categories(revenue), "expense": categories(expense), "net": net.0})
            }
            Outcome::Page(lines) => Value::Array(
                lines
                    .iter()
                    .map(|l| {
                        json!({"kind": l.kind.as_str(), "entry_id": l.entry_id, "occurred_at": l.occurred_at,
                               "amount": l.amount.0, "category": l.category.as_str()})
                    })
                    .collect(),
            ),
            Outcome::Pending(lines) => Value::Array(
                lines
                    .iter()
                    .map(|l| {
                        json!({"entry_id": l.entry_id, "occurred_at": l.occurred_at, "amount": l.amount.0,
                               "category": l.category.as_str()})
                    })
                    .collect(),
            ),
            Outcome::Top(lines) => {
                Value::Array(lines.iter().map(|l| json!({"org_id": l.org.0, "total": l.total.0})).collect())
            }
        }
    }
}

/// Runs one instance and shapes its answer.
pub fn answer(view: &Snapshot, q: &QueryInstance) -> Result<Value> {
    Ok(execute(view, q)?.to_json())
}
