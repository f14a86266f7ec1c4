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

/// One org as the state keeps it: the fields of its record, its time zone parsed (the record's
/// zone name is the parsed zone's own name, so it is not kept twice) and its name in a boxed
/// string (no spare capacity): ~80 bytes a million times.
#[derive(Clone, Debug)]
pub struct OrgState {
    pub org: u64,
    pub name: Box<str>,
    pub currency: [u8; 3],
    pub tz: Tz,
    pub opening: i64,
    pub created_at: i64,
    /// LSN of the checkpoint the org record was last written at.
    pub persisted: Lsn,
}

impl OrgState {
    /// The org of `record`, whose time zone parses as `tz`.
    pub fn new(record: OrgRecord, tz: Tz) -> OrgState {
        debug_assert_eq!(record.time_zone, tz.name(), "a zone's name parses back to it");
        OrgState {
            org: record.org,
            name: record.name.into_boxed_str(),
            currency: record.currency,
            tz,
            opening: record.opening,
            created_at: record.created_at,
            persisted: Lsn(0),
        }
    }

    /// The record it was made from (as the log and the store carry it).
    pub fn record(&self) -> OrgRecord {
        OrgRecord {
            org: self.org,
            name: self.name.to_string(),
            currency: self.currency,
            time_zone: self.tz.name().to_string(),
            opening: self.opening,
            created_at: self.created_at,
        }
    }

    /// Whether it was made from `record`.
    pub fn is(&self, record: &OrgRecord) -> bool {
        self.org == record.org
            && *self.name == *record.name
            && self.currency == record.currency
            && self.tz.name() == record.time_zone
            && self.opening == record.opening
            && self.created_at == record.created_at
    }

    pub fn org(&self) -> Org {
        Org {
            id: OrgId(self.org),
            name: self.name.to_string(),
            currency: crate::model::Currency(self.currency),
            time_zone: self.tz.name().to_string(),
            opening_balance: crate::model::Money(self.opening),
            created_at: self.created_at,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn every_zone_name_parses_back_to_its_zone_so_a_record_is_kept_without_its_zone_string() {
        for tz in chrono_tz::TZ_VARIANTS {
            assert_eq!(Tz::from_str(tz.name()), Ok(tz), "{}", tz.name());
            let record = OrgRecord {
                org: 7,
                name: format!("Inn of {}", tz.name()),
                currency: *b"EUR",
                time_zone: tz.name().to_string(),
                opening: -5,
                created_at: 1_700_000_000,
            };
            let org = OrgState::new(record.clone(), tz);
            assert!(org.is(&record));
            assert_eq!(org.record(), record);
            let other = OrgRecord {
                opening: 6,
                ..record.clone()
            };
            assert!(!org.is(&other));
        }
    }
}
