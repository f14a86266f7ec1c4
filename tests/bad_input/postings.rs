//! Bad postings: amounts, overflowing sums, timestamps, duplicate entry ids, references, entry
//! id 0, categories, statuses, batch size; and a bad operation in the middle of a batch.

use crate::fixture::*;
use folio::limits::{MAX_BATCH_OPS, MAX_REFERENCE_BYTES};
use folio::{
    Batch, BusinessDay, Category, Currency, Db, Entry, EntryId, ExpenseStatus, Lsn, Money, Op, Org,
    OrgId, PaymentMethod, Rejection, Reversal,
};
use folio::{MAX_TIMESTAMP, MIN_TIMESTAMP};

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

/// Records `batch`, which must be rejected as a conflicting re-use of `HOTEL`'s entry id `entry`.
fn conflict(db: &Db, batch: Batch, entry: EntryId) {
    assert_eq!(
        rejected(db, batch),
        Rejection::DuplicateConflict { org: HOTEL, entry }
    );
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
        conflict(&f.db, Batch::new().post(changed), REVENUE);
    }
    // A pending expense re-sent as paid is a different posting, not a payment.
    conflict(
        &f.db,
        Batch::new().post(expense(HOTEL, PENDING.0, T0 + 60, 700, ExpenseStatus::Paid)),
        PENDING,
    );
    // A reversal re-sent with another time, or naming a posting's id.
    conflict(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, REVERSAL.0, REVERSED, T0 + 3 * DAY)),
        REVERSAL,
    );
    conflict(
        &f.db,
        Batch::new().reverse(reversal(HOTEL, PENDING.0, REVENUE, T0)),
        PENDING,
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
