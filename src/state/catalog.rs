//! The catalog of orgs with what validation needs per org: time zone, opening balance, where each
//! entry id lives, and the gross flows that bound every running sum.

use crate::codec::record::OrgRecord;
use crate::model::{Kind, Lsn, Org, OrgId};
use chrono_tz::Tz;

/// Where an entry's row is: its ledger partition and its key there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryLoc {
    pub kind: Kind,
    pub occurred_at: i64,
}

#[derive(Clone, Debug)]
pub struct OrgState {
    pub record: OrgRecord,
    pub tz: Tz,
    /// LSN of the checkpoint the org record was last written at.
    pub persisted: Lsn,
}

impl OrgState {
    pub fn new(record: OrgRecord, tz: Tz) -> OrgState {
        OrgState {
            record,
            tz,
            persisted: Lsn(0),
        }
    }

    pub fn org(&self) -> Org {
        org_of(&self.record)
    }
}

/// The public view of an org record.
pub fn org_of(r: &OrgRecord) -> Org {
    Org {
        id: OrgId(r.org),
        name: r.name.clone(),
        currency: crate::model::Currency(r.currency),
        time_zone: r.time_zone.clone(),
        opening_balance: crate::model::Money(r.opening),
        created_at: r.created_at,
    }
}

/// Adds a row's amount to the flows it raises; `None` on overflow.
pub fn add_flow(flows: (i64, i64), kind: Kind, reversal: bool, amount: i64) -> Option<(i64, i64)> {
    let raises = matches!(
        (kind, reversal),
        (Kind::Revenue, false) | (Kind::Expense, true)
    );
    if raises {
        Some((flows.0.checked_add(amount)?, flows.1))
    } else {
        Some((flows.0, flows.1.checked_add(amount)?))
    }
}

/// Whether every running balance of an org stays within i64: with all partial sums lying in
/// `[opening - outflow, opening + inflow]`, checking both ends covers every day, month and prefix.
pub fn flows_fit(opening: i64, flows: (i64, i64)) -> bool {
    opening.checked_add(flows.0).is_some() && opening.checked_sub(flows.1).is_some()
}
