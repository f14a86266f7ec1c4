//! One test per class of bad input. Each asserts the exact error and that nothing changed: the
//! visible LSN, the orgs, their balance rows and their ledger listings are identical before and
//! after (and, where it matters, after a reopen). Every error's Display must be one clear line.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must work"

mod common;

use common::{assert_one_line, snapshot, Snapshot};
use folio::limits::{MAX_BATCH_OPS, MAX_ORG_NAME_BYTES, MAX_REFERENCE_BYTES, MAX_TIME_ZONE_BYTES};
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, Error, ExpenseStatus, Lsn, Money,
    Op, Org, OrgId, PayExpense, PaymentMethod, Rejection, Reversal,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// 2024-01-01T10:00:00Z.
const T0: i64 = 1_704_103_200;
const DAY: i64 = 86_400;

const HOTEL: OrgId = OrgId(1);
const RESORT: OrgId = OrgId(2);
/// Registered with opening balance 0 and no entries.
const EMPTY: OrgId = OrgId(3);
const UNKNOWN: OrgId = OrgId(99);

/// Entries of `HOTEL` made by the fixture.
const REVENUE: EntryId = EntryId(1);
const PENDING: EntryId = EntryId(2);
const PAID: EntryId = EntryId(3);
const REVERSED: EntryId = EntryId(4);
const REVERSAL: EntryId = EntryId(5);
const PAID_LATER: EntryId = EntryId(6);

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    db: Db,
}

fn revenue(org: OrgId, id: u64, ts: i64, amount: i64) -> Entry {
    Entry::revenue(
        org,
        EntryId(id),
        ts,
        Money(amount),
        Category::Rooms,
        PaymentMethod::Card,
    )
}

fn expense(org: OrgId, id: u64, ts: i64, amount: i64, status: ExpenseStatus) -> Entry {
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

fn reversal(org: OrgId, id: u64, reverses: EntryId, ts: i64) -> Reversal {
    Reversal {
        org,
        id: EntryId(id),
        reverses,
        occurred_at: ts,
        reference: String::new(),
    }
}

fn pay(org: OrgId, entry: EntryId, paid_at: i64) -> PayExpense {
    PayExpense {
        org,
        entry,
        paid_at,
    }
}

/// A database with three orgs and a few entries of every shape.
fn fixture() -> Fixture {
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
fn observe(db: &Db) -> Snapshot {
    let from = BusinessDay::parse("2023-12-25").unwrap();
    let to = BusinessDay::parse("2024-01-10").unwrap();
    snapshot(db, &[HOTEL, RESORT, EMPTY, UNKNOWN, OrgId(7)], from, to)
}

/// Records `batch`, which must be rejected without changing anything; returns the rejection.
fn rejected(db: &Db, batch: Batch) -> Rejection {
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
fn no_op(db: &Db, batch: Batch) {
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
fn reopen(f: Fixture) -> Fixture {
    let Fixture { _dir, path, db } = f;
    db.close().unwrap();
    let db = common::open(&path);
    Fixture { _dir, path, db }
}

#[test]
fn unknown_org() {
    let f = fixture();
    let db = &f.db;
    let r = rejected(db, Batch::new().post(revenue(UNKNOWN, 10, T0, 100)));
    assert_eq!(r, Rejection::UnknownOrg(UNKNOWN));
    let r = rejected(db, Batch::new().reverse(reversal(UNKNOWN, 10, REVENUE, T0)));
    assert_eq!(r, Rejection::UnknownOrg(UNKNOWN));
    let r = rejected(db, Batch::new().pay(pay(UNKNOWN, PENDING, T0)));
    assert_eq!(r, Rejection::UnknownOrg(UNKNOWN));
    // Reads name the org too.
    for err in [
        db.balance(UNKNOWN, BusinessDay::utc(T0).expect("day"))
            .unwrap_err(),
        db.balances(
            UNKNOWN,
            BusinessDay::utc(T0).expect("day"),
            BusinessDay::utc(T0).expect("day"),
        )
        .unwrap_err(),
        db.entries(UNKNOWN, T0, T0 + 1).unwrap_err(),
    ] {
        assert_one_line(&err);
        assert!(
            matches!(err, Error::UnknownOrg(o) if o == UNKNOWN),
            "{err:?}"
        );
    }
}

#[test]
fn zero_amount() {
    let f = fixture();
    let r = rejected(&f.db, Batch::new().post(revenue(HOTEL, 10, T0, 0)));
    assert_eq!(
        r,
        Rejection::NonPositiveAmount {
            org: HOTEL,
            entry: EntryId(10),
            amount: 0
        }
    );
    let r = rejected(
        &f.db,
        Batch::new().post(expense(HOTEL, 11, T0, 0, ExpenseStatus::Pending)),
    );
    assert_eq!(
        r,
        Rejection::NonPositiveAmount {
            org: HOTEL,
            entry: EntryId(11),
            amount: 0
        }
    );
}

#[test]
fn negative_amount() {
    let f = fixture();
    for amount in [-1, -12_000, i64::MIN] {
        let r = rejected(&f.db, Batch::new().post(revenue(HOTEL, 10, T0, amount)));
        assert_eq!(
            r,
            Rejection::NonPositiveAmount {
                org: HOTEL,
                entry: EntryId(10),
                amount
            }
        );
    }
}

#[test]
fn amount_sum_overflow_in_one_batch() {
    let f = fixture();
    let half = i64::MAX / 2 + 1;
    let r = rejected(
        &f.db,
        Batch::new()
            .post(revenue(EMPTY, 1, T0, half))
            .post(revenue(EMPTY, 2, T0 + DAY, half)),
    );
    assert_eq!(r, Rejection::Overflow { org: EMPTY });
    // The expense side: the day's expense total would be 2^63.
    let r = rejected(
        &f.db,
        Batch::new()
            .post(expense(EMPTY, 1, T0, half, ExpenseStatus::Pending))
            .post(expense(EMPTY, 2, T0, half, ExpenseStatus::Paid)),
    );
    assert_eq!(r, Rejection::Overflow { org: EMPTY });
    // Either one alone fits.
    f.db.record(Batch::new().post(revenue(EMPTY, 1, T0, half)))
        .unwrap();
}

#[test]
fn amount_sum_overflow_across_batches() {
    let f = fixture();
    let half = i64::MAX / 2 + 1;
    f.db.record(Batch::new().post(revenue(EMPTY, 1, T0, half)))
        .unwrap();
    let r = rejected(&f.db, Batch::new().post(revenue(EMPTY, 2, T0 + DAY, half)));
    assert_eq!(r, Rejection::Overflow { org: EMPTY });
    // Back-dated to before the first posting: still every later closing would overflow.
    let r = rejected(&f.db, Batch::new().post(revenue(EMPTY, 2, T0 - DAY, half)));
    assert_eq!(r, Rejection::Overflow { org: EMPTY });
    // An opening balance near the top leaves no room at all.
    f.db.register_org(
        Org::new(OrgId(4), "Rich", Currency::EUR).with_opening_balance(Money(i64::MAX)),
    )
    .unwrap();
    let r = rejected(&f.db, Batch::new().post(revenue(OrgId(4), 1, T0, 1)));
    assert_eq!(r, Rejection::Overflow { org: OrgId(4) });
    f.db.register_org(
        Org::new(OrgId(5), "Poor", Currency::EUR).with_opening_balance(Money(i64::MIN)),
    )
    .unwrap();
    let r = rejected(
        &f.db,
        Batch::new().post(expense(OrgId(5), 1, T0, 1, ExpenseStatus::Paid)),
    );
    assert_eq!(r, Rejection::Overflow { org: OrgId(5) });
}

#[test]
fn timestamp_outside_supported_range() {
    let f = fixture();
    let db = &f.db;
    for ts in [MIN_TIMESTAMP - 1, MAX_TIMESTAMP + 1, i64::MIN, i64::MAX] {
        let r = rejected(db, Batch::new().post(revenue(HOTEL, 10, ts, 100)));
        assert_eq!(
            r,
            Rejection::TimestampOutOfRange {
                org: HOTEL,
                entry: EntryId(10),
                ts
            }
        );
        let r = rejected(db, Batch::new().reverse(reversal(HOTEL, 10, REVENUE, ts)));
        assert_eq!(
            r,
            Rejection::TimestampOutOfRange {
                org: HOTEL,
                entry: EntryId(10),
                ts
            }
        );
        let r = rejected(db, Batch::new().pay(pay(HOTEL, PENDING, ts)));
        assert_eq!(
            r,
            Rejection::TimestampOutOfRange {
                org: HOTEL,
                entry: PENDING,
                ts
            }
        );
    }
    // The bounds themselves are supported, in any time zone.
    db.record(
        Batch::new()
            .post(revenue(RESORT, 10, MIN_TIMESTAMP, 1))
            .post(revenue(RESORT, 11, MAX_TIMESTAMP, 1)),
    )
    .unwrap();
}

#[test]
fn bad_third_op_of_five_applies_none() {
    let f = fixture();
    let ops = vec![
        Op::Post(revenue(HOTEL, 20, T0 + 5 * DAY, 100)),
        Op::Post(expense(RESORT, 21, T0, 40, ExpenseStatus::Pending)),
        Op::Post(revenue(HOTEL, 22, T0, 0)),
        Op::Reverse(reversal(HOTEL, 23, REVENUE, T0 + DAY)),
        Op::Pay(pay(HOTEL, PENDING, T0 + DAY)),
    ];
    let before = observe(&f.db);
    let r = rejected(&f.db, Batch::from(ops.clone()));
    assert_eq!(
        r,
        Rejection::NonPositiveAmount {
            org: HOTEL,
            entry: EntryId(22),
            amount: 0
        }
    );
    // Not after a reopen either.
    let f = reopen(f);
    assert_eq!(observe(&f.db), before);
    // The other four were not half-remembered: they apply now, in one new LSN.
    let good: Vec<Op> = ops
        .into_iter()
        .enumerate()
        .filter_map(|(i, op)| (i != 2).then_some(op))
        .collect();
    let lsn = f.db.record(Batch::from(good)).unwrap();
    assert_eq!(lsn, Lsn(before.lsn.0 + 1));
    let listed =
        f.db.entries(HOTEL, MIN_TIMESTAMP, MAX_TIMESTAMP + 1)
            .unwrap();
    assert!(listed.iter().any(|e| e.id == EntryId(20)));
    assert!(listed.iter().any(|e| e.id == EntryId(23)));
    assert!(listed.iter().all(|e| e.id != EntryId(22)));
}

#[test]
fn duplicate_entry_id_with_different_content_in_one_batch() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new()
            .post(revenue(HOTEL, 30, T0, 5))
            .post(revenue(HOTEL, 30, T0, 6)),
    );
    assert_eq!(
        r,
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: EntryId(30)
        }
    );
    // A posting and a reversal sharing an id.
    let r = rejected(
        &f.db,
        Batch::new()
            .post(revenue(HOTEL, 31, T0, 5))
            .reverse(reversal(HOTEL, 31, REVENUE, T0)),
    );
    assert_eq!(
        r,
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: EntryId(31)
        }
    );
    // The same entry twice in one batch is one entry.
    let lsn =
        f.db.record(
            Batch::new()
                .post(revenue(HOTEL, 32, T0, 5))
                .post(revenue(HOTEL, 32, T0, 5)),
        )
        .unwrap();
    let day =
        f.db.balance(HOTEL, BusinessDay::utc(T0).expect("day"))
            .unwrap();
    assert_eq!(day.revenue_count, 2, "fixture revenue plus one: {day:?}");
    assert_eq!(f.db.visible_lsn(), lsn);
}

#[test]
fn duplicate_entry_id_with_different_content_across_batches() {
    let f = fixture();
    let original = revenue(HOTEL, REVENUE.0, T0, 12_000).with_reference("F-1");
    let changes: Vec<Entry> = vec![
        Entry {
            amount: Money(12_001),
            ..original.clone()
        },
        Entry {
            occurred_at: T0 + 1,
            ..original.clone()
        },
        Entry {
            category: Category::Spa,
            ..original.clone()
        },
        Entry {
            payment_method: PaymentMethod::Cash,
            ..original.clone()
        },
        original.clone().with_reference("F-2"),
        expense(HOTEL, REVENUE.0, T0, 12_000, ExpenseStatus::Pending).with_reference("F-1"),
    ];
    for changed in changes {
        let r = rejected(&f.db, Batch::new().post(changed));
        assert_eq!(
            r,
            Rejection::DuplicateConflict {
                org: HOTEL,
                entry: REVENUE
            }
        );
    }
    // A pending expense re-sent as paid is a different posting, not a payment.
    let r = rejected(
        &f.db,
        Batch::new().post(expense(HOTEL, PENDING.0, T0 + 60, 700, ExpenseStatus::Paid)),
    );
    assert_eq!(
        r,
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: PENDING
        }
    );
    // A reversal re-sent with another time, or naming a posting's id.
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, REVERSAL.0, REVERSED, T0 + 3 * DAY)),
    );
    assert_eq!(
        r,
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: REVERSAL
        }
    );
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, PENDING.0, REVENUE, T0)),
    );
    assert_eq!(
        r,
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: PENDING
        }
    );
    // Identical re-sends are no-ops, also after a reopen; the same id in another org is new.
    no_op(&f.db, Batch::new().post(original.clone()));
    no_op(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, REVERSAL.0, REVERSED, T0 + 2 * DAY)),
    );
    let f = reopen(f);
    no_op(&f.db, Batch::new().post(original));
    f.db.record(Batch::new().post(revenue(EMPTY, REVENUE.0, T0, 12_000)))
        .unwrap();
}

#[test]
fn reference_over_limit() {
    let f = fixture();
    let long = "x".repeat(MAX_REFERENCE_BYTES + 1);
    let r = rejected(
        &f.db,
        Batch::new().post(revenue(HOTEL, 10, T0, 1).with_reference(long.clone())),
    );
    assert_eq!(
        r,
        Rejection::TextTooLong {
            org: HOTEL,
            entry: EntryId(10),
            field: "reference",
            len: MAX_REFERENCE_BYTES + 1,
            limit: MAX_REFERENCE_BYTES
        }
    );
    // The limit is in bytes: 129 two-byte characters are over it.
    let accents = "é".repeat(MAX_REFERENCE_BYTES / 2 + 1);
    let r = rejected(
        &f.db,
        Batch::new().post(revenue(HOTEL, 10, T0, 1).with_reference(accents)),
    );
    assert!(
        matches!(r, Rejection::TextTooLong { len, .. } if len == MAX_REFERENCE_BYTES + 2),
        "{r:?}"
    );
    let r = rejected(
        &f.db,
        Batch::new().reverse(Reversal {
            reference: long,
            ..reversal(HOTEL, 10, REVENUE, T0)
        }),
    );
    assert!(
        matches!(r, Rejection::TextTooLong { entry, .. } if entry == EntryId(10)),
        "{r:?}"
    );
    // Exactly at the limit is fine.
    let at_limit = "é".repeat(MAX_REFERENCE_BYTES / 2);
    f.db.record(Batch::new().post(revenue(HOTEL, 10, T0, 1).with_reference(at_limit.clone())))
        .unwrap();
    let listed = f.db.entries(HOTEL, T0, T0 + 1).unwrap();
    assert!(listed.iter().any(|e| e.reference == at_limit));
}

#[test]
fn org_name_too_long() {
    let f = fixture();
    let org = Org::new(OrgId(7), "n".repeat(MAX_ORG_NAME_BYTES + 1), Currency::EUR);
    let r = rejected(&f.db, Batch::new().register_org(org));
    assert!(
        matches!(&r, Rejection::InvalidOrg { org, .. } if *org == OrgId(7)),
        "{r:?}"
    );
    assert_eq!(f.db.org(OrgId(7)), None);
    // Postings that relied on it in the same batch are gone with it.
    let org = Org::new(
        OrgId(7),
        "ü".repeat(MAX_ORG_NAME_BYTES / 2 + 1),
        Currency::EUR,
    );
    let r = rejected(
        &f.db,
        Batch::new()
            .register_org(org)
            .post(revenue(OrgId(7), 1, T0, 1)),
    );
    assert!(matches!(&r, Rejection::InvalidOrg { .. }), "{r:?}");
    assert_eq!(f.db.org(OrgId(7)), None);
    f.db.register_org(Org::new(
        OrgId(7),
        "n".repeat(MAX_ORG_NAME_BYTES),
        Currency::EUR,
    ))
    .unwrap();
}

#[test]
fn unknown_time_zone() {
    let f = fixture();
    for zone in [
        "Mars/Olympus",
        "",
        "America/New York",
        "UTC+25",
        &"A".repeat(MAX_TIME_ZONE_BYTES + 1),
    ] {
        let org = Org::new(OrgId(7), "Orbit Hotel", Currency::EUR).with_time_zone(zone);
        let r = rejected(&f.db, Batch::new().register_org(org));
        assert!(
            matches!(&r, Rejection::InvalidOrg { org, .. } if *org == OrgId(7)),
            "{zone:?}: {r:?}"
        );
        assert_eq!(f.db.org(OrgId(7)), None);
    }
}

#[test]
fn unknown_currency() {
    let f = fixture();
    for code in [*b"XXX", *b"ABC", *b"eur", *b"DEM", [0xff, b'U', b'R']] {
        let org = Org::new(OrgId(7), "Orbit Hotel", Currency(code));
        let r = rejected(&f.db, Batch::new().register_org(org));
        assert!(
            matches!(&r, Rejection::UnknownCurrency { org, .. } if *org == OrgId(7)),
            "{code:?}: {r:?}"
        );
        assert_eq!(r.org(), Some(OrgId(7)));
        assert_eq!(f.db.org(OrgId(7)), None);
    }
    // The same org with an ISO 4217 code is accepted.
    f.db.record(Batch::new().register_org(Org::new(OrgId(7), "Orbit Hotel", Currency::JPY)))
        .unwrap();
}

#[test]
fn org_conflict_and_identical_registration() {
    let f = fixture();
    let same = Org::new(HOTEL, "Seaside Inn", Currency::EUR).with_opening_balance(Money(1_000));
    no_op(&f.db, Batch::new().register_org(same.clone()));
    for changed in [
        Org {
            name: "Seaside Inn II".into(),
            ..same.clone()
        },
        Org {
            currency: Currency::USD,
            ..same.clone()
        },
        same.clone().with_time_zone("Europe/Paris"),
        same.clone().with_opening_balance(Money(0)),
        same.clone().with_created_at(1),
    ] {
        let r = rejected(&f.db, Batch::new().register_org(changed));
        assert_eq!(r, Rejection::OrgConflict(HOTEL));
    }
}

#[test]
fn zero_entry_id() {
    let f = fixture();
    let r = rejected(&f.db, Batch::new().post(revenue(HOTEL, 0, T0, 1)));
    assert_eq!(r, Rejection::ZeroEntryId { org: HOTEL });
    let r = rejected(&f.db, Batch::new().reverse(reversal(HOTEL, 0, REVENUE, T0)));
    assert_eq!(r, Rejection::ZeroEntryId { org: HOTEL });
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, EntryId(0), T0)));
    assert_eq!(r, Rejection::ZeroEntryId { org: HOTEL });
}

#[test]
fn reversal_of_unknown_entry() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, 10, EntryId(999), T0)),
    );
    assert_eq!(
        r,
        Rejection::UnknownEntry {
            org: HOTEL,
            entry: EntryId(999)
        }
    );
    // Entry ids are per org: HOTEL and RESORT have an entry 1, EMPTY has none.
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(EMPTY, 10, EntryId(1), T0)),
    );
    assert_eq!(
        r,
        Rejection::UnknownEntry {
            org: EMPTY,
            entry: EntryId(1)
        }
    );
}

#[test]
fn reversal_of_already_reversed_entry() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, 10, REVERSED, T0)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: REVERSED
        }
    );
    // Twice in one batch.
    let r = rejected(
        &f.db,
        Batch::new()
            .reverse(reversal(HOTEL, 10, REVENUE, T0))
            .reverse(reversal(HOTEL, 11, REVENUE, T0)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: REVENUE
        }
    );
}

#[test]
fn reversal_of_a_reversal() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, 10, REVERSAL, T0)),
    );
    assert_eq!(
        r,
        Rejection::ReversalOfReversal {
            org: HOTEL,
            entry: REVERSAL
        }
    );
    // Also when the reversal is earlier in the same batch.
    let r = rejected(
        &f.db,
        Batch::new()
            .reverse(reversal(HOTEL, 10, REVENUE, T0))
            .reverse(reversal(HOTEL, 11, EntryId(10), T0)),
    );
    assert_eq!(
        r,
        Rejection::ReversalOfReversal {
            org: HOTEL,
            entry: EntryId(10)
        }
    );
}

#[test]
fn paying_a_revenue() {
    let f = fixture();
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, REVENUE, T0)));
    assert_eq!(
        r,
        Rejection::NotAnExpense {
            org: HOTEL,
            entry: REVENUE
        }
    );
    // A reversal is not payable either, nor is an unknown entry.
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, REVERSAL, T0)));
    assert_eq!(
        r,
        Rejection::NotAnExpense {
            org: HOTEL,
            entry: REVERSAL
        }
    );
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, EntryId(999), T0)));
    assert_eq!(
        r,
        Rejection::UnknownEntry {
            org: HOTEL,
            entry: EntryId(999)
        }
    );
}

#[test]
fn paying_twice_with_different_times() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().pay(pay(HOTEL, PAID_LATER, T0 + 4 * DAY)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: PAID_LATER
        }
    );
    // The same time again is a no-op.
    no_op(
        &f.db,
        Batch::new().pay(pay(HOTEL, PAID_LATER, T0 + 3 * DAY)),
    );
    // Posted as paid: any payment is a second one.
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, PAID, T0 + DAY)));
    assert_eq!(
        r,
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: PAID
        }
    );
    // Twice in one batch with different times.
    let r = rejected(
        &f.db,
        Batch::new()
            .pay(pay(HOTEL, PENDING, T0 + DAY))
            .pay(pay(HOTEL, PENDING, T0 + 2 * DAY)),
    );
    assert_eq!(
        r,
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: PENDING
        }
    );
    // A reversed expense cannot be paid.
    f.db.record(Batch::new().reverse(reversal(HOTEL, 40, PENDING, T0 + DAY)))
        .unwrap();
    let r = rejected(&f.db, Batch::new().pay(pay(HOTEL, PENDING, T0 + DAY)));
    assert_eq!(
        r,
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: PENDING
        }
    );
}

#[test]
fn category_not_allowed_for_kind() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().post(Entry {
            category: Category::Rooms,
            ..expense(HOTEL, 10, T0, 1, ExpenseStatus::Pending)
        }),
    );
    assert_eq!(
        r,
        Rejection::CategoryMismatch {
            org: HOTEL,
            entry: EntryId(10),
            category: "rooms",
            kind: "expense"
        }
    );
    let r = rejected(
        &f.db,
        Batch::new().post(Entry {
            category: Category::Payroll,
            ..revenue(HOTEL, 10, T0, 1)
        }),
    );
    assert_eq!(
        r,
        Rejection::CategoryMismatch {
            org: HOTEL,
            entry: EntryId(10),
            category: "payroll",
            kind: "revenue"
        }
    );
}

#[test]
fn status_on_a_revenue() {
    let f = fixture();
    for status in [ExpenseStatus::Pending, ExpenseStatus::Paid] {
        let r = rejected(
            &f.db,
            Batch::new().post(Entry {
                status: Some(status),
                ..revenue(HOTEL, 10, T0, 1)
            }),
        );
        assert!(
            matches!(r, Rejection::BadStatus { org, entry, .. } if org == HOTEL && entry == EntryId(10)),
            "{r:?}"
        );
    }
}

#[test]
fn missing_status_on_an_expense() {
    let f = fixture();
    let r = rejected(
        &f.db,
        Batch::new().post(Entry {
            status: None,
            ..expense(HOTEL, 10, T0, 1, ExpenseStatus::Pending)
        }),
    );
    assert!(
        matches!(r, Rejection::BadStatus { org, entry, .. } if org == HOTEL && entry == EntryId(10)),
        "{r:?}"
    );
}

#[test]
fn batch_over_max_ops() {
    let f = fixture();
    let ops: Vec<Op> = (0..MAX_BATCH_OPS as u64 + 1)
        .map(|i| Op::Post(revenue(EMPTY, 1_000 + i, T0 + i as i64, 1)))
        .collect();
    let r = rejected(&f.db, Batch::from(ops));
    assert_eq!(r, Rejection::BatchTooLarge(MAX_BATCH_OPS + 1));
}

fn create_and_close(path: &Path) {
    let db = common::open(path);
    db.register_org(Org::new(HOTEL, "Seaside Inn", Currency::EUR))
        .unwrap();
    db.close().unwrap();
}

#[test]
fn other_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    create_and_close(&path);
    let meta = path.join("FOLIO");
    let mut bytes = std::fs::read(&meta).unwrap();
    assert_eq!(&bytes[8..12], &1u32.to_le_bytes(), "version 1 at offset 8");
    bytes[8] = 99;
    // A well-formed file of another version: its checksum (bytes 12..16, over the rest) is valid.
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[0..12]);
    crc.update(&bytes[16..]);
    bytes[12..16].copy_from_slice(&crc.finalize().to_le_bytes());
    std::fs::write(&meta, &bytes).unwrap();
    let err = Db::open_with(&path, common::options(4, folio::Durability::Sync))
        .expect_err("a database of another version must not open");
    assert_one_line(&err);
    match err {
        Error::FormatVersion {
            path: p,
            found,
            supported,
        } => {
            assert_eq!((found, supported), (99, 1));
            assert!(p.ends_with("FOLIO") || p == path, "{p:?}");
        }
        other => panic!("expected FormatVersion, got {other:?}"),
    }
    // Nothing was rewritten: the file still says 99.
    assert_eq!(std::fs::read(&meta).unwrap(), bytes);
}

/// A directory of someone else's files, with one file in it.
fn foreign_directory(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("photos");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("beach.jpg"), b"not a database").unwrap();
    path
}

fn listing(path: &Path) -> Vec<std::ffi::OsString> {
    let mut names: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
}

#[test]
fn non_database_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = foreign_directory(&dir);
    let before = listing(&path);
    let options = common::options(4, folio::Durability::Sync).create_if_missing(false);
    let err = Db::open_with(&path, options.clone()).expect_err("must not open");
    assert_one_line(&err);
    assert!(
        matches!(&err, Error::NotADatabase { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        listing(&path),
        before,
        "opening must not touch the directory"
    );
    // A missing directory without create_if_missing is not a database either, and stays missing.
    let missing = dir.path().join("nothing");
    let err = Db::open_with(&missing, options).expect_err("must not open");
    assert_one_line(&err);
    assert!(matches!(&err, Error::NotADatabase { .. }), "{err:?}");
    assert!(!missing.exists());
}

/// With `create_if_missing` (the default), a directory holding someone else's files is refused
/// too, and left exactly as it was.
#[test]
fn refusing_to_create_among_foreign_files_leaves_them_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = foreign_directory(&dir);
    let before = listing(&path);
    let err = Db::open_with(&path, common::options(4, folio::Durability::Sync))
        .expect_err("must not create a database among foreign files");
    assert_one_line(&err);
    assert!(
        matches!(&err, Error::NotADatabase { path: p } if *p == path),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(path.join("beach.jpg")).unwrap(),
        b"not a database"
    );
    assert_eq!(
        listing(&path),
        before,
        "refusing to create must not leave files behind"
    );
}

#[test]
fn locked_database_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = common::open(&path);
    db.register_org(Org::new(HOTEL, "Seaside Inn", Currency::EUR))
        .unwrap();
    let err = Db::open_with(&path, common::options(4, folio::Durability::Sync))
        .expect_err("a second handle must not open");
    assert_one_line(&err);
    assert!(
        matches!(&err, Error::Locked { path: p } if *p == path),
        "{err:?}"
    );
    // The first handle is unaffected.
    db.record(Batch::new().post(revenue(HOTEL, 1, T0, 5)))
        .unwrap();
    assert_eq!(
        db.balance(HOTEL, BusinessDay::utc(T0).expect("day"))
            .unwrap()
            .closing,
        Money(5)
    );
    db.close().unwrap();
    let db = common::open(&path);
    assert_eq!(
        db.balance(HOTEL, BusinessDay::utc(T0).expect("day"))
            .unwrap()
            .closing,
        Money(5)
    );
}

#[test]
fn every_error_display_is_one_line() {
    let rejections = [
        Rejection::UnknownOrg(UNKNOWN),
        Rejection::OrgConflict(HOTEL),
        Rejection::InvalidOrg {
            org: HOTEL,
            why: "unknown IANA time zone \"Mars/Olympus\"".into(),
        },
        Rejection::UnknownCurrency {
            org: HOTEL,
            code: "XXX".into(),
        },
        Rejection::NonPositiveAmount {
            org: HOTEL,
            entry: EntryId(1),
            amount: -5,
        },
        Rejection::Overflow { org: HOTEL },
        Rejection::TimestampOutOfRange {
            org: HOTEL,
            entry: EntryId(1),
            ts: i64::MAX,
        },
        Rejection::DuplicateConflict {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::TextTooLong {
            org: HOTEL,
            entry: EntryId(1),
            field: "reference",
            len: 300,
            limit: 256,
        },
        Rejection::CategoryMismatch {
            org: HOTEL,
            entry: EntryId(1),
            category: "rooms",
            kind: "expense",
        },
        Rejection::BadStatus {
            org: HOTEL,
            entry: EntryId(1),
            why: "a revenue has no status",
        },
        Rejection::UnknownEntry {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::AlreadyReversed {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::ReversalOfReversal {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::NotAnExpense {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::AlreadyPaid {
            org: HOTEL,
            entry: EntryId(1),
        },
        Rejection::ZeroEntryId { org: HOTEL },
        Rejection::BatchTooLarge(MAX_BATCH_OPS + 1),
    ];
    for r in rejections {
        assert_one_line(&Error::Rejected(r));
    }
    let path = PathBuf::from("/data/folio");
    let others = [
        Error::corruption(
            path.join("wal/00000001.log"),
            4096,
            folio::CorruptionKind::ChecksumMismatch {
                expected: 1,
                actual: 2,
            },
        ),
        Error::corruption(
            &path,
            0,
            folio::CorruptionKind::LsnGap {
                expected: Lsn(3),
                found: Lsn(5),
            },
        ),
        Error::corruption(
            &path,
            0,
            folio::CorruptionKind::InvalidArchive("bad".into()),
        ),
        Error::io(&path, std::io::Error::other("disk on fire")),
        Error::Poisoned("fsync failed".into()),
        Error::FormatVersion {
            path: path.join("FOLIO"),
            found: 99,
            supported: 1,
        },
        Error::NotADatabase { path: path.clone() },
        Error::AlreadyExists { path: path.clone() },
        Error::Locked { path: path.clone() },
        Error::UnknownOrg(UNKNOWN),
        Error::InvalidArgument("day range inverted".into()),
        Error::Store("sled: io".into()),
        Error::Closed,
    ];
    for e in &others {
        assert_one_line(e);
    }
}
