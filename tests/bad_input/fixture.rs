//! The fixture every ledger and org case starts from (three orgs, entries of every shape), and
//! the checks that a batch was rejected, or accepted as a no-op, without changing anything.

use crate::common::{self, assert_one_line, snapshot, Snapshot};
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, ExpenseStatus, Money, Org,
    OrgId, PayExpense, PaymentMethod, Rejection, Reversal,
};
use std::path::PathBuf;
use tempfile::TempDir;

/// 2024-01-01T10:00:00Z.
pub const T0: i64 = 1_704_103_200;

pub const DAY: i64 = 86_400;

pub const HOTEL: OrgId = OrgId(1);

pub const RESORT: OrgId = OrgId(2);

/// Registered with opening balance 0 and no entries.
pub const EMPTY: OrgId = OrgId(3);

pub const UNKNOWN: OrgId = OrgId(99);

/// Entries of `HOTEL` made by the fixture.
pub const REVENUE: EntryId = EntryId(1);

pub const PENDING: EntryId = EntryId(2);

pub const PAID: EntryId = EntryId(3);

pub const REVERSED: EntryId = EntryId(4);

pub const REVERSAL: EntryId = EntryId(5);

pub const PAID_LATER: EntryId = EntryId(6);

pub struct Fixture {
    pub _dir: TempDir,
    pub path: PathBuf,
    pub db: Db,
}

pub fn revenue(org: OrgId, id: u64, ts: i64, amount: i64) -> Entry {
    Entry::revenue(
        org,
        EntryId(id),
        ts,
        Money(amount),
        Category::Rooms,
        PaymentMethod::Card,
    )
}

pub fn expense(org: OrgId, id: u64, ts: i64, amount: i64, status: ExpenseStatus) -> Entry {
    Entry::expense(
        org,
        EntryId(id),
        ts,
        Money(amount),
        Category::Supplies,
        PaymentMethod::BankTransfer,
        status,
    )
}

pub fn reversal(org: OrgId, id: u64, reverses: EntryId, ts: i64) -> Reversal {
    Reversal {
        org,
        id: EntryId(id),
        reverses,
        occurred_at: ts,
        reference: String::new(),
    }
}

pub fn pay(org: OrgId, entry: EntryId, paid_at: i64) -> PayExpense {
    PayExpense {
        org,
        entry,
        paid_at,
    }
}

/// A database with three orgs and a few entries of every shape.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = common::open(&path);
    let setup = Batch::new()
        .register_org(
            Org::new(HOTEL, "Seaside Inn", Currency::EUR).with_opening_balance(Money(1_000)),
        )
        .register_org(
            Org::new(RESORT, "Hill Resort", Currency::USD)
                .with_time_zone("Asia/Kolkata")
                .with_opening_balance(Money(-500)),
        )
        .register_org(Org::new(EMPTY, "Empty Lodge", Currency::EUR))
        .post(revenue(HOTEL, REVENUE.0, T0, 12_000).with_reference("F-1"))
        .post(expense(
            HOTEL,
            PENDING.0,
            T0 + 60,
            700,
            ExpenseStatus::Pending,
        ))
        .post(expense(HOTEL, PAID.0, T0 + DAY, 300, ExpenseStatus::Paid))
        .post(revenue(HOTEL, REVERSED.0, T0 - DAY, 450))
        .reverse(reversal(HOTEL, REVERSAL.0, REVERSED, T0 + 2 * DAY))
        .post(expense(
            HOTEL,
            PAID_LATER.0,
            T0 + 120,
            90,
            ExpenseStatus::Pending,
        ))
        .pay(pay(HOTEL, PAID_LATER, T0 + 3 * DAY))
        .post(revenue(RESORT, 1, T0, 5_000));
    db.record(setup).unwrap();
    Fixture {
        _dir: dir,
        path,
        db,
    }
}

/// Everything observable about the fixture's orgs (and an unknown one).
pub fn observe(db: &Db) -> Snapshot {
    let from = BusinessDay::parse("2023-12-25").unwrap();
    let to = BusinessDay::parse("2024-01-10").unwrap();
    snapshot(db, &[HOTEL, RESORT, EMPTY, UNKNOWN, OrgId(7)], from, to)
}

/// Records `batch`, which must be rejected without changing anything; returns the rejection.
pub fn rejected(db: &Db, batch: Batch) -> Rejection {
    let before = observe(db);
    let err = db.record(batch).expect_err("the batch must be rejected");
    assert_one_line(&err);
    let after = observe(db);
    assert_eq!(
        after.lsn, before.lsn,
        "a rejected batch moved the visible LSN"
    );
    assert_eq!(after, before, "a rejected batch changed what reads return");
    match err {
        Error::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Records `batch`, which must be accepted as a no-op: same LSN, nothing changed.
pub fn no_op(db: &Db, batch: Batch) {
    let before = observe(db);
    let lsn = db.record(batch).unwrap();
    assert_eq!(lsn, before.lsn, "a no-op batch must answer the visible LSN");
    assert_eq!(
        observe(db),
        before,
        "a no-op batch changed what reads return"
    );
}

/// Reopens the fixture's database (clean close first).
pub fn reopen(f: Fixture) -> Fixture {
    let Fixture { _dir, path, db } = f;
    db.close().unwrap();
    let db = common::open(&path);
    Fixture { _dir, path, db }
}
