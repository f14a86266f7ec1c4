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

pub mod bench;
pub mod codec;
#[cfg(feature = "compare")]
pub mod compare;
pub mod db;
pub mod error;
pub mod ingest;
pub mod io;
pub mod limits;
pub mod model;
#[doc(hidden)]
pub mod planted;
pub mod query;
pub mod replica;
pub mod state;
pub mod store;
#[cfg(test)]
pub(crate) mod test_hooks;
pub mod wal;
pub mod workload;

pub use db::{
    accept_loss, Db, Durability, LossReport, Options, ReadView, RecoveryReport, Salvaged, Snapshot,
    Ticket, VerifyReport,
};
pub use error::{BatchError, CorruptionKind, Error, Rejection, ReplicaError, Result};
pub use model::{
    Batch, BusinessDay, Category, Currency, Entry, EntryId, ExpenseStatus, Kind, Lsn, Money, Month,
    Op, Org, OrgId, PayExpense, PaymentMethod, Reversal, Timestamp,
};
pub use replica::{Consistency, ReadPool, Replica, ReplicaOptions};
pub use state::read::{DayBalance, LedgerEntry};
pub use wal::TornTail;
