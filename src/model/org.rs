//! Organizations (hotels).

use super::{Currency, Money, OrgId, Timestamp};

/// An organization: one hotel with one currency, one time zone and an opening balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    /// Caller-chosen id, unique in the database.
    pub id: OrgId,
    /// Display name, at most [`crate::limits::MAX_ORG_NAME_BYTES`] bytes.
    pub name: String,
    /// The currency of every amount the org records; aggregates over orgs never add two
    /// currencies.
    pub currency: Currency,
    /// IANA time zone name; business days are calendar dates in this zone.
    pub time_zone: String,
    /// Balance before the first entry, in minor units (may be negative): the opening of every
    /// business day before any activity.
    pub opening_balance: Money,
    /// When the org was registered, in UTC seconds (0 by default), within
    /// [`crate::MIN_TIMESTAMP`]`..=`[`crate::MAX_TIMESTAMP`]. Kept as given; no read depends on it.
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

    /// The same org in IANA time zone `tz` (e.g. `Europe/Lisbon`), which decides its business
    /// days; checked when the org is registered.
    pub fn with_time_zone(mut self, tz: impl Into<String>) -> Org {
        self.time_zone = tz.into();
        self
    }

    /// The same org with an opening balance, in minor units.
    pub fn with_opening_balance(mut self, opening: Money) -> Org {
        self.opening_balance = opening;
        self
    }

    /// The same org with its registration time, in UTC seconds.
    pub fn with_created_at(mut self, created_at: Timestamp) -> Org {
        self.created_at = created_at;
        self
    }
}
