//! Organizations (hotels).

use super::{Money, OrgId, Timestamp};
use std::fmt;

/// An ISO 4217 currency code: three ASCII uppercase letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency(pub [u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses a three-letter uppercase code such as `EUR`.
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
