//! Organizations (hotels).

use super::{Currency, Money, OrgId, Timestamp};

/// An organization: one hotel with one currency, one time zone and an opening balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub currency: Currency,
    /// IANA time zone name; business days are calendar dates in this zone.
    pub time_zone: String,
    pub opening_balance: Money,
    pub created_at: Timestamp,
}

impl Org {
    /// An org in UTC with opening balance 0.
    pub fn new(id: OrgId, name: impl Into<String>, currency: Currency) -> Org {
        Org {
            id,
            name: name.into(),
            currency,
            time_zone: "UTC".to_string(),
            opening_balance: Money::ZERO,
            created_at: 0,
        }
    }

    pub fn with_time_zone(mut self, tz: impl Into<String>) -> Org {
        self.time_zone = tz.into();
        self
    }

    pub fn with_opening_balance(mut self, opening: Money) -> Org {
        self.opening_balance = opening;
        self
    }

    pub fn with_created_at(mut self, created_at: Timestamp) -> Org {
        self.created_at = created_at;
        self
    }
}
