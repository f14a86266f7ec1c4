//! The database every case starts from, and replicas and pools of it.

use crate::{DAY, T0};
use folio::PoolOptions;
use folio::{
    Batch, Category, Currency, Db, Durability, Entry, EntryId, ExpenseStatus, Money, Options, Org,
    OrgId, PayExpense, PaymentMethod, ReadPool, Replica, Reversal,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use std::sync::Arc;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub db: Arc<Db>,
}

pub fn options() -> Options {
    Options::default().durability(Durability::Buffered)
}

/// A database with three orgs (UTC, the first and the last time zone of the day) and entries at
/// both ends of the supported time range, a reversal and a payment.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(dir.path().join("db"), options()).unwrap();
    let orgs = [
        Org::new(OrgId(1), "Seaside", Currency::EUR),
        Org::new(OrgId(2), "Dateline East", Currency::JPY)
            .with_time_zone("Pacific/Kiritimati")
            .with_opening_balance(Money(i64::MAX / 2)),
        Org::new(OrgId(3), "Dateline West", Currency::EUR)
            .with_time_zone("Etc/GMT+12")
            .with_opening_balance(Money(-1_000)),
    ];
    let mut batch = Batch::new();
    for org in orgs {
        batch = batch.register_org(org);
    }
    db.record(batch).unwrap();
    let mut batch = Batch::new();
    let mut id = 0;
    for org in 1..=3 {
        for at in [MIN_TIMESTAMP, T0, T0 + 40 * DAY, MAX_TIMESTAMP] {
            id += 1;
            batch = batch.post(Entry::revenue(
                OrgId(org),
                EntryId(id),
                at,
                Money(12_000),
                Category::Rooms,
                PaymentMethod::Card,
            ));
            id += 1;
            batch = batch.post(Entry::expense(
                OrgId(org),
                EntryId(id),
                at,
                Money(3_000),
                Category::Supplies,
                PaymentMethod::Cash,
                ExpenseStatus::Pending,
            ));
        }
    }
    db.record(batch).unwrap();
    db.record(
        Batch::new()
            .reverse(Reversal {
                org: OrgId(1),
                id: EntryId(1_000),
                reverses: EntryId(3),
                occurred_at: T0 + DAY,
                reference: "void".into(),
            })
            .pay(PayExpense {
                org: OrgId(1),
                entry: EntryId(4),
                paid_at: T0 + 2 * DAY,
            }),
    )
    .unwrap();
    Fixture {
        dir,
        db: Arc::new(db),
    }
}

pub fn replica_of(db: &Db, name: &str) -> Arc<Replica> {
    Arc::new(db.replica(name).unwrap())
}

pub fn pool_of(db: &Arc<Db>, replicas: Vec<Arc<Replica>>, options: PoolOptions) -> ReadPool {
    ReadPool::new(db.clone(), replicas, options).unwrap()
}
