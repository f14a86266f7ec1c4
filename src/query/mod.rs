//! Queries over the state: the hotel reports (hotel-ledger-v1 Q1–Q5 and the night audit).
//! Each report prunes to the partitions its org and time range touch and reads an index part
//! where one is materialized, else the org's clustered rows.

pub mod balances;
pub mod builder;
pub mod exec;
// Not wired into the engine's reads yet (issue 19); its test uses it through `internals`.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub mod frozen;
pub mod plan;
pub mod reports;
pub mod snapshot;

pub use balances::{BalancePlan, BalanceQuery};
pub use builder::{Cursor, GroupBy, Order, Query, Tables};
pub use exec::{Group, GroupKey, ProjectedRow, QueryOutput, Value};
pub use plan::{Access, Plan};
pub(crate) use snapshot::{state_reads, Loader, ReadKind, Scope, StateRef};
pub use snapshot::Snapshot;
pub use reports::{
    CategoryLine, CurrencyTotal, DailyReport, LedgerLine, MethodLine, MonthlyReport, PendingLine,
    TopLine,
};
