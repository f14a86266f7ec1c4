//! Domain types: identifiers, money, calendar units, ledger enums, orgs and entries.

mod calendar;
mod currency;
mod entry;
mod enums;
mod ids;
mod money;
mod org;

pub(crate) use calendar::out_of_range_text;
pub use calendar::{BusinessDay, Month, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP, SECS_PER_DAY};
pub use currency::{Currency, MoneyIn};
pub use entry::{Batch, Entry, Op, PayExpense, Reversal};
pub use enums::{Category, ExpenseStatus, Kind, PaymentMethod};
pub use ids::{EntryId, Lsn, OrgId};
pub use money::Money;
pub use org::Org;
