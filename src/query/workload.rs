//! hotel-ledger-v1 query instances (Q1–Q5): typed execution, and answers in the answer shapes of
//! WORKLOAD.md so they compare exactly with other engines' answers.

use crate::db::Snapshot;
use crate::error::{Error, Result};
use crate::model::{BusinessDay, Money, Month, OrgId};
use crate::query::{CategoryLine, LedgerLine, PendingLine, TopLine};
use crate::workload::QueryInstance;
use serde_json::{json, Value};

/// The year hotel-ledger-v1 months refer to.
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
    Month::from_ym(WORKLOAD_YEAR, m)
        .ok_or_else(|| Error::InvalidArgument(format!("month {m} is not 1..=12")))
}

/// Runs one instance. An org that does not exist has no rows: 0 or empty lists, as a SQL engine
/// answers.
pub fn execute(view: &Snapshot, q: &QueryInstance) -> Result<Outcome> {
    let known = |org: u64| view.org(OrgId(org)).is_some();
    Ok(match *q {
        QueryInstance::Q1 { org, day } if known(org) => {
            Outcome::Closing(view.closing_with_cost(OrgId(org), BusinessDay(day))?.0)
        }
        QueryInstance::Q1 { .. } => Outcome::Closing(Money(0)),
        QueryInstance::Q2 { org, month: m } if known(org) => {
            let (revenue, expense, net) = view.month_totals(OrgId(org), month(m)?)?;
            Outcome::Month {
                revenue,
                expense,
                net,
            }
        }
        QueryInstance::Q2 { month: m, .. } => {
            month(m)?;
            Outcome::Month {
                revenue: Vec::new(),
                expense: Vec::new(),
                net: Money(0),
            }
        }
        QueryInstance::Q3 { org, from, to } if known(org) => {
            Outcome::Page(view.ledger_page(OrgId(org), from, to, Q3_ROWS)?)
        }
        QueryInstance::Q3 { .. } => Outcome::Page(Vec::new()),
        QueryInstance::Q4 { org } if known(org) => {
            Outcome::Pending(view.pending_expenses(OrgId(org), Q4_ROWS)?)
        }
        QueryInstance::Q4 { .. } => Outcome::Pending(Vec::new()),
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
