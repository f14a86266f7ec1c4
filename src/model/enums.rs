//! Ledger enums with their canonical lowercase names (as in hotel-ledger-v1).

use std::fmt;
use std::str::FromStr;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum $name {
            $(#[doc = concat!("Named `", $text, "`, on-disk code ", $code, ".")] $variant = $code),+
        }

        impl $name {
            /// Every variant, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical lowercase name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The stable one-byte code used on disk.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The variant with this on-disk code; `None` for a code no variant has.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

named_enum!(
    /// Which ledger an entry belongs to.
    Kind { Revenue = 1 => "revenue", Expense = 2 => "expense" }
);

named_enum!(
    /// USALI-style categories. Revenue: rooms, food_beverage, spa, events, other.
    /// Expense: payroll, supplies, utilities, maintenance, marketing, other.
    Category {
        Rooms = 1 => "rooms",
        FoodBeverage = 2 => "food_beverage",
        Spa = 3 => "spa",
        Events = 4 => "events",
        Payroll = 5 => "payroll",
        Supplies = 6 => "supplies",
        Utilities = 7 => "utilities",
        Maintenance = 8 => "maintenance",
        Marketing = 9 => "marketing",
        Other = 10 => "other",
    }
);

named_enum!(
    /// How money moved.
    PaymentMethod { Cash = 1 => "cash", Card = 2 => "card", BankTransfer = 3 => "bank_transfer" }
);

named_enum!(
    /// Life cycle of an expense: pending until paid.
    ExpenseStatus { Pending = 1 => "pending", Paid = 2 => "paid" }
);

impl Category {
    /// Whether this category belongs to the given ledger.
    pub fn allowed_for(self, kind: Kind) -> bool {
        use Category::*;
        match kind {
            Kind::Revenue => matches!(self, Rooms | FoodBeverage | Spa | Events | Other),
            Kind::Expense => matches!(
                self,
                Payroll | Supplies | Utilities | Maintenance | Marketing | Other
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>(), Ok(*c));
            assert_eq!(Category::from_code(c.code()), Some(*c));
        }
        for p in PaymentMethod::ALL {
            assert_eq!(p.as_str().parse::<PaymentMethod>(), Ok(*p));
        }
        assert_eq!("Rooms".parse::<Category>(), Err(()));
        assert_eq!(Kind::from_code(0), None);
    }

    #[test]
    fn categories_belong_to_their_ledger() {
        assert!(Category::Rooms.allowed_for(Kind::Revenue));
        assert!(!Category::Rooms.allowed_for(Kind::Expense));
        assert!(Category::Other.allowed_for(Kind::Expense));
        assert!(!Category::Payroll.allowed_for(Kind::Revenue));
    }
}
