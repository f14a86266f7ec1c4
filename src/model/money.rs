//! Exact money: signed 64-bit minor units with checked arithmetic.

use std::fmt;

/// An amount in minor units (cents). Arithmetic is checked: overflow is `None`, never a wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    /// Zero minor units.
    pub const ZERO: Money = Money(0);

    /// The amount in minor units (cents for EUR, yen for JPY).
    pub fn minor(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on `i64` overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self - other`, or `None` on `i64` overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `-self`, or `None` for `i64::MIN`.
    pub fn checked_neg(self) -> Option<Money> {
        self.0.checked_neg().map(Money)
    }

    /// Whether the amount is strictly above zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Money {
    /// Prints minor units as a decimal with two fraction digits, e.g. `-12.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_none() {
        assert_eq!(Money(i64::MAX).checked_add(Money(1)), None);
        assert_eq!(Money(i64::MIN).checked_sub(Money(1)), None);
        assert_eq!(Money(i64::MIN).checked_neg(), None);
        assert_eq!(Money(5).checked_add(Money(7)), Some(Money(12)));
    }

    #[test]
    fn display_two_decimals() {
        assert_eq!(Money(-1205).to_string(), "-12.05");
        assert_eq!(Money(7).to_string(), "0.07");
        assert_eq!(Money(i64::MIN).to_string(), "-92233720368547758.08");
    }
}
