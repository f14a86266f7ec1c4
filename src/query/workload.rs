//! Answers to hotel-ledger-v1 query instances (Q1–Q5) in the answer shapes of WORKLOAD.md, so
//! they compare exactly with other engines' answers.

use crate::db::ReadView;
use crate::error::{Error, Result};
use crate::model::{BusinessDay, Month, OrgId};
use crate::workload::QueryInstance;
use serde_json::{json, Value};

/// The year hotel-ledger-v1 months refer to.
pub const WORKLOAD_YEAR: i32 = 2024;
/// Rows of a Q3 ledger page, Q4 pending list and Q5 top list.
pub const Q3_ROWS: usize = 50;
pub const Q4_ROWS: usize = 100;
pub const Q5_ROWS: usize = 10;

fn month(m: u32) -> Result<Month> {
    Month::from_ym(WORKLOAD_YEAR, m)
        .ok_or_else(|| Error::InvalidArgument(format!("month {m} is not 1..=12")))
}

/// Answers one instance. An org that does not exist has no rows: 0 or empty lists, as a SQL
/// engine answers.
pub fn answer(view: &ReadView<'_>, q: &QueryInstance) -> Result<Value> {
    let known = |org: u64| view.org(OrgId(org)).is_some();
    Ok(match *q {
        QueryInstance::Q1 { org, day } => {
            if !known(org) {
                return Ok(json!(0));
            }
            json!(view.closing_with_cost(OrgId(org), BusinessDay(day))?.0 .0)
        }
        QueryInstance::Q2 { org, month: m } => {
            let (revenue, expense, net) = if known(org) {
                let r = view.monthly_report(OrgId(org), month(m)?)?;
                (r.revenue, r.expense, r.net.0)
            } else {
                (Vec::new(), Vec::new(), 0)
            };
            let lines = |ls: Vec<crate::query::CategoryLine>| {
                ls.into_iter()
                    .map(|l| json!({"category": l.category.as_str(), "total": l.total.0, "count": l.count}))
                    .collect::<Vec<_>>()
            };
            json!({"revenue": lines(revenue), "expense": lines(expense), "net": net})
        }
        QueryInstance::Q3 { org, from, to } => {
            let page = if known(org) {
                view.ledger_page(OrgId(org), from, to, Q3_ROWS)?
            } else {
                Vec::new()
            };
            Value::Array(
                page.into_iter()
                    .map(|l| {
                        json!({"kind": l.kind.as_str(), "entry_id": l.entry_id, "occurred_at": l.occurred_at,
                               "amount": l.amount.0, "category": l.category.as_str()})
                    })
                    .collect(),
            )
        }
        QueryInstance::Q4 { org } => {
            let lines = if known(org) {
                view.pending_expenses(OrgId(org), Q4_ROWS)?
            } else {
                Vec::new()
            };
            Value::Array(
                lines
                    .into_iter()
                    .map(|l| {
                        json!({"entry_id": l.entry_id, "occurred_at": l.occurred_at, "amount": l.amount.0,
                               "category": l.category.as_str()})
                    })
                    .collect(),
            )
        }
        QueryInstance::Q5 { month: m } => Value::Array(
            view.top_revenue(month(m)?, Q5_ROWS)?
                .into_iter()
                .map(|l| json!({"org_id": l.org.0, "total": l.total.0}))
                .collect(),
        ),
    })
}
