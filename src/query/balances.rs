//! Queries over the daily cash balances: one org (one shard of N) or every org (all shards), over
//! a business-day range, with the same partition pruning report as ledger queries.

use super::builder::MAX_QUERY_LIMIT;
use crate::error::{Error, Result};
use crate::limits::MAX_RANGE_DAYS;
use crate::model::{BusinessDay, OrgId};
use crate::state::balance::shard_of;
use crate::state::read::DayBalance;
use crate::state::State;

/// Day balances of one org or of every org, over business days `from..=to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceQuery {
    /// Only this org's rows (one balance shard); `None`: every org, by org id.
    pub org: Option<OrgId>,
    /// Business days `from..=to`, inclusive, at most [`crate::limits::MAX_RANGE_DAYS`] days.
    pub days: (BusinessDay, BusinessDay),
    /// Leave out days without postings.
    pub active_only: bool,
    /// Rows returned at most, `1..=`[`MAX_QUERY_LIMIT`]; 1000 by default.
    pub limit: usize,
}

/// Which balance shards a balance query reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalancePlan {
    /// Balance shards read, by number.
    pub shards: Vec<usize>,
    /// Balance shards of the database (fixed at creation).
    pub shards_total: usize,
    /// Rows the query may visit: days in the range times the orgs read (before `active_only`
    /// and `limit`).
    pub estimated_rows: u64,
}

impl BalanceQuery {
    /// Every org's rows over business days `from..=to`, days without postings included, at most
    /// 1000.
    pub fn new(from: BusinessDay, to: BusinessDay) -> BalanceQuery {
        BalanceQuery {
            org: None,
            days: (from, to),
            active_only: false,
            limit: 1000,
        }
    }

    /// Only this org's rows.
    pub fn org(mut self, org: OrgId) -> BalanceQuery {
        self.org = Some(org);
        self
    }

    /// Leaves out days without postings.
    pub fn active_only(mut self) -> BalanceQuery {
        self.active_only = true;
        self
    }

    /// At most this many rows, `1..=`[`MAX_QUERY_LIMIT`].
    pub fn limit(mut self, limit: usize) -> BalanceQuery {
        self.limit = limit;
        self
    }

    /// Checks the query before it runs; [`crate::Snapshot::query_balances`] and
    /// [`crate::Snapshot::explain_balances`] call it first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an inverted day range, one of more than
    /// [`crate::limits::MAX_RANGE_DAYS`] days, or a limit outside `1..=`[`MAX_QUERY_LIMIT`].
    pub fn validate(&self) -> Result<()> {
        let (from, to) = self.days;
        if to < from {
            return Err(Error::InvalidArgument(format!(
                "day range {from}..={to} is inverted"
            )));
        }
        if from.days_until(to) >= MAX_RANGE_DAYS {
            return Err(Error::InvalidArgument(format!(
                "day range over {MAX_RANGE_DAYS} days"
            )));
        }
        if self.limit == 0 || self.limit > MAX_QUERY_LIMIT {
            return Err(Error::InvalidArgument(format!(
                "limit must be 1..={MAX_QUERY_LIMIT}, got {}",
                self.limit
            )));
        }
        Ok(())
    }
}

impl State {
    pub fn plan_balances(&self, q: &BalanceQuery) -> BalancePlan {
        // Days of the range (0 when inverted); day numbers are bounded, so this is exact.
        let days = u64::try_from(i64::from(q.days.0.days_until(q.days.1)) + 1).unwrap_or(0);
        match q.org {
            Some(org) => BalancePlan {
                shards: vec![shard_of(org, self.shards)],
                shards_total: self.shards as usize,
                estimated_rows: days,
            },
            None => BalancePlan {
                shards: (0..self.shards as usize).collect(),
                shards_total: self.shards as usize,
                estimated_rows: days.saturating_mul(self.orgs.len() as u64),
            },
        }
    }

    /// Rows by (org, day), at most `limit`.
    pub fn query_balances(&self, q: &BalanceQuery) -> Result<Vec<DayBalance>> {
        q.validate()?;
        let orgs: Vec<OrgId> = match q.org {
            Some(org) => vec![org],
            None => {
                let mut all: Vec<OrgId> = self.orgs.keys().copied().collect();
                all.sort_unstable();
                all
            }
        };
        let mut out = Vec::new();
        for org in orgs {
            for row in self.balances(org, q.days.0, q.days.1)? {
                if q.active_only && row.revenue_count == 0 && row.expense_count == 0 {
                    continue;
                }
                out.push(row);
                if out.len() == q.limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}
