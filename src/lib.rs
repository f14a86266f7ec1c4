//! Folio: an embedded storage engine for hotel finance data.
//!
//! Postings go through a checksummed, group-committed write-ahead log (the source of truth and
//! the audit trail); daily cash balances live in hash shards and ledgers in month partitions,
//! materialized in memory and checkpointed to sled.
//!
//! ```
//! use folio::{Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Money, Org, OrgId, PaymentMethod};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path().join("db")).unwrap();
//! db.register_org(Org::new(OrgId(1), "Seaside Inn", Currency::EUR)).unwrap();
//! let stay = Entry::revenue(OrgId(1), EntryId(1), 1_704_103_200, Money(12_000), Category::Rooms, PaymentMethod::Card);
//! db.record(Batch::new().post(stay)).unwrap();
//! let day = BusinessDay::parse("2024-01-01").unwrap();
//! assert_eq!(db.balance(OrgId(1), day).unwrap().closing, Money(12_000));
//! db.close().unwrap();
//! ```
//!
//! The crate feature `fault-injection` (off by default, for tests only) adds the reliability
//! harness's tools: the simulated disk `io::sim`, the planted durability bugs `planted` and
//! the replicas' `inject_*` methods. Without it none of them exists and their checks on the
//! commit, recovery and replica paths compile to nothing.
#![cfg_attr(
    not(feature = "fault-injection"),
    doc = r#"

This build has no fault injection; none of the following compiles:

```compile_fail,E0433
// No planted bugs: nobody can switch fsync off.
folio::planted::plant(folio::planted::Planted::SkipFsync);
```

```compile_fail
// No simulated disk.
let _ = folio::io::sim::SimFs::new();
```

```compile_fail,E0599
// No fault injection on replicas.
let dir = tempfile::tempdir().unwrap();
let db = folio::Db::open(dir.path().join("db")).unwrap();
db.replica("r1").unwrap().inject_stall(true);
```

while the same database and replica without them do:

```
let dir = tempfile::tempdir().unwrap();
let db = folio::Db::open(dir.path().join("db")).unwrap();
assert_eq!(db.replica("r1").unwrap().snapshot().unwrap().lsn(), db.visible_lsn());
```
"#
)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]
/// Whether the planted bug `$bug` is switched on (see `planted`): with the `fault-injection`
/// feature one relaxed atomic load, without it the constant `false`.
#[cfg(feature = "fault-injection")]
macro_rules! planted {
    ($bug:ident) => {
        $crate::planted::is($crate::planted::Planted::$bug)
    };
}

/// Whether the planted bug `$bug` is switched on: never, without the `fault-injection` feature.
#[cfg(not(feature = "fault-injection"))]
macro_rules! planted {
    ($bug:ident) => {
        false
    };
}

/// Builder-style setters of an options struct: `field(value) -> Self` for each listed field, so
/// that options are `#[non_exhaustive]` and adding one is not a breaking change.
macro_rules! setters {
    ($ty:ty { $( $(#[$doc:meta])* $field:ident : $t:ty ),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $field(mut self, $field: $t) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

/// The engine's internal modules: crate-private in a product build. With the `internals`
/// feature (the fuzz targets and the reliability harness; no stability promise) they are public
/// and hidden from the documentation.
macro_rules! internal_modules {
    ($($(#[$attr:meta])* mod $name:ident;)*) => {$(
        $(#[$attr])*
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$attr])*
        #[cfg(not(feature = "internals"))]
        pub(crate) mod $name;
    )*};
}

internal_modules! {
    mod codec;
    mod db;
    mod error;
    mod format;
    // Parts of it (the full-file check's details, sample inputs, the writer's own types) are
    // used by tests, benches and fuzz targets through `internals` only.
    #[cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]
    mod frozen;
    mod io;
    mod model;
    mod query;
    mod replica;
    mod state;
    mod store;
    mod wal;
}
mod handles;
pub mod limits;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod planted;
mod rng;
#[cfg(test)]
mod test_hooks;

pub use db::edge::{seed_from_checkpoint, verify_checkpoint, ReplicaBase};
pub use db::{
    accept_loss, CheckpointInfo, Db, DbInfo, Durability, FreezeReport, FreezerStats,
    FrozenMonthReport, LogInfo, LossReport, MemoryReport, MemoryUsage, MonthStatus, Options,
    PartitionInfo, RecoveryReport, Salvaged, Ticket, VerifyReport,
};
pub use error::{BatchError, CorruptionKind, Error, Rejection, ReplicaError, Result};
pub use format::{META_FILE, WAL_DIR};
pub use model::{
    Batch, BusinessDay, Category, Currency, Entry, EntryId, ExpenseStatus, Kind, Lsn, Money,
    MoneyIn, Month, Op, Org, OrgId, PayExpense, PaymentMethod, Reversal, Timestamp, MAX_TIMESTAMP,
    MIN_TIMESTAMP,
};
pub use query::{
    Access, BalancePlan, BalanceQuery, CategoryLine, CurrencyTotal, Cursor, DailyReport, Group,
    GroupBy, GroupKey, LedgerLine, MethodLine, MonthlyReport, Order, PendingLine, Plan,
    ProjectedRow, Query, QueryOutput, Snapshot, Tables, TopLine, Value,
};
pub use replica::{
    Balancing, BreakerState, Consistency, NodeStatus, PoolOptions, PoolStatus, ReadPool, Replica,
    ReplicaOptions,
};
pub use rng::SplitMix64;
pub use state::index::{table_name, Column, IndexDef, Predicate};
pub use state::read::{DayBalance, LedgerEntry};
pub use store::compact::Compaction;
pub use store::CheckpointStats;
pub use wal::{read_segments, sync_status, ShippedFrame, SyncState, SyncStatus, TornTail};
